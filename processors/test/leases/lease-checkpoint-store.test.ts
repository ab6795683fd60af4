import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { LocalLakeStore } from '@genai-pipeline/sinks';
import { describe, expect, it } from 'vitest';
import { LeaseCheckpointStore } from '../../src/leases/lease-checkpoint-store.js';
import { LeaseCoordinator, type ShardDescription } from '../../src/leases/lease-coordinator.js';
import { LEASE_CHECKPOINT_SHARD_END, type LeaseTable } from '../../src/leases/lease-table.js';
import type { PartitionCheckpoint, PartitionCheckpointStore } from '../../src/run/checkpoint-store.js';
import { useLeaseTables } from '../support/dynalite.js';

const FAILOVER_MS = 9_000;
const SHARD: ShardDescription = {
  shardId: 'shardId-000000000000',
  parentShardIds: [],
  hashKeyRange: { start: '0', end: '340282366920938463463374607431768211455' },
};
const SOURCE = 'kinesis:events';

const { freshTable } = useLeaseTables('checkpoint-store');

/** One instance: its coordinator (on its own fake clock) and its checkpoint store over the shared state. */
function instance(table: LeaseTable, state: LocalLakeStore, worker: string) {
  const clock = { now: 1_700_000_000_000 };
  const coordinator = new LeaseCoordinator({
    table,
    worker,
    listShards: async () => [SHARD],
    failoverMs: FAILOVER_MS,
    clock: () => clock.now,
  });
  const logged: string[] = [];
  const store = new LeaseCheckpointStore({ coordinator, table, state, log: (line) => logged.push(line) });
  return { coordinator, store, clock, logged };
}

async function stateDir(): Promise<LocalLakeStore> {
  return new LocalLakeStore(await mkdtemp(join(tmpdir(), 'shard-state-')));
}

/** A fresh lease table and state store, and worker-a on them (its lease not taken yet). */
async function freshWorkerA() {
  const table = await freshTable();
  const state = await stateDir();
  return { table, state, a: instance(table, state, 'worker-a') };
}

async function filesIn(state: LocalLakeStore): Promise<string[]> {
  const files: string[] = [];
  for await (const file of state.list(SHARD.shardId)) files.push(file);
  return files.sort();
}

function checkpoint(position: string, nextOrdinal: number, ended = false): PartitionCheckpoint {
  return {
    version: 1,
    partition: SHARD.shardId,
    position,
    nextOrdinal,
    processor: {
      version: 1,
      counters: { events: nextOrdinal, accepted: nextOrdinal - 1, duplicates: 1, late: 0, invalid: 0 },
      maxAcceptedEventTime: 1_750_000_123_456,
      closedThrough: null,
      dedupe: { ids: [['évent|1', 1_750_000_000_000]], forgottenEarly: 0 },
      openWindows: [],
    },
    detector: { version: 1, evictedKeys: 2, keys: [] },
    takenAt: 1_750_000_200_000,
    ...(ended ? { ended: true as const } : {}),
  };
}

