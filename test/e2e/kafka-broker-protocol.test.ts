/**
 * The Kafka test broker at the byte level, through a raw protocol client built on the broker's own
 * codec: what real clients rarely or never exercise on purpose (unsupported requests, pipelining,
 * corrupt batches, sequence errors, fetch waiting) and the exact ApiVersions advertisement.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type KafkaBroker, startKafkaBroker } from '../kafka-broker/broker.js';
import { Reader, Writer } from '../kafka-broker/codec.js';
import { ApiKey, ErrorCode } from '../kafka-broker/protocol.js';
import { crc32c } from '../kafka-broker/record-batch.js';

/** A bare Kafka connection: frames requests, matches responses to them by correlation id. */
class RawClient {
  private nextCorrelationId = 1;
  private buffered: Buffer = Buffer.alloc(0);
  private readonly waiting = new Map<
    number,
    { resolve: (body: Buffer) => void; reject: (error: Error) => void }
  >();
  /** Correlation ids in the order their responses arrived. */
  readonly arrivals: number[] = [];
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        for (const { reject } of this.waiting.values()) reject(new Error('connection closed'));
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** The request frame (header v1, or v2 with tagged fields when `flexible`) for `body`. */
  frame(
    apiKey: number,
    version: number,
    body: Writer,
    flexible = false,
  ): { frame: Buffer; correlationId: number } {
    const correlationId = this.nextCorrelationId++;
    const header = new Writer()
      .int16(apiKey)
      .int16(version)
      .int32(correlationId)
      .nullableString('raw-client');
    if (flexible) header.unsignedVarint(0);
    const payload = Buffer.concat([header.toBuffer(), body.toBuffer()]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    return { frame: Buffer.concat([size, payload]), correlationId };
  }

  /**
   * Sends frames in one write (pipelined); resolves with each response body after its correlation id
   * (an empty body at once for a frame that `expectsResponse: false`, as a produce with acks=0).
   */
  sendFrames(
    frames: { frame: Buffer; correlationId: number; expectsResponse?: boolean }[],
  ): Promise<Buffer>[] {
    const responses = frames.map(({ correlationId, expectsResponse = true }) =>
      expectsResponse
        ? new Promise<Buffer>((resolve, reject) => this.waiting.set(correlationId, { resolve, reject }))
        : Promise.resolve(Buffer.alloc(0)),
    );
    this.socket.write(Buffer.concat(frames.map(({ frame }) => frame)));
    return responses;
  }

  /** One request; the response body reader skips the response header (v1 when `flexible`). */
  async request(apiKey: number, version: number, body: Writer, flexible = false): Promise<Reader> {
    const [response] = this.sendFrames([this.frame(apiKey, version, body, flexible)]);
    const reader = new Reader((await response) as Buffer, flexible);
    reader.taggedFields();
    return reader;
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
      const size = this.buffered.readInt32BE(0);
      const correlationId = this.buffered.readInt32BE(4);
      const body = this.buffered.subarray(8, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      this.arrivals.push(correlationId);
      this.waiting.get(correlationId)?.resolve(body);
      this.waiting.delete(correlationId);
    }
  }
}

interface BatchSpec {
  values: string[];
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  timestamp?: bigint;
  magic?: number;
}

/** An uncompressed record batch v2 as a producer builds it (base offset 0, CRC-32C set). */
function recordBatch(spec: BatchSpec): Buffer {
  const timestamp = spec.timestamp ?? 1_700_000_000_000n;
  const records = new Writer();
  spec.values.forEach((value, index) => {
    const record = new Writer()
      .int8(0) // attributes
      .varlong(0n) // timestamp delta
      .varint(index) // offset delta
      .varint(-1) // null key
      .varint(Buffer.byteLength(value))
      .raw(Buffer.from(value))
      .varint(0) // headers
      .toBuffer();
    records.varint(record.length).raw(record);
  });
  const afterCrc = new Writer()
    .int16(0) // attributes: no compression, CreateTime
    .int32(spec.values.length - 1)
    .int64(timestamp)
    .int64(timestamp)
    .int64(spec.producerId ?? -1n)
    .int16(spec.producerEpoch ?? -1)
    .int32(spec.baseSequence ?? -1)
    .int32(spec.values.length)
    .raw(records.toBuffer())
    .toBuffer();
  const head = new Writer()
    .int64(0n)
    .int32(4 + 1 + 4 + afterCrc.length)
    .int32(-1)
    .int8(spec.magic ?? 2)
    .toBuffer();
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32c(afterCrc));
  return Buffer.concat([head, crc, afterCrc]);
}

