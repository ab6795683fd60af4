import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AccessDeniedException,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ExpiredIteratorException,
  InternalFailureException,
  KinesisClient,
  LimitExceededException,
  type ListShardsCommandOutput,
  ProvisionedThroughputExceededException,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { partitionKeyFor, partitionKeyOf } from '@genai-pipeline/producers';
import { encodeSingleObject, type TelemetryEvent } from '@genai-pipeline/schemas';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  hashKeyOf,
  KinesisSource,
  KinesisSourceError,
  SHARD_END_POSITION,
  SHARD_START_POSITION,
} from '../../src/sources/kinesis-source.js';
import type { SourceBatch, SourceEntry } from '../../src/sources/source.js';
import { invocationEvent } from '../support/events.js';

// kinesalite ships no types: a factory of a plain Node HTTP server.
const { default: kinesalite } = (await import('kinesalite' as string)) as {
  default: (options: object) => http.Server;
};

let server: http.Server;
let endpoint: string;
const cleanups: (() => Promise<void> | void)[] = [];
let streamCount = 0;

beforeAll(async () => {
  // shardLimit counts the open shards of all streams on the server; every test makes its own stream.
  server = kinesalite({ createStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

function kinesisClient(): KinesisClient {
  const client = new KinesisClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    // No SDK retries: the source's own retry path is what these tests exercise.
    maxAttempts: 1,
  });
  cleanups.push(() => client.destroy());
  return client;
}

async function createStream(client: KinesisClient, shardCount: number): Promise<string> {
  streamCount += 1;
  const streamName = `genai-events-${streamCount}`;
  await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
  await waitUntilActive(client, streamName);
  return streamName;
}

async function waitUntilActive(client: KinesisClient, streamName: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { StreamDescriptionSummary } = await client.send(
      new DescribeStreamSummaryCommand({ StreamName: streamName }),
    );
    if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`stream ${streamName} did not become ACTIVE`);
}

function source(client: KinesisClient, streamName: string, options: { shardListIntervalMs?: number } = {}) {
  const kinesisSource = new KinesisSource({ streamName, client, idleReadIntervalMs: 50, ...options });
  cleanups.push(() => kinesisSource.close());
  return kinesisSource;
}

interface PutResult {
  eventId: string;
  shardId: string;
  sequenceNumber: string;
}

const SERVICES = ['support-bot', 'search', 'agent'];
const MODELS = ['gpt-4o', 'claude-3-5-sonnet'];
let eventCount = 0;

/** `count` invocations over several service+model keys, written as the producer does. */
async function putEvents(client: KinesisClient, streamName: string, count: number): Promise<PutResult[]> {
  const events: TelemetryEvent[] = Array.from({ length: count }, (_, index) => {
    eventCount += 1;
    const event = invocationEvent({
      event_id: `e${eventCount}`,
      service: SERVICES[index % SERVICES.length],
      model_id: MODELS[index % MODELS.length],
    });
    return { kind: 'invocation', event };
  });
  const output = await client.send(
    new PutRecordsCommand({
      StreamName: streamName,
      Records: events.map((event) => ({
        Data: encodeSingleObject(event),
        PartitionKey: partitionKeyOf(event),
      })),
    }),
  );
  expect(output.FailedRecordCount ?? 0).toBe(0);
  return events.map((event, index) => ({
    eventId: event.event.event_id,
    shardId: output.Records?.[index]?.ShardId ?? '',
    sequenceNumber: output.Records?.[index]?.SequenceNumber ?? '',
  }));
}

/** Polls until `count` records came, returning each poll's batches; fails rather than hang. */
async function pollFor(
  sourceToPoll: KinesisSource,
  count: number,
  maxRecords = 1000,
): Promise<SourceBatch[][]> {
  const polls: SourceBatch[][] = [];
  let received = 0;
  for (let attempt = 0; attempt < 200 && received < count; attempt++) {
    const batches = await sourceToPoll.poll(maxRecords, 200);
    if (batches.length > 0) polls.push(batches);
    received += batches.reduce((sum, batch) => sum + batch.entries.length, 0);
  }
  expect(received).toBe(count);
  return polls;
}

function eventIdOf(entry: SourceEntry): string {
  if (entry.record.format !== 'avro') throw new Error(`expected an avro record, got ${entry.record.format}`);
  return (entry.record.record as { event_id: string }).event_id;
}

/** Event ids per partition, in delivery order. */
function idsByPartition(batches: SourceBatch[]): Map<string, string[]> {
  const ids = new Map<string, string[]>();
  for (const batch of batches) {
    ids.set(batch.partition, [...(ids.get(batch.partition) ?? []), ...batch.entries.map(eventIdOf)]);
  }
  return ids;
}

/** What each shard holds, in sequence order, per the PutRecords responses. */
function expectedByShard(puts: PutResult[]): Map<string, string[]> {
  const byShard = new Map<string, PutResult[]>();
  for (const put of puts) byShard.set(put.shardId, [...(byShard.get(put.shardId) ?? []), put]);
  return new Map(
    [...byShard].map(([shardId, shardPuts]) => [
      shardId,
      shardPuts
        .sort((a, b) => (BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber) ? -1 : 1))
        .map((put) => put.eventId),
    ]),
  );
}

