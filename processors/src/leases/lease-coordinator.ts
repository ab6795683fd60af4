import type { ShardAssignment } from '../sources/kinesis-source.js';
import { planLeases } from './lease-planner.js';
import {
  LEASE_CHECKPOINT_SHARD_END,
  LEASE_CHECKPOINT_TRIM_HORIZON,
  type LeaseTable,
  type ShardLease,
} from './lease-table.js';

/** A shard as the stream lists it: what its lease is created with. */
export interface ShardDescription {
  shardId: string;
  parentShardIds: string[];
  hashKeyRange: { start: string; end: string };
}

export type LeaseTableApi = Pick<
  LeaseTable,
  | 'ensureTable'
  | 'list'
  | 'create'
  | 'take'
  | 'renew'
  | 'checkpoint'
  | 'release'
  | 'requestHandoff'
  | 'delete'
>;

export interface LeaseCoordinatorOptions {
  table: LeaseTableApi;
  /** This instance's name in the lease table (unique among the running instances). */
  worker: string;
  /** The stream's shards now (ListShards). */
  listShards: () => Promise<ShardDescription[]>;
  /**
   * A lease whose counter has not moved for this long (as this instance sees it) belongs to a dead
   * instance and may be taken. Leases are renewed three times per period.
   */
  failoverMs: number;
  /** Time between two rounds of taking free and expired leases. Default failoverMs / 2. */
  takeIntervalMs?: number;
  clock?: () => number;
  random?: () => number;
  log?: (line: string) => void;
  /** The lease of an ended shard the stream no longer lists was deleted (its state is not needed any more). */
  onLeaseDeleted?: (lease: ShardLease) => Promise<void>;
}

/** Read-only numbers for /metrics. */
export interface LeaseCoordinatorStats {
  leasesHeld: number;
  /** Leases taken from an instance that had gone silent for the failover time. */
  takeovers: number;
  /** Leases asked of a busier instance (balancing). */
  handoffsRequested: number;
  /** Leases this instance gave to one that asked. */
  handedOver: number;
  /** Leases another instance took while this one held them (renewal found them gone). */
  lost: number;
  /** Instances holding leases, this one included, at the last round. */
  workers: number;
}

interface HeldLease {
  lease: ShardLease;
  /** When the request behind the last successful take, renewal or checkpoint was sent (local clock). */
  confirmedAt: number;
  /** Another instance asked for it: no longer assigned; released after its last checkpoint. */
  handingOver: boolean;
  /** The pipeline opened it (claim); until it lets go, the pipeline releases it, not the coordinator. */
  claimed: boolean;
  /** Being released: still ours in the table until that write lands, but no longer used here. */
  releasing: boolean;
  /** Renewals, checkpoints and the release of one lease run one after another (each needs the last counter). */
  queue: Promise<unknown>;
}

/**
 * Shard leases in DynamoDB, as the KCL keeps them: each instance takes free leases and those whose
 * owner went silent, renews its own, and balances by asking the busiest instance for one of its
 * leases, which that instance hands over after checkpointing it. A child shard's lease is taken only
 * once its parents' leases are checkpointed at SHARD_END.
 *
 * An instance trusts a lease only while its last renewal is younger than the failover time. Others
 * count the failover time from when they saw the counter move, which is after that renewal was sent,
 * so a lease stops being processed here before anyone else may take it.
 */
