export { type SdkTimestreamWriterOptions, sdkTimestreamWriter, type TimestreamWriter } from './client.js';
export {
  parseSinkConfig,
  parseTimestreamSinkConfig,
  resilienceConfigSchema,
  type TimestreamSinkConfig,
  type TimestreamSinkConfigInput,
  timestreamHorizon,
  timestreamSinkConfigSchema,
} from './config.js';
export {
  DEFAULT_DEAD_LETTER_CAPACITY,
  DeadLetterList,
  type SinkDeadLetter,
  type SinkLogger,
  stderrLogger,
} from './dead-letters.js';
export {
  recordBytes,
  recordLimitViolation,
  TIMESTREAM_LIMITS,
  timestreamRecord,
  writeRecordsRequest,
} from './request-builder.js';
export { type RejectionAction, rejectionAction, VersionClock } from './retry.js';
export {
  type MeasureKind,
  type SeriesMeasure,
  type SeriesPoint,
  SeriesRowError,
  type SeriesRowFailure,
  type SeriesTable,
  seriesPoint,
  windowSeries,
} from './series.js';
export { TimestreamSink, type TimestreamSinkDeps, type TimestreamSinkHealth } from './sink.js';
