import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { AnomalyDetector } from '../../src/anomaly/detector.js';
import { Pricer } from '../../src/pricing/pricer.js';
import { CheckpointStore, type PartitionCheckpoint } from '../../src/run/checkpoint-store.js';
import { PartitionProcessor } from '../../src/window/partition-processor.js';
import { invocationEvent } from '../support/events.js';

const RECEIVED_AT = Date.UTC(2025, 5, 1, 1);

/** A real checkpoint: the processor has seen `events` invocations, the detector is fresh. */
function checkpoint(partition: string, position: string, events = 1): PartitionCheckpoint {
  const detector = new AnomalyDetector();
  const processor = new PartitionProcessor({
    maxOutOfOrdernessMs: 30_000,
    pricer: new Pricer(new Map()),
    detector,
    output: { raw: () => undefined, deadLetter: () => undefined, windowClosed: () => undefined },
  });
  for (let i = 0; i < events; i++) {
    const text = JSON.stringify(invocationEvent({ event_id: `${partition}-${i}` }));
    processor.process({ format: 'json', text }, i, RECEIVED_AT);
  }
  return {
    version: 1,
    partition,
    position,
    nextOrdinal: events,
    processor: processor.snapshot(),
    detector: detector.snapshot(),
    takenAt: RECEIVED_AT,
  };
}

const opened: CheckpointStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

const tempDir = () => mkdtemp(join(tmpdir(), 'checkpoints-'));
function open(dir: string): CheckpointStore {
  const store = CheckpointStore.open(dir);
  opened.push(store);
  return store;
}
async function reopen(store: CheckpointStore, dir: string): Promise<CheckpointStore> {
  opened.splice(opened.indexOf(store), 1);
  await store.close();
  return open(dir);
}
/** The store keeps JSON: a checkpoint as it comes back (an empty distribution's ±Infinity as null). */
const asStored = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const positions = (checkpoints: Map<string, PartitionCheckpoint>) =>
  Object.fromEntries([...checkpoints].map(([partition, c]) => [partition, c.position]));

describe('CheckpointStore', () => {
  test('nothing saved: no checkpoints', async () => {
    expect((await open(await tempDir()).load('log')).size).toBe(0);
  });

  test('save then load gives back every partition of the source, whole', async () => {
    const store = open(await tempDir());
    const a = checkpoint('shard-1', 'seq-10', 3);
    const b = checkpoint('shard-2', 'seq-20', 2);
    await store.save('kinesis:events', [a, b]);
    const loaded = await store.load('kinesis:events');
    expect([...loaded.keys()].sort()).toEqual(['shard-1', 'shard-2']);
    expect(loaded.get('shard-1')).toEqual(asStored(a));
    expect(loaded.get('shard-2')).toEqual(asStored(b));
    expect(loaded.get('shard-1')?.processor.counters.accepted).toBe(3);
  });

  test('a later save replaces the partitions it holds and keeps the others', async () => {
    const store = open(await tempDir());
    await store.save('src', [checkpoint('p0', '1'), checkpoint('p1', '1')]);
    await store.save('src', [checkpoint('p1', '2')]);
    expect(positions(await store.load('src'))).toEqual({ p0: '1', p1: '2' });
  });

  test("sources do not see each other's checkpoints, even when one name starts with the other", async () => {
    const store = open(await tempDir());
    await store.save('log', [checkpoint('log', '5')]);
    await store.save('log2', [checkpoint('log', '7')]);
    await store.save('lo', [checkpoint('g', '9')]);
    expect(positions(await store.load('log'))).toEqual({ log: '5' });
    expect(positions(await store.load('log2'))).toEqual({ log: '7' });
    expect(positions(await store.load('lo'))).toEqual({ g: '9' });
    expect((await store.load('l')).size).toBe(0);
  });

  test('a save is durable: reopening shows every partition of it', async () => {
    const dir = await tempDir();
    const store = open(dir);
    const saved = ['a', 'b', 'c'].map((partition, i) => checkpoint(partition, String(i * 10), i + 1));
    await store.save('src', saved);
    const reopened = await reopen(store, dir);
    expect([...(await reopened.load('src')).values()]).toEqual(asStored(saved));
  });

  test('a save is all or nothing: a checkpoint that cannot be encoded leaves the previous ones', async () => {
    const dir = await tempDir();
    const store = open(dir);
    await store.save('src', [checkpoint('a', '1'), checkpoint('b', '1'), checkpoint('c', '1')]);
    // JSON cannot encode a BigInt: the second of three puts throws.
    const broken = { ...checkpoint('b', '2'), takenAt: 10n } as unknown as PartitionCheckpoint;
    await expect(store.save('src', [checkpoint('a', '2'), broken, checkpoint('c', '2')])).rejects.toThrow(
      /BigInt/,
    );
    expect(positions(await store.load('src'))).toEqual({ a: '1', b: '1', c: '1' });
    // The store goes on working, and the failed save left nothing behind to surface later.
    await store.save('src', [checkpoint('a', '3')]);
    const reopened = await reopen(store, dir);
    expect(positions(await reopened.load('src'))).toEqual({ a: '3', b: '1', c: '1' });
  });

  test('storeId: random per store, stable across reopening', async () => {
    const dir = await tempDir();
    const first = open(dir);
    const other = open(await tempDir());
    expect(first.storeId).toMatch(/^[0-9a-f]{8}$/);
    expect(other.storeId).not.toBe(first.storeId);
    const id = first.storeId;
    expect((await reopen(first, dir)).storeId).toBe(id);
  });

  test('a checkpoint of an unsupported version is rejected, naming it, not retriable', async () => {
    const store = open(await tempDir());
    const future = { ...checkpoint('p', '1'), version: 2 } as unknown as PartitionCheckpoint;
    await store.save('src', [future]);
    await expect(store.load('src')).rejects.toThrow(
      'checkpoint src/p has unsupported version 2 (not retriable)',
    );
  });
});

