import { Readable } from 'node:stream';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { AVRO_SCHEMAS, AVRO_TYPES, AvroDecodeError, type DecodedRecord } from '../src/avro.js';
import {
  type ContainerReadOptions,
  encodeAvroContainer,
  readAvroContainer,
  writeAvroContainer,
} from '../src/avro-container.js';
import type { InvocationEvent, ScoreEvent } from '../src/types.js';
import { validateEvent } from '../src/validate.js';
import { fullInvocation, fullScore, invocationSchemaV2, NOW } from './fixtures.js';

const invocations = (n: number): InvocationEvent[] =>
  Array.from({ length: n }, (_, i) =>
    fullInvocation({ event_id: `inv-${i}`, input_tokens: 1000 + i, tenant_id: i % 2 ? null : 'acme' }),
  );

/** A stream delivering `bytes` in chunks of `chunkSize`, to exercise records spanning chunk borders. */
const chunked = (bytes: Buffer, chunkSize: number): Readable => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  return Readable.from(chunks);
};

async function readAll(
  input: Parameters<typeof readAvroContainer>[0],
  options?: ContainerReadOptions,
): Promise<DecodedRecord[]> {
  const records: DecodedRecord[] = [];
  for await (const record of readAvroContainer(input, options)) records.push(record);
  return records;
}

const validated = (records: DecodedRecord[]) =>
  records.map(({ kind, record }) => {
    const result = validateEvent(record, kind, NOW);
    if (!result.ok) throw new Error(result.error);
    return result.value.event;
  });

/** A container written by avsc's own encoder (independent of ours), for interoperability. */
async function avscContainer(
  schema: avro.Schema,
  records: object[],
  codec: 'null' | 'deflate',
): Promise<Buffer> {
  const encoder = new avro.streams.BlockEncoder(schema, { codec, blockSize: 200 });
  const chunks: Buffer[] = [];
  encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise((resolve, reject) => encoder.on('end', resolve).on('error', reject));
  for (const record of records) encoder.write(record);
  encoder.end();
  await done;
  return Buffer.concat(chunks);
}

async function expectCorrupt(bytes: Buffer, message: string | RegExp): Promise<void> {
  const reading = readAll(chunked(bytes, 64));
  await expect(reading).rejects.toThrow(AvroDecodeError);
  await expect(readAll(chunked(bytes, 64))).rejects.toThrow(message);
}

