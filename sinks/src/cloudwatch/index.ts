export {
  CardinalityGuard,
  type CardinalityGuardOptions,
  type GuardedKey,
  SCORE_NAME_KEY,
} from './cardinality-guard.js';
export {
  type CloudWatchMetricsClient,
  SdkCloudWatchClient,
  type SdkCloudWatchClientOptions,
  toSinkError,
} from './client.js';
export {
  CLOUDWATCH_LIMITS,
  type CloudWatchSinkConfig,
  type CloudWatchSinkConfigInput,
  cloudWatchSinkConfigSchema,
  type EmfMode,
  parseCloudWatchSinkConfig,
} from './config.js';
export { EMF_LIMITS, type EmfDocument, type EmfTarget, EmfWriter, emfDocuments } from './emf.js';
export { healthDatums, type PipelineHealthReport } from './health-datums.js';
export {
  type BatchLimits,
  type BuildOptions,
  type BuiltDatums,
  batchDatums,
  buildDatums,
  datumBytes,
  type NameMapper,
  withinHorizon,
} from './request-builder.js';
export { CloudWatchSink, type CloudWatchSinkHealth, type CloudWatchSinkOptions } from './sink.js';
