/**
 * The series keys the time-series sinks must use for each window table (lake column → tag or
 * dimension name), spelled out independently of the sinks' code, for the Timestream and InfluxDB tests.
 */
export const SERIES_KEYS: Record<string, Array<[column: string, key: string]>> = {
  rollups_1m: [
    ['service', 'service'],
    ['provider', 'provider'],
    ['model_id', 'model_id'],
    ['tenant_id', 'tenant_id'],
  ],
  score_rollups_1m: [
    ['service', 'service'],
    ['model_id', 'model_id'],
    ['tenant_id', 'tenant_id'],
    ['name', 'score_name'],
  ],
  anomalies: [
    ['service', 'service'],
    ['provider', 'provider'],
    ['model_id', 'model_id'],
    ['tenant_id', 'tenant_id'],
    ['kind', 'kind'],
    ['score_name', 'score_name'],
  ],
};