describe('LeaseCheckpointStore.save', () => {
  it('writes the state, then records its name and the position in the lease', async () => {
    const { table, state, a } = await freshWorkerA();
    await a.coordinator.runTakeRound();
    // The lease may only name a state file that is already there.
    const leaseCheckpoint = a.coordinator.checkpoint.bind(a.coordinator);
    const seenAtCommit: (Uint8Array | undefined)[] = [];
    a.coordinator.checkpoint = async (shardId, position, stateKey) => {
      seenAtCommit.push(await state.get(stateKey));
      return leaseCheckpoint(shardId, position, stateKey);
    };

    const saved = checkpoint('4959033827149025660855969253836157', 17);
    expect(await a.store.save(SOURCE, [saved])).toEqual([]);

    const lease = await table.get(SHARD.shardId);
    expect(lease).toMatchObject({ owner: 'worker-a', checkpoint: '4959033827149025660855969253836157' });
    expect(lease?.stateKey).toMatch(/^shardId-000000000000\/0000000000000017-[0-9a-f]{8}\.json\.gz$/);
    expect(await filesIn(state)).toEqual([lease?.stateKey]);
    expect(seenAtCommit).toHaveLength(1);
    expect(seenAtCommit[0]).toBeDefined();
    // The file is gzipped JSON of exactly the checkpoint.
    const bytes = (await state.get(lease?.stateKey as string)) as Uint8Array;
    expect(JSON.parse(gunzipSync(bytes).toString('utf8'))).toEqual(saved);
  });

  it('removes the previous state file once the lease names the new one', async () => {
    const { table, state, a } = await freshWorkerA();
    await a.coordinator.runTakeRound();
    await a.store.save(SOURCE, [checkpoint('100', 3)]);
    const first = (await table.get(SHARD.shardId))?.stateKey;
    await a.store.save(SOURCE, [checkpoint('200', 9)]);
    const second = (await table.get(SHARD.shardId))?.stateKey;
    expect(second).not.toBe(first);
    expect(await filesIn(state)).toEqual([second]);
    // Saving the same position again still makes a new file and drops the old one.
    await a.store.save(SOURCE, [checkpoint('200', 9)]);
    expect(await filesIn(state)).toEqual([(await table.get(SHARD.shardId))?.stateKey]);
  });

  it('writes nothing for a lease never held here and reports it', async () => {
    const { state, a } = await freshWorkerA();
    expect(await a.store.save(SOURCE, [checkpoint('100', 3)])).toEqual([SHARD.shardId]);
    expect(await filesIn(state)).toEqual([]);
    expect(a.store.holds(SHARD.shardId)).toBe(false);
  });

  it('writes nothing once its renewals are too old to trust the lease, though nobody took it yet', async () => {
    const { table, state, a } = await freshWorkerA();
    await a.coordinator.runTakeRound();
    await a.store.save(SOURCE, [checkpoint('100', 3)]);
    const committed = await table.get(SHARD.shardId);
    a.clock.now += FAILOVER_MS;
    expect(await a.store.save(SOURCE, [checkpoint('200', 9)])).toEqual([SHARD.shardId]);
    expect(await filesIn(state)).toEqual([committed?.stateKey]);
    expect(await table.get(SHARD.shardId)).toEqual(committed);
  });

  it('leaves nothing behind for a lease another instance took, and keeps the state that lease names', async () => {
    const { table, state, a } = await freshWorkerA();
    await a.coordinator.runTakeRound();
    await a.store.save(SOURCE, [checkpoint('100', 3)]);
    const committed = (await table.get(SHARD.shardId))?.stateKey as string;

    // b takes the lease over after the failover time on its clock; a, paused, still trusts it on its own.
    const b = instance(table, state, 'worker-b');
    await b.coordinator.runTakeRound();
    b.clock.now += FAILOVER_MS;
    await b.coordinator.runTakeRound();
    expect(b.store.holds(SHARD.shardId)).toBe(true);
    expect(a.store.holds(SHARD.shardId)).toBe(true);

    expect(await a.store.save(SOURCE, [checkpoint('200', 9)])).toEqual([SHARD.shardId]);
    expect(await filesIn(state)).toEqual([committed]);
    expect(await table.get(SHARD.shardId)).toMatchObject({
      owner: 'worker-b',
      checkpoint: '100',
      stateKey: committed,
    });
    expect(a.store.holds(SHARD.shardId)).toBe(false);
    // b resumes from a's last committed state.
    expect(await b.store.get(SOURCE, SHARD.shardId)).toEqual(checkpoint('100', 3));
  });

  it('records an ended checkpoint as SHARD_END in the lease, the state keeping its real position', async () => {
    const { table, a } = await freshWorkerA();
    await a.coordinator.runTakeRound();
    const final = checkpoint('4959033827149025660855969253836999', 40, true);
    expect(await a.store.save(SOURCE, [final])).toEqual([]);
    expect(await table.get(SHARD.shardId)).toMatchObject({ checkpoint: LEASE_CHECKPOINT_SHARD_END });
    expect(await a.store.get(SOURCE, SHARD.shardId)).toEqual(final);
  });

  it('logs, and goes on, when an old state file cannot be removed', async () => {
    const { table, state, a } = await freshWorkerA();
    await a.coordinator.runTakeRound();
    await a.store.save(SOURCE, [checkpoint('100', 3)]);
    const first = (await table.get(SHARD.shardId))?.stateKey as string;
    state.remove = async () => {
      throw new Error('EACCES: permission denied');
    };
    expect(await a.store.save(SOURCE, [checkpoint('200', 9)])).toEqual([]);
    expect((await table.get(SHARD.shardId))?.checkpoint).toBe('200');
    expect((await filesIn(state)).length).toBe(2);
    expect(a.logged).toEqual([expect.stringContaining(`${first} could not be removed`)]);
  });
});