/**
 * Makes the `nth` call of a Kinesis operation fail with `error` before it leaves the client, as the
 * SDK would raise it; every other call goes to kinesalite.
 */
function failCall(client: KinesisClient, commandName: string, error: Error, nth = 1): void {
  let calls = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === commandName) {
        calls += 1;
        if (calls === nth) throw error;
      }
      return next(args);
    },
    { step: 'initialize' },
  );
}

/** Records every call's operation name and input. */
function recordCalls(client: KinesisClient): { command: string; input: Record<string, unknown> }[] {
  const calls: { command: string; input: Record<string, unknown> }[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push({ command: context.commandName ?? '', input: { ...(args.input as object) } });
      return next(args);
    },
    { step: 'initialize' },
  );
  return calls;
}

describe('KinesisSource against kinesalite', () => {
  it('delivers every record once, per shard in order, partitioned by shard id, with arrival times', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 2);
    const before = Date.now();
    const puts = [...(await putEvents(client, streamName, 40)), ...(await putEvents(client, streamName, 20))];
    const after = Date.now();
    const expected = expectedByShard(puts);
    expect([...expected.keys()].sort()).toEqual(['shardId-000000000000', 'shardId-000000000001']);

    const kinesisSource = source(client, streamName);
    expect(kinesisSource.name).toBe(`kinesis:${streamName}`);
    await kinesisSource.start(new Map());
    const polls = await pollFor(kinesisSource, puts.length, 25);
    const batches = polls.flat();

    expect(idsByPartition(batches)).toEqual(expected);
    for (const batchesOfPoll of polls) {
      expect(batchesOfPoll.reduce((sum, batch) => sum + batch.entries.length, 0)).toBeLessThanOrEqual(25);
    }
    const sequenceOf = new Map(puts.map((put) => [put.eventId, put.sequenceNumber]));
    for (const batch of batches) {
      expect(batch.position).toBe(sequenceOf.get(eventIdOf(batch.entries.at(-1) as SourceEntry)));
      expect(batch.lagMs).toBeGreaterThanOrEqual(0);
      for (const entry of batch.entries) {
        expect(entry.receivedAt).toBeGreaterThanOrEqual(before);
        expect(entry.receivedAt).toBeLessThanOrEqual(after);
      }
    }
    // Caught up: nothing is delivered a second time.
    expect(await kinesisSource.poll(1000, 1000)).toEqual([]);
    const stats = kinesisSource.stats();
    expect(stats).toMatchObject({ shardsKnown: 2, shardsEnded: 0, retriedErrors: 0 });
    expect(Object.keys(stats.millisBehindLatest).sort()).toEqual([...expected.keys()].sort());
  });

  it('resumes after a checkpointed position, and from the oldest record on a shard without one', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 2);
    const puts = await putEvents(client, streamName, 30);
    const expected = expectedByShard(puts);
    const [resumedShard, freshShard] = [...expected.keys()].sort() as [string, string];
    const resumedIds = expected.get(resumedShard) ?? [];
    const checkpointed = puts.find((put) => put.eventId === resumedIds[2]) as PutResult;

    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map([[resumedShard, checkpointed.sequenceNumber]]));
    const later = resumedIds.slice(3);
    const batches = (
      await pollFor(kinesisSource, later.length + (expected.get(freshShard)?.length ?? 0))
    ).flat();

    expect(idsByPartition(batches)).toEqual(
      new Map([
        [resumedShard, later],
        [freshShard, expected.get(freshShard)],
      ]),
    );
  });

  it('turns JSON lines into json records and anything else into undecodable ones', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    const event = invocationEvent({ event_id: 'json-1' });
    const garbage = Buffer.from([0xff, 0x00, 0x13, 0x37]);
    await client.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: [
          { Data: Buffer.from(`${JSON.stringify(event)}\n`), PartitionKey: 'k' },
          { Data: garbage, PartitionKey: 'k' },
          { Data: encodeSingleObject({ kind: 'invocation', event }), PartitionKey: 'k' },
        ],
      }),
    );

    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map());
    const [batch] = (await pollFor(kinesisSource, 3)).flat();

    expect(batch?.partition).toBe('shardId-000000000000');
    expect(batch?.entries.map((entry) => entry.record)).toEqual([
      { format: 'json', text: JSON.stringify(event) },
      {
        format: 'undecodable',
        payload: garbage.toString('base64'),
        error: expect.stringContaining('neither single-object Avro'),
      },
      {
        format: 'avro',
        kind: 'invocation',
        record: expect.objectContaining({ event_id: 'json-1' }),
        raw: expect.any(Uint8Array),
      },
    ]);
  });

  it('gets a fresh iterator after the last delivered record when an iterator expired', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    const puts = await putEvents(client, streamName, 6);
    const calls = recordCalls(client);
    // The second GetRecords, after two records were delivered, finds its iterator expired.
    failCall(
      client,
      'GetRecordsCommand',
      new ExpiredIteratorException({ message: 'Iterator expired', $metadata: {} }),
      2,
    );

    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map());
    const first = (await pollFor(kinesisSource, 2, 2)).flat();
    const rest = (await pollFor(kinesisSource, 4)).flat();

    expect([...first, ...rest].flatMap((batch) => batch.entries.map(eventIdOf))).toEqual(
      puts.map((put) => put.eventId),
    );
    expect(
      calls
        .filter((call) => call.command === 'GetShardIteratorCommand')
        .map(({ input }) => [input.ShardIteratorType, input.StartingSequenceNumber]),
    ).toEqual([
      ['TRIM_HORIZON', undefined],
      ['AFTER_SEQUENCE_NUMBER', puts[1]?.sequenceNumber],
    ]);
    expect(kinesisSource.stats().retriedErrors).toBe(0);
  });

  it.each([
    [
      'GetRecordsCommand',
      new ProvisionedThroughputExceededException({ message: 'Rate exceeded for shard', $metadata: {} }),
    ],
    ['GetShardIteratorCommand', new LimitExceededException({ message: 'Rate exceeded', $metadata: {} })],
    [
      'GetRecordsCommand',
      new InternalFailureException({ message: 'Internal failure', $metadata: { httpStatusCode: 500 } }),
    ],
    ['GetRecordsCommand', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['ListShardsCommand', new LimitExceededException({ message: 'Rate exceeded', $metadata: {} })],
  ])('backs off and retries after %s fails with %s', async (commandName, error) => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    const puts = await putEvents(client, streamName, 5);
    // The first ListShards belongs to start(), which reports its failure; fail the periodic one.
    failCall(client, commandName, error, commandName === 'ListShardsCommand' ? 2 : 1);

    const kinesisSource = source(client, streamName, { shardListIntervalMs: 0 });
    await kinesisSource.start(new Map());
    const batches = (await pollFor(kinesisSource, puts.length)).flat();

    expect(batches.flatMap((batch) => batch.entries.map(eventIdOf))).toEqual(puts.map((put) => put.eventId));
    expect(kinesisSource.stats().retriedErrors).toBe(1);
  });

  it('rejects a poll with a clear, not retriable error when a shard cannot be read', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    await putEvents(client, streamName, 3);
    failCall(
      client,
      'GetRecordsCommand',
      new AccessDeniedException({ message: 'not authorized', $metadata: {} }),
    );

    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map());
    const failure = await kinesisSource.poll(100, 1000).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(KinesisSourceError);
    expect(failure).toMatchObject({
      retriable: false,
      message: `Kinesis stream "${streamName}", shard shardId-000000000000: reading failed: AccessDeniedException: not authorized (not retriable)`,
    });
  });

  it('rejects start() with a clear, not retriable error when the stream does not exist', async () => {
    const kinesisSource = source(kinesisClient(), 'no-such-stream');
    const failure = await kinesisSource.start(new Map()).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(KinesisSourceError);
    expect((failure as KinesisSourceError).retriable).toBe(false);
    expect((failure as Error).message).toMatch(
      /^Kinesis stream "no-such-stream": ListShards failed: ResourceNotFoundException: .*\(not retriable\)$/,
    );
  });

  it('follows ListShards pages, sending the page token without the stream name', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 2);
    const puts = await putEvents(client, streamName, 12);
    // kinesalite answers in one page: split its answer in two as Kinesis does for large streams.
    const listInputs: Record<string, unknown>[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'ListShardsCommand') return next(args);
        const input = args.input as { StreamName?: string; NextToken?: string };
        listInputs.push({ ...input });
        const page = input.NextToken ? 1 : 0;
        const result = await next({ ...args, input: { StreamName: streamName } });
        const output = result.output as ListShardsCommandOutput;
        const paged: ListShardsCommandOutput = {
          ...output,
          Shards: output.Shards?.slice(page, page + 1),
          NextToken: page === 0 ? 'page-2' : undefined,
        };
        return { ...result, output: paged };
      },
      { step: 'initialize' },
    );

    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map());
    const batches = (await pollFor(kinesisSource, puts.length)).flat();

    expect(listInputs).toEqual([{ StreamName: streamName }, { NextToken: 'page-2' }]);
    expect(idsByPartition(batches)).toEqual(expectedByShard(puts));
  });

  it('reads a split shard to its end before its children', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    const beforeSplit = await putEvents(client, streamName, 20);
    await splitInHalf(client, streamName);
    const afterSplit = await putEvents(client, streamName, 20);
    const childShards = new Set(afterSplit.map((put) => put.shardId));
    expect(childShards).toEqual(new Set(['shardId-000000000001', 'shardId-000000000002']));

    // Started after the split: it knows parent and children from the first listing.
    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map());
    const polls = await pollFor(kinesisSource, beforeSplit.length + afterSplit.length, 10);

    const pollsOf = (shards: Set<string>) =>
      polls.flatMap((batches, index) =>
        batches.some((batch) => shards.has(batch.partition)) ? [index] : [],
      );
    expect(Math.max(...pollsOf(new Set(['shardId-000000000000'])))).toBeLessThan(
      Math.min(...pollsOf(childShards)),
    );
    expect(idsByPartition(polls.flat())).toEqual(expectedByShard([...beforeSplit, ...afterSplit]));
    expect(kinesisSource.stats()).toMatchObject({ shardsKnown: 3, shardsEnded: 1 });
  });

  it('finds the children of a shard split while it runs', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    const beforeSplit = await putEvents(client, streamName, 10);
    const kinesisSource = source(client, streamName, { shardListIntervalMs: 100 });
    await kinesisSource.start(new Map());
    const first = (await pollFor(kinesisSource, beforeSplit.length)).flat();

    await splitInHalf(client, streamName);
    const afterSplit = await putEvents(client, streamName, 20);
    const rest = (await pollFor(kinesisSource, afterSplit.length)).flat();

    expect(idsByPartition([...first, ...rest])).toEqual(expectedByShard([...beforeSplit, ...afterSplit]));
    expect(await kinesisSource.poll(1000, 1000)).toEqual([]);
    expect(kinesisSource.stats()).toMatchObject({ shardsKnown: 3, shardsEnded: 1 });
  });

  it('ends a waiting poll on close() and answers later polls with nothing', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map());

    // Longer than the test timeout: only close() can end this poll in time.
    const waiting = kinesisSource.poll(100, 600_000);
    await kinesisSource.close();
    expect(await waiting).toEqual([]);
    await putEvents(client, streamName, 3);
    expect(await kinesisSource.poll(100, 0)).toEqual([]);
  });

  it('resolves commit() without calling Kinesis', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map());
    const calls = recordCalls(client);
    await kinesisSource.commit(new Map([['shardId-000000000000', '1']]));
    expect(calls).toEqual([]);
  });
});

