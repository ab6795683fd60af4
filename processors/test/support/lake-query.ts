import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/**
 * Runs DuckDB SQL over a local lake: `{table}` stands for every Parquet file of that table. Rows come
 * back as JSON values (cast BIGINTs to INTEGER or DOUBLE to get numbers).
 */
export async function queryLake(lakeDir: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const text = sql.replace(/\{(\w+)\}/g, (_, table: string) => {
      const glob = join(lakeDir, table, '**', '*.parquet').replaceAll("'", "''");
      return `read_parquet('${glob}')`;
    });
    return (await connection.runAndReadAll(text)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
