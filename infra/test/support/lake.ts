/**
 * A lake produced by the real CLI (`genai-pipeline replay`, built by `npx turbo run build`), opened
 * in DuckDB with one view per Glue table: the same names, and `dt`/`hour` as string partition
 * columns, as Athena sees them.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { LAKE_TABLES, type LakeTableName } from '@genai-pipeline/schemas';

/** Resolved from this file, so the tests run from any checkout location. */
export const CLI_PATH = fileURLToPath(new URL('../../../processors/dist/cli/main.js', import.meta.url));

export interface ReplaySummary {
  events: number;
  accepted: number;
  duplicates: number;
  late: number;
  invalid: number;
}

export async function replay(input: string, lake: string): Promise<ReplaySummary> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: build first (npx turbo run build)`);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [CLI_PATH, 'replay', '--input', input, '--lake', lake],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as ReplaySummary;
}

const sqlString = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/** DuckDB in UTC (as Athena sessions are), one view per lake table that has files. */
export async function openLake(lake: string): Promise<DuckDBConnection> {
  const connection = await (await DuckDBInstance.create(':memory:')).connect();
  await connection.run(`SET TimeZone = 'UTC'`);
  for (const table of Object.keys(LAKE_TABLES) as LakeTableName[]) {
    const dir = join(lake, table);
    if (!existsSync(dir) || readdirSync(dir).length === 0) continue;
    await connection.run(
      `CREATE VIEW ${table} AS SELECT * FROM read_parquet(${sqlString(join(dir, '**', '*.parquet'))}, ` +
        `hive_partitioning = true, hive_types = {'dt': VARCHAR, 'hour': VARCHAR})`,
    );
  }
  return connection;
}

export type Row = Record<string, string | number | null>;

/** Rows as plain values: BIGINT as number, timestamps as epoch ms. */
export async function query(connection: DuckDBConnection, sql: string): Promise<Row[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjectsJS().map((row) => {
    const plain: Row = {};
    for (const [name, value] of Object.entries(row)) {
      if (value === null || value === undefined) plain[name] = null;
      else if (value instanceof Date) plain[name] = value.getTime();
      else if (typeof value === 'bigint') plain[name] = Number(value);
      else if (typeof value === 'number' || typeof value === 'string') plain[name] = value;
      else throw new Error(`column ${name}: unexpected DuckDB value ${String(value)}`);
    }
    return plain;
  });
}
