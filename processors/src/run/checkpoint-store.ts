import { randomUUID } from 'node:crypto';
import { type Database, open, type RootDatabase } from 'lmdb';
import type { AnomalyDetectorState } from '../anomaly/detector.js';
import type { PartitionSnapshot } from '../window/partition-processor.js';

/**
 * Everything one source partition needs to go on exactly where it stopped: its source position and
 * the processing state that belongs to it, taken at the same moment.
 */
export interface PartitionCheckpoint {
  version: 1;
  partition: string;
  /** The source's resume position (opaque, from SourceBatch.position). */
  position: string;
  /** Ordinal the partition's next record gets (lake file names); every smaller one is in the lake. */
  nextOrdinal: number;
  processor: PartitionSnapshot;
  /** Each partition has its own detector: its keys live only there, so the state moves with it. */
  detector: AnomalyDetectorState;
  /** Epoch ms the checkpoint was taken (for status and logs only). */
  takenAt: number;
  /** The partition has no more records (a Kinesis shard closed by a reshard): its final state. */
  ended?: true;
}

const STORE_ID_KEY = 'storeId';

/**
 * Where a pipeline keeps its partitions' checkpoints and who owns which partition: lmdb on one host
 * (CheckpointStore), or Kinesis shard leases in DynamoDB with the state in a shared store.
 */
export interface PartitionCheckpointStore {
  /** The latest checkpoint of every partition of `source` this instance resumes at start. */
  load(source: string): Promise<Map<string, PartitionCheckpoint>>;
  /**
   * Stores the checkpoints durably. With `owner`, only those of partitions that instance owns; returns
   * the partitions skipped for that reason (another instance has them now).
   */
  save(source: string, checkpoints: readonly PartitionCheckpoint[], owner?: string): Promise<string[]>;
  /** The latest checkpoint of one partition, as committed now (another instance may have written it). */
  get(source: string, partition: string): Promise<PartitionCheckpoint | undefined>;
  /** True once `instance` owns the partition; false while another instance holds it. */
  claim(
    source: string,
    partition: string,
    instance: string,
    now: number,
    timeoutMs: number,
  ): Promise<boolean>;
  /** Renews ownership; returns the partitions `instance` no longer owns (to drop without writing more). */
  heartbeat(source: string, partitions: readonly string[], instance: string, now: number): Promise<string[]>;
  /** Lets go of a partition after its last checkpoint: others may claim it at once. */
  release(source: string, partition: string, instance: string): Promise<void>;
  /**
   * Whether this instance may still write for the partition, as far as it can tell without asking
   * (a lease whose last renewal is recent enough). Checked before processing and delivering.
   */
  holds?(partition: string): boolean;
}

/**
 * Checkpoints in lmdb (the same embedded store as the log): one record per `source/partition`, all
 * partitions of a checkpoint written in one transaction and synced before `save` resolves, so a
 * crash leaves the previous checkpoint or this one, never a mixture.
 */
/** Which pipeline instance processes a partition (sources whose partitions move between instances). */
export interface PartitionOwner {
  instance: string;
  /** Epoch ms of the owner's last sign of life; past the ownership timeout another instance may claim. */
  heartbeatAt: number;
  /** The owner checkpointed and let go: another instance may claim at once. */
  released: boolean;
}

export class CheckpointStore implements PartitionCheckpointStore {
  private constructor(
    private readonly root: RootDatabase,
    private readonly db: Database<PartitionCheckpoint, string>,
    private readonly owners: Database<PartitionOwner, string>,
    /**
     * Random, fixed when the store is created. Lake files carry it in their names, so output of a
     * pipeline started over with new state never collides with, or is pruned as, an earlier one's.
     */
    readonly storeId: string,
  ) {}