/** Splits the stream's only shard at the middle of the hash key range and waits for the children. */
async function splitInHalf(client: KinesisClient, streamName: string): Promise<void> {
  await client.send(
    new SplitShardCommand({
      StreamName: streamName,
      ShardToSplit: 'shardId-000000000000',
      NewStartingHashKey: (2n ** 127n).toString(),
    }),
  );
  await waitUntilActive(client, streamName);
}

/** Polls until `done` says the batches so far are enough; fails rather than hang. */
async function pollUntil(
  sourceToPoll: KinesisSource,
  done: (batches: SourceBatch[]) => boolean,
  maxRecords = 1000,
): Promise<SourceBatch[]> {
  const batches: SourceBatch[] = [];
  for (let attempt = 0; attempt < 100 && !done(batches); attempt++) {
    batches.push(...(await sourceToPoll.poll(maxRecords, 200)));
  }
  expect(done(batches)).toBe(true);
  return batches;
}

const PARENT = 'shardId-000000000000';
const LOWER_CHILD = 'shardId-000000000001';
const UPPER_CHILD = 'shardId-000000000002';

describe('KinesisSource resharding', () => {
  it('delivers a batch marked ended when a split shard is read to its end, also when it had no records', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    await splitInHalf(client, streamName);
    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map());

    const batches = await pollUntil(kinesisSource, (so_far) => so_far.length > 0);
    expect(batches).toEqual([
      expect.objectContaining({ partition: PARENT, entries: [], position: SHARD_END_POSITION, ended: true }),
    ]);
    expect(batches[0]?.after).toBe(SHARD_START_POSITION);
    // Read to its end: never read again; its children have nothing yet.
    expect(await kinesisSource.poll(100, 300)).toEqual([]);
    expect(kinesisSource.stats()).toMatchObject({ shardsEnded: 1 });
  });

  it('ends a shard resumed after its last record with an empty batch at that position', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    const puts = await putEvents(client, streamName, 5);
    await splitInHalf(client, streamName);
    const last = puts.at(-1)?.sequenceNumber as string;
    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map([[PARENT, last]]));

    const batches = await pollUntil(kinesisSource, (so_far) => so_far.length > 0);
    expect(batches).toEqual([
      expect.objectContaining({ partition: PARENT, entries: [], position: last, after: last, ended: true }),
    ]);
  });

  it('chains batches: each one’s `after` is the position of the one before; the last of a split shard is ended', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    const beforeSplit = await putEvents(client, streamName, 7);
    await splitInHalf(client, streamName);
    const afterSplit = await putEvents(client, streamName, 9);
    const kinesisSource = source(client, streamName);
    await kinesisSource.start(new Map());

    const batches = await pollUntil(
      kinesisSource,
      (so_far) => so_far.reduce((sum, batch) => sum + batch.entries.length, 0) === 16,
      2,
    );
    const byShard = new Map<string, SourceBatch[]>();
    for (const batch of batches)
      byShard.set(batch.partition, [...(byShard.get(batch.partition) ?? []), batch]);
    for (const [shardId, shardBatches] of byShard) {
      expect(shardBatches[0]?.after, shardId).toBe(SHARD_START_POSITION);
      for (let i = 1; i < shardBatches.length; i++) {
        expect(shardBatches[i]?.after, `${shardId} batch ${i}`).toBe(shardBatches[i - 1]?.position);
      }
    }
    const parentBatches = byShard.get(PARENT) ?? [];
    expect(parentBatches.map((batch) => batch.ended === true)).toEqual(
      parentBatches.map((_, index) => index === parentBatches.length - 1),
    );
    expect(parentBatches.flatMap((batch) => batch.entries.map(eventIdOf))).toEqual(
      beforeSplit.map((put) => put.eventId),
    );
    for (const child of [LOWER_CHILD, UPPER_CHILD]) {
      expect(byShard.get(child)?.some((batch) => batch.ended)).toBe(false);
    }
    expect(idsByPartition(batches)).toEqual(expectedByShard([...beforeSplit, ...afterSplit]));
  });

  it('gives a child’s lineage: its parent, and ownership of exactly the keys Kinesis routes to it', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    await splitInHalf(client, streamName);
    const kinesisSource = source(client, streamName);
    expect(kinesisSource.lineage(LOWER_CHILD)).toBeUndefined();
    await kinesisSource.start(new Map());

    expect(kinesisSource.lineage(PARENT)).toBeUndefined();
    expect(kinesisSource.lineage('shardId-000000000099')).toBeUndefined();
    const lower = kinesisSource.lineage(LOWER_CHILD);
    const upper = kinesisSource.lineage(UPPER_CHILD);
    expect(lower?.parents).toEqual([PARENT]);
    expect(upper?.parents).toEqual([PARENT]);

    // Where Kinesis itself puts each key's records decides which child owns it.
    const pairs = Array.from({ length: 24 }, (_, i) => [`service-${i % 5}|x`, `model:${i}\u00e9`] as const);
    const output = await client.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: pairs.map(([service, model]) => ({
          Data: Buffer.from('{}'),
          PartitionKey: partitionKeyFor(service, model),
        })),
      }),
    );
    const routedTo = output.Records?.map((record) => record.ShardId) ?? [];
    expect(new Set(routedTo)).toEqual(new Set([LOWER_CHILD, UPPER_CHILD]));
    for (const [index, [service, model]] of pairs.entries()) {
      const md5 = createHash('md5').update(partitionKeyFor(service, model), 'utf8').digest();
      const hash = [...md5].reduce((value, byte) => value * 256n + BigInt(byte), 0n);
      expect(lower?.ownsKey(service, model), `${service}/${model}`).toBe(hash < 2n ** 127n);
      expect(lower?.ownsKey(service, model), `${service}/${model}`).toBe(routedTo[index] === LOWER_CHILD);
      expect(upper?.ownsKey(service, model), `${service}/${model}`).toBe(routedTo[index] === UPPER_CHILD);
    }
  });

  it('describes the shards with their parents and hash key ranges', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    await splitInHalf(client, streamName);
    const kinesisSource = source(client, streamName);
    const top = (2n ** 128n - 1n).toString();
    const middle = (2n ** 127n).toString();
    expect(await kinesisSource.describeShards()).toEqual([
      { shardId: PARENT, parentShardIds: [], hashKeyRange: { start: '0', end: top } },
      {
        shardId: LOWER_CHILD,
        parentShardIds: [PARENT],
        hashKeyRange: { start: '0', end: (2n ** 127n - 1n).toString() },
      },
      { shardId: UPPER_CHILD, parentShardIds: [PARENT], hashKeyRange: { start: middle, end: top } },
    ]);
  });
});

