import { encodeSingleObject } from '@genai-pipeline/schemas';
import { type Consumer, KafkaJSConnectionError, KafkaJSNonRetriableError } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type KafkaConsumerClient,
  type KafkaFetchedBatch,
  type KafkaFetchedMessage,
  KafkajsConsumerClient,
  type KafkajsConsumerLike,
  KafkaSource,
  KafkaSourceError,
} from '../../src/sources/kafka-source.js';
import type { SourceBatch } from '../../src/sources/source.js';
import { invocationEvent } from '../support/events.js';

const TOPIC = 'genai-events';
const T0 = Date.UTC(2025, 5, 1, 12, 0);

interface Delivery {
  /** Set once the source's eachBatch returned or threw: kafkajs may fetch the partition again. */
  settled: boolean;
  done: Promise<void>;
}

/** Implements the narrow client as kafkajs would drive it; tests play the group and the fetcher. */
class FakeConsumer implements KafkaConsumerClient {
  readonly calls: string[] = [];
  readonly seeks: { partition: number; offset: string }[] = [];
  readonly commits: { partition: number; offset: string }[][] = [];
  connectFailure: Error | undefined;
  heartbeats = 0;
  heartbeatFailure: Error | undefined;
  active = true;
  private eachBatch: ((batch: KafkaFetchedBatch) => Promise<void>) | undefined;
  private assignmentListener: ((partitions: readonly number[]) => void) | undefined;
  private crashListener: ((error: Error, restarting: boolean) => void) | undefined;

  async connect(): Promise<void> {
    this.calls.push('connect');
    if (this.connectFailure) throw this.connectFailure;
  }
  async subscribe(): Promise<void> {
    this.calls.push('subscribe');
  }
  async run(eachBatch: (batch: KafkaFetchedBatch) => Promise<void>): Promise<void> {
    this.calls.push('run');
    this.eachBatch = eachBatch;
  }
  onAssignment(listener: (partitions: readonly number[]) => void): void {
    this.assignmentListener = listener;
  }
  onCrash(listener: (error: Error, restarting: boolean) => void): void {
    this.crashListener = listener;
  }
  seek(partition: number, offset: string): void {
    this.seeks.push({ partition, offset });
  }
  async commitOffsets(offsets: readonly { partition: number; offset: string }[]): Promise<void> {
    this.commits.push([...offsets]);
  }
  async disconnect(): Promise<void> {
    this.calls.push('disconnect');
  }

  assign(partitions: number[]): void {
    this.assignmentListener?.(partitions);
  }
  crash(error: Error, restarting: boolean): void {
    this.crashListener?.(error, restarting);
  }
  deliver(partition: number, messages: KafkaFetchedMessage[], highWatermark: string): Delivery {
    if (this.eachBatch === undefined) throw new Error('deliver before run');
    const delivery: Delivery = { settled: false, done: Promise.resolve() };
    delivery.done = this.eachBatch({
      partition,
      highWatermark,
      messages,
      heartbeat: async () => {
        this.heartbeats++;
        if (this.heartbeatFailure) throw this.heartbeatFailure;
      },
      isActive: () => this.active,
    }).finally(() => {
      delivery.settled = true;
    });
    return delivery;
  }
}

function avroMessage(offset: number, eventId: string): KafkaFetchedMessage {
  const value = encodeSingleObject({ kind: 'invocation', event: invocationEvent({ event_id: eventId }) });
  return { offset: String(offset), timestamp: String(T0 + offset), value };
}

/** Messages `from`..`to` of a partition, each an invocation with event_id `p<partition>-<offset>`. */
function messages(partition: number, from: number, to: number): KafkaFetchedMessage[] {
  return Array.from({ length: to - from + 1 }, (_, i) => avroMessage(from + i, `p${partition}-${from + i}`));
}

function eventIds(batch: SourceBatch | undefined): string[] {
  return (batch?.entries ?? []).map(({ record }) =>
    record.format === 'avro' ? (record.record as { event_id: string }).event_id : record.format,
  );
}

