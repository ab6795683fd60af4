import { beforeEach, describe, expect, it } from 'vitest';
import {
  LeaseCoordinator,
  type LeaseCoordinatorOptions,
  type LeaseTableApi,
  type ShardDescription,
} from '../../src/leases/lease-coordinator.js';
import {
  LEASE_CHECKPOINT_SHARD_END,
  LEASE_CHECKPOINT_TRIM_HORIZON,
  type LeaseTable,
} from '../../src/leases/lease-table.js';
import { useLeaseTables } from '../support/dynalite.js';

// Divisible by 3 (renewals run three times per failover period), so the fake clock stays on whole ms.
const FAILOVER_MS = 9_000;

const { freshTable } = useLeaseTables('coordinator');

/** The time every coordinator of a test sees: moved by the test, never by waiting. */
let now: number;
beforeEach(() => {
  now = 1_700_000_000_000;
});

function shard(index: number, parentShardIds: string[] = []): ShardDescription {
  return {
    shardId: `shardId-${String(index).padStart(12, '0')}`,
    parentShardIds,
    hashKeyRange: { start: String(index * 1000), end: String(index * 1000 + 999) },
  };
}

const shards = (count: number) => Array.from({ length: count }, (_, index) => shard(index));

/** A deterministic random source per worker (the planner's shuffles). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

function coordinator(
  table: LeaseTableApi,
  worker: string,
  listed: ShardDescription[] | (() => ShardDescription[]),
  options: Partial<LeaseCoordinatorOptions> = {},
): LeaseCoordinator {
  return new LeaseCoordinator({
    table,
    worker,
    listShards: async () => (typeof listed === 'function' ? listed() : listed),
    failoverMs: FAILOVER_MS,
    clock: () => now,
    random: seeded(worker.length * 7919 + worker.charCodeAt(worker.length - 1)),
    ...options,
  });
}

/** worker-a takes the listed shards' leases, then worker-b's first take round finds them held. */
async function aThenB(table: LeaseTableApi, listed: ShardDescription[]) {
  const a = coordinator(table, 'worker-a', listed);
  await a.runTakeRound();
  const b = coordinator(table, 'worker-b', listed);
  await b.runTakeRound();
  return { a, b };
}

/** As aThenB, then a stays silent for the failover time and b takes its leases over. */
async function bTookOverFromA(table: LeaseTableApi, listed: ShardDescription[]) {
  const { a, b } = await aThenB(table, listed);
  now += FAILOVER_MS;
  await b.runTakeRound();
  return { a, b };
}

/**
 * worker-a takes both leases of two shards and opens them; worker-b, holding none, asks for one, and a's
 * renewal sees the request. `shardId`: the lease being handed over, still held by a.
 */
async function handoffRequested(table: LeaseTable, tableOfA: LeaseTableApi = table) {
  const listed = shards(2);
  const a = coordinator(tableOfA, 'worker-a', listed);
  await a.runTakeRound();
  for (const s of listed) expect(a.claim(s.shardId)).toBe(true);
  const b = coordinator(table, 'worker-b', listed);
  await b.runTakeRound();
  await a.runRenewRound();
  const requested = (await table.list()).find((lease) => lease.pendingOwner === 'worker-b');
  return { a, b, shardId: requested?.shardId as string };
}

/** `real` with some of its methods replaced: a table that fails, stalls or waits on cue. */
function replacing(real: LeaseTable, methods: Partial<LeaseTableApi>): LeaseTableApi {
  return Object.assign(Object.create(real) as LeaseTable, methods);
}

/** The table's answer to who holds what: shard id → owner (undefined when free). */
async function owners(table: LeaseTable): Promise<Map<string, string | undefined>> {
  return new Map((await table.list()).map((lease) => [lease.shardId, lease.owner]));
}

const sortedKeys = (map: ReadonlyMap<string, unknown>) => [...map.keys()].sort();

/**
 * One instance as the pipeline drives its coordinator: a round of taking and one of renewing, then
 * the shards assigned are opened (claimed) and those no longer assigned are let go after their last
 * checkpoint (released).
 */