/** The values of the records in uncompressed batches, with their offsets. */
function readRecords(batches: Buffer): { offset: number; value: string }[] {
  const records: { offset: number; value: string }[] = [];
  const reader = new Reader(batches);
  while (reader.remaining > 0) {
    const baseOffset = Number(reader.int64());
    const batch = reader.raw(reader.int32());
    expect(crc32c(batch.subarray(9))).toBe(batch.readUInt32BE(5));
    const body = new Reader(batch.subarray(49));
    const count = batch.readInt32BE(45);
    for (let index = 0; index < count; index++) {
      const record = new Reader(body.raw(body.varint()));
      record.int8();
      record.varlong();
      const offsetDelta = record.varint();
      record.raw(Math.max(0, record.varint()));
      records.push({ offset: baseOffset + offsetDelta, value: record.raw(record.varint()).toString() });
    }
  }
  return records;
}

function produceRequest(topic: string, partition: number, batch: Buffer, acks = -1): Writer {
  return new Writer()
    .nullableString(null)
    .int16(acks)
    .int32(30_000)
    .array([topic], (writer) => {
      writer.string(topic).array([partition], (partitions) => partitions.int32(partition).bytes(batch));
    });
}

/** Produce v7 response of a one-partition request: error code and base offset. */
function readProduceResponse(reader: Reader): { errorCode: number; baseOffset: number } {
  const [topic] = reader.array((t) => {
    t.string();
    return t.array((p) => {
      p.int32();
      const errorCode = p.int16();
      const baseOffset = Number(p.int64());
      p.int64();
      p.int64();
      return { errorCode, baseOffset };
    });
  });
  return topic?.[0] as { errorCode: number; baseOffset: number };
}

interface FetchOptions {
  maxWaitMs?: number;
  minBytes?: number;
  partitionMaxBytes?: number;
}

function fetchRequest(
  topic: string,
  partitions: { partition: number; offset: number }[],
  options: FetchOptions = {},
) {
  return new Writer()
    .int32(-1)
    .int32(options.maxWaitMs ?? 0)
    .int32(options.minBytes ?? 1)
    .int32(50 * 1024 * 1024)
    .int8(0)
    .int32(0) // session id
    .int32(-1) // session epoch: no session
    .array([topic], (writer) => {
      writer.string(topic).array(partitions, (p, { partition, offset }) => {
        p.int32(partition)
          .int32(-1)
          .int64(BigInt(offset))
          .int64(-1n)
          .int32(options.partitionMaxBytes ?? 1024 * 1024);
      });
    })
    .array([], () => {})
    .string('');
}

interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  records: Buffer;
}

/** Fetch v11 response: its partitions. */
function readFetchResponse(reader: Reader): FetchedPartition[] {
  reader.int32();
  expect(reader.int16()).toBe(ErrorCode.NONE);
  expect(reader.int32()).toBe(0); // no fetch session
  return reader
    .array((topic) => {
      topic.string();
      return topic.array((p): FetchedPartition => {
        const partition = p.int32();
        const errorCode = p.int16();
        const highWatermark = Number(p.int64());
        const lastStableOffset = Number(p.int64());
        const logStartOffset = Number(p.int64());
        p.array((aborted) => [aborted.int64(), aborted.int64()]);
        expect(p.int32()).toBe(-1); // no preferred read replica
        return { partition, errorCode, highWatermark, lastStableOffset, logStartOffset, records: p.bytes() };
      });
    })
    .flat();
}

function initProducerId(client: RawClient): Promise<{ producerId: bigint; epoch: number }> {
  // v4 is flexible: compact nullable string, tagged fields, request header v2.
  const body = new Writer(true).nullableString(null).int32(60_000).int64(-1n).int16(-1).taggedFields();
  return client.request(ApiKey.InitProducerId, 4, body, true).then((reader) => {
    reader.int32();
    expect(reader.int16()).toBe(ErrorCode.NONE);
    return { producerId: reader.int64(), epoch: reader.int16() };
  });
}

