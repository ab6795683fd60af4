export * from './aggregate/index.js';
export {
  AnomalyDetector,
  type AnomalyFinding,
  type AnomalyParams,
  DEFAULT_ANOMALY_PARAMS,
} from './anomaly/detector.js';
export { type AppendResult, DurableLog, type LogEntry } from './collector/durable-log.js';
export { type Collector, type CollectorOptions, startCollector } from './collector/http-collector.js';
export { type DemoOptions, type DemoStats, runDemo } from './demo/demo.js';
export * from './pricing/index.js';
export { type ReplayOptions, replay } from './replay/replay.js';
export { CheckpointStore, type PartitionCheckpoint } from './run/checkpoint-store.js';
export { type RunConfig, resolveRunConfig } from './run/config.js';
export { Pipeline, type PipelineOptions } from './run/pipeline.js';
export { type RunHandle, startRun } from './run/run.js';
export type { PipelineStatus } from './run/status.js';
export { decodeStreamMessage } from './sources/decode.js';
export {
  type KafkaConsumerClient,
  KafkaSource,
  KafkaSourceError,
  type KafkaSourceOptions,
} from './sources/kafka-source.js';
export {
  KinesisSource,
  KinesisSourceError,
  type KinesisSourceOptions,
  type KinesisSourceStats,
} from './sources/kinesis-source.js';
export { LogSource } from './sources/log-source.js';
export type { Source, SourceBatch, SourceEntry } from './sources/source.js';
export { DEDUPE_HORIZON_MS, DedupeIndex } from './window/dedupe-index.js';
export {
  PartitionProcessor,
  type PartitionProcessorOptions,
  type ProcessorCounters,
  type ProcessorOutput,
  type SourceRecord,
} from './window/partition-processor.js';
export { WINDOW_MS, windowStartOf } from './window/tumbling.js';