class SimulatedInstance {
  readonly open = new Set<string>();
  constructor(
    readonly worker: string,
    readonly coordinator: LeaseCoordinator,
  ) {}

  async round(): Promise<void> {
    await this.coordinator.runTakeRound();
    await this.coordinator.runRenewRound();
    const assigned = this.coordinator.assigned();
    for (const shardId of [...this.open]) {
      if (assigned.has(shardId)) continue;
      this.open.delete(shardId);
      await this.coordinator.release(shardId);
    }
    for (const shardId of assigned.keys()) {
      if (!this.open.has(shardId) && this.coordinator.claim(shardId)) this.open.add(shardId);
    }
  }
}

/** No shard is ever held (trusted) by two instances at once. */
function expectSingleHolders(instances: readonly SimulatedInstance[], shardIds: readonly string[]): void {
  for (const shardId of shardIds) {
    const holders = instances.filter((instance) => instance.coordinator.holds(shardId));
    expect(holders.length, `holders of ${shardId}`).toBeLessThanOrEqual(1);
  }
}

describe('LeaseCoordinator taking and balancing', () => {
  it('creates the leases of the listed shards and, alone, takes them all', async () => {
    const table = await freshTable();
    const listed = shards(4);
    const a = coordinator(table, 'worker-a', listed);
    await a.runTakeRound();

    expect(a.assigned()).toEqual(new Map(listed.map((s) => [s.shardId, undefined])));
    expect([...(await owners(table)).values()]).toEqual(Array(4).fill('worker-a'));
    expect(a.stats()).toEqual({
      leasesHeld: 4,
      takeovers: 0,
      handoffsRequested: 0,
      handedOver: 0,
      lost: 0,
      workers: 1,
    });
    const lease = await table.get(listed[2]?.shardId as string);
    expect(lease).toMatchObject({
      checkpoint: LEASE_CHECKPOINT_TRIM_HORIZON,
      parentShardIds: [],
      hashKeyRange: { start: '2000', end: '2999' },
    });
  });

  it('scans the table once a round, twice only when the round created or deleted leases', async () => {
    const real = await freshTable();
    let scans = 0;
    const counted = replacing(real, {
      list: () => {
        scans++;
        return real.list();
      },
    });
    const a = coordinator(counted, 'worker-a', shards(2));
    await a.runTakeRound();
    expect(scans).toBe(2);
    await a.runTakeRound();
    expect(scans).toBe(3);
  });

  it('start() ensures the table, takes a first share, and stop() releases every lease held', async () => {
    const table = await freshTable();
    // Timers far beyond the test: the rounds here are the ones start() and the test run.
    const a = coordinator(table, 'worker-a', shards(3), { failoverMs: 3_600_000 });
    await a.start();
    expect(a.stats().leasesHeld).toBe(3);
    await a.stop();
    expect(a.stats().leasesHeld).toBe(0);
    expect([...(await owners(table)).values()]).toEqual([undefined, undefined, undefined]);
    // Released, not expired: another instance takes them at once, with no failover wait.
    const b = coordinator(table, 'worker-b', shards(3), { failoverMs: 3_600_000 });
    await b.runTakeRound();
    expect(b.stats()).toMatchObject({ leasesHeld: 3, takeovers: 0 });
    // A round after stop() takes nothing.
    await a.runTakeRound();
    expect(a.stats().leasesHeld).toBe(0);
    await b.stop();
  });

  it.each([
    [2, 4],
    [3, 6],
    [3, 7],
  ])(
    '%i instances converge to balanced shares of %i leases through handoff requests',
    async (count, leaseCount) => {
      const table = await freshTable();
      const listed = shards(leaseCount);
      const ids = listed.map((s) => s.shardId);
      const instances = Array.from(
        { length: count },
        (_, index) => new SimulatedInstance(`worker-${index}`, coordinator(table, `worker-${index}`, listed)),
      );
      const [first] = instances as [SimulatedInstance];
      await first.round();
      expect(first.open.size).toBe(leaseCount);

      for (let round = 0; round < 12; round++) {
        for (const instance of instances) {
          await instance.round();
          expectSingleHolders(instances, ids);
        }
      }
      const shares = instances.map((instance) => instance.coordinator.assigned().size).sort();
      const target = Math.ceil(leaseCount / count);
      expect(shares.reduce((sum, share) => sum + share, 0)).toBe(leaseCount);
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      expect(Math.max(...shares)).toBe(target);
      // Every lease is in the table under the instance reading it.
      const tableOwners = await owners(table);
      for (const instance of instances) {
        for (const shardId of instance.open) expect(tableOwners.get(shardId)).toBe(instance.worker);
      }

      // Balanced is stable: more rounds move nothing.
      const before = instances.map((instance) => sortedKeys(instance.coordinator.assigned()));
      for (let round = 0; round < 3; round++) for (const instance of instances) await instance.round();
      expect(instances.map((instance) => sortedKeys(instance.coordinator.assigned()))).toEqual(before);

      const stats = instances.map((instance) => instance.coordinator.stats());
      const total = (name: keyof (typeof stats)[number]) => stats.reduce((sum, s) => sum + s[name], 0);
      expect(total('handedOver')).toBeGreaterThan(0);
      expect(total('handedOver')).toBe(total('handoffsRequested'));
      expect([total('takeovers'), total('lost')]).toEqual([0, 0]);
      expect(stats.map((s) => s.workers)).toEqual(Array(count).fill(count));
    },
  );

  it('a requested lease the pipeline has not opened yet is released by the renew round itself', async () => {
    const table = await freshTable();
    const { a, b } = await aThenB(table, shards(2));
    // b has nothing and asked a for one of its two; a still holds both until it renews.
    expect(b.stats()).toMatchObject({ leasesHeld: 0, handoffsRequested: 1 });
    const requested = (await table.list()).find((lease) => lease.pendingOwner === 'worker-b');
    expect(requested?.owner).toBe('worker-a');

    await a.runRenewRound();
    expect(a.stats()).toMatchObject({ leasesHeld: 1, handedOver: 1 });
    expect(a.holds(requested?.shardId as string)).toBe(false);
    expect((await table.get(requested?.shardId as string))?.owner).toBeUndefined();
    await b.runTakeRound();
    expect(sortedKeys(b.assigned())).toEqual([requested?.shardId]);
  });

  it('a requested lease the pipeline opened stays held until the pipeline releases it, unassigned meanwhile', async () => {
    const { a, b, shardId } = await handoffRequested(await freshTable());

    // Being handed over: not read any more, not claimable, but still held for its last checkpoint.
    expect(a.assigned().has(shardId)).toBe(false);
    expect(a.claim(shardId)).toBe(false);
    expect(a.holds(shardId)).toBe(true);
    expect(await a.checkpoint(shardId, '42', 'state/42')).toBe(true);
    await b.runTakeRound();
    expect(b.stats().leasesHeld).toBe(0);

    await a.release(shardId);
    expect(a.stats()).toMatchObject({ leasesHeld: 1, handedOver: 1 });
    await b.runTakeRound();
    // b goes on from a's last checkpoint.
    expect(b.assigned()).toEqual(new Map([[shardId, '42']]));
    expect(b.lease(shardId)?.stateKey).toBe('state/42');
  });
});