export class LeaseCoordinator implements ShardAssignment {
  private readonly table: LeaseTableApi;
  private readonly worker: string;
  private readonly failoverMs: number;
  private readonly takeIntervalMs: number;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly log: (line: string) => void;
  private readonly held = new Map<string, HeldLease>();
  /** Each lease's owner and counter as last seen, and since when (local clock): expiry by observation. */
  private readonly observed = new Map<
    string,
    { owner: string | undefined; counter: number; since: number }
  >();
  private readonly counts = { takeovers: 0, handoffsRequested: 0, handedOver: 0, lost: 0, workers: 1 };
  private renewTimer: NodeJS.Timeout | undefined;
  private takeTimer: NodeJS.Timeout | undefined;
  private takeRound: Promise<void> | undefined;
  private renewRound: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: LeaseCoordinatorOptions) {
    if (!(options.failoverMs > 0))
      throw new RangeError(`failoverMs must be positive, got ${options.failoverMs}`);
    this.table = options.table;
    this.worker = options.worker;
    this.failoverMs = options.failoverMs;
    this.takeIntervalMs = options.takeIntervalMs ?? options.failoverMs / 2;
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? (() => undefined);
  }

  /** Creates the table if needed, takes a first share of leases, and keeps going on timers. */
  async start(): Promise<void> {
    await this.table.ensureTable();
    await this.runTakeRound();
    this.renewTimer = setInterval(() => void this.runRenewRound(), this.failoverMs / 3);
    this.takeTimer = setInterval(() => void this.runTakeRound(), this.takeIntervalMs);
    this.renewTimer.unref();
    this.takeTimer.unref();
  }

  /** Shards to read here: held, trusted, not being handed over; each from its lease's checkpoint. */
  assigned(): ReadonlyMap<string, string | undefined> {
    const assigned = new Map<string, string | undefined>();
    for (const [shardId, held] of this.held) {
      if (held.handingOver || held.releasing || !this.trusted(held)) continue;
      const { checkpoint } = held.lease;
      assigned.set(shardId, checkpoint === LEASE_CHECKPOINT_TRIM_HORIZON ? undefined : checkpoint);
    }
    return assigned;
  }

  /** This instance holds the lease and its last renewal is recent enough to trust. */
  holds(shardId: string): boolean {
    const held = this.held.get(shardId);
    return held !== undefined && !held.releasing && this.trusted(held);
  }

  /** The pipeline opens the shard: true when the lease is held, trusted and not being handed over. */
  claim(shardId: string): boolean {
    const held = this.held.get(shardId);
    if (held === undefined || held.handingOver || held.releasing || !this.trusted(held)) return false;
    held.claimed = true;
    return true;
  }

  /** The lease as this instance last wrote or read it (its checkpoint and state key). */
  lease(shardId: string): ShardLease | undefined {
    return this.held.get(shardId)?.lease;
  }

  /**
   * Records a checkpoint in the lease (conditional on still holding it): `position` is a sequence
   * number or SHARD_END, `stateKey` where the state at that position is. False when the lease is gone.
   */
  async checkpoint(shardId: string, position: string, stateKey: string): Promise<boolean> {
    return this.enqueue(shardId, false, async (held) => {
      const sentAt = this.clock();
      const updated = await this.table.checkpoint(held.lease, this.worker, position, stateKey);
      if (updated === undefined) {
        this.lose(shardId, 'its checkpoint found another owner');
        return false;
      }
      this.confirm(held, updated, sentAt);
      return true;
    });
  }

  /** Lets go of a lease (after its last checkpoint): another instance may take it at once. */
  async release(shardId: string): Promise<void> {
    const held = this.held.get(shardId);
    if (held !== undefined) held.releasing = true;
    await this.enqueue(shardId, undefined, async (held) => {
      // Held until the write lands, so a take round meanwhile does not see our own lease as left over.
      const released = await this.table
        .release(held.lease, this.worker)
        .finally(() => this.held.delete(shardId));
      if (released === undefined) return;
      if (held.handingOver) {
        this.counts.handedOver++;
        this.log(`lease ${shardId}: handed over to ${held.lease.pendingOwner ?? 'the instance that asked'}`);
      }
    });
  }

  /** Stops the timers and releases every lease still held (the pipeline released those it had open). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewTimer);
    clearInterval(this.takeTimer);
    await Promise.allSettled([this.takeRound, this.renewRound]);
    await Promise.allSettled([...this.held.keys()].map((shardId) => this.release(shardId)));
  }

  stats(): LeaseCoordinatorStats {
    return { leasesHeld: this.held.size, ...this.counts };
  }

  /** One round of taking: sync leases with the stream's shards, then take or ask for our share. */
  async runTakeRound(): Promise<void> {
    this.takeRound ??= this.takeShare()
      .catch((error: Error) => this.log(`lease round failed (tried again next round): ${error.message}`))
      .finally(() => {
        this.takeRound = undefined;
      });
    return this.takeRound;
  }

  /** One round of renewals of every held lease. */
  async runRenewRound(): Promise<void> {
    this.renewRound ??= Promise.allSettled([...this.held.keys()].map((shardId) => this.renew(shardId)))
      .then(() => undefined)
      .finally(() => {
        this.renewRound = undefined;
      });
    return this.renewRound;
  }

  private async takeShare(): Promise<void> {
    if (this.stopped) return;
    let leases = await this.table.list();
    // Listed again only when the sync changed the table (a reshard, or the first instance to start).
    if (await this.syncShards(leases)) leases = await this.table.list();
    const now = this.clock();
    const expired = new Set<string>();
    for (const lease of leases) {
      const seen = this.observed.get(lease.shardId);
      if (seen === undefined || seen.owner !== lease.owner || seen.counter !== lease.counter) {
        this.observed.set(lease.shardId, { owner: lease.owner, counter: lease.counter, since: now });
      }
      const held = this.held.get(lease.shardId);
      if (held !== undefined && lease.owner !== this.worker)
        this.lose(lease.shardId, `${lease.owner ?? 'nobody'} has it now`);
      const silent = now - (this.observed.get(lease.shardId)?.since ?? now) >= this.failoverMs;
      if (lease.owner === undefined) {
        // Released for another worker that did not come for it: anyone may take it.
        if (lease.pendingOwner !== undefined && silent) expired.add(lease.shardId);
        continue;
      }
      // Ours in the table but not held here: left by an earlier run under the same name.
      const stale = lease.owner === this.worker && !this.held.has(lease.shardId);
      if (stale || (lease.owner !== this.worker && silent)) expired.add(lease.shardId);
    }
    const present = new Set(leases.map((lease) => lease.shardId));
    for (const shardId of this.observed.keys()) if (!present.has(shardId)) this.observed.delete(shardId);

    const plan = planLeases({ worker: this.worker, leases, expired, random: this.random });
    this.counts.workers = plan.workers;
    for (const lease of plan.take) {
      if (this.stopped) return;
      const sentAt = this.clock();
      const taken = await this.table.take(lease, this.worker);
      if (taken === undefined) continue;
      this.held.set(lease.shardId, {
        lease: taken,
        confirmedAt: sentAt,
        handingOver: false,
        claimed: false,
        releasing: false,
        queue: Promise.resolve(),
      });
      if (lease.owner !== undefined && lease.owner !== this.worker) {
        this.counts.takeovers++;
        this.log(`lease ${lease.shardId}: taken over from ${lease.owner}, silent for the failover time`);
      } else {
        this.log(`lease ${lease.shardId}: taken (checkpoint ${lease.checkpoint})`);
      }
    }
    const wanted = plan.requestHandoff;
    if (wanted !== undefined && !this.stopped && (await this.table.requestHandoff(wanted, this.worker))) {
      this.counts.handoffsRequested++;
      this.log(
        `lease ${wanted.shardId}: asked ${wanted.owner} to hand it over (${plan.held} held, share ${plan.target})`,
      );
    }
  }

  /**
   * Creates the leases of new shards (parents first: shard ids grow with creation, so no instance
   * ever sees a child without its parent's lease) and deletes those of ended shards the stream no
   * longer lists. True when it changed the table.
   */
  private async syncShards(leases: readonly ShardLease[]): Promise<boolean> {
    const shards = (await this.options.listShards()).sort((a, b) => a.shardId.localeCompare(b.shardId));
    const listed = new Set(shards.map((shard) => shard.shardId));
    const known = new Map(leases.map((lease) => [lease.shardId, lease]));
    let changed = false;
    for (const shard of shards) {
      if (known.has(shard.shardId)) continue;
      await this.table.create({ ...shard, checkpoint: LEASE_CHECKPOINT_TRIM_HORIZON });
      changed = true;
    }
    for (const lease of known.values()) {
      if (!listed.has(lease.shardId) && lease.checkpoint === LEASE_CHECKPOINT_SHARD_END) {
        if (await this.table.delete(lease.shardId)) await this.options.onLeaseDeleted?.(lease);
        changed = true;
      }
    }
    return changed;
  }

  private async renew(shardId: string): Promise<void> {
    await this.enqueue(shardId, undefined, async (held) => {
      const sentAt = this.clock();
      try {
        const renewed = await this.table.renew(held.lease, this.worker);
        if (renewed === undefined) this.lose(shardId, 'its renewal found another owner');
        else this.confirm(held, renewed, sentAt);
      } catch (error) {
        // Tried again at the next renewal; meanwhile the lease stops being trusted once it is too old.
        this.log(`lease ${shardId}: renewal failed: ${(error as Error).message}`);
      }
    });
    const held = this.held.get(shardId);
    // Asked for before the pipeline opened it: nothing to checkpoint, let it go now.
    if (held?.handingOver && !held.claimed) await this.release(shardId);
  }

  /** The table's answer to a successful conditional write: the lease now, and whether someone asked for it. */
  private confirm(held: HeldLease, lease: ShardLease, sentAt: number): void {
    held.lease = lease;
    held.confirmedAt = sentAt;
    if (!held.handingOver && lease.pendingOwner !== undefined && lease.pendingOwner !== this.worker) {
      held.handingOver = true;
      this.log(
        `lease ${lease.shardId}: ${lease.pendingOwner} asked for it; handing over after its checkpoint`,
      );
    }
  }

  private lose(shardId: string, why: string): void {
    if (!this.held.delete(shardId)) return;
    this.counts.lost++;
    this.log(`lease ${shardId}: lost (${why}); dropped without writing more`);
  }

  private trusted(held: HeldLease): boolean {
    return this.clock() - held.confirmedAt < this.failoverMs;
  }

  /** Runs `operation` on a held lease after the ones queued before it; `absent` when not held (then or by its turn). */
  private async enqueue<T>(
    shardId: string,
    absent: T,
    operation: (held: HeldLease) => Promise<T>,
  ): Promise<T> {
    const held = this.held.get(shardId);
    if (held === undefined) return absent;
    const run = held.queue.then(() => (this.held.get(shardId) === held ? operation(held) : absent));
    held.queue = run.catch(() => undefined);
    return run;
  }
}