  static open(dir: string): CheckpointStore {
    const root = open({ path: dir, noSync: false, maxDbs: 3 });
    const meta = root.openDB<string, string>('meta', { encoding: 'json' });
    let storeId = meta.get(STORE_ID_KEY);
    if (storeId === undefined) {
      storeId = randomUUID().slice(0, 8);
      meta.putSync(STORE_ID_KEY, storeId);
    }
    const db = root.openDB<PartitionCheckpoint, string>('checkpoints', { encoding: 'json' });
    const owners = root.openDB<PartitionOwner, string>('owners', { encoding: 'json' });
    return new CheckpointStore(root, db, owners, storeId);
  }

  /** The latest checkpoint of every partition of `source`. */
  async load(source: string): Promise<Map<string, PartitionCheckpoint>> {
    const prefix = `${source}/`;
    const checkpoints = new Map<string, PartitionCheckpoint>();
    for (const { key, value } of this.db.getRange({ start: prefix })) {
      if (!key.startsWith(prefix)) break;
      if (value.version !== 1) {
        throw new Error(`checkpoint ${key} has unsupported version ${String(value.version)} (not retriable)`);
      }
      checkpoints.set(value.partition, value);
    }
    return checkpoints;
  }

  /**
   * Stores the checkpoints of `source` atomically and durably. With `owner`, a partition's checkpoint
   * is written only while that instance owns it (a stale owner cannot overwrite its successor's);
   * returns the partitions skipped for that reason.
   */
  async save(source: string, checkpoints: readonly PartitionCheckpoint[], owner?: string): Promise<string[]> {
    // A child transaction is rolled back when the callback throws (a checkpoint that cannot be encoded);
    // lmdb's plain `transaction` would commit the puts made before the throw.
    const skipped = await this.db.childTransaction(() => {
      const notOwned: string[] = [];
      for (const checkpoint of checkpoints) {
        const key = `${source}/${checkpoint.partition}`;
        const holder = owner === undefined ? undefined : this.owners.get(key);
        if (owner !== undefined && (holder?.instance !== owner || holder.released)) {
          notOwned.push(checkpoint.partition);
          continue;
        }
        this.db.put(key, checkpoint);
      }
      return notOwned;
    });
    await this.root.flushed;
    return skipped as string[];
  }

  /** The latest checkpoint of one partition, as committed now (another process may have written it). */
  async get(source: string, partition: string): Promise<PartitionCheckpoint | undefined> {
    return this.db.transaction(() => this.db.get(`${source}/${partition}`));
  }

  /**
   * Makes `instance` the partition's owner when it has none, owns it already, or the owner released
   * it or has been silent for `timeoutMs`; false while another instance holds it. Atomic across
   * processes (lmdb serialises write transactions).
   */
  async claim(
    source: string,
    partition: string,
    instance: string,
    now: number,
    timeoutMs: number,
  ): Promise<boolean> {
    const key = `${source}/${partition}`;
    return this.owners.transaction(() => {
      const owner = this.owners.get(key);
      const free =
        owner === undefined ||
        owner.released ||
        owner.instance === instance ||
        now - owner.heartbeatAt > timeoutMs;
      if (free) this.owners.put(key, { instance, heartbeatAt: now, released: false });
      return free;
    });
  }

  /**
   * Renews `instance`'s ownership of these partitions; returns the ones it no longer owns (another
   * instance claimed them after this one fell silent), which it must drop without writing more.
   */
  async heartbeat(
    source: string,
    partitions: readonly string[],
    instance: string,
    now: number,
  ): Promise<string[]> {
    return this.owners.transaction(() => {
      const lost: string[] = [];
      for (const partition of partitions) {
        const key = `${source}/${partition}`;
        const owner = this.owners.get(key);
        if (owner?.instance !== instance || owner.released) lost.push(partition);
        else this.owners.put(key, { ...owner, heartbeatAt: now });
      }
      return lost;
    });
  }

  /** Lets go of a partition this instance owns (after its last checkpoint): others may claim it at once. */
  async release(source: string, partition: string, instance: string): Promise<void> {
    const key = `${source}/${partition}`;
    await this.owners.transaction(() => {
      const owner = this.owners.get(key);
      if (owner?.instance === instance) this.owners.put(key, { ...owner, released: true });
    });
    await this.root.flushed;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