/** Runs everything already queued (eachBatch continuations) before looking at a delivery. */
const drained = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A poll that finds nothing within its wait, under fake timers. */
async function pollWithFakeTimers(source: KafkaSource): Promise<SourceBatch[]> {
  const polled = source.poll(10, 100);
  await vi.advanceTimersByTimeAsync(100);
  return polled;
}

async function startedSource(positions: [string, string][] = [], topic = TOPIC) {
  const client = new FakeConsumer();
  const source = new KafkaSource({ brokers: ['unused:9092'], topic, groupId: 'pipeline', client });
  await source.start(new Map(positions));
  return { client, source };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('KafkaSource', () => {
  it('hands records over in order per partition, with the next offset, timestamps and lag', async () => {
    const { client, source } = await startedSource();
    expect(source.name).toBe('kafka:genai-events');
    expect(client.calls).toEqual(['connect', 'subscribe', 'run']);
    client.assign([0, 1]);
    const first = client.deliver(0, messages(0, 5, 7), '10');
    const second = client.deliver(
      1,
      [{ offset: '0', timestamp: String(T0), value: Buffer.from('{"a":1}\n') }],
      '1',
    );

    const batches = await source.poll(100, 60_000);
    expect(
      batches.map(({ partition, position, lagRecords }) => ({ partition, position, lagRecords })),
    ).toEqual([
      { partition: 'genai-events.0', position: '8', lagRecords: 2 },
      { partition: 'genai-events.1', position: '1', lagRecords: 0 },
    ]);
    expect(eventIds(batches[0])).toEqual(['p0-5', 'p0-6', 'p0-7']);
    expect(batches[0]?.entries.map((entry) => entry.receivedAt)).toEqual([T0 + 5, T0 + 6, T0 + 7]);
    expect(batches[1]?.entries[0]?.record).toEqual({ format: 'json', text: '{"a":1}' });
    await Promise.all([first.done, second.done]);
  });

  it('dead-letters tombstones and undecodable values; a message without a timestamp gets the read time', async () => {
    const { client, source } = await startedSource();
    client.assign([0]);
    const readFrom = Date.now();
    client.deliver(
      0,
      [
        { offset: '0', timestamp: String(T0), value: null },
        { offset: '1', timestamp: '-1', value: Buffer.from('not an event') },
      ],
      '2',
    );
    const [batch] = await source.poll(10, 60_000);
    expect(batch?.entries[0]).toEqual({
      record: { format: 'undecodable', payload: '', error: expect.stringMatching(/tombstone/) },
      receivedAt: T0,
    });
    expect(batch?.entries[1]?.record).toMatchObject({
      format: 'undecodable',
      payload: Buffer.from('not an event').toString('base64'),
    });
    expect(batch?.entries[1]?.receivedAt).toBeGreaterThanOrEqual(readFrom);
  });

  it('keeps kafkajs waiting until the pipeline took the whole batch, at most maxRecords per poll', async () => {
    const { client, source } = await startedSource();
    client.assign([0]);
    const delivery = client.deliver(0, messages(0, 0, 4), '5');
    const positions: string[] = [];
    for (const expected of [
      ['p0-0', 'p0-1'],
      ['p0-2', 'p0-3'],
    ]) {
      const [batch, ...rest] = await source.poll(2, 60_000);
      expect(rest).toEqual([]);
      expect(eventIds(batch)).toEqual(expected);
      positions.push(batch?.position ?? '');
      await drained();
      expect(delivery.settled).toBe(false);
    }
    const [last] = await source.poll(2, 60_000);
    expect(eventIds(last)).toEqual(['p0-4']);
    expect([...positions, last?.position]).toEqual(['2', '4', '5']);
    await drained();
    expect(delivery.settled).toBe(true);
  });

  it('wakes a waiting poll when records arrive, and resolves [] when none arrive in maxWaitMs', async () => {
    const { client, source } = await startedSource();
    client.assign([0]);
    const waiting = source.poll(10, 600_000);
    client.deliver(0, messages(0, 0, 0), '1');
    expect(eventIds((await waiting)[0])).toEqual(['p0-0']);

    vi.useFakeTimers();
    const idle = source.poll(10, 5_000);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await idle).toEqual([]);
  });

  it('commits nothing on its own, then exactly the positions given to commit for its partitions', async () => {
    const { client, source } = await startedSource();
    client.assign([0, 1]);
    client.deliver(0, messages(0, 0, 2), '3');
    client.deliver(1, messages(1, 0, 0), '1');
    await source.poll(10, 60_000);
    await drained();
    expect(client.commits).toEqual([]);

    await source.commit(
      new Map([
        ['genai-events.0', '2'],
        ['genai-events.1', '1'],
        ['genai-events.7', '9'], // not assigned to this member
        ['log', '4'], // another source's partition
      ]),
    );
    expect(client.commits).toEqual([
      [
        { partition: 0, offset: '2' },
        { partition: 1, offset: '1' },
      ],
    ]);
    await expect(source.commit(new Map([['genai-events.0', '-1']]))).rejects.toThrow(
      /position of kafka partition genai-events\.0 must be a non-negative integer offset, got "-1" \(not retriable\)/,
    );
  });

  it('resumes checkpointed partitions at their position after assignment, and where it left off after a rejoin', async () => {
    const { client, source } = await startedSource([
      ['genai-events.0', '42'],
      ['other-topic.1', '7'],
    ]);
    expect(client.seeks).toEqual([]);
    client.assign([0, 1]);
    expect(client.seeks).toEqual([{ partition: 0, offset: '42' }]);

    client.deliver(1, messages(1, 0, 2), '3');
    await source.poll(10, 60_000);
    client.assign([0, 1]); // kafkajs rejoined (a rebalance or a restart after a retriable crash)
    expect(client.seeks.slice(1)).toEqual([
      { partition: 0, offset: '42' },
      { partition: 1, offset: '3' },
    ]);

    const invalid = new KafkaSource({ brokers: [], topic: TOPIC, groupId: 'g', client: new FakeConsumer() });
    await expect(invalid.start(new Map([['genai-events.0', 'x']]))).rejects.toThrow(
      /genai-events\.0 must be a non-negative integer offset/,
    );
  });

  it('names partitions with file-name-safe ids and maps checkpoint keys back to them', async () => {
    const { client, source } = await startedSource([['team_genai_events.3', '11']], 'team/genai events');
    client.assign([3]);
    expect(client.seeks).toEqual([{ partition: 3, offset: '11' }]);
    client.deliver(3, messages(3, 11, 11), '12');
    const [batch] = await source.poll(10, 60_000);
    expect(batch?.partition).toBe('team_genai_events.3');
    expect(source.name).toBe('kafka:team/genai events');
  });

  it('drops records of a revoked partition not yet handed over, and commits only owned partitions', async () => {
    const { client, source } = await startedSource();
    client.assign([0, 1]);
    const p0 = client.deliver(0, messages(0, 0, 2), '3');
    const p1 = client.deliver(1, messages(1, 0, 1), '2');
    const [taken] = await source.poll(1, 60_000);
    expect(eventIds(taken)).toEqual(['p0-0']);

    client.assign([1]);
    await drained();
    expect([p0.settled, p1.settled]).toEqual([true, true]);
    expect(await source.poll(10, 1)).toEqual([]);
    expect(client.seeks).toEqual([]); // nothing of partition 1 was handed over: its committed offset holds

    client.deliver(1, messages(1, 0, 1), '2'); // fetched again after the join
    const [again] = await source.poll(10, 60_000);
    expect(again?.partition).toBe('genai-events.1');
    expect(eventIds(again)).toEqual(['p1-0', 'p1-1']);

    await source.commit(
      new Map([
        ['genai-events.0', '1'],
        ['genai-events.1', '2'],
      ]),
    );
    expect(client.commits).toEqual([[{ partition: 1, offset: '2' }]]);

    client.assign([0, 1]);
    expect(client.seeks).toEqual([
      { partition: 0, offset: '1' },
      { partition: 1, offset: '2' },
    ]);
  });

  it('heartbeats while a batch waits, and abandons it when the group rebalances or the consumer stops', async () => {
    vi.useFakeTimers();
    const { client, source } = await startedSource();
    client.assign([0]);
    const waiting = client.deliver(0, messages(0, 0, 1), '2');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(client.heartbeats).toBe(1);
    expect(waiting.settled).toBe(false);

    const rebalancing = new Error('The group is rebalancing, so a rejoin is needed');
    client.heartbeatFailure = rebalancing;
    const rejected = expect(waiting.done).rejects.toBe(rebalancing);
    await vi.advanceTimersByTimeAsync(1_000);
    await rejected;
    expect(await pollWithFakeTimers(source)).toEqual([]);

    client.heartbeatFailure = undefined;
    client.active = false;
    const stopping = client.deliver(0, messages(0, 0, 1), '2');
    await vi.advanceTimersByTimeAsync(1_000);
    await stopping.done;
    expect(client.heartbeats).toBe(2);
    expect(await pollWithFakeTimers(source)).toEqual([]);
  });

  it('rejects polls with a clear message once the consumer stopped on a non-retriable error', async () => {
    const { client, source } = await startedSource();
    client.assign([0]);
    client.crash(new KafkaJSConnectionError('Connection error: ECONNREFUSED'), true);
    expect(await source.poll(10, 1)).toEqual([]);
    await source.commit(new Map([['genai-events.0', '1']]));
    expect(client.commits).toEqual([]); // no group session until kafkajs rejoined

    const waiting = source.poll(10, 600_000);
    client.crash(new KafkaJSNonRetriableError('Not authorized to access topics: [genai-events]'), false);
    const failure = await waiting.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(KafkaSourceError);
    expect((failure as KafkaSourceError).retriable).toBe(false);
    expect((failure as Error).message).toMatch(
      /^kafka:genai-events: the consumer of group pipeline stopped on an error kafkajs does not retry; .*KafkaJSNonRetriableError: Not authorized to access topics: \[genai-events\] \(not retriable\)$/,
    );
    await expect(source.poll(10, 1)).rejects.toBe(failure);
  });

  it('rejects options it cannot consume with', () => {
    expect(() => new KafkaSource({ brokers: [], topic: TOPIC, groupId: 'pipeline' })).toThrow(
      /brokers must list at least one host:port/,
    );
    expect(() => new KafkaSource({ brokers: ['localhost:9092'], topic: '', groupId: 'pipeline' })).toThrow(
      /topic must be a non-empty string/,
    );
    expect(() => new KafkaSource({ brokers: ['localhost:9092'], topic: TOPIC, groupId: '' })).toThrow(
      /groupId must be a non-empty string/,
    );
  });

  it('reports a failed start with whether it is retriable and disconnects', async () => {
    const client = new FakeConsumer();
    client.connectFailure = new KafkaJSConnectionError('Connection error: ECONNREFUSED');
    const source = new KafkaSource({ brokers: [], topic: TOPIC, groupId: 'pipeline', client });
    const failure = await source.start(new Map()).catch((error: unknown) => error);
    expect((failure as Error).message).toBe(
      'kafka:genai-events: could not start consuming as group pipeline: KafkaJSConnectionError: Connection error: ECONNREFUSED (retriable)',
    );
    expect((failure as KafkaSourceError).retriable).toBe(true);
    expect(client.calls).toEqual(['connect', 'disconnect']);

    const denied = new FakeConsumer();
    denied.connectFailure = new KafkaJSNonRetriableError('SASL authentication failed');
    await expect(
      new KafkaSource({ brokers: [], topic: TOPIC, groupId: 'pipeline', client: denied }).start(new Map()),
    ).rejects.toThrow(/SASL authentication failed \(not retriable\)$/);
  });

  it('close ends a waiting poll, releases waiting batches and disconnects; later polls resolve []', async () => {
    const { client, source } = await startedSource();
    client.assign([0]);
    const waitingPoll = source.poll(10, 600_000);
    await source.close();
    expect(await waitingPoll).toEqual([]);

    const { client: busy, source: busySource } = await startedSource();
    busy.assign([0]);
    const delivery = busy.deliver(0, messages(0, 0, 3), '4');
    await busySource.close();
    await delivery.done;
    expect(await busySource.poll(10, 600_000)).toEqual([]);
    await busySource.commit(new Map([['genai-events.0', '1']]));
    await busySource.close();
    expect(busy.commits).toEqual([]);
    expect(busy.calls.filter((call) => call === 'disconnect')).toHaveLength(1);
    expect(client.calls).toContain('disconnect');
  });
});

