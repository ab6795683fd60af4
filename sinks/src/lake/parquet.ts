import type { ColumnSpec, ColumnType, LakeRow, LakeTableSpec } from '@genai-pipeline/schemas';
import {
  type Data,
  type DataType,
  Field,
  Float64,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  tableToIPC,
  Utf8,
} from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { LakeRowError, LakeUsageError } from './errors.js';

/** Largest |epoch ms| a JS Date holds, so every valid timestamp also has a dt/hour partition. */
const MAX_DATE_MS = 8.64e15;
/** Rows per Arrow record batch: keeps each string buffer far below Arrow's 2 GiB Utf8 offset limit. */
const BATCH_ROWS = 65_536;
const MAX_UTF8_BYTES = 0x7fff_ffff;
const TWO_POW_32 = 4_294_967_296;

/** Returns what is wrong with a non-null cell of the given type, or undefined when it fits. */
const CELL_RULES: Record<ColumnType, (value: unknown) => string | undefined> = {
  timestamp: (value) =>
    typeof value === 'number' && Number.isSafeInteger(value) && Math.abs(value) <= MAX_DATE_MS
      ? undefined
      : `expected integer epoch milliseconds (timestamp), got ${describeValue(value)}`,
  int64: (value) =>
    typeof value === 'number' && Number.isSafeInteger(value)
      ? undefined
      : `expected an integer within ±(2^53-1) (int64), got ${describeValue(value)}`,
  double: (value) =>
    typeof value === 'number' ? undefined : `expected a number (double), got ${describeValue(value)}`,
  string: (value) =>
    typeof value === 'string' ? undefined : `expected a string, got ${describeValue(value)}`,
};

function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return `${typeof value} ${String(value)}`;
  }
  return value === null ? 'null' : typeof value;
}

/**
 * Checks rows against a table spec: every column present with its type; null (or an absent key) only
 * in nullable columns. Keys outside the spec are ignored. Throws LakeRowError naming table, column and
 * row index (a programming error, not retriable).
 */
export function validateLakeRows(spec: LakeTableSpec, rows: readonly LakeRow[]): void {
  for (const column of spec.columns) {
    const rule = CELL_RULES[column.type];
    for (let i = 0; i < rows.length; i++) {
      const value = (rows[i] as LakeRow)[column.name];
      if (value === null || value === undefined) {
        if (column.nullable) continue;
        throw new LakeRowError(
          spec.name,
          column.name,
          i,
          `${value === undefined ? 'missing' : 'null'} in a non-nullable column`,
        );
      }
      const problem = rule(value);
      if (problem !== undefined) throw new LakeRowError(spec.name, column.name, i, problem);
    }
  }
}

const ARROW_TYPES: Record<ColumnType, () => DataType> = {
  timestamp: () => new TimestampMillisecond('UTC'),
  int64: () => new Int64(),
  double: () => new Float64(),
  string: () => new Utf8(),
};

const schemas = new WeakMap<LakeTableSpec, Schema>();

function arrowSchema(spec: LakeTableSpec): Schema {
  let schema = schemas.get(spec);
  if (schema === undefined) {
    schema = new Schema(spec.columns.map((c) => new Field(c.name, ARROW_TYPES[c.type](), c.nullable)));
    schemas.set(spec, schema);
  }
  return schema;
}

/** Rows [start, end) of one column, plus a validity bitmap for nullable columns. */
interface ColumnSlice {
  rows: readonly LakeRow[];
  start: number;
  length: number;
  column: ColumnSpec;
  type: DataType;
  validity: Uint8Array | undefined;
}

/** Marks row j valid in the bitmap; returns whether the cell is null. */
function isNull(slice: ColumnSlice, value: unknown, j: number): boolean {
  if (value === null || value === undefined) return true;
  const validity = slice.validity;
  if (validity !== undefined) validity[j >> 3] = (validity[j >> 3] as number) | (1 << (j & 7));
  return false;
}

function int64Data(slice: ColumnSlice): Data {
  const values = new BigInt64Array(slice.length);
  // Writing the two 32-bit halves avoids one BigInt per cell (about 5x faster); Arrow buffers are
  // little-endian, like the platforms Node runs on here.
  const words = new Int32Array(values.buffer);
  let nullCount = 0;
  for (let j = 0; j < slice.length; j++) {
    const value = (slice.rows[slice.start + j] as LakeRow)[slice.column.name];
    if (isNull(slice, value, j)) {
      nullCount++;
      continue;
    }
    const n = value as number;
    words[2 * j] = n | 0;
    words[2 * j + 1] = Math.floor(n / TWO_POW_32);
  }
  return makeData({
    type: slice.type as Int64,
    length: slice.length,
    nullCount,
    nullBitmap: slice.validity,
    data: values,
  });
}

