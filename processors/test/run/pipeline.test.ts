import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { LAKE_TABLES, type LakeTableName } from '@genai-pipeline/schemas';
import { inlineEncoder, LocalLakeStore, type PrunableLakeStore } from '@genai-pipeline/sinks';
import { afterEach, describe, expect, test } from 'vitest';
import { DurableLog } from '../../src/collector/durable-log.js';
import { Pricer } from '../../src/pricing/pricer.js';
import { CheckpointStore } from '../../src/run/checkpoint-store.js';
import { Pipeline, type PipelineOptions } from '../../src/run/pipeline.js';
import { LogSource } from '../../src/sources/log-source.js';
import type { PartitionLineage, Source, SourceBatch } from '../../src/sources/source.js';
import { invocationEvent } from '../support/events.js';

const TABLES = Object.keys(LAKE_TABLES) as LakeTableName[];
const START = Date.UTC(2026, 0, 1, 10);
const RECEIVED_AT = START + 5 * 3_600_000;

/** Seeded JSON lines over ~4 hours: five keys, scores, duplicates, late events and invalid lines. */
function workload(count: number, seed: number): string[] {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const time = START + i * 4_000 + Math.floor(random() * 20_000);
    const model = `model-${i % 5}`;
    const roll = random();
    if (roll < 0.02) lines.push(`{"event_id": "bad-${i}", "service": 12}`);
    else if (roll < 0.04 && i > 10) lines.push(lines[i - 7] as string);
    else if (roll < 0.06) {
      lines.push(
        JSON.stringify({
          kind: 'score',
          event_id: `s-${i}`,
          event_time: time,
          service: 'svc',
          model_id: model,
          name: 'helpfulness',
          value: random(),
        }),
      );
    } else {
      lines.push(
        JSON.stringify({
          event_id: `e-${i}`,
          // Now and then an event ten minutes behind: late once its window closed.
          event_time: roll < 0.08 ? time - 600_000 : time,
          service: 'svc',
          provider: 'openai',
          model_id: model,
          operation: 'chat',
          input_tokens: 100 + Math.floor(random() * 900),
          output_tokens: Math.floor(random() * 400),
          latency_ms: 50 + random() * 2_000,
          status: roll > 0.97 ? 'THROTTLED' : 'OK',
          cost_usd: random() / 100,
        }),
      );
    }
  }
  return lines;
}

/**
 * A lake store that can be "killed": later writes are lost, as a SIGKILLed process's would be. Writes
 * already under way finish first (in a real crash they finished or never happened before the restart).
 */
class KillableStore implements PrunableLakeStore {
  private killed = false;
  private readonly writing = new Set<Promise<void>>();
  constructor(private readonly inner: LocalLakeStore) {}
  async put(path: string, bytes: Uint8Array): Promise<void> {
    if (this.killed) return new Promise(() => undefined);
    const write = this.inner.put(path, bytes);
    this.writing.add(write);
    try {
      await write;
    } finally {
      this.writing.delete(write);
    }
  }
  async kill(): Promise<void> {
    this.killed = true;
    await Promise.allSettled([...this.writing]);
  }
  list(dir: string): AsyncIterable<string> {
    return this.inner.list(dir);
  }
  remove(path: string): Promise<void> {
    return this.inner.remove(path);
  }
  describe(): string {
    return this.inner.describe();
  }
}

interface Instance {
  pipeline: Pipeline;
  log: DurableLog;
  checkpoints: CheckpointStore;
  store: KillableStore;
}

const open: Instance[] = [];
afterEach(async () => {
  for (const instance of open.splice(0)) await closeHandles(instance);
});

async function closeHandles(instance: Instance): Promise<void> {
  await instance.log.close().catch(() => undefined);
  await instance.checkpoints.close().catch(() => undefined);
}

/**
 * A Pipeline as the tests here run it: lake files only (no window sinks), default prices, checkpoints
 * only when asked for (no timer), reading `maxPollRecords` at a time.
 */
function testPipeline(
  options: {
    source: Source;
    checkpoints: CheckpointStore;
    store: PrunableLakeStore;
  } & Partial<PipelineOptions>,
): Pipeline {
  const { checkpoints, store } = options;
  return new Pipeline({
    sourceIdOf: (partition) => `${checkpoints.storeId}-${partition}`,
    prunableStores: [store],
    encoder: inlineEncoder,
    windowSinks: [],
    pricer: new Pricer(new Map()),
    maxOutOfOrdernessMs: 30_000,
    checkpointIntervalMs: Number.POSITIVE_INFINITY,
    pollWaitMs: 1,
    ...options,
  });
}