describe('container round trips', () => {
  it.each(['null', 'deflate'] as const)(
    'reads back invocations over several blocks (codec %s)',
    async (codec) => {
      const events = invocations(25);
      const file = writeAvroContainer(events, 'invocation', { codec, blockSize: 4 });
      for (const chunkSize of [1, 7, 4096]) {
        const records = await readAll(chunked(file, chunkSize));
        expect(records.every((r) => r.kind === 'invocation')).toBe(true);
        expect(validated(records)).toEqual(events);
      }
    },
  );

  it('reads score events and takes the kind from the writer schema name', async () => {
    const scores: ScoreEvent[] = [fullScore(), fullScore({ event_id: 's-2', value: -1, source: null })];
    const records = await readAll(writeAvroContainer(scores, 'score', { codec: 'deflate' }));
    expect(records.map((r) => r.kind)).toEqual(['score', 'score']);
    expect(validated(records)).toEqual(scores);
  });

  it('reads a file without records', async () => {
    expect(await readAll(writeAvroContainer([], 'score'))).toEqual([]);
  });

  it('writes the full schema (with docs) and the codec into the header', () => {
    const header = avro.Type.forSchema({
      type: 'record',
      name: 'Header',
      fields: [
        { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
        { name: 'meta', type: { type: 'map', values: 'bytes' } },
        { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
      ],
    }).decode(writeAvroContainer([fullScore()], 'score', { codec: 'deflate' }), 0).value;
    expect(JSON.parse(header.meta['avro.schema'].toString())).toEqual(AVRO_SCHEMAS.score);
    expect(header.meta['avro.codec'].toString()).toBe('deflate');
  });

  it('writes byte-identical files for a fixed sync marker, lazily block by block', () => {
    const syncMarker = Buffer.alloc(16, 7);
    const a = writeAvroContainer(invocations(5), 'invocation', { syncMarker, blockSize: 2 });
    const b = writeAvroContainer(invocations(5), 'invocation', { syncMarker, blockSize: 2 });
    expect(a).toEqual(b);
    expect([...encodeAvroContainer(invocations(5), 'invocation', { syncMarker, blockSize: 2 })]).toHaveLength(
      1 + 3,
    );
  });

  it.each(['null', 'deflate'] as const)('reads files written by avsc (codec %s)', async (codec) => {
    const events = invocations(300);
    const file = await avscContainer(AVRO_SCHEMAS.invocation, events, codec);
    expect(validated(await readAll(chunked(file, 1000)))).toEqual(events);
  });

  it('writes files avsc can read', async () => {
    const events = invocations(10);
    const decoder = new avro.streams.BlockDecoder();
    const decoded: object[] = [];
    decoder.on('data', (record: object) => decoded.push({ ...record }));
    const done = new Promise((resolve, reject) => decoder.on('end', resolve).on('error', reject));
    decoder.end(writeAvroContainer(events, 'invocation', { codec: 'deflate', blockSize: 3 }));
    await done;
    expect(decoded).toEqual(events);
  });

  it('resolves a file written with an evolved (v2) schema to ours', async () => {
    const events = invocations(3);
    const file = await avscContainer(
      invocationSchemaV2(),
      events.map((e) => ({ ...e, prompt_template_id: 'tpl' })),
      'null',
    );
    const records = await readAll(file);
    expect(records[0]?.record).not.toHaveProperty('prompt_template_id');
    expect(validated(records)).toEqual(events);
  });

  it('rejects events that do not fit the schema when writing', () => {
    const bad = { ...fullScore(), value: 'high' } as unknown as ScoreEvent;
    expect(() => writeAvroContainer([bad], 'score')).toThrow(/invalid "double"/);
  });
});

describe('broken containers', () => {
  const file = writeAvroContainer(invocations(10), 'invocation', { blockSize: 4 });

  it('rejects bad magic bytes, also when only the first bytes have arrived', async () => {
    const bad = Buffer.from(file);
    bad[3] = 2;
    await expectCorrupt(
      bad,
      'corrupt Avro object container file: invalid magic bytes (not an Avro object container file)',
    );
    await expect(readAll(Readable.from([Buffer.from('{"a"')]))).rejects.toThrow('invalid magic bytes');
    await expect(readAll(Readable.from([Buffer.from('Ox')]))).rejects.toThrow('invalid magic bytes');
    await expect(readAll(Readable.from([Buffer.from('Ob')]))).rejects.toThrow('truncated header');
  });

  it('rejects empty input and a truncated header', async () => {
    await expect(readAll(Readable.from([]))).rejects.toThrow(
      'corrupt Avro object container file: empty input',
    );
    await expectCorrupt(file.subarray(0, 40), 'corrupt Avro object container file: truncated header');
  });

  it.each([1, 17, 100])('rejects a file cut %i bytes before its end', async (cut) => {
    await expectCorrupt(
      file.subarray(0, file.length - cut),
      /corrupt Avro object container file: truncated block 2 /,
    );
  });

  it('rejects a wrong sync marker', async () => {
    const bad = Buffer.from(file);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0xff;
    await expectCorrupt(bad, 'corrupt Avro object container file: invalid sync marker after block 2');
  });

  it('rejects corrupt compressed data', async () => {
    const deflated = writeAvroContainer(invocations(10), 'invocation', { codec: 'deflate' });
    const bad = Buffer.from(deflated);
    // The block data sits between the header and the final 16-byte sync marker; overwrite its middle.
    bad.fill(0xff, bad.length - 200, bad.length - 150);
    await expectCorrupt(bad, /corrupt Avro object container file: block 0 /);
  });

  it('rejects a block whose record count does not match its data', async () => {
    const block = AVRO_TYPES.score.toBuffer(fullScore());
    const header = writeAvroContainer([], 'score', { syncMarker: Buffer.alloc(16, 1) });
    const long = avro.Type.forSchema('long');
    const frame = (count: number, data: Buffer) =>
      Buffer.concat([header, long.toBuffer(count), long.toBuffer(data.length), data, Buffer.alloc(16, 1)]);
    await expectCorrupt(frame(2, block), 'block 0 ends inside record 1 of 2');
    await expectCorrupt(
      frame(1, Buffer.concat([block, Buffer.from([0])])),
      'block 0 has 1 bytes after its 1 records',
    );
  });

  it('rejects a block larger than the limit', async () => {
    const big = writeAvroContainer(invocations(50), 'invocation');
    await expect(readAll(big, { maxBlockBytes: 1000 })).rejects.toThrow(/exceeds the limit of 1000 bytes/);
  });

  it('rejects records of another schema', async () => {
    const other = await avscContainer(
      { type: 'record', name: 'genai.Other', fields: [{ name: 'a', type: 'int' }] },
      [{ a: 1 }],
      'null',
    );
    await expectCorrupt(
      other,
      'Avro object container file holds genai.Other records, expected genai.InvocationEvent or genai.ScoreEvent',
    );
  });

  it('rejects an unsupported codec', async () => {
    const header = avro.Type.forSchema({
      type: 'record',
      name: 'Header',
      fields: [
        { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
        { name: 'meta', type: { type: 'map', values: 'bytes' } },
        { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
      ],
    }).toBuffer({
      magic: Buffer.from('Obj\x01', 'latin1'),
      meta: {
        'avro.schema': Buffer.from(JSON.stringify(AVRO_SCHEMAS.score)),
        'avro.codec': Buffer.from('snappy'),
      },
      sync: Buffer.alloc(16),
    });
    await expectCorrupt(
      header,
      'Avro object container file uses unsupported codec "snappy" (supported: null, deflate)',
    );
  });

  it('rejects a text stream', async () => {
    await expect(readAll(Readable.from(['Obj']))).rejects.toThrow(TypeError);
  });
});
