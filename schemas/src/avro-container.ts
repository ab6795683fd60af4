/**
 * Avro object container files (`.avro` inputs, `application/avro` HTTP bodies).
 *
 * The reader is our own small block parser on top of avsc types rather than avsc's
 * `streams.BlockDecoder`, because BlockDecoder ends silently on a truncated header or block and a
 * broken file must be an error here (CONTRACT.md §5). Memory stays bounded: one block at a time.
 */

import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { deflateRawSync, inflateRaw } from 'node:zlib';
import avro from 'avsc';
import {
  AVRO_RECORD_NAMES,
  AVRO_SCHEMAS,
  AVRO_TYPES,
  AvroDecodeError,
  type DecodedRecord,
  eventKindOfAvroName,
  type RecordReader,
  recordReaderFor,
} from './avro.js';
import type { EventKind, EventOfKind } from './types.js';

const inflateRawAsync = promisify(inflateRaw);

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1
const SYNC_BYTES = 16;
const HEADER_TYPE = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: MAGIC.length } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: SYNC_BYTES } },
  ],
});
const LONG_TYPE = avro.Type.forSchema('long');
/** A block starts with two longs (record count, byte size): at most 10 bytes each. */
const MAX_BLOCK_PREFIX_BYTES = 20;

export type ContainerCodec = 'null' | 'deflate';

export interface ContainerReadOptions {
  /** Largest block (compressed and decompressed) accepted, in bytes; default 64 MiB. */
  maxBlockBytes?: number;
  /** Largest file header (schema and metadata) accepted, in bytes; default 1 MiB. */
  maxHeaderBytes?: number;
}

const DEFAULT_MAX_BLOCK_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_HEADER_BYTES = 1024 * 1024;

const corrupt = (reason: string): AvroDecodeError =>
  new AvroDecodeError(`corrupt Avro object container file: ${reason}`);

/** Bytes received but not yet consumed; merges chunks only when a read needs them contiguous. */
class ByteQueue {
  private chunks: Buffer[] = [];
  size = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The first `n` bytes (n <= size) as one buffer. */
  peek(n: number): Buffer {
    let first = this.chunks[0] as Buffer;
    if (first.length < n) {
      let merged = 0;
      let count = 0;
      while (merged < n) merged += (this.chunks[count++] as Buffer).length;
      first = Buffer.concat(this.chunks.slice(0, count), merged);
      this.chunks.splice(0, count, first);
    }
    return first.subarray(0, n);
  }

