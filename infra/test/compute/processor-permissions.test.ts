import { DEFAULT_CLOUDWATCH_NAMESPACE } from '@genai-pipeline/schemas';
import type { CfnElement } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { mskResourceArns } from '../../src/compute/processor-permissions.js';
import { joined, resourcesOf, type Synthesized, synth } from '../support/synth.js';

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const MSK_ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/events/0b1c2d3e-1111-2222-3333-444455556666-2';

/** Statements of every IAM policy in the template. */
function statements(synthesized: Synthesized['pipelineTemplate']): Statement[] {
  return Object.values(resourcesOf(synthesized, 'AWS::IAM::Policy')).flatMap(
    (policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );
}

/** The task role's statements, keyed by Sid. */
function taskRoleStatements(synthesized: Synthesized): Map<string, Statement> {
  const roleId = synthesized.pipeline.getLogicalId(
    synthesized.pipeline.processor.taskRole.node.defaultChild as CfnElement,
  );
  const policies = Object.values(resourcesOf(synthesized.pipelineTemplate, 'AWS::IAM::Policy')).filter(
    (policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId),
  );
  const found = new Map<string, Statement>();
  for (const policy of policies) {
    for (const statement of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
      found.set(statement.Sid ?? '(no sid)', statement);
    }
  }
  return found;
}

const actionsOf = (statement: Statement | undefined) =>
  statement === undefined ? [] : Array.isArray(statement.Action) ? statement.Action : [statement.Action];

let kinesis: Synthesized;
let msk: Synthesized;
beforeAll(() => {
  kinesis = synth();
  msk = synth({
    mskClusterArn: MSK_ARN,
    mskBootstrapBrokers: 'b-1:9098',
    mskTopic: 'calls',
    timeseries: 'none',
  });
});

describe('processor permissions', () => {
  it('never grants a wildcard action, in any policy of the pipeline stack', () => {
    for (const synthesized of [kinesis, msk]) {
      for (const statement of statements(synthesized.pipelineTemplate)) {
        for (const action of actionsOf(statement))
          expect(action, JSON.stringify(statement)).not.toMatch(/\*/);
      }
    }
  });

  it('reads and writes only its own stream', () => {
    const stream = taskRoleStatements(kinesis).get('ReadAndWriteOwnStream');
    expect(actionsOf(stream).sort()).toEqual([
      'kinesis:DescribeStreamSummary',
      'kinesis:GetRecords',
      'kinesis:GetShardIterator',
      'kinesis:ListShards',
      'kinesis:PutRecord',
      'kinesis:PutRecords',
    ]);
    expect(stream?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^EventsStream/), 'Arn'] });
  });

  it('writes and lists only under the lake prefix, reads no lake file, and uses the lake key only through S3', () => {
    const granted = taskRoleStatements(kinesis);
    const write = granted.get('WriteOwnLakePrefix');
    expect(actionsOf(write).sort()).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject']);
    expect(joined(write?.Resource)).toBe('<token>/lake/*');
    expect(JSON.stringify(write?.Resource)).toContain('Fn::ImportValue');
    const list = granted.get('ListOwnLakePrefix');
    expect(actionsOf(list)).toEqual(['s3:ListBucket']);
    // The bucket itself (listing is a bucket action), imported from the lake stack.
    expect(list?.Resource).toEqual({ 'Fn::ImportValue': expect.stringMatching(/StorageLake.*Arn/) });
    expect(list?.Condition).toEqual({ StringLike: { 's3:prefix': 'lake/*' } });
    const key = granted.get('UseLakeKeyThroughS3');
    expect(actionsOf(key).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(joined(key?.Condition?.StringEquals?.['kms:ViaService'])).toBe('s3.<token>.amazonaws.com');
    // No other statement of the task role reaches the bucket, and only shard state is read.
    const s3Statements = [...granted.values()].filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('s3:')),
    );
    expect(s3Statements.map((statement) => statement.Sid).sort()).toEqual([
      'ListOwnLakePrefix',
      'ReadAndWriteOwnShardState',
      'WriteOwnLakePrefix',
    ]);
  });

  it('uses only its lease table, without creating it, and only its shard state prefix', () => {
    const granted = taskRoleStatements(kinesis);
    const leases = granted.get('UseOwnLeaseTable');
    expect(actionsOf(leases).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:DescribeTable',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Scan',
      'dynamodb:UpdateItem',
    ]);
    expect(leases?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ShardLeasesTable/), 'Arn'] });
    const state = granted.get('ReadAndWriteOwnShardState');
    expect(actionsOf(state).sort()).toEqual([
      's3:AbortMultipartUpload',
      's3:DeleteObject',
      's3:GetObject',
      's3:PutObject',
    ]);
    expect(joined(state?.Resource)).toBe('<token>/lake-state/shards/*');
    expect(JSON.stringify(state?.Resource)).toContain('Fn::ImportValue');
    // Every DynamoDB action of the role is in that one statement.
    const dynamo = [...granted.values()].filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('dynamodb:')),
    );
    expect(dynamo.map((statement) => statement.Sid)).toEqual(['UseOwnLeaseTable']);
  });

  it('follows a custom lake prefix in the write, list and shard state grants', () => {
    const granted = taskRoleStatements(synth({ lakePrefix: 'data/lake' }));
    expect(joined(granted.get('WriteOwnLakePrefix')?.Resource)).toBe('<token>/data/lake/*');
    expect(granted.get('ListOwnLakePrefix')?.Condition).toEqual({
      StringLike: { 's3:prefix': 'data/lake/*' },
    });
    expect(joined(granted.get('ReadAndWriteOwnShardState')?.Resource)).toBe(
      '<token>/data/lake-state/shards/*',
    );
  });

  it('publishes metrics only into its namespace', () => {
    const metrics = taskRoleStatements(kinesis).get('PutMetricsIntoOwnNamespace');
    expect(actionsOf(metrics)).toEqual(['cloudwatch:PutMetricData']);
    expect(metrics?.Condition).toEqual({
      StringEquals: { 'cloudwatch:namespace': DEFAULT_CLOUDWATCH_NAMESPACE },
    });
    const custom = synth({ namespace: 'Team/GenAI' });
    expect(taskRoleStatements(custom).get('PutMetricsIntoOwnNamespace')?.Condition).toEqual({
      StringEquals: { 'cloudwatch:namespace': 'Team/GenAI' },
    });
  });

  it('writes only its Timestream table', () => {
    const write = taskRoleStatements(kinesis).get('WriteOwnTimestreamTable');
    expect(actionsOf(write)).toEqual(['timestream:WriteRecords']);
    expect(write?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^TimeSeriesTable/), 'Arn'] });
    expect(taskRoleStatements(msk).has('WriteOwnTimestreamTable')).toBe(false);
  });

  it('with MSK, reaches only its cluster, topic and consumer group', () => {
    const granted = taskRoleStatements(msk);
    expect(granted.has('ReadAndWriteOwnStream')).toBe(false);
    expect(granted.has('UseOwnLeaseTable')).toBe(false);
    expect(granted.has('ReadAndWriteOwnShardState')).toBe(false);
    expect(granted.has('ListOwnLakePrefix')).toBe(true);
    const arns = mskResourceArns({
      clusterArn: MSK_ARN,
      bootstrapBrokers: 'b-1:9098',
      topic: 'calls',
      consumerGroup: 'genai-pipeline',
    });
    expect(arns).toEqual({
      cluster: MSK_ARN,
      topic: 'arn:aws:kafka:eu-west-1:123456789012:topic/events/0b1c2d3e-1111-2222-3333-444455556666-2/calls',
      group:
        'arn:aws:kafka:eu-west-1:123456789012:group/events/0b1c2d3e-1111-2222-3333-444455556666-2/genai-pipeline',
    });
    expect(granted.get('ConnectToMsk')?.Resource).toBe(arns.cluster);
    expect(granted.get('ReadAndWriteOwnTopic')?.Resource).toBe(arns.topic);
    expect(granted.get('UseOwnConsumerGroup')?.Resource).toBe(arns.group);
  });
});