describe('KinesisSource with a shard assignment', () => {
  it('reads only the assigned shards, each from the position assigned, and stops reading one unassigned', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 2);
    const puts = await putEvents(client, streamName, 24);
    const expected = expectedByShard(puts);
    const [first, second] = [...expected.keys()].sort() as [string, string];
    const firstIds = expected.get(first) ?? [];
    const startAfter = puts.find((put) => put.eventId === firstIds[2]) as PutResult;

    const assigned = new Map<string, string | undefined>([[first, startAfter.sequenceNumber]]);
    const kinesisSource = new KinesisSource({
      streamName,
      client,
      idleReadIntervalMs: 50,
      assignment: { assigned: () => assigned },
    });
    cleanups.push(() => kinesisSource.close());
    expect(kinesisSource.assignedPartitions?.()).toEqual(new Set([first]));
    await kinesisSource.start(new Map());

    const firstBatches = (await pollFor(kinesisSource, firstIds.length - 3)).flat();
    expect(idsByPartition(firstBatches)).toEqual(new Map([[first, firstIds.slice(3)]]));
    expect(firstBatches[0]?.after).toBe(startAfter.sequenceNumber);

    // The assignment moves: `first` is no longer read (not even its new records), `second` from its start.
    assigned.delete(first);
    assigned.set(second, undefined);
    expect(kinesisSource.assignedPartitions?.()).toEqual(new Set([second]));
    const more = await putEvents(client, streamName, 12);
    const secondAll = expectedByShard([...puts, ...more]).get(second) ?? [];
    const secondBatches = (await pollFor(kinesisSource, secondAll.length)).flat();
    expect(idsByPartition(secondBatches)).toEqual(new Map([[second, secondAll]]));
    expect(await kinesisSource.poll(1000, 300)).toEqual([]);

    // Assigned again, `first` goes on from the position the assignment gives now (not where it stopped):
    // its lease's checkpoint is where processing must resume.
    const firstAll = expectedByShard([...puts, ...more]).get(first) ?? [];
    const resumeAt = puts.find((put) => put.eventId === firstIds[5]) as PutResult;
    assigned.set(first, resumeAt.sequenceNumber);
    const again = (await pollFor(kinesisSource, firstAll.length - 6)).flat();
    expect(idsByPartition(again)).toEqual(new Map([[first, firstAll.slice(6)]]));
    expect(again[0]?.after).toBe(resumeAt.sequenceNumber);
  });

  it('seeks an assigned shard to a checkpointed position', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    const puts = await putEvents(client, streamName, 8);
    const kinesisSource = new KinesisSource({
      streamName,
      client,
      idleReadIntervalMs: 50,
      assignment: { assigned: () => new Map([[PARENT, undefined]]) },
    });
    cleanups.push(() => kinesisSource.close());
    await kinesisSource.start(new Map());
    await pollFor(kinesisSource, 8);
    kinesisSource.seek?.(PARENT, puts[4]?.sequenceNumber as string);
    const batches = (await pollFor(kinesisSource, 3)).flat();
    expect(batches.flatMap((batch) => batch.entries.map(eventIdOf))).toEqual(
      puts.slice(5).map((put) => put.eventId),
    );
    expect(batches[0]?.after).toBe(puts[4]?.sequenceNumber);
  });

  it('has no assignment hooks without an assignment', () => {
    const kinesisSource = source(kinesisClient(), 'any-stream');
    expect(kinesisSource.assignedPartitions).toBeUndefined();
    expect(kinesisSource.seek).toBeUndefined();
  });
});