describe('LeaseCoordinator failover', () => {
  it('takes a silent worker’s leases only after failoverMs of an unchanged counter, as observed', async () => {
    const table = await freshTable();
    const listed = shards(2);
    // worker-a takes them and is not heard from again.
    const { b } = await aThenB(table, listed);
    expect(b.stats().leasesHeld).toBe(0);

    now += FAILOVER_MS - 1;
    await b.runTakeRound();
    expect(b.stats()).toMatchObject({ leasesHeld: 0, takeovers: 0 });

    now += 1;
    await b.runTakeRound();
    expect(sortedKeys(b.assigned())).toEqual(listed.map((s) => s.shardId));
    expect(b.stats()).toMatchObject({ leasesHeld: 2, takeovers: 2 });
    expect([...(await owners(table)).values()]).toEqual(['worker-b', 'worker-b']);
  });

  it('counts the failover time from the last renewal it saw: a live owner keeps its leases', async () => {
    const table = await freshTable();
    const listed = shards(1);
    const { a, b } = await aThenB(table, listed);
    for (let beat = 0; beat < 6; beat++) {
      now += FAILOVER_MS / 2;
      await a.runRenewRound();
      await b.runTakeRound();
    }
    expect(a.holds(listed[0]?.shardId as string)).toBe(true);
    expect(b.stats()).toMatchObject({ leasesHeld: 0, takeovers: 0 });
  });

  it('a worker whose renewals fail stops trusting its lease before another may take it', async () => {
    const real = await freshTable();
    let renewalsFail = false;
    const flaky = replacing(real, {
      renew: (...args) => (renewalsFail ? Promise.reject(new Error('socket hang up')) : real.renew(...args)),
    });
    const shardId = shard(0).shardId;
    const logged: string[] = [];
    const a = coordinator(flaky, 'worker-a', [shard(0)], { log: (line) => logged.push(line) });
    await a.runTakeRound();
    expect(a.claim(shardId)).toBe(true);
    now += FAILOVER_MS / 3;
    await a.runRenewRound();
    const lastRenewal = now;
    // b first sees the lease right after a's last successful renewal.
    const b = coordinator(real, 'worker-b', [shard(0)]);
    await b.runTakeRound();

    renewalsFail = true;
    for (const step of [FAILOVER_MS / 3, FAILOVER_MS / 3, FAILOVER_MS / 3 - 1]) {
      now += step;
      await a.runRenewRound();
      await b.runTakeRound();
      expect(now - lastRenewal).toBeLessThan(FAILOVER_MS);
      // Still trusted here, and b may not take it yet.
      expect(a.holds(shardId)).toBe(true);
      expect(b.holds(shardId)).toBe(false);
    }
    expect(logged.some((line) => line.includes('renewal failed: socket hang up'))).toBe(true);

    now += 1;
    // a stops trusting it at the very moment b may take it, not later.
    expect(a.holds(shardId)).toBe(false);
    expect(a.assigned().size).toBe(0);
    expect(a.claim(shardId)).toBe(false);
    await b.runTakeRound();
    expect(b.holds(shardId)).toBe(true);
    expect(b.stats().takeovers).toBe(1);
  });

  it('trusts a renewal from when it was sent, not from when its slow answer came back', async () => {
    const real = await freshTable();
    const shardId = shard(0).shardId;
    const b = coordinator(real, 'worker-b', [shard(0)]);
    let slowRenewal = false;
    const slow = replacing(real, {
      renew: async (...args) => {
        const renewed = await real.renew(...args);
        if (slowRenewal) {
          // The write landed and b saw it at once; the answer reaches a much later.
          await b.runTakeRound();
          now += FAILOVER_MS / 2;
        }
        return renewed;
      },
    });
    const a = coordinator(slow, 'worker-a', [shard(0)]);
    await a.runTakeRound();
    slowRenewal = true;
    const sentAt = now;
    await a.runRenewRound();
    slowRenewal = false;

    now = sentAt + FAILOVER_MS - 1;
    await b.runTakeRound();
    expect([a.holds(shardId), b.holds(shardId)]).toEqual([true, false]);
    now = sentAt + FAILOVER_MS;
    expect(a.holds(shardId)).toBe(false);
    await b.runTakeRound();
    expect(b.holds(shardId)).toBe(true);
  });

  it('an owner that finds its lease taken drops it: at its renewal, and at its next take round', async () => {
    const table = await freshTable();
    const listed = shards(2);
    const { a, b } = await bTookOverFromA(table, listed);
    expect(b.stats().leasesHeld).toBe(2);

    // a was paused (no renewal) past the failover time; its clock does not tell it anything else.
    const [first, second] = listed.map((s) => s.shardId) as [string, string];
    await a.runRenewRound();
    expect(a.holds(first)).toBe(false);
    expect(a.holds(second)).toBe(false);
    expect(a.stats()).toMatchObject({ leasesHeld: 0, lost: 2 });
    // Nothing of a's reached the table after b took over.
    expect([...(await owners(table)).values()]).toEqual(['worker-b', 'worker-b']);
  });

  it('loses a lease at its take round when the table shows another owner', async () => {
    const table = await freshTable();
    const { a, b } = await bTookOverFromA(table, shards(1));
    await a.runTakeRound();
    expect(a.stats()).toMatchObject({ leasesHeld: 0, lost: 1 });
    expect(a.holds(shard(0).shardId)).toBe(false);
    expect(b.holds(shard(0).shardId)).toBe(true);
  });
});

