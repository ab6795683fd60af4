export {
  type HttpInfluxWriterOptions,
  httpInfluxWriter,
  InfluxWriteError,
  type InfluxWriter,
  parseRetryAfter,
  responseError,
} from './client.js';
export {
  type InfluxSinkConfig,
  type InfluxSinkConfigInput,
  influxSinkConfigSchema,
  influxWriteUrl,
  parseInfluxSinkConfig,
} from './config.js';
export {
  escapeKey,
  escapeMeasurement,
  fieldValue,
  LineProtocolError,
  lineBatches,
  pointLine,
  stringFieldValue,
} from './line-protocol.js';
export { InfluxSink, type InfluxSinkDeps, type InfluxSinkHealth } from './sink.js';
