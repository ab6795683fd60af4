export * from './cloudwatch/index.js';
export * from './influxdb/index.js';
export { EncoderWorkerError, inlineEncoder, type ParquetEncoder, WorkerPoolEncoder } from './lake/encoder.js';
export { LakeRowError, LakeStoreError, LakeUsageError } from './lake/errors.js';
export { LakeSink, type LakeSinkOptions, type LakeSinkStats } from './lake/lake-sink.js';
export {
  assertOrdinal,
  assertSafeSourceId,
  dataFileName,
  HOUR_MS,
  hourStart,
  partitionPath,
} from './lake/layout.js';
export { LocalLakeStore } from './lake/local-store.js';
export {
  type EncodedBatch,
  type EncodedColumn,
  encodeColumns,
  encodeParquet,
  validateLakeRows,
  writeParquetFile,
} from './lake/parquet.js';
export { removeFilesFrom } from './lake/prune.js';
export type { LakeStore, PrunableLakeStore, ReadableLakeStore } from './lake/store.js';
export * from './s3/index.js';
export * from './timestream/index.js';
export {
  DEFAULT_RESILIENCE,
  type ResilienceOptions,
  type SinkHealth,
  SinkResilience,
} from './util/resilience.js';
export { isRetriable, SinkRequestError } from './util/retriable.js';
export type {
  RollupDistributions,
  WeightedDistribution,
  WindowResults,
  WindowSink,
} from './window-results.js';