describe('hashKeyOf', () => {
  it('is the MD5 of the UTF-8 key as an unsigned 128-bit integer', () => {
    expect(hashKeyOf('')).toBe(0xd41d8cd98f00b204e9800998ecf8427en);
    for (const key of ['svc\u0000gpt-4o', 'ünïcødé ✓', 'a'.repeat(256), '\u{1F600}']) {
      const md5 = createHash('md5').update(Buffer.from(key, 'utf8')).digest();
      const expected = [...md5].reduce((value, byte) => value * 256n + BigInt(byte), 0n);
      expect(hashKeyOf(key), key).toBe(expected);
      expect(hashKeyOf(key) >= 0n && hashKeyOf(key) < 2n ** 128n).toBe(true);
    }
  });
});

describe('KinesisSource restarted at the end of a split shard', () => {
  // A shard that ended before any record was read is checkpointed at SHARD_END_POSITION; a restart
  // must not ask for an iterator after it (Kinesis rejects that), and must go on with its children.
  it('does not read a shard started at SHARD_END again, and reads its children', async () => {
    const client = kinesisClient();
    const streamName = await createStream(client, 1);
    await splitInHalf(client, streamName);
    const first = source(client, streamName);
    await first.start(new Map());
    const [ended] = await pollUntil(first, (so_far) => so_far.length > 0);
    expect(ended?.position).toBe(SHARD_END_POSITION);
    await first.close();

    const afterSplit = await putEvents(client, streamName, 6);
    const restarted = source(client, streamName);
    await restarted.start(new Map([[PARENT, ended?.position as string]]));
    const firstPoll = await restarted.poll(1000, 1000).catch((error: Error) => error.message);
    expect(typeof firstPoll === 'string' ? firstPoll : 'no error').toBe('no error');
    const firstRecords = (firstPoll as SourceBatch[]).reduce((sum, batch) => sum + batch.entries.length, 0);
    const batches = [
      ...(firstPoll as SourceBatch[]),
      ...(await pollFor(restarted, afterSplit.length - firstRecords)).flat(),
    ];
    expect(batches.some((batch) => batch.partition === PARENT)).toBe(false);
    expect(idsByPartition(batches)).toEqual(expectedByShard(afterSplit));
  });
});
