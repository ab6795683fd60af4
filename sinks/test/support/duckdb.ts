import { DuckDBInstance } from '@duckdb/node-api';

/** An in-memory DuckDB for reading written Parquet back. Values come back as plain JS (BIGINT as bigint). */
export interface LakeReader {
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): void;
}

export async function openLakeReader(): Promise<LakeReader> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  return {
    async query(sql) {
      return (await connection.runAndReadAll(sql)).getRowObjectsJS();
    },
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** A SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