describe('LeaseCheckpointStore.get', () => {
  it('reads back exactly what was saved, from any instance', async () => {
    const { table, state, a } = await freshWorkerA();
    const b = instance(table, state, 'worker-b');
    expect(await b.store.get(SOURCE, SHARD.shardId)).toBeUndefined();
    await a.coordinator.runTakeRound();
    // A lease taken but never checkpointed names no state: the shard starts from nothing.
    expect(await b.store.get(SOURCE, SHARD.shardId)).toBeUndefined();
    const saved = checkpoint('123', 5);
    await a.store.save(SOURCE, [saved]);
    expect(await b.store.get(SOURCE, SHARD.shardId)).toEqual(saved);
  });

  it('fails clearly, not retriable, when the lease names a state file that is missing', async () => {
    const { table, state, a } = await freshWorkerA();
    await a.coordinator.runTakeRound();
    await a.store.save(SOURCE, [checkpoint('123', 5)]);
    const stateKey = (await table.get(SHARD.shardId))?.stateKey as string;
    await state.remove(stateKey);
    await expect(a.store.get(SOURCE, SHARD.shardId)).rejects.toThrow(
      `shard ${SHARD.shardId}: its lease names state ${stateKey}, which ${state.describe()} does not have (not retriable)`,
    );
  });
});

describe('LeaseCheckpointStore.forget', () => {
  it('removes the final state of a lease that was deleted; a lease without state is fine', async () => {
    const { table, state, a } = await freshWorkerA();
    await a.coordinator.runTakeRound();
    await a.store.save(SOURCE, [checkpoint('SHARD_END', 9, true)]);
    const ended = await table.get(SHARD.shardId);
    expect(await filesIn(state)).toHaveLength(1);
    await a.store.forget({ stateKey: ended?.stateKey });
    expect(await filesIn(state)).toEqual([]);
    await a.store.forget({ stateKey: undefined });
  });
});

describe('LeaseCheckpointStore ownership', () => {
  it('resumes nothing at start and answers claims, heartbeats and releases from the coordinator', async () => {
    const { table, a } = await freshWorkerA();
    // As the pipeline calls it: the instance and clock arguments are the coordinator's business here.
    const store: PartitionCheckpointStore = a.store;
    expect(await store.load(SOURCE)).toEqual(new Map());
    expect(await store.claim(SOURCE, SHARD.shardId, 'ignored', 0, 0)).toBe(false);
    await a.coordinator.runTakeRound();
    expect(await store.claim(SOURCE, SHARD.shardId, 'ignored', 0, 0)).toBe(true);
    expect(await store.heartbeat(SOURCE, [SHARD.shardId, 'shardId-000000000009'], 'ignored', 0)).toEqual([
      'shardId-000000000009',
    ]);
    a.clock.now += FAILOVER_MS;
    expect(await store.heartbeat(SOURCE, [SHARD.shardId], 'ignored', 0)).toEqual([SHARD.shardId]);
    a.clock.now -= FAILOVER_MS;
    await store.release(SOURCE, SHARD.shardId, 'ignored');
    expect(store.holds?.(SHARD.shardId)).toBe(false);
    expect((await table.get(SHARD.shardId))?.owner).toBeUndefined();
  });
});