async function startInstance(stateDir: string, lakeDir: string, maxPollRecords: number): Promise<Instance> {
  const log = DurableLog.open(join(stateDir, 'log'));
  const checkpoints = CheckpointStore.open(join(stateDir, 'checkpoints'));
  const store = new KillableStore(new LocalLakeStore(lakeDir));
  const pipeline = testPipeline({ source: new LogSource(log), checkpoints, store, maxPollRecords });
  await pipeline.start();
  const instance = { pipeline, log, checkpoints, store };
  open.push(instance);
  return instance;
}

async function appendAll(stateDir: string, lines: readonly string[]): Promise<void> {
  const log = DurableLog.open(join(stateDir, 'log'));
  for (let i = 0; i < lines.length; i += 100) await log.append(lines.slice(i, i + 100), RECEIVED_AT);
  await log.close();
}

/** Every table's rows, sorted, as JSON text: what two lakes must share to be "the same lake". */
async function lakeContents(lakeDir: string): Promise<Record<string, string[]>> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const contents: Record<string, string[]> = {};
  try {
    for (const table of TABLES) {
      const glob = join(lakeDir, table, '**', '*.parquet').replaceAll("'", "''");
      const reader = await connection
        .runAndReadAll(`SELECT * FROM read_parquet('${glob}')`)
        .catch(() => undefined);
      contents[table] = (reader?.getRowObjectsJson() ?? []).map((row) => JSON.stringify(row)).sort();
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return contents;
}

describe('Pipeline over the embedded log', () => {
  const lines = workload(4_000, 7);

  async function uninterrupted(): Promise<{ lake: string; instance: Instance }> {
    const state = await mkdtemp(join(tmpdir(), 'pipeline-state-'));
    const lake = await mkdtemp(join(tmpdir(), 'pipeline-lake-'));
    await appendAll(state, lines);
    const instance = await startInstance(state, lake, 250);
    await instance.pipeline.drain();
    await instance.pipeline.stop();
    return { lake, instance };
  }

  test('processes the log, checkpoints, and lets the log drop what the checkpoint covers', async () => {
    const { lake, instance } = await uninterrupted();
    const contents = await lakeContents(lake);
    const stats = instance.pipeline.partitionStats()[0];
    expect(stats?.counters.events).toBe(lines.length);
    expect(contents.invocations?.length).toBeGreaterThan(3_000);
    expect(contents.rollups_1m?.length).toBeGreaterThan(100);
    expect(contents.dead_letters?.length).toBe((stats?.counters.invalid ?? 0) + (stats?.counters.late ?? 0));
    expect(stats?.counters.late).toBeGreaterThan(0);
    expect(stats?.counters.duplicates).toBeGreaterThan(0);
    expect(instance.log.firstOffset).toBe(lines.length);
    const saved = (await instance.checkpoints.load('log')).get('log');
    expect(saved?.position).toBe(String(lines.length));
    expect(saved?.nextOrdinal).toBe(lines.length);
    // Shutdown never closes a window early: the newest windows are in the checkpoint, still open.
    expect(saved?.processor.openWindows.length).toBeGreaterThan(0);
  });

  test('crashes at several points, restarts from the checkpoint each time, and ends with the same lake', async () => {
    const reference = await lakeContents((await uninterrupted()).lake);
    const state = await mkdtemp(join(tmpdir(), 'pipeline-state-'));
    const lake = await mkdtemp(join(tmpdir(), 'pipeline-lake-'));
    await appendAll(state, lines);
    // Each round: some polls, a checkpoint, more polls (their files reach the lake), then a crash.
    for (const [beforeCheckpoint, afterCheckpoint] of [
      [3, 4],
      [2, 6],
      [0, 5],
      [4, 0],
    ] as const) {
      const instance = await startInstance(state, lake, 97);
      for (let i = 0; i < beforeCheckpoint; i++) await instance.pipeline.step();
      await instance.pipeline.checkpoint();
      for (let i = 0; i < afterCheckpoint; i++) await instance.pipeline.step();
      await instance.store.kill();
      open.splice(open.indexOf(instance), 1);
      await closeHandles(instance);
    }
    const last = await startInstance(state, lake, 97);
    await last.pipeline.drain();
    await last.pipeline.stop();
    expect(await lakeContents(lake)).toEqual(reference);
  });

  test('a restart after a clean stop goes on with the open windows and counts nothing twice', async () => {
    const reference = await lakeContents((await uninterrupted()).lake);
    const state = await mkdtemp(join(tmpdir(), 'pipeline-state-'));
    const lake = await mkdtemp(join(tmpdir(), 'pipeline-lake-'));
    await appendAll(state, lines.slice(0, 1_500));
    const first = await startInstance(state, lake, 250);
    await first.pipeline.drain();
    await first.pipeline.stop();
    open.splice(open.indexOf(first), 1);
    await closeHandles(first);
    const log = DurableLog.open(join(state, 'log'));
    for (let i = 1_500; i < lines.length; i += 100) {
      await log.append(lines.slice(i, Math.min(i + 100, lines.length)), RECEIVED_AT);
    }
    await log.close();
    const second = await startInstance(state, lake, 250);
    await second.pipeline.drain();
    await second.pipeline.stop();
    expect(await lakeContents(lake)).toEqual(reference);
  });
});

/** A consumer-group-like source over in-memory partitions: the test decides the assignment. */
class GroupSource implements Source {
  readonly name = 'kafka:t';
  /** Set: batches say where they follow on from the start too (as Kinesis shards do). */
  beginning: string | undefined;
  assigned: Set<string>;
  /** A rebalance landing inside the next poll (as it does with a real consumer). */
  assignDuringNextPoll: Set<string> | undefined;
  private readonly cursors = new Map<string, number>();

  constructor(
    private readonly partitions: Record<string, string[]>,
    assigned: Iterable<string>,
  ) {
    this.assigned = new Set(assigned);
  }

  async start(positions: ReadonlyMap<string, string>): Promise<void> {
    for (const [partition, position] of positions) this.cursors.set(partition, Number(position));
  }

  async poll(maxRecords: number): Promise<SourceBatch[]> {
    if (this.assignDuringNextPoll) this.assigned = this.assignDuringNextPoll;
    this.assignDuringNextPoll = undefined;
    const batches: SourceBatch[] = [];
    for (const partition of this.assigned) {
      const lines = this.partitions[partition] ?? [];
      const from = this.cursors.get(partition) ?? 0;
      const to = Math.min(lines.length, from + maxRecords);
      if (to === from) continue;
      this.cursors.set(partition, to);
      batches.push({
        partition,
        entries: lines
          .slice(from, to)
          .map((text) => ({ record: { format: 'json', text }, receivedAt: RECEIVED_AT })),
        position: String(to),
        ...(from > 0 || this.beginning !== undefined ? { after: String(from) } : {}),
      });
    }
    return batches;
  }

  async commit(): Promise<void> {}
  async close(): Promise<void> {}
  assignedPartitions(): ReadonlySet<string> {
    return this.assigned;
  }
  seek(partition: string, position: string): void {
    this.cursors.set(partition, Number(position));
  }
}

describe('Pipeline instances sharing a checkpoint store (partitions that move)', () => {
  const lines = workload(3_000, 11);
  // Keyed by model, as producers key by service and model: each key lives in one partition.
  const partitions: Record<string, string[]> = { 't.0': [], 't.1': [] };
  for (const line of lines) {
    const model = /"model_id":"model-(\d)"/.exec(line)?.[1];
    partitions[Number(model ?? 0) % 2 === 0 ? 't.0' : 't.1']?.push(line);
  }

  function instance(source: GroupSource, checkpoints: CheckpointStore, lake: string, id: string): Pipeline {
    const store = new LocalLakeStore(lake);
    return testPipeline({ source, checkpoints, store, maxPollRecords: 113, instanceId: id });
  }

  /** The lake one instance owning every partition writes: what any hand-over must end with. */
  async function singleInstanceLake(): Promise<string> {
    const lake = await mkdtemp(join(tmpdir(), 'group-ref-'));
    const checkpoints = CheckpointStore.open(await mkdtemp(join(tmpdir(), 'group-ref-state-')));
    const single = instance(new GroupSource(partitions, ['t.0', 't.1']), checkpoints, lake, 'solo');
    await single.start();
    await drainAll(single);
    await single.stop();
    await checkpoints.close();
    return lake;
  }

  async function drainAll(...pipelines: Pipeline[]): Promise<void> {
    for (let busy = true; busy; ) {
      busy = false;
      for (const pipeline of pipelines) busy = (await pipeline.step()) || busy;
    }
  }

  test('a partition handed to a second instance mid-stream ends in the same lake as one instance would write', async () => {
    const referenceLake = await singleInstanceLake();

    const lake = await mkdtemp(join(tmpdir(), 'group-lake-'));
    const checkpoints = CheckpointStore.open(await mkdtemp(join(tmpdir(), 'group-state-')));
    const sourceA = new GroupSource(partitions, ['t.0', 't.1']);
    const a = instance(sourceA, checkpoints, lake, 'a');
    await a.start();
    for (let i = 0; i < 5; i++) await a.step();
    await a.checkpoint();
    for (let i = 0; i < 3; i++) await a.step();
    // Rebalance: t.1 moves to b, whose fetch starts from the beginning (no committed offset yet).
    sourceA.assigned = new Set(['t.0']);
    const b = instance(new GroupSource(partitions, ['t.1']), checkpoints, lake, 'b');
    await b.start();
    // b waits for a to hand t.1 over (a's next step), then goes on from a's checkpoint of it.
    await Promise.all([b.step(), a.step()]);
    await drainAll(a, b);
    await a.stop();
    await b.stop();
    const bStats = b.partitionStats().find((p) => p.partition === 't.1');
    expect(bStats?.counters.events).toBe(partitions['t.1']?.length);
    await checkpoints.close();
    expect(await lakeContents(lake)).toEqual(await lakeContents(referenceLake));
  });

  test('two instances swapping partitions hand them over to each other instead of waiting on each other', async () => {
    const referenceLake = await singleInstanceLake();

    const lake = await mkdtemp(join(tmpdir(), 'swap-lake-'));
    const checkpoints = CheckpointStore.open(await mkdtemp(join(tmpdir(), 'swap-state-')));
    const sourceA = new GroupSource(partitions, ['t.0']);
    const sourceB = new GroupSource(partitions, ['t.1']);
    const a = instance(sourceA, checkpoints, lake, 'a');
    const b = instance(sourceB, checkpoints, lake, 'b');
    await a.start();
    await b.start();
    for (let i = 0; i < 4; i++) await Promise.all([a.step(), b.step()]);
    // Both assignments change during the same poll: each claims what the other still holds.
    sourceA.assignDuringNextPoll = new Set(['t.1']);
    sourceB.assignDuringNextPoll = new Set(['t.0']);
    await Promise.all([a.step(), b.step()]);
    await drainAll(a, b);
    await a.stop();
    await b.stop();
    await checkpoints.close();
    expect(await lakeContents(lake)).toEqual(await lakeContents(referenceLake));
  });

  test('an open partition the source restarts from an older position is sought back: nothing is processed twice', async () => {
    const referenceLake = await singleInstanceLake();
    const lake = await mkdtemp(join(tmpdir(), 'blink-lake-'));
    const checkpoints = CheckpointStore.open(await mkdtemp(join(tmpdir(), 'blink-state-')));
    const source = new GroupSource(partitions, ['t.0', 't.1']);
    const a = instance(source, checkpoints, lake, 'a');
    await a.start();
    for (let i = 0; i < 3; i++) await a.step();
    await a.checkpoint();
    for (let i = 0; i < 3; i++) await a.step();
    // The source starts t.1 over from the checkpoint (its assignment blinked) while t.1 stays open here.
    const checkpointed = (await checkpoints.get(source.name, 't.1'))?.position as string;
    source.seek('t.1', checkpointed);
    await drainAll(a);
    await a.stop();
    await checkpoints.close();
    const stats = a.partitionStats().find((p) => p.partition === 't.1');
    expect(stats?.counters.events).toBe(partitions['t.1']?.length);
    expect(await lakeContents(lake)).toEqual(await lakeContents(referenceLake));
  });

  test('a partition claimed without a checkpoint is read from its beginning, wherever the source had got to', async () => {
    const referenceLake = await singleInstanceLake();
    const lake = await mkdtemp(join(tmpdir(), 'unchecked-lake-'));
    const checkpoints = CheckpointStore.open(await mkdtemp(join(tmpdir(), 'unchecked-state-')));
    const source = new GroupSource(partitions, ['t.0', 't.1']);
    source.beginning = '0';
    // Read here before, by an owner that lost it before any checkpoint: the source is past the start.
    source.seek('t.1', '500');
    const a = instance(source, checkpoints, lake, 'a');
    await a.start();
    await drainAll(a);
    await a.stop();
    await checkpoints.close();
    const stats = a.partitionStats().find((p) => p.partition === 't.1');
    expect(stats?.counters.events).toBe(partitions['t.1']?.length);
    expect(await lakeContents(lake)).toEqual(await lakeContents(referenceLake));
  });

  test('a partition dropped because its ownership lapsed is let go, so another instance claims it at once', async () => {
    const lake = await mkdtemp(join(tmpdir(), 'lapse-lake-'));
    const real = CheckpointStore.open(await mkdtemp(join(tmpdir(), 'lapse-state-')));
    let lapsed = false;
    // The store as a lease store behaves during a lapse in renewals: it cannot vouch for t.1 any more.
    const lapsing = Object.assign(Object.create(real) as CheckpointStore, {
      holds: (partition: string) => !(lapsed && partition === 't.1'),
    });
    const a = testPipeline({
      source: new GroupSource(partitions, ['t.0', 't.1']),
      checkpoints: lapsing,
      store: new LocalLakeStore(lake),
      maxPollRecords: 113,
      instanceId: 'a',
    });
    await a.start();
    for (let i = 0; i < 3; i++) await a.step();
    lapsed = true;
    await a.step();
    expect(a.partitionStats().map((p) => p.partition)).toEqual(['t.0']);
    // Released (the drop lets go in the background): no waiting for the ownership timeout.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await real.claim('kafka:t', 't.1', 'b', Date.now(), Number.POSITIVE_INFINITY)).toBe(true);
    await a.stop();
    await real.close();
  });

  test('a claim is given up when the partition is assigned elsewhere again while waiting', async () => {
    const lake = await mkdtemp(join(tmpdir(), 'giveup-lake-'));
    const checkpoints = CheckpointStore.open(await mkdtemp(join(tmpdir(), 'giveup-state-')));
    const a = instance(new GroupSource(partitions, ['t.1']), checkpoints, lake, 'a');
    await a.start();
    await a.step();
    const sourceB = new GroupSource(partitions, ['t.1']);
    const b = instance(sourceB, checkpoints, lake, 'b');
    await b.start();
    const stepping = b.step();
    // a keeps t.1 (a quick second rebalance gave it back): b must not wait for it forever.
    setTimeout(() => {
      sourceB.assigned = new Set();
    }, 50);
    await expect(stepping).resolves.toBe(true);
    expect(b.partitionStats()).toEqual([]);
    await a.stop();
    await b.stop();
    await checkpoints.close();
  });
});

describe('Pipeline after a processing failure', () => {
  test('takes no checkpoint of the half-processed batch: the last good one stays in force', async () => {
    const big = 2 ** 52;
    const event = (id: string, minute: number, tokens: number) =>
      JSON.stringify(
        invocationEvent({
          event_id: id,
          event_time: START + minute * 60_000,
          model_id: 'm',
          input_tokens: tokens,
        }),
      );
    // Two calls whose token sum passes 2^53 in one window: its rollup cannot be written exactly.
    const lines = [event('ok', 0, 10), event('a', 2, big), event('b', 2, big), event('later', 5, 10)];
    const source = new GroupSource({ 't.0': lines }, ['t.0']);
    const checkpoints = CheckpointStore.open(await mkdtemp(join(tmpdir(), 'failure-state-')));
    const store = new LocalLakeStore(await mkdtemp(join(tmpdir(), 'failure-lake-')));
    const pipeline = testPipeline({ source, checkpoints, store, maxPollRecords: 1 });
    await pipeline.start();
    await pipeline.step();
    await pipeline.checkpoint();
    await pipeline.step();
    await pipeline.step();
    await expect(pipeline.step()).rejects.toThrow(/input_tokens/);
    await expect(pipeline.checkpoint()).rejects.toThrow(/no checkpoint after a processing failure/);
    await pipeline.stop();
    expect((await checkpoints.get('kafka:t', 't.0'))?.position).toBe('1');
    await checkpoints.close();
  });
});

describe('Pipeline.run checkpoint spacing', () => {
  test('checkpoints at the interval, but at least ten times their own duration apart', async () => {
    let now = 0;
    const checkpoints = CheckpointStore.open(await mkdtemp(join(tmpdir(), 'spacing-state-')));
    // Each save takes one (fake) second: the snapshot of a large partition.
    const save = checkpoints.save.bind(checkpoints);
    checkpoints.save = async (...args) => {
      now += 1_000;
      return save(...args);
    };
    const abort = new AbortController();
    let polls = 0;
    const source: Source = {
      name: 'endless',
      start: async () => undefined,
      poll: async () => {
        now += 100;
        if (++polls === 300) abort.abort();
        const text = JSON.stringify(
          invocationEvent({ event_id: `e${polls}`, event_time: START + polls * 100 }),
        );
        return [
          {
            partition: 'p',
            entries: [{ record: { format: 'json', text }, receivedAt: RECEIVED_AT }],
            position: String(polls),
          },
        ];
      },
      commit: async () => undefined,
      close: async () => undefined,
    };
    const attempts: number[] = [];
    const store = new LocalLakeStore(await mkdtemp(join(tmpdir(), 'spacing-lake-')));
    const pipeline = testPipeline({
      source,
      checkpoints,
      store,
      checkpointIntervalMs: 500,
      clock: () => now,
      onCheckpoint: () => attempts.push(now),
    });
    await pipeline.start();
    await pipeline.run(abort.signal);
    await checkpoints.close();
    // 300 polls of 100 ms plus the saves: ~33 s of fake time; every 500 ms would be ~60 checkpoints.
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < attempts.length; i++) {
      expect((attempts[i] as number) - (attempts[i - 1] as number)).toBeGreaterThanOrEqual(10_000);
    }
  });
});