  skip(n: number): void {
    this.size -= n;
    while (n > 0) {
      const first = this.chunks[0] as Buffer;
      if (first.length <= n) {
        this.chunks.shift();
        n -= first.length;
      } else {
        this.chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}

type Chunk = Uint8Array | string;

async function* chunksOf(
  input: NodeJS.ReadableStream | AsyncIterable<Chunk> | Uint8Array,
): AsyncIterable<Buffer> {
  if (input instanceof Uint8Array) {
    yield Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    return;
  }
  for await (const chunk of input as AsyncIterable<Chunk>) {
    if (typeof chunk === 'string') {
      throw new TypeError(
        'Avro container input must be a binary stream (got a string chunk; is an encoding set?)',
      );
    }
    yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

interface ContainerHeader {
  reader: RecordReader;
  codec: ContainerCodec;
  sync: Buffer;
  byteLength: number;
}

/** Parses the header from the queue's start, or returns undefined when more bytes are needed. */
function tryReadHeader(queue: ByteQueue): ContainerHeader | undefined {
  const bytes = queue.peek(queue.size);
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC.subarray(0, Math.min(bytes.length, MAGIC.length)))) {
    throw corrupt('invalid magic bytes (not an Avro object container file)');
  }
  let decoded: { value: { meta: Record<string, Buffer>; sync: Buffer }; offset: number };
  try {
    decoded = HEADER_TYPE.decode(bytes, 0);
  } catch (err) {
    throw corrupt(`invalid header: ${(err as Error).message}`);
  }
  if (decoded.offset === -1) return undefined;
  const { meta, sync } = decoded.value;

  const codecName = meta['avro.codec']?.toString() ?? 'null';
  if (codecName !== 'null' && codecName !== 'deflate') {
    throw new AvroDecodeError(
      `Avro object container file uses unsupported codec "${codecName}" (supported: null, deflate)`,
    );
  }
  const schemaText = meta['avro.schema']?.toString();
  if (schemaText === undefined) throw corrupt('header has no avro.schema');
  let writer: ReturnType<typeof avro.Type.forSchema>;
  try {
    writer = avro.Type.forSchema(JSON.parse(schemaText));
  } catch (err) {
    throw corrupt(`invalid writer schema: ${(err as Error).message}`);
  }
  const kind = eventKindOfAvroName(writer.name);
  if (kind === undefined) {
    throw new AvroDecodeError(
      `Avro object container file holds ${writer.name ?? writer.typeName} records, ` +
        `expected ${AVRO_RECORD_NAMES.invocation} or ${AVRO_RECORD_NAMES.score}`,
    );
  }
  return {
    reader: recordReaderFor(kind, writer),
    codec: codecName,
    sync: Buffer.from(sync),
    byteLength: decoded.offset,
  };
}

interface BlockFrame {
  count: number;
  dataStart: number;
  dataLength: number;
  /** Whole block: the two longs, the data and the sync marker. */
  byteLength: number;
}

/** Reads a block's count and size, or returns undefined when more bytes are needed. */
function tryReadBlockFrame(queue: ByteQueue, maxBlockBytes: number): BlockFrame | undefined {
  const prefix = queue.peek(Math.min(queue.size, MAX_BLOCK_PREFIX_BYTES));
  let count: { value: number; offset: number };
  let size: { value: number; offset: number };
  try {
    count = LONG_TYPE.decode(prefix, 0);
    size = count.offset === -1 ? count : LONG_TYPE.decode(prefix, count.offset);
  } catch (err) {
    throw corrupt(`invalid block header: ${(err as Error).message}`);
  }
  if (size.offset === -1) {
    if (prefix.length === MAX_BLOCK_PREFIX_BYTES) throw corrupt('invalid block header');
    return undefined;
  }
  if (count.value < 0 || size.value < 0) {
    throw corrupt(`invalid block header (count ${count.value}, size ${size.value})`);
  }
  if (size.value > maxBlockBytes) {
    throw corrupt(`block of ${size.value} bytes exceeds the limit of ${maxBlockBytes} bytes`);
  }
  return {
    count: count.value,
    dataStart: size.offset,
    dataLength: size.value,
    byteLength: size.offset + size.value + SYNC_BYTES,
  };
}

/**
 * Reads a container file as a stream, one block in memory at a time. Each record comes with the
 * kind named by the writer schema (`genai.InvocationEvent` or `genai.ScoreEvent`; anything else is
 * an error) and is resolved to our reader schema. Records are NOT validated: pass each to
 * `validateEvent`. A broken file (bad magic, truncated header or block, bad sync marker, corrupt
 * record, unsupported codec) rejects with an AvroDecodeError; it is not retriable.
 */
export async function* readAvroContainer(
  input: NodeJS.ReadableStream | AsyncIterable<Chunk> | Uint8Array,
  options: ContainerReadOptions = {},
): AsyncGenerator<DecodedRecord> {
  const maxBlockBytes = options.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES;
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const queue = new ByteQueue();
  let header: ContainerHeader | undefined;
  let blockIndex = 0;

  for await (const chunk of chunksOf(input)) {
    queue.push(chunk);
    if (queue.size === 0) continue;
    if (header === undefined) {
      header = tryReadHeader(queue);
      if (header === undefined) {
        if (queue.size > maxHeaderBytes) throw corrupt(`header exceeds the limit of ${maxHeaderBytes} bytes`);
        continue;
      }
      queue.skip(header.byteLength);
    }
    for (;;) {
      const frame = queue.size > 0 ? tryReadBlockFrame(queue, maxBlockBytes) : undefined;
      if (frame === undefined || queue.size < frame.byteLength) break;
      const block = queue.peek(frame.byteLength);
      queue.skip(frame.byteLength);
      yield* decodeBlock(block, frame, header, blockIndex++, maxBlockBytes);
    }
  }

  if (header === undefined) {
    throw corrupt(queue.size === 0 ? 'empty input' : 'truncated header');
  }
  if (queue.size > 0) throw corrupt(`truncated block ${blockIndex} (${queue.size} bytes left over)`);
}

async function* decodeBlock(
  block: Buffer,
  frame: BlockFrame,
  header: ContainerHeader,
  blockIndex: number,
  maxBlockBytes: number,
): AsyncGenerator<DecodedRecord> {
  const dataEnd = frame.dataStart + frame.dataLength;
  if (!block.subarray(dataEnd).equals(header.sync))
    throw corrupt(`invalid sync marker after block ${blockIndex}`);
  const raw = block.subarray(frame.dataStart, dataEnd);
  let data: Buffer;
  if (header.codec === 'deflate') {
    try {
      data = await inflateRawAsync(raw, { maxOutputLength: maxBlockBytes });
    } catch (err) {
      throw corrupt(`block ${blockIndex} cannot be inflated: ${(err as Error).message}`);
    }
  } else {
    data = raw;
  }
  const { reader } = header;
  let pos = 0;
  for (let i = 0; i < frame.count; i++) {
    let decoded: { value: unknown; offset: number };
    try {
      decoded = reader.decode(data, pos);
    } catch (err) {
      throw corrupt(`record ${i} of block ${blockIndex}: ${(err as Error).message}`);
    }
    if (decoded.offset === -1) {
      throw corrupt(`block ${blockIndex} ends inside record ${i} of ${frame.count}`);
    }
    pos = decoded.offset;
    yield { kind: reader.kind, record: decoded.value };
  }
  if (pos !== data.length) {
    throw corrupt(`block ${blockIndex} has ${data.length - pos} bytes after its ${frame.count} records`);
  }
}

export interface ContainerWriteOptions {
  codec?: ContainerCodec;
  /** Records per block; default 1000. */
  blockSize?: number;
  /** 16-byte sync marker; random by default (fix it for byte-identical output). */
  syncMarker?: Uint8Array;
}

/**
 * Encodes events of one kind as a container file, lazily: header first, then one buffer per block.
 * For streaming producers: `pipeline(Readable.from(encodeAvroContainer(events, kind)), file)`.
 * Throws when an event does not fit the schema (e.g. a fractional token count).
 */
export function* encodeAvroContainer<K extends EventKind>(
  events: Iterable<EventOfKind<K>>,
  kind: K,
  options: ContainerWriteOptions = {},
): Generator<Buffer> {
  const codec = options.codec ?? 'null';
  const blockSize = options.blockSize ?? 1000;
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new RangeError(`blockSize must be a positive integer (got ${blockSize})`);
  }
  const sync = Buffer.from(options.syncMarker ?? randomBytes(SYNC_BYTES));
  if (sync.length !== SYNC_BYTES)
    throw new RangeError(`syncMarker must be ${SYNC_BYTES} bytes (got ${sync.length})`);
  const type = AVRO_TYPES[kind];

  yield HEADER_TYPE.toBuffer({
    magic: MAGIC,
    meta: {
      'avro.schema': Buffer.from(JSON.stringify(AVRO_SCHEMAS[kind])),
      'avro.codec': Buffer.from(codec),
    },
    sync,
  });

  const encodeBlock = (records: Buffer[]): Buffer => {
    const plain = Buffer.concat(records);
    const data = codec === 'deflate' ? deflateRawSync(plain) : plain;
    return Buffer.concat([LONG_TYPE.toBuffer(records.length), LONG_TYPE.toBuffer(data.length), data, sync]);
  };
  let pending: Buffer[] = [];
  for (const event of events) {
    pending.push(type.toBuffer(event));
    if (pending.length === blockSize) {
      yield encodeBlock(pending);
      pending = [];
    }
  }
  if (pending.length > 0) yield encodeBlock(pending);
}

/** The whole container file in one buffer (tests, benchmarks, HTTP bodies). */
export function writeAvroContainer<K extends EventKind>(
  events: Iterable<EventOfKind<K>>,
  kind: K,
  options: ContainerWriteOptions = {},
): Buffer {
  return Buffer.concat([...encodeAvroContainer(events, kind, options)]);
}
