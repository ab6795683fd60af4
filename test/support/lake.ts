/** Reads a local lake (CONTRACT.md §4) with DuckDB, independently of the product's writers. */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { LAKE_TABLES, type LakeRow, type LakeTableName } from '@genai-pipeline/schemas';

export const TABLE_NAMES = Object.keys(LAKE_TABLES) as LakeTableName[];

/** A lake row plus the file it came from (relative to the lake root, `/`-separated). */
export type LakeRowWithFile = LakeRow & { __file: string };

export interface ParquetColumn {
  file: string;
  name: string;
  type: string;
  converted_type: string | null;
  logical_type: string | null;
}

export async function openDuckDb(): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(':memory:');
  return instance.connect();
}

/** Every regular file under `dir`, relative to it with `/` separators. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current)) {
      const path = join(current, entry);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

function parquetFiles(lake: string, table: LakeTableName): string[] {
  let files: string[];
  try {
    files = listFiles(join(lake, table));
  } catch {
    return [];
  }
  return files.filter((f) => f.endsWith('.parquet'));
}

/** JS values: timestamps as epoch ms, BIGINT as number (exact below 2^53), strings, doubles, null. */
function toPlain(value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number' || typeof value === 'string') return value;
  throw new Error(`unexpected DuckDB value ${String(value)}`);
}

/** All rows of a table (empty when it has no files yet). */
export async function readTable(
  conn: DuckDBConnection,
  lake: string,
  table: LakeTableName,
): Promise<LakeRowWithFile[]> {
  if (parquetFiles(lake, table).length === 0) return [];
  const glob = sqlString(join(lake, table, '**', '*.parquet'));
  const reader = await conn.runAndReadAll(
    `SELECT * FROM read_parquet(${glob}, hive_partitioning = false, filename = '__file', union_by_name = true)`,
  );
  const root = join(lake, table);
  return reader.getRowObjectsJS().map((row) => {
    const plain: Record<string, string | number | null> = {};
    for (const [name, value] of Object.entries(row)) plain[name] = toPlain(value);
    const file = `${table}/${relative(root, String(plain.__file)).split(sep).join('/')}`;
    return { ...plain, __file: file };
  });
}

/** Leaf columns of every Parquet file of a table, as `parquet_schema` reports them. */
export async function readParquetSchema(
  conn: DuckDBConnection,
  lake: string,
  table: LakeTableName,
): Promise<ParquetColumn[]> {
  const columns: ParquetColumn[] = [];
  for (const file of parquetFiles(lake, table)) {
    const reader = await conn.runAndReadAll(
      `SELECT name, type, converted_type, logical_type, num_children FROM parquet_schema(${sqlString(join(lake, table, file))})`,
    );
    for (const row of reader.getRowObjectsJS()) {
      // The root group element has children and no physical type.
      if (row.type === null) continue;
      columns.push({
        file: `${table}/${file}`,
        name: String(row.name),
        type: String(row.type),
        converted_type: row.converted_type === null ? null : String(row.converted_type),
        logical_type: row.logical_type === null ? null : String(row.logical_type),
      });
    }
  }
  return columns;
}

/** Row count per table. */
export async function countRows(
  conn: DuckDBConnection,
  lake: string,
): Promise<Record<LakeTableName, number>> {
  const counts = {} as Record<LakeTableName, number>;
  for (const table of TABLE_NAMES) {
    if (parquetFiles(lake, table).length === 0) {
      counts[table] = 0;
      continue;
    }
    const reader = await conn.runAndReadAll(
      `SELECT count(*) AS n FROM read_parquet(${sqlString(join(lake, table, '**', '*.parquet'))}, hive_partitioning = false, union_by_name = true)`,
    );
    counts[table] = Number(reader.getRowObjectsJS()[0]?.n);
  }
  return counts;
}
