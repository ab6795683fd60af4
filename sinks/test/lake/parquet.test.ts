import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ColumnType, LAKE_TABLES, type LakeRow, type LakeTableSpec } from '@genai-pipeline/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LakeRowError } from '../../src/lake/errors.js';
import { encodeParquet, validateLakeRows } from '../../src/lake/parquet.js';
import { type LakeReader, openLakeReader, sqlString } from '../support/duckdb.js';
import { sampleRow } from '../support/rows.js';

let reader: LakeReader;
let dir: string;
let fileCount = 0;

beforeAll(async () => {
  reader = await openLakeReader();
  dir = await mkdtemp(path.join(tmpdir(), 'sinks-parquet-'));
});

afterAll(async () => {
  reader.close();
  await rm(dir, { recursive: true, force: true });
});

async function writeParquet(spec: LakeTableSpec, rows: readonly LakeRow[]): Promise<string> {
  const file = path.join(dir, `${spec.name}-${fileCount++}.parquet`);
  await writeFile(file, encodeParquet(spec, rows));
  return sqlString(file);
}

/** Reads every column back as exact JS values: timestamps as epoch ms, int64 as numbers. */
async function readRows(spec: LakeTableSpec, file: string): Promise<LakeRow[]> {
  const select = spec.columns
    .map((c) => (c.type === 'timestamp' ? `epoch_ms("${c.name}") AS "${c.name}"` : `"${c.name}"`))
    .join(', ');
  const rows = await reader.query(`SELECT ${select} FROM read_parquet(${file}) ORDER BY file_row_number`);
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
  ) as LakeRow[];
}

const PHYSICAL: Record<ColumnType, string> = {
  timestamp: 'INT64',
  int64: 'INT64',
  double: 'DOUBLE',
  string: 'BYTE_ARRAY',
};
const DUCKDB_TYPE: Record<ColumnType, string> = {
  timestamp: 'TIMESTAMP WITH TIME ZONE',
  int64: 'BIGINT',
  double: 'DOUBLE',
  string: 'VARCHAR',
};

