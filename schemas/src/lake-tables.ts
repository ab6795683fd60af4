/**
 * The lake tables of CONTRACT.md §4: column names, order and Parquet types, in one place for the
 * lake writers, the Glue/Athena tables of infra/ and the tests.
 */

export type ColumnType = 'timestamp' | 'int64' | 'double' | 'string';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** Whether the column may hold null (absent optional strings, ttft, percentiles without samples). */
  nullable: boolean;
}

export type LakeTableName =
  | 'invocations'
  | 'scores'
  | 'rollups_1m'
  | 'score_rollups_1m'
  | 'anomalies'
  | 'dead_letters';

export interface LakeTableSpec {
  name: LakeTableName;
  /** Column whose UTC date and hour pick the `dt=`/`hour=` partition. */
  partitionBy: string;
  columns: readonly ColumnSpec[];
}

const col = (name: string, type: ColumnType, nullable = false): ColumnSpec => ({ name, type, nullable });
const optionalString = (name: string): ColumnSpec => col(name, 'string', true);

export const LAKE_TABLES: Record<LakeTableName, LakeTableSpec> = {
  invocations: {
    name: 'invocations',
    partitionBy: 'event_time',
    columns: [
      col('event_id', 'string'),
      col('event_time', 'timestamp'),
      col('service', 'string'),
      col('provider', 'string'),
      col('model_id', 'string'),
      col('operation', 'string'),
      col('input_tokens', 'int64'),
      col('output_tokens', 'int64'),
      col('cache_read_input_tokens', 'int64'),
      col('cache_write_input_tokens', 'int64'),
      col('latency_ms', 'double'),
      col('ttft_ms', 'double', true),
      col('status', 'string'),
      optionalString('error_code'),
      optionalString('finish_reason'),
      optionalString('tenant_id'),
      optionalString('user_id'),
      optionalString('session_id'),
      optionalString('agent_id'),
      optionalString('environment'),
      optionalString('region'),
      optionalString('trace_id'),
      optionalString('span_id'),
      col('cost_usd', 'double'),
    ],
  },
  scores: {
    name: 'scores',
    partitionBy: 'event_time',
    columns: [
      col('event_id', 'string'),
      col('event_time', 'timestamp'),
      optionalString('invocation_id'),
      col('service', 'string'),
      col('model_id', 'string'),
      optionalString('tenant_id'),
      col('name', 'string'),
      col('value', 'double'),
      optionalString('source'),
    ],
  },
  rollups_1m: {
    name: 'rollups_1m',
    partitionBy: 'window_start',
    columns: [
      col('window_start', 'timestamp'),
      col('window_end', 'timestamp'),
      col('service', 'string'),
      col('provider', 'string'),
      col('model_id', 'string'),
      optionalString('tenant_id'),
      col('requests', 'int64'),
      col('errors', 'int64'),
      col('throttled', 'int64'),
      col('timeouts', 'int64'),
      col('filtered', 'int64'),
      col('error_rate', 'double'),
      col('input_tokens', 'int64'),
      col('output_tokens', 'int64'),
      col('cache_read_input_tokens', 'int64'),
      col('cache_write_input_tokens', 'int64'),
      col('cost_usd', 'double'),
      col('unpriced_requests', 'int64'),
      col('latency_ms_avg', 'double'),
      col('latency_ms_p50', 'double'),
      col('latency_ms_p95', 'double'),
      col('latency_ms_p99', 'double'),
      col('latency_ms_max', 'double'),
      col('ttft_ms_p50', 'double', true),
      col('ttft_ms_p95', 'double', true),
    ],
  },
  score_rollups_1m: {
    name: 'score_rollups_1m',
    partitionBy: 'window_start',
    columns: [
      col('window_start', 'timestamp'),
      col('window_end', 'timestamp'),
      col('service', 'string'),
      col('model_id', 'string'),
      optionalString('tenant_id'),
      col('name', 'string'),
      col('count', 'int64'),
      col('sum', 'double'),
      col('avg', 'double'),
      col('min', 'double'),
      col('max', 'double'),
    ],
  },
  anomalies: {
    name: 'anomalies',
    partitionBy: 'window_start',
    columns: [
      col('window_start', 'timestamp'),
      col('service', 'string'),
      optionalString('provider'),
      col('model_id', 'string'),
      optionalString('tenant_id'),
      col('kind', 'string'),
      optionalString('score_name'),
      col('observed', 'double'),
      col('baseline', 'double'),
      col('score', 'double'),
      col('severity', 'string'),
    ],
  },
  dead_letters: {
    name: 'dead_letters',
    partitionBy: 'received_at',
    columns: [
      col('received_at', 'timestamp'),
      col('reason', 'string'),
      col('error', 'string'),
      col('payload', 'string'),
    ],
  },
};

/** A row of a lake table: timestamps as UTC epoch milliseconds, int64 as JS numbers (exact below 2^53). */
export type LakeRow = Record<string, string | number | null>;
