import { DEFAULT_CLOUDWATCH_NAMESPACE } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';

const from = (context: Record<string, unknown>) => readConfig((key) => context[key]);

describe('readConfig', () => {
  it('has working defaults with no context at all', () => {
    const config = from({});
    expect(config.prefix).toBe('genai-pipeline');
    expect(config.namespace).toBe(DEFAULT_CLOUDWATCH_NAMESPACE);
    expect(config.env).toBeUndefined();
    expect(config.msk).toBeUndefined();
    expect(config.quickSight).toBeUndefined();
    expect(config.timeSeries).toBe('timestream');
    expect(config.services).toEqual([]);
    expect(config.thresholds.errorRate).toBe(0.05);
    expect(config.processorOwnershipTimeoutSeconds).toBe(30);
  });

  it('reads strings from the command line and JSON values from cdk.json alike', () => {
    expect(from({ hourlyCostUsd: '12.5', services: 'a, b' })).toMatchObject({
      services: ['a', 'b'],
      thresholds: { hourlyCostUsd: 12.5 },
    });
    expect(from({ hourlyCostUsd: 12.5, services: ['a', 'b'], quicksight: false })).toMatchObject({
      services: ['a', 'b'],
      thresholds: { hourlyCostUsd: 12.5 },
    });
  });

  it('parses quality targets as name:target pairs', () => {
    expect(from({ qualityTargets: 'faithfulness:0.9,thumbs:0.5' }).qualityTargets).toEqual({
      faithfulness: 0.9,
      thumbs: 0.5,
    });
    expect(() => from({ qualityTargets: 'faithfulness' })).toThrow(/qualityTargets.*name:target/);
  });

  it('needs a principal for QuickSight and reads its options', () => {
    expect(() => from({ quicksight: 'true' })).toThrow(/quicksightPrincipalArn.*required/);
    const principalArn = 'arn:aws:quicksight:us-east-1:123456789012:user/default/analyst';
    expect(
      from({ quicksight: 'true', quicksightPrincipalArn: principalArn, quicksightImportMode: 'DIRECT_QUERY' })
        .quickSight,
    ).toEqual({
      principalArn,
      importMode: 'DIRECT_QUERY',
      refreshInterval: 'DAILY',
      lookbackDays: 90,
      serviceRoleName: 'aws-quicksight-service-role-v0',
    });
  });

  it('validates MSK settings', () => {
    expect(() => from({ mskClusterArn: 'my-cluster' })).toThrow(/mskClusterArn.*MSK cluster ARN/);
    const clusterArn =
      'arn:aws:kafka:eu-west-1:123456789012:cluster/events/0b1c2d3e-1111-2222-3333-444455556666-2';
    expect(() => from({ mskClusterArn: clusterArn })).toThrow(/mskBootstrapBrokers.*required/);
    expect(from({ mskClusterArn: clusterArn, mskBootstrapBrokers: 'b-1:9098' }).msk).toEqual({
      clusterArn,
      bootstrapBrokers: 'b-1:9098',
      topic: 'genai-events',
      consumerGroup: 'genai-pipeline',
    });
  });

  it('rejects values with a message naming the key and the rule', () => {
    expect(() => from({ prefix: 'Bad_Prefix' })).toThrow(/context "prefix": must be lowercase/);
    expect(() => from({ dailyCostUsd: '-1' })).toThrow(/context "dailyCostUsd": must be a number >= 0/);
    expect(() => from({ timeseries: 'prometheus' })).toThrow(/timeseries.*timestream, influxdb, none/);
    expect(() => from({ logRetentionDays: '31' })).toThrow(/logRetentionDays.*must be one of/);
    expect(() => from({ processorMinTasks: '3', processorMaxTasks: '2' })).toThrow(/processorMaxTasks/);
    expect(() => from({ region: 'eu-west-1' })).toThrow(/account.*12-digit/);
    expect(() =>
      from({ vpcId: 'vpc-1', vpcAvailabilityZones: 'a,b', vpcPrivateSubnetIds: 'subnet-1' }),
    ).toThrow(/one subnet per zone/);
    expect(() => from({ lakeGlacierInstantAfterDays: '40' })).toThrow(/lakeGlacierInstantAfterDays/);
    expect(() => from({ processorOwnershipTimeoutSeconds: '15' })).toThrow(
      /context "processorOwnershipTimeoutSeconds": must be a number >= 20/,
    );
  });

  it('takes an account and region as the stacks environment', () => {
    expect(from({ account: '123456789012', region: 'eu-west-1' }).env).toEqual({
      account: '123456789012',
      region: 'eu-west-1',
    });
  });
});
