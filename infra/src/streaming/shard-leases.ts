/**
 * What lets several processor tasks share one Kinesis stream (KCL-style): a DynamoDB table of shard
 * leases, each with its owner and checkpoint, and an S3 prefix where each shard's state (windows,
 * dedupe index, position) is checkpointed, so the state moves with the lease to whichever task takes
 * the shard next.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/** The processor's lease schema: one item per shard (and one for the store id), keyed by `leaseKey`. */
export const LEASE_KEY_ATTRIBUTE = 'leaseKey';

export interface ShardLeasesProps {
  tableName: string;
  /** Bucket and key prefix of the shard state: reachable by every task, outside the lake tables. */
  stateBucketName: string;
  statePrefix: string;
  /** Silence after which another task takes a task's leases. */
  ownershipTimeoutSeconds: number;
}

export class ShardLeases extends Construct {
  readonly table: dynamodb.Table;
  /** Key prefix of the shard state inside the bucket (no trailing slash). */
  readonly stateKeyPrefix: string;
  private readonly stateBucketName: string;
  private readonly ownershipTimeoutSeconds: number;

  constructor(scope: Construct, id: string, props: ShardLeasesProps) {
    super(scope, id);
    this.stateBucketName = props.stateBucketName;
    this.stateKeyPrefix = `${props.statePrefix}/shards`;
    this.ownershipTimeoutSeconds = props.ownershipTimeoutSeconds;
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: LEASE_KEY_ATTRIBUTE, type: dynamodb.AttributeType.STRING },
      // A handful of items renewed every few seconds: on-demand costs cents and needs no capacity plan.
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Kept like the lake: the leases hold every shard's checkpoint and the store id that lake file
      // names carry, so a fresh table would read the stream again under new names (counted twice).
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** `s3://bucket/<statePrefix>/shards`, what the processor takes as its shard state. */
  stateUri(): string {
    return `s3://${this.stateBucketName}/${this.stateKeyPrefix}`;
  }

  /** The processor's lease settings, as `GENAI_PIPELINE_*` environment variables. */
  environment(): Record<string, string> {
    return {
      GENAI_PIPELINE_KINESIS_LEASE_TABLE: this.table.tableName,
      GENAI_PIPELINE_KINESIS_SHARD_STATE: this.stateUri(),
      GENAI_PIPELINE_OWNERSHIP_TIMEOUT_SECONDS: String(this.ownershipTimeoutSeconds),
    };
  }
}
