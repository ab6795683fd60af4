import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { readAvroContainer } from '@genai-pipeline/schemas';
import type { SourceRecord } from '../window/partition-processor.js';

export type InputFormat = 'jsonl' | 'avro';

export interface InputFile {
  path: string;
  format: InputFormat;
  gzip: boolean;
}

const READ_CHUNK_BYTES = 1 << 20;
const AVRO_BATCH_RECORDS = 4096;

/** Picks the format from the name: `.jsonl`/`.ndjson`/`.json`, optionally `.gz`, or `.avro`. */
export function inputFile(path: string): InputFile {
  const lower = path.toLowerCase();
  const gzip = lower.endsWith('.gz');
  const base = gzip ? lower.slice(0, -3) : lower;
  if (base.endsWith('.avro') && !gzip) return { path, format: 'avro', gzip };
  if (base.endsWith('.jsonl') || base.endsWith('.ndjson') || base.endsWith('.json')) {
    return { path, format: 'jsonl', gzip };
  }
  throw new Error(`input ${path}: unsupported file type (expected .jsonl, .jsonl.gz or .avro)`);
}

/** Operational failures name the file and say what broke; they end a replay (input is not dead-lettered). */
function inputError(file: InputFile, error: unknown): Error {
  const cause = error as NodeJS.ErrnoException;
  if (cause.code === 'ENOENT' || cause.code === 'EACCES' || cause.code === 'EISDIR') {
    return new Error(`cannot read input ${file.path}: ${cause.code}`);
  }
  if (file.gzip && cause.code?.startsWith('Z_')) {
    return new Error(`corrupt gzip stream in ${file.path}: ${cause.message}`);
  }
  return new Error(`cannot read input ${file.path}: ${cause.message ?? String(error)}`);
}

const NEWLINE = 0x0a;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const hasByteOrderMark = (bytes: Buffer): boolean => bytes.subarray(0, UTF8_BOM.length).equals(UTF8_BOM);
const CARRIAGE_RETURN = 0x0d;

/**
 * JSON lines in batches, blank lines skipped (they are not records), read as a stream. Lines are split
 * on bytes and decoded one by one: a newline byte never occurs inside a multi-byte UTF-8 character,
 * and each line becomes its own string. (Slicing lines out of a decoded chunk would make every kept
 * line — a dead letter's payload — pin its whole 1 MiB chunk in memory.)
 */
async function* jsonLineBatches(file: InputFile): AsyncGenerator<SourceRecord[]> {
  const raw = createReadStream(file.path, { highWaterMark: READ_CHUNK_BYTES });
  const stream = file.gzip ? raw.pipe(createGunzip({ chunkSize: READ_CHUNK_BYTES })) : raw;
  if (file.gzip) raw.on('error', (error) => stream.destroy(error));
  let carry: Buffer | undefined;
  let firstChunk = true;
  for await (const chunk of stream) {
    const bytes = carry === undefined ? (chunk as Buffer) : Buffer.concat([carry, chunk as Buffer]);
    const batch: SourceRecord[] = [];
    // A UTF-8 byte order mark (editors on Windows write one) is not part of the first line.
    let start = firstChunk && hasByteOrderMark(bytes) ? UTF8_BOM.length : 0;
    firstChunk = false;
    for (let newline = bytes.indexOf(NEWLINE); newline !== -1; newline = bytes.indexOf(NEWLINE, start)) {
      pushLine(batch, bytes, start, newline);
      start = newline + 1;
    }
    // Copied so the next chunk does not keep this one alive.
    carry = start < bytes.length ? Buffer.from(bytes.subarray(start)) : undefined;
    if (batch.length > 0) yield batch;
  }
  if (carry !== undefined) {
    const tail: SourceRecord[] = [];
    pushLine(tail, carry, 0, carry.length);
    if (tail.length > 0) yield tail;
  }
}

function pushLine(batch: SourceRecord[], bytes: Buffer, start: number, end: number): void {
  const stop = end > start && bytes[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
  const line = bytes.toString('utf8', start, stop);
  if (line.trim() !== '') batch.push({ format: 'json', text: line });
}

async function* avroBatches(file: InputFile): AsyncGenerator<SourceRecord[]> {
  let batch: SourceRecord[] = [];
  for await (const { kind, record } of readAvroContainer(
    createReadStream(file.path, { highWaterMark: READ_CHUNK_BYTES }),
  )) {
    batch.push({ format: 'avro', kind, record });
    if (batch.length >= AVRO_BATCH_RECORDS) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** Records of the inputs, in order, as batches; read errors carry the file name. */
export async function* readInputs(files: readonly InputFile[]): AsyncGenerator<SourceRecord[]> {
  for (const file of files) {
    try {
      yield* file.format === 'avro' ? avroBatches(file) : jsonLineBatches(file);
    } catch (error) {
      throw inputError(file, error);
    }
  }
}
