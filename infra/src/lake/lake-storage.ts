/**
 * The lake's storage: a customer-managed KMS key, the lake bucket (CONTRACT.md §4 layout under
 * `lakePrefix`, processor state under `statePrefix`) and the Athena results bucket. Both buckets: SSE-KMS with that key, TLS only, no
 * public access.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface LakeStorageProps {
  prefix: string;
  lakePrefix: string;
  infrequentAccessAfterDays: number;
  glacierInstantAfterDays: number;
  athenaResultsRetentionDays: number;
}

/** What other stacks need of the lake (cross-stack references). */
export interface LakeStorageRef {
  bucketArn: string;
  bucketName: string;
  lakePrefix: string;
  statePrefix: string;
  keyArn: string;
}

export class LakeStorage extends Construct {
  readonly key: kms.Key;
  readonly bucket: s3.Bucket;
  readonly resultsBucket: s3.Bucket;
  readonly lakePrefix: string;
  /**
   * Processor state (not lake data) in the lake bucket: `<lakePrefix>-state`, a sibling of the lake
   * prefix, so it lies under no Glue table location and outside the tiering rule, whatever
   * `lakePrefix` is.
   */
  readonly statePrefix: string;
  /** Prefix of Athena query results inside `resultsBucket`. */
  readonly resultsPrefix = 'athena-results';

  constructor(scope: Construct, id: string, props: LakeStorageProps) {
    super(scope, id);
    this.lakePrefix = props.lakePrefix;
    this.statePrefix = `${props.lakePrefix}-state`;
    this.key = new kms.Key(this, 'Key', {
      alias: `alias/${props.prefix}-lake`,
      description: 'genai-pipeline lake, Athena results and QuickSight access',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const secured: s3.BucketProps = {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      // One data key per bucket instead of a KMS call per object: the lake writes many objects.
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    };
    this.bucket = new s3.Bucket(this, 'Lake', {
      ...secured,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'lake-tiering',
          prefix: `${props.lakePrefix}/`,
          transitions: [
            {
              storageClass: s3.StorageClass.INFREQUENT_ACCESS,
              transitionAfter: Duration.days(props.infrequentAccessAfterDays),
            },
            {
              storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(props.glacierInstantAfterDays),
            },
          ],
        },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });
    this.resultsBucket = new s3.Bucket(this, 'AthenaResults', {
      ...secured,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
      lifecycleRules: [
        { id: 'expire-results', expiration: Duration.days(props.athenaResultsRetentionDays) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }

  ref(): LakeStorageRef {
    return {
      bucketArn: this.bucket.bucketArn,
      bucketName: this.bucket.bucketName,
      lakePrefix: this.lakePrefix,
      statePrefix: this.statePrefix,
      keyArn: this.key.keyArn,
    };
  }

  /** `s3://bucket/lake/<table>` (no trailing slash). */
  tableLocation(table: string): string {
    return `s3://${this.bucket.bucketName}/${this.lakePrefix}/${table}`;
  }

  /** `s3://bucket/lake` (no trailing slash), what the processor's S3 sink takes as `--s3-uri`. */
  lakeUri(): string {
    return `s3://${this.bucket.bucketName}/${this.lakePrefix}`;
  }
}
