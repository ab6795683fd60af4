/**
 * The processor task role's statements, least privilege: read and write only its own stream (or
 * MSK topic and group) and, with Kinesis, only its shard lease table and shard state prefix; list
 * and write only under its lake prefix (and use the lake key only through S3); publish metrics only
 * into its namespace, write only its Timestream table. No wildcard actions.
 */
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { MskSettings } from '../config.js';

/** Where Kinesis shard leases and shard state live (several tasks sharing the stream). */
export interface ShardLeaseResources {
  tableArn: string;
  /** Key prefix of the shard state in the lake bucket (no trailing slash). */
  stateKeyPrefix: string;
}

export interface ProcessorPermissionsInput {
  kinesisStreamArn?: string;
  shardLeases?: ShardLeaseResources;
  msk?: MskSettings;
  lakeBucketArn: string;
  lakePrefix: string;
  lakeKeyArn: string;
  namespace: string;
  timestreamTableArn?: string;
}

/** Topic and group ARNs of an MSK cluster: same name/uuid path, `topic/` and `group/` instead of `cluster/`. */
export function mskResourceArns(msk: MskSettings): { cluster: string; topic: string; group: string } {
  const clusterPath = msk.clusterArn.replace(/^.*:cluster\//, '');
  const base = msk.clusterArn.replace(/:cluster\/.*$/, '');
  return {
    cluster: msk.clusterArn,
    topic: `${base}:topic/${clusterPath}/${msk.topic}`,
    group: `${base}:group/${clusterPath}/${msk.consumerGroup}`,
  };
}

export function processorStatements(
  scope: Construct,
  input: ProcessorPermissionsInput,
): iam.PolicyStatement[] {
  const stack = Stack.of(scope);
  const statements: iam.PolicyStatement[] = [];
  if (input.kinesisStreamArn !== undefined) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'ReadAndWriteOwnStream',
        actions: [
          'kinesis:DescribeStreamSummary',
          'kinesis:ListShards',
          'kinesis:GetShardIterator',
          'kinesis:GetRecords',
          'kinesis:PutRecord',
          'kinesis:PutRecords',
        ],
        resources: [input.kinesisStreamArn],
      }),
    );
  }
  if (input.shardLeases !== undefined) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'UseOwnLeaseTable',
        // What the lease table client calls. Not dynamodb:CreateTable: the stack owns the table, and a
        // table the processor made after a deletion would start every shard from TRIM_HORIZON under a
        // new store id (the lake counted twice), so a missing table should stop it (AccessDenied).
        actions: [
          'dynamodb:DescribeTable',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:Scan',
        ],
        resources: [input.shardLeases.tableArn],
      }),
      new iam.PolicyStatement({
        sid: 'ReadAndWriteOwnShardState',
        // Shard checkpoints: written (single or multipart), read by the next owner of the lease,
        // deleted once superseded. Same bucket, so the same key (UseLakeKeyThroughS3) encrypts them.
        actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
        resources: [`${input.lakeBucketArn}/${input.shardLeases.stateKeyPrefix}/*`],
      }),
    );
  }
  if (input.msk !== undefined) {
    const arns = mskResourceArns(input.msk);
    statements.push(
      new iam.PolicyStatement({
        sid: 'ConnectToMsk',
        actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster'],
        resources: [arns.cluster],
      }),
      new iam.PolicyStatement({
        sid: 'ReadAndWriteOwnTopic',
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData', 'kafka-cluster:WriteData'],
        resources: [arns.topic],
      }),
      new iam.PolicyStatement({
        sid: 'UseOwnConsumerGroup',
        actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        resources: [arns.group],
      }),
    );
  }
  statements.push(
    new iam.PolicyStatement({
      sid: 'WriteOwnLakePrefix',
      // What the S3 lake store calls: single and multipart uploads (s3:PutObject covers Create/
      // UploadPart/Complete), aborting a failed multipart upload, deleting what it replaces or prunes.
      // No read: lake files are written by deterministic key (CONTRACT.md §4 idempotency), never read.
      actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
      resources: [`${input.lakeBucketArn}/${input.lakePrefix}/*`],
    }),
    new iam.PolicyStatement({
      sid: 'ListOwnLakePrefix',
      // Opening a partition lists each lake table's folder to prune the files written after its
      // last checkpoint (ListObjectsV2 with Prefix `<lakePrefix>/<table>/`). Listing is a bucket
      // action: the s3:prefix condition keeps it to the lake prefix.
      actions: ['s3:ListBucket'],
      resources: [input.lakeBucketArn],
      conditions: { StringLike: { 's3:prefix': `${input.lakePrefix}/*` } },
    }),
    new iam.PolicyStatement({
      sid: 'UseLakeKeyThroughS3',
      // GenerateDataKey encrypts new objects (the bucket's default: lake and shard state alike);
      // Decrypt completes a multipart upload and reads shard state back.
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: [input.lakeKeyArn],
      conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
    }),
    new iam.PolicyStatement({
      sid: 'PutMetricsIntoOwnNamespace',
      actions: ['cloudwatch:PutMetricData'],
      // PutMetricData has no resource-level permissions: the namespace condition is the scope.
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': input.namespace } },
    }),
  );
  if (input.timestreamTableArn !== undefined) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'WriteOwnTimestreamTable',
        actions: ['timestream:WriteRecords'],
        resources: [input.timestreamTableArn],
      }),
      new iam.PolicyStatement({
        sid: 'DiscoverTimestreamEndpoints',
        // Endpoint discovery precedes every write and takes no resource.
        actions: ['timestream:DescribeEndpoints'],
        resources: ['*'],
      }),
    );
  }
  return statements;
}
