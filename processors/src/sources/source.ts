import type { SourceRecord } from '../window/partition-processor.js';

/** One record as a source delivers it, with the time that makes its processing repeatable. */
export interface SourceEntry {
  record: SourceRecord;
  /**
   * When the transport took the record in (epoch ms): the collector's receive time, Kinesis'
   * ApproximateArrivalTimestamp, the Kafka record timestamp. It is the processing clock for this
   * record (validation's future bound, a dead letter's received_at), so reading it again after a
   * crash gives the same rows.
   */
  receivedAt: number;
}

/** Consecutive records of one partition, in order. */
export interface SourceBatch {
  /** Stable partition id, safe in file names ([A-Za-z0-9._-]): `log`, a shard id, `topic.3`. */
  partition: string;
  entries: SourceEntry[];
  /** Where to resume after the batch's last record: what a checkpoint stores. Opaque to the pipeline. */
  position: string;
  /** How far this partition is behind the newest data after this batch, in records, when known. */
  lagRecords?: number;
  /** How far this partition is behind the newest data after this batch, in ms, when known (Kinesis MillisBehindLatest). */
  lagMs?: number;
  /**
   * Where the batch's first record follows: the position it was read after, or the source's
   * `beginning` (undefined when the source does not say).
   */
  after?: string;
  /** The partition has no more records after this batch (a Kinesis shard closed by a reshard); entries may be empty. */
  ended?: boolean;
}

/** The partitions a partition continues (a Kinesis split or merge), and which keys it takes from them. */
export interface PartitionLineage {
  parents: readonly string[];
  ownsKey: (service: string, modelId: string) => boolean;
}

/**
 * A partitioned input the pipeline polls. Every rollup key lives in one partition (producers key by
 * service and model), so each partition is processed on its own and checkpointed with its position.
 */
export interface Source {
  /** For logs and metrics: `log`, `kinesis:stream`, `kafka:topic`. */
  readonly name: string;
  /**
   * For sources whose batches say where they follow on (`after`): the position before a partition's
   * first record. Seeking there reads the partition from its start.
   */
  readonly beginning?: string;
  /**
   * Starts reading. A partition with a checkpointed position resumes right after it; one without
   * starts from the oldest record kept (TRIM_HORIZON, earliest offset).
   */
  start(positions: ReadonlyMap<string, string>): Promise<void>;
  /**
   * The next batches, at most `maxRecords` records in all. Waits up to `maxWaitMs` while nothing is
   * available, then resolves with []. Rejects only on an operational failure, with an error that
   * says whether it is retriable.
   */
  poll(maxRecords: number, maxWaitMs: number): Promise<SourceBatch[]>;
  /**
   * A checkpoint holding these positions is durable: the source may commit them (Kafka offsets)
   * or let go of the data before them (log retention). Never called with an unprocessed position.
   */
  commit(positions: ReadonlyMap<string, string>): Promise<void>;
  /** Stops reading and releases connections; polls after it resolve with []. */
  close(): Promise<void>;
  /**
   * Records of the partition not yet read, now (for /metrics), when the source can tell without a
   * request; otherwise the lag reported with the last batch is shown.
   */
  currentLagRecords?(partition: string): number | undefined;
  /**
   * For sources whose partitions move between pipeline instances (a Kafka consumer group): the
   * partitions this instance is assigned now. The pipeline hands over the others (checkpoint, then
   * release) and claims a partition before processing it.
   */
  assignedPartitions?(): ReadonlySet<string>;
  /**
   * With assignedPartitions: the partition's next records start right after `position` (a claimed
   * partition resumes from the checkpoint its previous owner left); records fetched before are dropped.
   */
  seek?(partition: string, position: string): void;
  /**
   * For sources whose partitions split and merge (Kinesis resharding): the partitions this one
   * continues. A partition without a checkpoint of its own starts from their final checkpoints.
   */
  lineage?(partition: string): PartitionLineage | undefined;
}