let broker: KafkaBroker;
let client: RawClient;
const brokerLog: string[] = [];
const served: { api: string; clientId: string | null }[] = [];

beforeAll(async () => {
  broker = await startKafkaBroker({
    topics: [
      { name: 'raw', partitions: 2 },
      { name: 'pipeline', partitions: 1 },
      { name: 'acks0', partitions: 1 },
      { name: 'offsets', partitions: 1 },
      { name: 'idempotent', partitions: 1 },
      { name: 'waiting', partitions: 1 },
    ],
    log: (message) => brokerLog.push(message),
    onRequest: ({ api, clientId }) => served.push({ api, clientId }),
  });
  client = await RawClient.connect(broker.port);
});

afterAll(async () => {
  client.close();
  await broker.stop();
});

describe('Kafka test broker codec', () => {
  it('encodes varints, zig-zag varints and compact/nullable types as the protocol specifies', () => {
    expect(new Writer().unsignedVarint(300).toBuffer()).toEqual(Buffer.from([0xac, 0x02]));
    expect(new Writer().varint(-1).varint(1).varint(-64).toBuffer()).toEqual(Buffer.from([0x01, 0x02, 0x7f]));
    expect(new Writer(true).nullableString(null).string('ab').toBuffer()).toEqual(
      Buffer.from([0x00, 0x03, 0x61, 0x62]),
    );
    expect(new Writer().nullableString(null).nullableBytes(null).toBuffer()).toEqual(
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    );

    const flexible = new Writer(true)
      .varlong(-9_000_000_000n)
      .array(['x', 'yz'], (writer, item) => writer.string(item).taggedFields())
      .nullableArray(null, () => {})
      .raw(Buffer.from([0x02, 0x05, 0x01, 0xaa, 0x07, 0x00])) // two tagged fields: tag 5 (1 byte), tag 7 (empty)
      .int32(42)
      .toBuffer();
    const reader = new Reader(flexible, true);
    expect(reader.varlong()).toBe(-9_000_000_000n);
    expect(
      reader.array((item) => {
        const value = item.string();
        item.taggedFields();
        return value;
      }),
    ).toEqual(['x', 'yz']);
    expect(reader.nullableArray((item) => item.int8())).toBeNull();
    reader.taggedFields();
    expect(reader.int32()).toBe(42);
    expect(reader.remaining).toBe(0);
    expect(() => new Reader(Buffer.from([0x00, 0x05, 0x61])).string()).toThrow('truncated message');
  });

  it('computes CRC-32C (Castagnoli)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
});

describe('Kafka test broker protocol', () => {
  it('advertises exactly the implemented API versions in ApiVersions v3 (flexible request, header v0 response)', async () => {
    const body = new Writer(true).string('raw-client').string('1.0').taggedFields();
    const [response] = client.sendFrames([client.frame(ApiKey.ApiVersions, 3, body, true)]);
    const reader = new Reader((await response) as Buffer, true); // no header tagged fields: header v0
    expect(reader.int16()).toBe(ErrorCode.NONE);
    const apis = reader.array((api) => {
      const entry = [api.int16(), api.int16(), api.int16()];
      api.taggedFields();
      return entry;
    });
    expect(apis).toEqual([
      [0, 3, 7], // Produce
      [1, 4, 11], // Fetch
      [2, 1, 3], // ListOffsets
      [3, 1, 6], // Metadata
      [8, 1, 7], // OffsetCommit
      [9, 1, 7], // OffsetFetch
      [10, 0, 2], // FindCoordinator
      [11, 0, 5], // JoinGroup
      [12, 0, 3], // Heartbeat
      [13, 0, 3], // LeaveGroup
      [14, 0, 3], // SyncGroup
      [18, 0, 3], // ApiVersions
      [19, 0, 3], // CreateTopics
      [22, 0, 4], // InitProducerId
    ]);
    expect(reader.int32()).toBe(0);
    reader.taggedFields();
    expect(reader.remaining).toBe(0);
  });

  it('answers an ApiVersions version it does not serve with UNSUPPORTED_VERSION in the v0 format', async () => {
    const [response] = client.sendFrames([
      client.frame(ApiKey.ApiVersions, 9, new Writer(true).taggedFields(), true),
    ]);
    const reader = new Reader((await response) as Buffer);
    expect(reader.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION);
    const apis = reader.array((api) => [api.int16(), api.int16(), api.int16()]);
    expect(apis).toContainEqual([18, 0, 3]);
    expect(reader.remaining).toBe(0); // v0 has no throttle time
  });

  it.each([
    ['an unknown API', 20, 0, 'unsupported request: api key 20 v0'],
    ['an unsupported version of a known API', ApiKey.Fetch, 3, 'unsupported request: Fetch v3'],
  ])('logs %s and closes the connection', async (_, apiKey, version, logged) => {
    const doomed = await RawClient.connect(broker.port);
    const [response] = doomed.sendFrames([doomed.frame(apiKey, version, new Writer().int32(0))]);
    await expect(response).rejects.toThrow('connection closed');
    await doomed.closed;
    expect(brokerLog.some((line) => line.startsWith(logged))).toBe(true);
  });

  it('answers pipelined requests in order, even when the first one waits', async () => {
    const waitingFetch = client.frame(
      ApiKey.Fetch,
      11,
      fetchRequest('pipeline', [{ partition: 0, offset: 0 }], { maxWaitMs: 300 }),
    );
    const metadata = client.frame(
      ApiKey.Metadata,
      6,
      new Writer().nullableArray(null, () => {}).boolean(false),
    );
    const versions = client.frame(ApiKey.ApiVersions, 2, new Writer());
    const responses = client.sendFrames([waitingFetch, metadata, versions]);
    await Promise.all(responses);
    const order = client.arrivals.slice(-3);
    expect(order).toEqual([waitingFetch.correlationId, metadata.correlationId, versions.correlationId]);
  });

  it('stores batches as received with assigned offsets, and fetches whole batches from any offset in them', async () => {
    const first = recordBatch({ values: ['a', 'b', 'c'] });
    const second = recordBatch({ values: ['d', 'e', 'f'] });
    expect(
      readProduceResponse(await client.request(ApiKey.Produce, 7, produceRequest('raw', 0, first))),
    ).toEqual({
      errorCode: ErrorCode.NONE,
      baseOffset: 0,
    });
    expect(
      readProduceResponse(await client.request(ApiKey.Produce, 7, produceRequest('raw', 0, second))),
    ).toEqual({
      errorCode: ErrorCode.NONE,
      baseOffset: 3,
    });

    const [fromMiddle] = readFetchResponse(
      await client.request(ApiKey.Fetch, 11, fetchRequest('raw', [{ partition: 0, offset: 4 }])),
    );
    expect(fromMiddle).toMatchObject({
      errorCode: ErrorCode.NONE,
      highWatermark: 6,
      lastStableOffset: 6,
      logStartOffset: 0,
    });
    // The batch containing offset 4 comes back whole: byte-identical to what was sent but for baseOffset.
    const stored = (fromMiddle as FetchedPartition).records;
    expect(stored.readBigInt64BE(0)).toBe(3n);
    expect(stored.subarray(8)).toEqual(second.subarray(8));
    expect(readRecords(stored)).toEqual([
      { offset: 3, value: 'd' },
      { offset: 4, value: 'e' },
      { offset: 5, value: 'f' },
    ]);

    // A partition max bytes smaller than a batch still returns one whole batch.
    const [small] = readFetchResponse(
      await client.request(
        ApiKey.Fetch,
        11,
        fetchRequest('raw', [{ partition: 0, offset: 0 }], { partitionMaxBytes: 1 }),
      ),
    );
    expect(readRecords((small as FetchedPartition).records).map((record) => record.value)).toEqual([
      'a',
      'b',
      'c',
    ]);

    const [beyond] = readFetchResponse(
      await client.request(ApiKey.Fetch, 11, fetchRequest('raw', [{ partition: 0, offset: 7 }])),
    );
    expect(beyond?.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('refuses corrupt and old-format batches without storing them', async () => {
    const corrupt = recordBatch({ values: ['x'] });
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 2) ^ 0xff, corrupt.length - 2);
    expect(
      readProduceResponse(await client.request(ApiKey.Produce, 7, produceRequest('raw', 1, corrupt))),
    ).toEqual({
      errorCode: ErrorCode.CORRUPT_MESSAGE,
      baseOffset: -1,
    });
    const oldFormat = recordBatch({ values: ['x'], magic: 1 });
    expect(
      readProduceResponse(await client.request(ApiKey.Produce, 7, produceRequest('raw', 1, oldFormat))),
    ).toEqual({
      errorCode: ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
      baseOffset: -1,
    });
    const twoBatches = Buffer.concat([recordBatch({ values: ['x'] }), recordBatch({ values: ['y'] })]);
    expect(
      readProduceResponse(await client.request(ApiKey.Produce, 7, produceRequest('raw', 1, twoBatches))),
    ).toEqual({
      errorCode: ErrorCode.INVALID_RECORD,
      baseOffset: -1,
    });
    const [partition] = readFetchResponse(
      await client.request(ApiKey.Fetch, 11, fetchRequest('raw', [{ partition: 1, offset: 0 }])),
    );
    expect(partition?.highWatermark).toBe(0);
  });

  it('enforces idempotent-producer sequences per producer and partition', async () => {
    const { producerId, epoch } = await initProducerId(client);
    const other = await initProducerId(client);
    expect(other.producerId).not.toBe(producerId);
    const produce = async (baseSequence: number, values: string[], producerEpoch = epoch, id = producerId) =>
      readProduceResponse(
        await client.request(
          ApiKey.Produce,
          7,
          produceRequest(
            'idempotent',
            0,
            recordBatch({ values, producerId: id, producerEpoch, baseSequence }),
          ),
        ),
      );

    expect(await produce(0, ['s0', 's1'])).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    expect(await produce(2, ['s2'])).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 2 });
    // A retry of either recent batch is acknowledged with its original offset and not stored again.
    expect(await produce(0, ['s0', 's1'])).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    expect(await produce(2, ['s2'])).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 2 });
    // A gap in the sequence, an older epoch, a new producer not starting at 0.
    expect((await produce(5, ['s5'])).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect((await produce(0, ['new-epoch'], epoch + 1)).errorCode).toBe(ErrorCode.NONE);
    expect((await produce(1, ['stale'], epoch)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect((await produce(7, ['x'], other.epoch, other.producerId)).errorCode).toBe(
      ErrorCode.UNKNOWN_PRODUCER_ID,
    );

    const [partition] = readFetchResponse(
      await client.request(ApiKey.Fetch, 11, fetchRequest('idempotent', [{ partition: 0, offset: 0 }])),
    );
    expect(readRecords((partition as FetchedPartition).records).map((record) => record.value)).toEqual([
      's0',
      's1',
      's2',
      'new-epoch',
    ]);
  });

  it('sends no response to acks=0 produce requests but stores them', async () => {
    const fireAndForget = {
      ...client.frame(ApiKey.Produce, 7, produceRequest('acks0', 0, recordBatch({ values: ['q'] }), 0)),
      expectsResponse: false,
    };
    const versions = client.frame(ApiKey.ApiVersions, 2, new Writer());
    const arrivalsBefore = client.arrivals.length;
    const [, versionsResponse] = client.sendFrames([fireAndForget, versions]);
    await versionsResponse;
    expect(client.arrivals.slice(arrivalsBefore)).toEqual([versions.correlationId]);
    const [partition] = readFetchResponse(
      await client.request(ApiKey.Fetch, 11, fetchRequest('acks0', [{ partition: 0, offset: 0 }])),
    );
    expect(readRecords((partition as FetchedPartition).records).map((record) => record.value)).toEqual(['q']);
  });

  it('holds a fetch until min bytes arrive, and returns nothing from a stalled partition', async () => {
    const consumer = await RawClient.connect(broker.port);
    const fetchesBefore = served.filter(({ api }) => api === 'Fetch').length;
    const [waiting] = consumer.sendFrames([
      consumer.frame(
        ApiKey.Fetch,
        11,
        fetchRequest('waiting', [{ partition: 0, offset: 0 }], { maxWaitMs: 60_000 }),
      ),
    ]);
    // Produce only once the broker holds the fetch (of an empty partition) in its wait.
    await vi.waitFor(() =>
      expect(served.filter(({ api }) => api === 'Fetch').length).toBe(fetchesBefore + 1),
    );
    await client.request(ApiKey.Produce, 7, produceRequest('waiting', 0, recordBatch({ values: ['late'] })));
    const [partition] = readFetchResponse(new Reader((await waiting) as Buffer));
    expect(readRecords((partition as FetchedPartition).records).map((record) => record.value)).toEqual([
      'late',
    ]);
    consumer.close();

    broker.faults.stallPartition('waiting', 0, 60_000);
    const [stalled] = readFetchResponse(
      await client.request(ApiKey.Fetch, 11, fetchRequest('waiting', [{ partition: 0, offset: 0 }])),
    );
    expect(stalled).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 1 });
    expect(stalled?.records.length).toBe(0);
    expect(() => broker.faults.stallPartition('waiting', 9, 1)).toThrow('no partition waiting/9');
  });

  it('lists earliest, latest and by-timestamp offsets', async () => {
    for (const [values, timestamp] of [
      [['early-1', 'early-2'], 1_700_000_000_000n],
      [['late-1'], 1_900_000_000_000n],
    ] as const) {
      await client.request(
        ApiKey.Produce,
        7,
        produceRequest('offsets', 0, recordBatch({ values: [...values], timestamp })),
      );
    }
    const body = new Writer()
      .int32(-1)
      .int8(0)
      .array(['offsets'], (writer) => {
        writer
          .string('offsets')
          .array([-2n, -1n, 1_800_000_000_000n, 2_000_000_000_000n], (p, timestamp) =>
            p.int32(0).int64(timestamp),
          );
      });
    const reader = await client.request(ApiKey.ListOffsets, 3, body);
    reader.int32();
    const [results] = reader.array((topic) => {
      topic.string();
      return topic.array((p) => ({
        partition: p.int32(),
        errorCode: p.int16(),
        timestamp: p.int64(),
        offset: Number(p.int64()),
      }));
    });
    expect(results?.map(({ errorCode, offset, timestamp }) => ({ errorCode, offset, timestamp }))).toEqual([
      { errorCode: ErrorCode.NONE, offset: 0, timestamp: -1n }, // earliest
      { errorCode: ErrorCode.NONE, offset: 3, timestamp: -1n }, // latest
      { errorCode: ErrorCode.NONE, offset: 2, timestamp: 1_900_000_000_000n }, // first record at or after
      { errorCode: ErrorCode.NONE, offset: -1, timestamp: -1n }, // none that late
    ]);
  });

  it('auto-creates topics on Metadata only when enabled and allowed by the request', async () => {
    const strict = await startKafkaBroker({ autoCreateTopics: false });
    const strictClient = await RawClient.connect(strict.port);
    const metadata = async (target: RawClient, topic: string, allowAutoCreate: boolean) => {
      const reader = await target.request(
        ApiKey.Metadata,
        6,
        new Writer().array([topic], (w, name) => w.string(name)).boolean(allowAutoCreate),
      );
      reader.int32();
      reader.array((b) => [b.int32(), b.string(), b.int32(), b.nullableString()]);
      reader.nullableString();
      reader.int32();
      const [result] = reader.array((t) => ({
        errorCode: t.int16(),
        name: t.string(),
        internal: t.boolean(),
        partitions: t.array((p) => {
          const partition = { errorCode: p.int16(), index: p.int32(), leader: p.int32() };
          p.array((r) => r.int32());
          p.array((r) => r.int32());
          p.array((r) => r.int32());
          return partition;
        }),
      }));
      return result;
    };
    try {
      expect((await metadata(strictClient, 'nope', true))?.errorCode).toBe(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      );
      expect((await metadata(client, 'not-allowed', false))?.errorCode).toBe(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      );
      expect(await metadata(client, 'auto', true)).toEqual({
        errorCode: ErrorCode.NONE,
        name: 'auto',
        internal: false,
        partitions: [{ errorCode: ErrorCode.NONE, index: 0, leader: 0 }],
      });
      expect((await metadata(client, 'bad/name', true))?.errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    } finally {
      strictClient.close();
      await strict.stop();
    }
  });

  it('drops every client connection on demand', async () => {
    const victim = await RawClient.connect(broker.port);
    await victim.request(ApiKey.ApiVersions, 2, new Writer());
    broker.faults.dropConnections();
    await victim.closed;
    client = await RawClient.connect(broker.port);
    expect((await client.request(ApiKey.ApiVersions, 2, new Writer())).int16()).toBe(ErrorCode.NONE);
  });
});