describe('encodeParquet', () => {
  describe.each(Object.values(LAKE_TABLES))('table $name', (spec) => {
    const rows = Array.from({ length: 7 }, (_, i) => sampleRow(spec, i));

    it('has the spec columns in order with their Parquet types and repetition', async () => {
      const file = await writeParquet(spec, rows);
      const schema = await reader.query(
        `SELECT name, type, repetition_type, converted_type, logical_type, duckdb_type
         FROM parquet_schema(${file}) WHERE type IS NOT NULL ORDER BY column_id`,
      );
      expect(schema.map((c) => c.name)).toEqual(spec.columns.map((c) => c.name));
      spec.columns.forEach((column, i) => {
        const actual = schema[i] as Record<string, unknown>;
        expect(actual.type, column.name).toBe(PHYSICAL[column.type]);
        expect(actual.duckdb_type, column.name).toBe(DUCKDB_TYPE[column.type]);
        expect(actual.repetition_type, column.name).toBe(column.nullable ? 'OPTIONAL' : 'REQUIRED');
        if (column.type === 'timestamp') {
          expect(actual.logical_type).toMatch(/^TimestampType\(isAdjustedToUTC=1, unit=TimeUnit\(MILLIS=/);
        }
        if (column.type === 'string') expect(actual.logical_type).toBe('StringType()');
      });
    });

    it('compresses every column chunk with ZSTD', async () => {
      const file = await writeParquet(spec, rows);
      const chunks = await reader.query(`SELECT DISTINCT compression FROM parquet_metadata(${file})`);
      expect(chunks).toEqual([{ compression: 'ZSTD' }]);
    });

    it('round-trips values and nulls exactly', async () => {
      const file = await writeParquet(spec, rows);
      expect(await readRows(spec, file)).toEqual(rows);
    });
  });

  it('keeps extreme int64, unrounded doubles, pre-1970 timestamps and any text', async () => {
    const spec = LAKE_TABLES.invocations;
    const rows = [
      sampleRow(spec, 1, {
        event_time: -1,
        input_tokens: Number.MAX_SAFE_INTEGER,
        output_tokens: -Number.MAX_SAFE_INTEGER,
        cache_read_input_tokens: 2 ** 32,
        cache_write_input_tokens: -(2 ** 32) - 1,
        latency_ms: 0.1 + 0.2,
        ttft_ms: 5e-324,
        cost_usd: 1.7976931348623157e308,
        service: '',
        model_id: 'モデル-🚀-ü',
        error_code: 'x'.repeat(100_000),
      }),
      sampleRow(spec, 2, {
        event_time: Date.UTC(2099, 11, 31, 23, 59, 59, 999),
        cost_usd: -0.000123456789012345,
      }),
    ];
    const file = await writeParquet(spec, rows);
    expect(await readRows(spec, file)).toEqual(rows);
  });

  it('writes more rows than one record batch with every value in place', async () => {
    const spec = LAKE_TABLES.scores;
    const rows = Array.from({ length: 140_000 }, (_, i) => sampleRow(spec, i));
    const file = await writeParquet(spec, rows);
    const [summary] = await reader.query(
      `SELECT count(*)::DOUBLE AS n,
              count(*) FILTER (WHERE event_id = 'event_id-' || (file_row_number)::VARCHAR)::DOUBLE AS ids_in_place,
              count(invocation_id)::DOUBLE AS non_null_ids,
              max(epoch_ms(event_time))::DOUBLE AS last_time
       FROM read_parquet(${file})`,
    );
    expect(summary).toEqual({
      n: 140_000,
      ids_in_place: 140_000,
      non_null_ids: 140_000 - Math.ceil(140_000 / 3),
      last_time: rows.at(-1)?.event_time,
    });
  });

  it('writes a readable file with no rows', async () => {
    const file = await writeParquet(LAKE_TABLES.anomalies, []);
    expect(await reader.query(`SELECT count(*)::DOUBLE AS n FROM read_parquet(${file})`)).toEqual([{ n: 0 }]);
  });
});

describe('validateLakeRows', () => {
  const spec = LAKE_TABLES.invocations;
  const valid = (i: number) => sampleRow(spec, i);

  it.each([
    ['null in a non-nullable column', { service: null }, 'service', /null in a non-nullable column/],
    ['a missing required column', { model_id: undefined }, 'model_id', /missing in a non-nullable column/],
    ['a fraction in an int64 column', { input_tokens: 1.5 }, 'input_tokens', /integer.*int64.*number 1\.5/],
    ['an int64 beyond 2^53-1', { output_tokens: 2 ** 53 }, 'output_tokens', /within ±\(2\^53-1\)/],
    ['a fractional timestamp', { event_time: 1.5 }, 'event_time', /epoch milliseconds/],
    ['a string in a double column', { latency_ms: '12' }, 'latency_ms', /expected a number.*string "12"/],
    ['a number in a string column', { status: 200 }, 'status', /expected a string, got number 200/],
  ])('rejects %s naming table, column and row', (_, override, column, rule) => {
    const rows = [valid(0), valid(1), { ...valid(2), ...override } as LakeRow];
    let caught: unknown;
    try {
      validateLakeRows(spec, rows);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LakeRowError);
    const error = caught as LakeRowError;
    expect({
      table: error.table,
      column: error.column,
      rowIndex: error.rowIndex,
      retriable: error.retriable,
    }).toEqual({
      table: 'invocations',
      column,
      rowIndex: 2,
      retriable: false,
    });
    expect(error.message).toMatch(rule);
    expect(error.message).toContain(`lake table invocations, row 2, column ${column}`);
    expect(() => encodeParquet(spec, rows)).toThrow(LakeRowError);
  });

  it('accepts null and absent keys in nullable columns and ignores keys outside the spec', () => {
    const row = {
      ...valid(1),
      ttft_ms: null,
      tenant_id: undefined,
      kind: 'invocation',
    } as unknown as LakeRow;
    expect(() => validateLakeRows(spec, [row])).not.toThrow();
  });
});