describe('LeaseCoordinator checkpoints', () => {
  it('records a checkpoint conditionally: true while held, false (and the lease dropped) once lost', async () => {
    const table = await freshTable();
    const shardId = shard(0).shardId;
    const a = coordinator(table, 'worker-a', [shard(0)]);
    await a.runTakeRound();
    expect(await a.checkpoint(shardId, '1001', 'state/1001')).toBe(true);
    expect(a.lease(shardId)).toMatchObject({ checkpoint: '1001', stateKey: 'state/1001', owner: 'worker-a' });
    expect(await table.get(shardId)).toMatchObject({ checkpoint: '1001', stateKey: 'state/1001' });
    expect(a.assigned()).toEqual(new Map([[shardId, '1001']]));

    const b = coordinator(table, 'worker-b', [shard(0)]);
    await b.runTakeRound();
    now += FAILOVER_MS;
    await b.runTakeRound();
    expect(await a.checkpoint(shardId, '2002', 'state/2002')).toBe(false);
    expect(await table.get(shardId)).toMatchObject({
      owner: 'worker-b',
      checkpoint: '1001',
      stateKey: 'state/1001',
    });
    expect(a.stats()).toMatchObject({ leasesHeld: 0, lost: 1 });
    expect(await a.checkpoint(shardId, '3003', 'state/3003')).toBe(false);
    expect(a.stats().lost).toBe(1);
    // b goes on from the last checkpoint a committed.
    expect(b.assigned()).toEqual(new Map([[shardId, '1001']]));
  });

  it('takes a child shard’s lease only once its parents are checkpointed at SHARD_END', async () => {
    const table = await freshTable();
    const parent = shard(0);
    const children = [shard(1, [parent.shardId]), shard(2, [parent.shardId])];
    let listed = [parent, ...children];
    const deleted: (string | undefined)[] = [];
    const a = coordinator(table, 'worker-a', () => listed, {
      onLeaseDeleted: async (lease) => {
        deleted.push(lease.stateKey);
      },
    });
    const b = coordinator(table, 'worker-b', () => listed);
    await a.runTakeRound();
    await b.runTakeRound();
    expect(sortedKeys(a.assigned())).toEqual([parent.shardId]);
    expect(b.stats().leasesHeld).toBe(0);

    expect(await a.checkpoint(parent.shardId, '777', 'state/777')).toBe(true);
    await a.runTakeRound();
    await b.runTakeRound();
    expect(sortedKeys(a.assigned())).toEqual([parent.shardId]);
    expect(b.stats().leasesHeld).toBe(0);

    expect(await a.checkpoint(parent.shardId, LEASE_CHECKPOINT_SHARD_END, 'state/final')).toBe(true);
    await a.release(parent.shardId);
    await b.runTakeRound();
    await a.runTakeRound();
    const taken = [...sortedKeys(a.assigned()), ...sortedKeys(b.assigned())].sort();
    expect(taken).toEqual(children.map((c) => c.shardId));
    expect((await table.get(parent.shardId))?.owner).toBeUndefined();

    // Once the stream no longer lists the ended parent, its lease goes (and with it its final state);
    // the children's stay.
    expect(deleted).toEqual([]);
    listed = children;
    await a.runTakeRound();
    expect((await table.list()).map((lease) => lease.shardId).sort()).toEqual(children.map((c) => c.shardId));
    expect(deleted).toEqual(['state/final']);
  });

  it('stop() waits for a take under way, then releases what it took; no take starts after it', async () => {
    const real = await freshTable();
    let takeStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      takeStarted = resolve;
    });
    let letTakeGo: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      letTakeGo = resolve;
    });
    const gated = replacing(real, {
      take: async (...args) => {
        takeStarted();
        await gate;
        return real.take(...args);
      },
    });
    const a = coordinator(gated, 'worker-a', shards(3));
    const round = a.runTakeRound();
    await started;
    const stopping = a.stop();
    letTakeGo();
    await stopping;
    await round;
    expect(a.stats().leasesHeld).toBe(0);
    expect([...(await owners(real)).values()]).toEqual([undefined, undefined, undefined]);
    // The take under way went through (and was released), the other two were never tried.
    expect((await real.list()).map((lease) => lease.counter).sort()).toEqual([0, 0, 2]);
  });
});

