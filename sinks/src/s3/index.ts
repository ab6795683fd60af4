export {
  assertBucketName,
  formatS3Location,
  parseS3LakeConfig,
  parseS3Uri,
  S3_LIMITS,
  type S3LakeConfig,
  type S3LakeConfigInput,
  type S3Location,
  s3ClientConfig,
  s3LakeConfigSchema,
} from './config.js';
export { S3LakeStore, type S3LakeStoreHealth, type S3LakeStoreOptions } from './s3-store.js';
