export * from './aggregate/index.js';
export {
  AnomalyDetector,
  type AnomalyFinding,
  type AnomalyParams,
  DEFAULT_ANOMALY_PARAMS,
} from './anomaly/detector.js';
export * from './pricing/index.js';
export { type ReplayOptions, replay } from './replay/replay.js';
export { DEDUPE_HORIZON_MS, DedupeIndex } from './window/dedupe-index.js';
export {
  PartitionProcessor,
  type PartitionProcessorOptions,
  type ProcessorCounters,
  type ProcessorOutput,
  type SourceRecord,
} from './window/partition-processor.js';
export { WINDOW_MS, windowStartOf } from './window/tumbling.js';
