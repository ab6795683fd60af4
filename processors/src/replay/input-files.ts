import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
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

/** JSON lines in batches, blank lines skipped (they are not records), read as a stream. */
async function* jsonLineBatches(file: InputFile): AsyncGenerator<SourceRecord[]> {
  const raw = createReadStream(file.path, { highWaterMark: READ_CHUNK_BYTES });
  const stream = file.gzip ? raw.pipe(createGunzip({ chunkSize: READ_CHUNK_BYTES })) : raw;
  if (file.gzip) raw.on('error', (error) => stream.destroy(error));
  const decoder = new StringDecoder('utf8');
  let carry = '';
  const linesOf = (text: string, final: boolean): SourceRecord[] => {
    const batch: SourceRecord[] = [];
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      pushLine(batch, text, start, newline);
      start = newline + 1;
    }
    if (final) pushLine(batch, text, start, text.length);
    else carry = text.slice(start);
    return batch;
  };
  for await (const chunk of stream) {
    const batch = linesOf(carry + decoder.write(chunk as Buffer), false);
    if (batch.length > 0) yield batch;
  }
  const tail = linesOf(carry + decoder.end(), true);
  if (tail.length > 0) yield tail;
}

function pushLine(batch: SourceRecord[], text: string, start: number, end: number): void {
  const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
  const line = text.slice(start, stop);
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
