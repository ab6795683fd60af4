/**
 * Which leases a worker should take, and which one to ask for, given the lease table as it observed
 * it: the KCL's balancing rule. Every worker aims at an equal share (`target`, rounded up) of the
 * leases that may be processed now; it takes free and expired leases up to its share and, when none
 * is left, asks the most loaded worker for one (a graceful steal: the owner hands it over at its next
 * checkpoint, so no record is processed twice). Pure: no I/O, the randomness injectable.
 */

import { LEASE_CHECKPOINT_SHARD_END, type ShardLease } from './lease-table.js';

export interface LeasePlanInput {
  worker: string;
  leases: readonly ShardLease[];
  /**
   * Shard ids whose owner has shown no sign of life (counter unchanged) for the failover time, as this
   * worker observed; also free leases released for another worker that has not taken them in that time.
   */
  expired: ReadonlySet<string>;
  /** Random source for the order in which free leases are tried (avoid two workers racing for the same one). Default Math.random. */
  random?: () => number;
}

export interface LeasePlan {
  /** Leases to take now (free, expired, or released for us), best first. */
  take: ShardLease[];
  /** At most one lease to ask its owner for (graceful steal), when no free lease is left and we hold fewer than our share. */
  requestHandoff: ShardLease | undefined;
  /** The numbers behind the decision, for logs and metrics. */
  target: number;
  held: number;
  workers: number;
}

export function planLeases(input: LeasePlanInput): LeasePlan {
  const { worker, expired } = input;
  const random = input.random ?? Math.random;
  const byShard = new Map(input.leases.map((lease) => [lease.shardId, lease]));
  const eligible = input.leases.filter((lease) => isEligible(lease, byShard));
  const isLive = (lease: ShardLease) => lease.owner !== undefined && !expired.has(lease.shardId);

  const liveByOwner = new Map<string, ShardLease[]>();
  for (const lease of eligible) {
    if (!isLive(lease)) continue;
    const owned = liveByOwner.get(lease.owner as string);
    if (owned) owned.push(lease);
    else liveByOwner.set(lease.owner as string, [lease]);
  }
  // A lease released for another worker waits for it (until it lets the failover time pass).
  const reservedForOther = (lease: ShardLease) =>
    lease.owner === undefined &&
    lease.pendingOwner !== undefined &&
    lease.pendingOwner !== worker &&
    !expired.has(lease.shardId);
  // A worker waiting for a lease it asked for is alive too, though it may hold nothing yet: counting
  // it keeps the others from taking back what they hand over.
  const requesters = eligible
    .filter((lease) => lease.pendingOwner !== undefined && (isLive(lease) || reservedForOther(lease)))
    .map((lease) => lease.pendingOwner as string);
  const workers = new Set([...liveByOwner.keys(), ...requesters, worker]).size;
  const target = Math.ceil(eligible.length / workers);
  const held = liveByOwner.get(worker)?.length ?? 0;
  const plan: LeasePlan = { take: [], requestHandoff: undefined, target, held, workers };
  if (held >= target) return plan;

  const available = eligible.filter((lease) => !isLive(lease) && !reservedForOther(lease));
  const releasedForUs = available.filter((lease) => lease.pendingOwner === worker);
  const others = shuffle(
    available.filter((lease) => lease.pendingOwner !== worker),
    random,
  );
  plan.take = [...releasedForUs, ...others].slice(0, target - held);

  // Leases already asked for on our behalf are on their way: asking for more each round would
  // overshoot the share and make the victims steal back.
  const incoming = eligible.filter((lease) => isLive(lease) && lease.pendingOwner === worker).length;
  const stillNeeded = target - held - plan.take.length - incoming;
  if (stillNeeded > 0 && plan.take.length === available.length) {
    plan.requestHandoff = chooseHandoff(liveByOwner, target, stillNeeded, random);
  }
  return plan;
}

/**
 * A child shard's records follow its parents' for the same keys, so its lease waits until every
 * parent was read to its end (or its lease is gone: the parent shard expired from the stream).
 */
function isEligible(lease: ShardLease, byShard: ReadonlyMap<string, ShardLease>): boolean {
  if (lease.checkpoint === LEASE_CHECKPOINT_SHARD_END) return false;
  return lease.parentShardIds.every((parentId) => {
    const parent = byShard.get(parentId);
    return parent === undefined || parent.checkpoint === LEASE_CHECKPOINT_SHARD_END;
  });
}

/**
 * One lease of the most loaded other worker, if taking it brings the shares closer: always when it
 * holds more than the target; when it holds exactly the target only if we lack more than one, since
 * otherwise the two would just swap places (it would then lack one and ask back). Leases someone
 * already asked for are going elsewhere: they neither count as the owner's load nor can be asked for.
 */
function chooseHandoff(
  liveByOwner: ReadonlyMap<string, readonly ShardLease[]>,
  target: number,
  stillNeeded: number,
  random: () => number,
): ShardLease | undefined {
  let victimLeases: readonly ShardLease[] = [];
  // Ties go to the lowest owner id, so the choice does not depend on the table's scan order. This
  // worker is among the owners but never chosen: it holds fewer than the target, and only an owner
  // holding at least the target is asked.
  for (const owner of [...liveByOwner.keys()].sort()) {
    const staying = (liveByOwner.get(owner) ?? []).filter((lease) => lease.pendingOwner === undefined);
    if (staying.length > victimLeases.length) victimLeases = staying;
  }
  const load = victimLeases.length;
  if (load < target || (load === target && stillNeeded <= 1)) return undefined;
  // A random one, so that two workers short of leases do not ask for the same.
  return shuffle(victimLeases, random)[0];
}

/** The leases in random order: sorted by a random key each. */
function shuffle(leases: readonly ShardLease[], random: () => number): ShardLease[] {
  return leases
    .map((lease) => ({ lease, key: random() }))
    .sort((a, b) => a.key - b.key)
    .map(({ lease }) => lease);
}