function float64Data(slice: ColumnSlice): Data {
  const values = new Float64Array(slice.length);
  let nullCount = 0;
  for (let j = 0; j < slice.length; j++) {
    const value = (slice.rows[slice.start + j] as LakeRow)[slice.column.name];
    if (isNull(slice, value, j)) nullCount++;
    else values[j] = value as number;
  }
  return makeData({
    type: slice.type as Float64,
    length: slice.length,
    nullCount,
    nullBitmap: slice.validity,
    data: values,
  });
}

// Measured on 100k strings (Node 20): Buffer#write into one growing buffer ~6-7 ms (TextEncoder
// encodeInto about the same, but it allocates a view and a result per cell), vectorFromArray ~91 ms,
// an arrow Utf8 builder ~115 ms.
function utf8Data(slice: ColumnSlice, tableName: string): Data {
  const offsets = new Int32Array(slice.length + 1);
  let bytes = Buffer.allocUnsafe(Math.max(1024, slice.length * 32));
  let end = 0;
  let nullCount = 0;
  for (let j = 0; j < slice.length; j++) {
    const value = (slice.rows[slice.start + j] as LakeRow)[slice.column.name];
    if (isNull(slice, value, j)) {
      nullCount++;
      offsets[j + 1] = end;
      continue;
    }
    const text = value as string;
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    const worstCase = end + text.length * 3;
    if (worstCase > bytes.length && bytes.length < MAX_UTF8_BYTES) {
      const grown = Buffer.allocUnsafe(Math.min(MAX_UTF8_BYTES, Math.max(worstCase, bytes.length * 2)));
      bytes.copy(grown, 0, 0, end);
      bytes = grown;
    }
    if (worstCase > bytes.length && end + Buffer.byteLength(text) > bytes.length) {
      throw new LakeUsageError(
        `lake table ${tableName}, column ${slice.column.name}: rows ${slice.start}..${slice.start + slice.length - 1} ` +
          'hold more than 2 GiB of text; write fewer rows per file',
      );
    }
    end += bytes.write(text, end);
    offsets[j + 1] = end;
  }
  return makeData({
    type: slice.type as Utf8,
    length: slice.length,
    nullCount,
    nullBitmap: slice.validity,
    valueOffsets: offsets,
    data: bytes.subarray(0, end),
  });
}

function columnData(spec: LakeTableSpec, slice: ColumnSlice): Data {
  switch (slice.column.type) {
    case 'timestamp':
    case 'int64':
      return int64Data(slice);
    case 'double':
      return float64Data(slice);
    case 'string':
      return utf8Data(slice, spec.name);
  }
}

function recordBatch(
  spec: LakeTableSpec,
  schema: Schema,
  rows: readonly LakeRow[],
  start: number,
  length: number,
) {
  const children = spec.columns.map((column, i) =>
    columnData(spec, {
      rows,
      start,
      length,
      column,
      type: (schema.fields[i] as Field).type,
      validity: column.nullable ? new Uint8Array((length + 7) >> 3) : undefined,
    }),
  );
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }),
  );
}

/**
 * Encodes rows of one lake table as a ZSTD-compressed Parquet file with the spec's columns in order:
 * timestamps INT64 TIMESTAMP(MILLIS, isAdjustedToUTC=true), int64 INT64, double DOUBLE, string
 * BYTE_ARRAY STRING; non-nullable columns REQUIRED. Validates first (see validateLakeRows).
 */
export function encodeParquet(spec: LakeTableSpec, rows: readonly LakeRow[]): Uint8Array {
  validateLakeRows(spec, rows);
  const schema = arrowSchema(spec);
  const batches: RecordBatch[] = [];
  for (let start = 0; start < rows.length; start += BATCH_ROWS) {
    batches.push(recordBatch(spec, schema, rows, start, Math.min(BATCH_ROWS, rows.length - start)));
  }
  const properties = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build();
  // writeParquet takes ownership of (and frees) both wasm objects.
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(new Table(schema, batches), 'stream')), properties);
}