describe('CheckpointStore partition ownership', () => {
  const TIMEOUT = 30_000;

  test('claim: free, or already ours; another live owner keeps it; release or silence frees it', async () => {
    const store = open(await tempDir());
    expect(await store.claim('kafka:t', 't.0', 'a', 1_000, TIMEOUT)).toBe(true);
    expect(await store.claim('kafka:t', 't.0', 'a', 2_000, TIMEOUT)).toBe(true);
    expect(await store.claim('kafka:t', 't.0', 'b', 2_000, TIMEOUT)).toBe(false);
    // Other partitions and other sources are not affected.
    expect(await store.claim('kafka:t', 't.1', 'b', 2_000, TIMEOUT)).toBe(true);
    expect(await store.claim('kafka:u', 't.0', 'b', 2_000, TIMEOUT)).toBe(true);
    // Silence up to the timeout still holds it; past it, another instance may take it.
    expect(await store.claim('kafka:t', 't.0', 'b', 2_000 + TIMEOUT, TIMEOUT)).toBe(false);
    expect(await store.claim('kafka:t', 't.0', 'b', 2_001 + TIMEOUT, TIMEOUT)).toBe(true);
    // A release lets the next claim through at once; only the owner can release.
    await store.release('kafka:t', 't.1', 'a');
    expect(await store.claim('kafka:t', 't.1', 'a', 10_000, TIMEOUT)).toBe(false);
    await store.release('kafka:t', 't.1', 'b');
    expect(await store.claim('kafka:t', 't.1', 'a', 10_000, TIMEOUT)).toBe(true);
  });

  test('heartbeat renews what the instance owns and names what it lost', async () => {
    const dir = await tempDir();
    const store = open(dir);
    await store.claim('kafka:t', 't.0', 'a', 0, TIMEOUT);
    await store.claim('kafka:t', 't.1', 'a', 0, TIMEOUT);
    expect(await store.heartbeat('kafka:t', ['t.0', 't.1'], 'a', 25_000)).toEqual([]);
    // Renewed at 25 s: still held at 50 s.
    expect(await store.claim('kafka:t', 't.0', 'b', 50_000, TIMEOUT)).toBe(false);
    expect(await store.claim('kafka:t', 't.1', 'b', 60_000, TIMEOUT)).toBe(true);
    await store.release('kafka:t', 't.0', 'a');
    const reopened = await reopen(store, dir);
    expect(await reopened.heartbeat('kafka:t', ['t.0', 't.1', 't.2'], 'a', 61_000)).toEqual([
      't.0',
      't.1',
      't.2',
    ]);
  });

  test('get reads one partition as committed', async () => {
    const store = open(await tempDir());
    expect(await store.get('kafka:t', 't.0')).toBeUndefined();
    await store.save('kafka:t', [checkpoint('t.0', '17')]);
    expect((await store.get('kafka:t', 't.0'))?.position).toBe('17');
    expect(await store.get('kafka:u', 't.0')).toBeUndefined();
  });
});
