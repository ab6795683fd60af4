/**
 * The DuckDB comparison job, run as its own process so its RSS is its own:
 *   node test/bench/duckdb-job.mjs --input events.jsonl --out DIR
 * Loads the JSON lines with explicit column types, keeps valid-looking invocations (a filter on
 * kind, required fields, status and signs: not the full contract validation, no dedupe, no
 * pricing), writes them to Parquet (zstd, dt/hour partitions) and writes 1-minute rollups with the
 * same quantiles as ours. Prints one JSON line with its step timings.
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';

const INVOCATION_COLUMNS = {
  kind: 'VARCHAR',
  event_id: 'VARCHAR',
  event_time: 'BIGINT',
  service: 'VARCHAR',
  provider: 'VARCHAR',
  model_id: 'VARCHAR',
  operation: 'VARCHAR',
  input_tokens: 'BIGINT',
  output_tokens: 'BIGINT',
  cache_read_input_tokens: 'BIGINT',
  cache_write_input_tokens: 'BIGINT',
  latency_ms: 'DOUBLE',
  ttft_ms: 'DOUBLE',
  status: 'VARCHAR',
  error_code: 'VARCHAR',
  finish_reason: 'VARCHAR',
  tenant_id: 'VARCHAR',
  user_id: 'VARCHAR',
  session_id: 'VARCHAR',
  agent_id: 'VARCHAR',
  environment: 'VARCHAR',
  region: 'VARCHAR',
  trace_id: 'VARCHAR',
  span_id: 'VARCHAR',
  cost_usd: 'DOUBLE',
};

const sqlString = (text) => `'${text.replaceAll("'", "''")}'`;
const columnsStruct = `{${Object.entries(INVOCATION_COLUMNS)
  .map(([name, type]) => `${name}: '${type}'`)
  .join(', ')}}`;

function loadSql(input) {
  return `CREATE TABLE invocations AS
    SELECT * EXCLUDE (kind, event_time, cache_read_input_tokens, cache_write_input_tokens),
      epoch_ms(event_time) AS event_time,
      coalesce(cache_read_input_tokens, 0) AS cache_read_input_tokens,
      coalesce(cache_write_input_tokens, 0) AS cache_write_input_tokens
    FROM read_json(${sqlString(input)}, format = 'newline_delimited', columns = ${columnsStruct},
      ignore_errors = true)
    WHERE coalesce(kind, 'invocation') = 'invocation'
      AND event_id <> '' AND event_time IS NOT NULL AND service <> '' AND provider <> ''
      AND model_id <> '' AND operation <> '' AND status IN ('OK', 'ERROR', 'THROTTLED', 'TIMEOUT', 'FILTERED')
      AND input_tokens >= 0 AND output_tokens >= 0 AND latency_ms >= 0
      AND coalesce(cache_read_input_tokens, 0) + coalesce(cache_write_input_tokens, 0) <= input_tokens`;
}

function rawParquetSql(outDir) {
  return `COPY (SELECT *, strftime(event_time, '%Y-%m-%d') AS dt, strftime(event_time, '%H') AS hour FROM invocations)
    TO ${sqlString(`${outDir}/invocations`)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt, hour), OVERWRITE_OR_IGNORE)`;
}

/** cost_usd is summed where the event carries it; calls without it count as unpriced (no catalog here). */
function rollupSql(outDir) {
  return `COPY (
    SELECT window_start, window_start + INTERVAL 1 MINUTE AS window_end, service, provider, model_id, tenant_id,
      requests, errors, throttled, timeouts, filtered, errors / requests AS error_rate,
      input_tokens, output_tokens, cache_read_input_tokens, cache_write_input_tokens, cost_usd, unpriced_requests,
      latency_ms_avg, latency_q[1] AS latency_ms_p50, latency_q[2] AS latency_ms_p95, latency_q[3] AS latency_ms_p99,
      latency_ms_max, ttft_q[1] AS ttft_ms_p50, ttft_q[2] AS ttft_ms_p95,
      strftime(window_start, '%Y-%m-%d') AS dt, strftime(window_start, '%H') AS hour
    FROM (
      SELECT time_bucket(INTERVAL 1 MINUTE, event_time) AS window_start, service, provider, model_id, tenant_id,
        count(*) AS requests,
        count(*) FILTER (WHERE status <> 'OK') AS errors,
        count(*) FILTER (WHERE status = 'THROTTLED') AS throttled,
        count(*) FILTER (WHERE status = 'TIMEOUT') AS timeouts,
        count(*) FILTER (WHERE status = 'FILTERED') AS filtered,
        sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
        sum(cache_read_input_tokens) AS cache_read_input_tokens,
        sum(cache_write_input_tokens) AS cache_write_input_tokens,
        coalesce(sum(cost_usd), 0) AS cost_usd,
        count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_requests,
        avg(latency_ms) AS latency_ms_avg, max(latency_ms) AS latency_ms_max,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS latency_q,
        quantile_cont(ttft_ms, [0.5, 0.95]) AS ttft_q
      FROM invocations
      GROUP BY ALL
    )
  ) TO ${sqlString(`${outDir}/rollups_1m`)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt, hour), OVERWRITE_OR_IGNORE)`;
}

async function main() {
  const { values } = parseArgs({ options: { input: { type: 'string' }, out: { type: 'string' } } });
  if (!values.input || !values.out) throw new Error('usage: duckdb-job.mjs --input FILE.jsonl --out DIR');
  mkdirSync(values.out, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const scalar = async (sql) => Object.values((await connection.runAndReadAll(sql)).getRowObjectsJS()[0])[0];
  const steps = {};
  const timed = async (name, sql) => {
    const started = performance.now();
    await connection.run(sql);
    steps[name] = (performance.now() - started) / 1000;
  };
  await timed('load_s', loadSql(values.input));
  await timed('raw_parquet_s', rawParquetSql(values.out));
  await timed('rollups_parquet_s', rollupSql(values.out));
  const result = {
    invocations: Number(await scalar('SELECT count(*) FROM invocations')),
    rollup_rows: Number(
      await scalar(
        `SELECT count(*) FROM read_parquet(${sqlString(`${values.out}/rollups_1m/**/*.parquet`)})`,
      ),
    ),
    threads: Number(await scalar("SELECT current_setting('threads')")),
    memory_limit: String(await scalar("SELECT current_setting('memory_limit')")),
    duckdb_version: String(await scalar('SELECT version()')),
    steps,
  };
  connection.closeSync();
  instance.closeSync();
  console.log(JSON.stringify(result));
}

main().catch((error) => {
  console.error(`duckdb job failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
