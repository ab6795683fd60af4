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
}

const STORE_ID_KEY = 'storeId';

/**
 * Checkpoints in lmdb (the same embedded store as the log): one record per `source/partition`, all
 * partitions of a checkpoint written in one transaction and synced before `save` resolves, so a
 * crash leaves the previous checkpoint or this one, never a mixture.
 */
export class CheckpointStore {
  private constructor(
    private readonly root: RootDatabase,
    private readonly db: Database<PartitionCheckpoint, string>,
    /**
     * Random, fixed when the store is created. Lake files carry it in their names, so output of a
     * pipeline started over with new state never collides with, or is pruned as, an earlier one's.
     */
    readonly storeId: string,
  ) {}

  static open(dir: string): CheckpointStore {
    const root = open({ path: dir, noSync: false, maxDbs: 2 });
    const meta = root.openDB<string, string>('meta', { encoding: 'json' });
    let storeId = meta.get(STORE_ID_KEY);
    if (storeId === undefined) {
      storeId = randomUUID().slice(0, 8);
      meta.putSync(STORE_ID_KEY, storeId);
    }
    const db = root.openDB<PartitionCheckpoint, string>('checkpoints', { encoding: 'json' });
    return new CheckpointStore(root, db, storeId);
  }

  /** The latest checkpoint of every partition of `source`. */
  load(source: string): Map<string, PartitionCheckpoint> {
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

  /** Stores the checkpoints of `source` atomically and durably. */
  async save(source: string, checkpoints: readonly PartitionCheckpoint[]): Promise<void> {
    // A child transaction is rolled back when the callback throws (a checkpoint that cannot be encoded);
    // lmdb's plain `transaction` would commit the puts made before the throw.
    await this.db.childTransaction(() => {
      for (const checkpoint of checkpoints) this.db.put(`${source}/${checkpoint.partition}`, checkpoint);
    });
    await this.root.flushed;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