describe('LeaseCoordinator races', () => {
  /** Holds every caller of `take` until `parties` of them are waiting: both have seen the lease free. */
  function takeBarrier(real: LeaseTable, parties: number): LeaseTableApi {
    let waiting = 0;
    let open: () => void = () => undefined;
    const all = new Promise<void>((resolve) => {
      open = resolve;
    });
    return replacing(real, {
      take: async (...args) => {
        waiting += 1;
        if (waiting === parties) open();
        await all;
        return real.take(...args);
      },
    });
  }

  // A take round listing while a release is in flight sees the lease still ours in the table: it must
  // not take it back as left over by an earlier run (that would undo the handoff).
  it('a take round while a handed-over lease is being released does not take it back', async () => {
    const real = await freshTable();
    let releaseArrives: Promise<void> = Promise.resolve();
    const slowRelease = replacing(real, {
      release: async (...args) => {
        await releaseArrives;
        return real.release(...args);
      },
    });
    const { a, b, shardId } = await handoffRequested(real, slowRelease);
    expect(a.assigned().has(shardId)).toBe(false);

    // The pipeline hands it over; a's take timer fires while that release is on its way.
    let arrive: () => void = () => undefined;
    releaseArrives = new Promise((resolve) => {
      arrive = resolve;
    });
    const releasing = a.release(shardId);
    await a.runTakeRound();
    arrive();
    await releasing;

    expect(a.holds(shardId)).toBe(false);
    expect((await real.get(shardId))?.owner).toBeUndefined();
    await b.runTakeRound();
    expect(b.holds(shardId)).toBe(true);
  });

  it('two coordinators racing for the same free lease: exactly one holds it', async () => {
    const real = await freshTable();
    const table = takeBarrier(real, 2);
    const listed = shards(1);
    const a = coordinator(table, 'worker-a', listed);
    const b = coordinator(table, 'worker-b', listed);
    await Promise.all([a.runTakeRound(), b.runTakeRound()]);

    const shardId = listed[0]?.shardId as string;
    const holders = [a, b].filter((c) => c.holds(shardId));
    expect(holders).toHaveLength(1);
    const owner = (await real.get(shardId))?.owner;
    expect(owner).toBe(holders[0] === a ? 'worker-a' : 'worker-b');
    expect(a.stats().leasesHeld + b.stats().leasesHeld).toBe(1);
    // The loser neither counts it lost nor takes it over later while the winner renews.
    const loser = holders[0] === a ? b : a;
    expect(loser.stats().lost).toBe(0);
    now += FAILOVER_MS / 2;
    await holders[0]?.runRenewRound();
    now += FAILOVER_MS / 2;
    await loser.runTakeRound();
    expect(loser.holds(shardId)).toBe(false);
  });
});