describe('Pipeline at a reshard: partitions that end, and partitions that continue them', () => {
  const PARENT = 'shardId-000000000000';
  const LOWER = 'shardId-000000000001';
  const UPPER = 'shardId-000000000002';
  const MINUTE = 60_000;

  /** A Kinesis-like source of scripted polls; children name their parent and the models they own. */
  class ReshardSource implements Source {
    readonly name = 'kinesis:reshard';
    started: ReadonlyMap<string, string> | undefined;
    private readonly polls: SourceBatch[][];
    constructor(
      polls: SourceBatch[][],
      private readonly lineages: Record<string, PartitionLineage> = {},
    ) {
      this.polls = [...polls];
    }
    async start(positions: ReadonlyMap<string, string>): Promise<void> {
      this.started = positions;
    }
    async poll(): Promise<SourceBatch[]> {
      return this.polls.shift() ?? [];
    }
    async commit(): Promise<void> {}
    async close(): Promise<void> {}
    lineage(partition: string): PartitionLineage | undefined {
      return this.lineages[partition];
    }
  }

  const splitLineage: Record<string, PartitionLineage> = {
    [LOWER]: { parents: [PARENT], ownsKey: (_service, model) => model === 'model-a' },
    [UPPER]: { parents: [PARENT], ownsKey: (_service, model) => model === 'model-b' },
  };

  const batch = (
    partition: string,
    lines: readonly string[],
    position: string,
    more: Partial<SourceBatch> = {},
  ): SourceBatch => ({
    partition,
    entries: lines.map((text) => ({ record: { format: 'json', text }, receivedAt: RECEIVED_AT })),
    position,
    ...more,
  });

  /** Seven minutes of models a and b, three calls each a minute, in event-time order. */
  const lines = Array.from({ length: 7 * 3 * 2 }, (_, i) => {
    const minute = Math.floor(i / 6);
    const model = i % 2 === 0 ? 'model-a' : 'model-b';
    return JSON.stringify(
      invocationEvent({
        event_id: `e-${i}`,
        event_time: START + minute * MINUTE + (Math.floor(i / 2) % 3) * 20_000 + (i % 2),
        model_id: model,
        input_tokens: 100 + i,
        latency_ms: 10 + i * 3,
      }),
    );
  });
  const timeOf = (line: string) => (JSON.parse(line) as { event_time: number }).event_time;
  const modelOf = (line: string) => (JSON.parse(line) as { model_id: string }).model_id;
  // The split lands inside minute 3.
  const splitAt = START + 3 * MINUTE + 30_000;
  const parentLines = lines.filter((line) => timeOf(line) < splitAt);
  const childLines = (model: string) =>
    lines.filter((line) => timeOf(line) >= splitAt && modelOf(line) === model);

  async function stores(prefix: string) {
    const checkpoints = CheckpointStore.open(await mkdtemp(join(tmpdir(), `${prefix}-state-`)));
    const lake = await mkdtemp(join(tmpdir(), `${prefix}-lake-`));
    return { checkpoints, lake, store: new LocalLakeStore(lake) };
  }

  test('an ended batch is checkpointed at once, ended, and its partition let go; later batches of it are ignored', async () => {
    const { checkpoints, store } = await stores('ended');
    const closed: number[] = [];
    const source = new ReshardSource([
      [batch(PARENT, parentLines.slice(0, 10), '10')],
      [batch(PARENT, parentLines.slice(10), '20', { after: '10' })],
      [batch(PARENT, [], '20', { after: '20', ended: true })],
      [batch(PARENT, [lines.at(-1) as string], '21', { after: '20' })],
    ]);
    const pipeline = testPipeline({
      source,
      checkpoints,
      store,
      onWindowClosed: (_partition, window) => closed.push(window.windowStart),
    });
    await pipeline.start();
    await pipeline.step();
    await pipeline.step();
    expect(await checkpoints.get(source.name, PARENT)).toBeUndefined();
    const closedBeforeEnd = [...closed];

    await pipeline.step();
    const final = await checkpoints.get(source.name, PARENT);
    expect(final).toMatchObject({ ended: true, position: '20', nextOrdinal: parentLines.length });
    expect(final?.processor.counters.events).toBe(parentLines.length);
    // The end closes no window: the open ones are in the final state, for the partitions that continue it.
    expect(closed).toEqual(closedBeforeEnd);
    expect(final?.processor.openWindows.map((w) => w.windowStart)).toEqual([
      START + 2 * MINUTE,
      START + 3 * MINUTE,
    ]);
    expect(pipeline.partitionStats()).toEqual([]);

    await pipeline.step();
    expect(pipeline.partitionStats()).toEqual([]);
    expect(await checkpoints.get(source.name, PARENT)).toEqual(final);
    await pipeline.stop();
    expect(await checkpoints.get(source.name, PARENT)).toEqual(final);

    // A restart does not open it again either.
    const again = new ReshardSource([[batch(PARENT, [lines.at(-1) as string], '21', { after: '20' })]]);
    const restarted = testPipeline({ source: again, checkpoints, store });
    await restarted.start();
    expect(again.started).toEqual(new Map([[PARENT, '20']]));
    await restarted.step();
    expect(restarted.partitionStats()).toEqual([]);
    await restarted.stop();
    expect(await checkpoints.get(source.name, PARENT)).toEqual(final);
    await checkpoints.close();
  });

  test('children start from their parent’s final state: a window spanning the split closes once, with every count', async () => {
    const windowsOf = (closed: { partition: string; rows: Record<string, unknown>[] }[]) =>
      closed.flatMap(({ partition, rows }) =>
        rows.map((row) => ({
          partition,
          window: row.window_start,
          model: row.model_id,
          requests: row.requests,
        })),
      );

    // One partition that saw everything, in event-time order.
    const reference = await stores('reshard-ref');
    const referenceClosed: { partition: string; rows: Record<string, unknown>[] }[] = [];
    const whole = testPipeline({
      source: new ReshardSource([[batch('all', lines, String(lines.length))]]),
      checkpoints: reference.checkpoints,
      store: reference.store,
      onWindowClosed: (partition, window) => referenceClosed.push({ partition, rows: window.rollups }),
    });
    await whole.start();
    await whole.drain();
    await whole.stop();
    await reference.checkpoints.close();

    const resharded = await stores('reshard');
    const closed: { partition: string; rows: Record<string, unknown>[] }[] = [];
    const logged: string[] = [];
    const source = new ReshardSource(
      [
        [batch(PARENT, parentLines, 'p-last', { ended: true })],
        [batch(LOWER, childLines('model-a'), 'l-last'), batch(UPPER, childLines('model-b'), 'u-last')],
      ],
      splitLineage,
    );
    const pipeline = testPipeline({
      source,
      checkpoints: resharded.checkpoints,
      store: resharded.store,
      onWindowClosed: (partition, window) => closed.push({ partition, rows: window.rollups }),
      log: (line) => logged.push(line),
    });
    await pipeline.start();
    await pipeline.drain();
    await pipeline.stop();
    await resharded.checkpoints.close();

    const spanning = windowsOf(closed).filter((w) => w.window === START + 3 * MINUTE);
    expect(spanning).toEqual([
      { partition: LOWER, window: START + 3 * MINUTE, model: 'model-a', requests: 3 },
      { partition: UPPER, window: START + 3 * MINUTE, model: 'model-b', requests: 3 },
    ]);
    const sortedWindows = (list: typeof closed) =>
      windowsOf(list)
        .map(({ window, model, requests }) => JSON.stringify([window, model, requests]))
        .sort();
    expect(sortedWindows(closed)).toEqual(sortedWindows(referenceClosed));
    expect(logged).toContain(`partition ${LOWER}: continues ${PARENT} with their open windows`);
    // Every table, every row, as one partition would have written it.
    expect(await lakeContents(resharded.lake)).toEqual(await lakeContents(reference.lake));
  });

  test('a merged child closes at once the lagging parent’s window the other parent had passed, once', async () => {
    const { checkpoints, store } = await stores('merge');
    const call = (id: string, minute: number, second: number, model: string) =>
      JSON.stringify(
        invocationEvent({
          event_id: id,
          event_time: START + minute * MINUTE + second * 1_000,
          model_id: model,
        }),
      );
    const ahead = [0, 1, 2, 3, 4, 5].flatMap((m) =>
      [0, 20, 40].map((s) => call(`a-${m}-${s}`, m, s, 'model-a')),
    );
    const behind = [0, 1, 2].flatMap((m) => [0, 20, 40].map((s) => call(`b-${m}-${s}`, m, s, 'model-b')));
    const MERGED = 'shardId-000000000003';
    const closed: { partition: string; window: number; model: unknown; requests: unknown }[] = [];
    const source = new ReshardSource(
      [
        [batch(LOWER, ahead, 'a-last', { ended: true }), batch(UPPER, behind, 'b-last', { ended: true })],
        // First only a late event (it moves no watermark), then events that move it past minute 6.
        [batch(MERGED, [call('b-late', 2, 50, 'model-b')], 'm-1')],
        [
          batch(MERGED, [call('a-7', 7, 0, 'model-a'), call('b-7', 7, 1, 'model-b')], 'm-3', {
            after: 'm-1',
          }),
        ],
      ],
      { [MERGED]: { parents: [LOWER, UPPER], ownsKey: () => true } },
    );
    const pipeline = testPipeline({
      source,
      checkpoints,
      store,
      onWindowClosed: (partition, window) => {
        for (const row of window.rollups) {
          closed.push({ partition, window: window.windowStart, model: row.model_id, requests: row.requests });
        }
      },
    });
    await pipeline.start();
    await pipeline.step();
    expect(closed.filter((c) => c.window === START + 2 * MINUTE && c.model === 'model-b')).toEqual([]);
    // Closed as the child opens, before any of its own events could move its watermark.
    await pipeline.step();
    const lagging = { partition: MERGED, window: START + 2 * MINUTE, model: 'model-b', requests: 3 };
    expect(closed).toEqual([...closed.filter((c) => c.partition !== MERGED), lagging]);
    // Its later event is late there, as it was for the parent that had passed the window.
    expect(pipeline.partitionStats()[0]?.counters).toMatchObject({ accepted: 1, late: 1 });
    await pipeline.step();
    // Minute 5 (model a) closes in the child, with the parent's three calls; minute 2 does not again.
    expect(closed.filter((c) => c.partition === MERGED)).toEqual([
      lagging,
      { partition: MERGED, window: START + 5 * MINUTE, model: 'model-a', requests: 3 },
    ]);
    await pipeline.stop();
    await checkpoints.close();
  });

  test('a parent whose checkpoint has not ended makes its child fail clearly', async () => {
    const { checkpoints, store } = await stores('unended');
    const source = new ReshardSource(
      [[batch(PARENT, parentLines, 'p-last')], [batch(LOWER, childLines('model-a'), 'l-last')]],
      splitLineage,
    );
    const pipeline = testPipeline({ source, checkpoints, store });
    await pipeline.start();
    await pipeline.step();
    await pipeline.checkpoint();
    await expect(pipeline.step()).rejects.toThrow(
      `partition ${LOWER}: its parent ${PARENT} has not ended yet; a child is read only after its parents (not retriable)`,
    );
    await pipeline.stop();
    await checkpoints.close();
  });

  test('a child whose parent was never read here starts from nothing', async () => {
    const { checkpoints, store } = await stores('orphan');
    const source = new ReshardSource([[batch(LOWER, childLines('model-a'), 'l-last')]], splitLineage);
    const pipeline = testPipeline({ source, checkpoints, store });
    await pipeline.start();
    await pipeline.step();
    expect(pipeline.partitionStats().map((p) => [p.partition, p.counters.events])).toEqual([
      [LOWER, childLines('model-a').length],
    ]);
    await pipeline.stop();
    await checkpoints.close();
  });
});
