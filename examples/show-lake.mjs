// Prints what is in a lake (default data/lake, where `npm start` writes): cost per model and the anomalies, queried with DuckDB.
import { DuckDBInstance } from '@duckdb/node-api';

const lake = process.argv[2] ?? 'data/lake';
const connection = await (await DuckDBInstance.create(':memory:')).connect();
const table = (name) => `read_parquet('${lake}/${name}/**/*.parquet')`;

async function show(title, sql) {
  console.log(`\n${title}`);
  try {
    console.table((await connection.runAndReadAll(sql)).getRowObjectsJson());
  } catch (error) {
    // A table without files (no anomalies fired) is not an error of the demo.
    if (!/No files found/.test(String(error))) throw error;
    console.log('(none)');
  }
}

await show(
  'Cost and traffic per model',
  `select model_id, sum(requests)::INTEGER as requests, round(sum(cost_usd), 4) as cost_usd,
          round(sum(errors) / sum(requests), 4) as error_rate, round(max(latency_ms_p95)) as worst_p95_ms
     from ${table('rollups_1m')} group by model_id order by cost_usd desc`,
);
await show(
  'Anomalies',
  `select strftime(window_start, '%H:%M') as minute, kind, severity, service, model_id, tenant_id, score_name,
          round(observed, 3) as observed, round(baseline, 3) as baseline, round(score, 1) as score
     from ${table('anomalies')} order by window_start, kind`,
);
console.log(`\nThe lake is in ${lake}/. Query it yourself, e.g.:
  duckdb -c "select * from read_parquet('${lake}/rollups_1m/**/*.parquet') limit 10"`);