describe('KafkajsConsumerClient', () => {
  /** The kafkajs consumer methods the adapter calls, recording them. */
  function fakeKafkajsConsumer() {
    const listeners = new Map<string, (event: { payload: unknown }) => void>();
    const recorded = {
      subscribe: [] as unknown[],
      run: [] as unknown[],
      seek: [] as unknown[],
      commit: [] as unknown[],
    };
    const consumer = {
      events: { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' },
      connect: async () => {},
      disconnect: async () => {},
      subscribe: async (subscription: unknown) => void recorded.subscribe.push(subscription),
      run: async (config: unknown) => void recorded.run.push(config),
      seek: (offset: unknown) => void recorded.seek.push(offset),
      commitOffsets: async (offsets: unknown) => void recorded.commit.push(offsets),
      on: (event: string, listener: (event: { payload: unknown }) => void) => {
        listeners.set(event, listener);
        return () => {};
      },
    };
    return { consumer: consumer as unknown as KafkajsConsumerLike, listeners, recorded };
  }

  it('runs without auto-commit, from the beginning, and maps batches, joins and crashes of its topic', async () => {
    const { consumer, listeners, recorded } = fakeKafkajsConsumer();
    const client = new KafkajsConsumerClient(consumer, TOPIC);
    await client.subscribe();
    expect(recorded.subscribe).toEqual([{ topics: [TOPIC], fromBeginning: true }]);

    const batches: KafkaFetchedBatch[] = [];
    await client.run(async (batch) => void batches.push(batch));
    const config = recorded.run[0] as Parameters<Consumer['run']>[0];
    expect(config).toMatchObject({ autoCommit: false, eachBatchAutoResolve: true });
    let stale = false;
    const message = avroMessage(3, 'e');
    await config?.eachBatch?.({
      batch: {
        topic: TOPIC,
        partition: 2,
        highWatermark: '9',
        messages: [{ ...message, key: null, attributes: 0, size: 1 }],
      },
      heartbeat: async () => {},
      isRunning: () => true,
      isStale: () => stale,
    } as unknown as Parameters<NonNullable<NonNullable<typeof config>['eachBatch']>>[0]);
    expect(batches[0]).toMatchObject({ partition: 2, highWatermark: '9', messages: [{ offset: '3' }] });
    expect(batches[0]?.isActive()).toBe(true);
    stale = true;
    expect(batches[0]?.isActive()).toBe(false);

    const assignments: (readonly number[])[] = [];
    client.onAssignment((partitions) => assignments.push(partitions));
    listeners.get('consumer.group_join')?.({
      payload: { memberAssignment: { [TOPIC]: [0, 2], other: [1] } },
    });
    listeners.get('consumer.group_join')?.({ payload: { memberAssignment: { other: [1] } } });
    expect(assignments).toEqual([[0, 2], []]);

    const crashes: [string, boolean][] = [];
    client.onCrash((error, restarting) => crashes.push([error.message, restarting]));
    listeners.get('consumer.crash')?.({ payload: { error: new Error('boom'), restart: false } });
    expect(crashes).toEqual([['boom', false]]);

    client.seek(2, '4');
    await client.commitOffsets([{ partition: 2, offset: '4' }]);
    expect(recorded.seek).toEqual([{ topic: TOPIC, partition: 2, offset: '4' }]);
    expect(recorded.commit).toEqual([[{ topic: TOPIC, partition: 2, offset: '4' }]]);
  });
});
