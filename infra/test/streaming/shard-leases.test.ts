import { beforeAll, describe, expect, it } from 'vitest';
import { joined, resourcesOf, type Synthesized, synth } from '../support/synth.js';

const MSK = {
  mskClusterArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/events/0b1c2d3e-1111-2222-3333-444455556666-2',
  mskBootstrapBrokers: 'b-1.events.kafka.eu-west-1.amazonaws.com:9098',
};

/** Locations of the Glue tables, tokens as `<token>` (the bucket is a token in both stacks). */
function glueLocations(synthesized: Synthesized): string[] {
  return Object.values(resourcesOf(synthesized.lakeTemplate, 'AWS::Glue::Table')).map((table) =>
    joined(
      (table.Properties.TableInput as { StorageDescriptor: { Location: unknown } }).StorageDescriptor
        .Location,
    ),
  );
}

let kinesis: Synthesized;
beforeAll(() => {
  kinesis = synth();
});

describe('shard leases', () => {
  it('keeps the leases in an on-demand, encrypted DynamoDB table keyed by leaseKey, retained like the lake', () => {
    const tables = Object.values(
      kinesis.pipelineTemplate.findResources('AWS::DynamoDB::Table') as Record<
        string,
        { Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string }
      >,
    );
    expect(tables).toHaveLength(1);
    const [table] = tables;
    expect(table?.Properties).toEqual({
      TableName: 'genai-pipeline-kinesis-leases',
      KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
    });
    expect([table?.DeletionPolicy, table?.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
  });

  it('puts shard state in the lake bucket beside the lake prefix, under no Glue table location', () => {
    const leases = kinesis.pipeline.shardLeases;
    expect(leases?.stateKeyPrefix).toBe('lake-state/shards');
    const stateUri = joined(kinesis.pipeline.resolve(leases?.stateUri()));
    expect(stateUri).toBe('s3://<token>/lake-state/shards');
    const locations = glueLocations(kinesis);
    expect(locations.length).toBeGreaterThan(0);
    for (const location of locations) {
      expect(location.startsWith('s3://<token>/lake/')).toBe(true);
      expect(`${stateUri}/`.startsWith(location)).toBe(false);
    }
  });

  it('hands the table, the state URI and the failover time to the processor', () => {
    const custom = synth({ processorOwnershipTimeoutSeconds: '45', lakePrefix: 'data/lake' });
    const environment = custom.pipeline.shardLeases?.environment() ?? {};
    expect(Object.keys(environment).sort()).toEqual([
      'GENAI_PIPELINE_KINESIS_LEASE_TABLE',
      'GENAI_PIPELINE_KINESIS_SHARD_STATE',
      'GENAI_PIPELINE_OWNERSHIP_TIMEOUT_SECONDS',
    ]);
    expect(environment.GENAI_PIPELINE_KINESIS_LEASE_TABLE).toBe(custom.pipeline.shardLeases?.table.tableName);
    expect(environment.GENAI_PIPELINE_KINESIS_SHARD_STATE).toBe(custom.pipeline.shardLeases?.stateUri());
    expect(custom.pipeline.shardLeases?.stateKeyPrefix).toBe('data/lake-state/shards');
    expect(environment.GENAI_PIPELINE_OWNERSHIP_TIMEOUT_SECONDS).toBe('45');
    expect(kinesis.pipeline.shardLeases?.environment().GENAI_PIPELINE_OWNERSHIP_TIMEOUT_SECONDS).toBe('30');
  });

  it('creates nothing for MSK, whose consumer group shares the partitions', () => {
    const msk = synth(MSK);
    msk.pipelineTemplate.resourceCountIs('AWS::DynamoDB::Table', 0);
    expect(msk.pipeline.shardLeases).toBeUndefined();
  });
});
