import { randomUUID } from 'node:crypto';
import type {
  LakeStore,
  ParquetEncoder,
  PrunableLakeStore,
  WindowResults,
  WindowSink,
} from '@genai-pipeline/sinks';
import type { AnomalyParams } from '../anomaly/detector.js';
import type { Pricer } from '../pricing/pricer.js';
import type { Source, SourceBatch } from '../sources/source.js';
import type { ProcessorCounters } from '../window/partition-processor.js';
import type { PartitionCheckpoint, PartitionCheckpointStore } from './checkpoint-store.js';
import { type InheritedState, inheritFromParents } from './inherit-state.js';
import { PartitionPipeline } from './partition-pipeline.js';

export interface PipelineOptions {
  source: Source;
  /** Lake file prefix of a partition: unique per source partition and stable across restarts. */
  sourceIdOf: (partition: string) => string;
  /** Where lake files go (all stores get every file). */
  store: LakeStore;
  /** The same stores, for removing what was written after the last checkpoint. */
  prunableStores: readonly PrunableLakeStore[];
  encoder: ParquetEncoder;
  windowSinks: readonly WindowSink[];
  checkpoints: PartitionCheckpointStore;
  pricer: Pricer;
  maxOutOfOrdernessMs: number;
  anomalyParams?: Partial<AnomalyParams>;
  /** Processing time between checkpoints. */
  checkpointIntervalMs: number;
  /** Records asked of the source per poll. */
  maxPollRecords?: number;
  /** How long a poll waits for records. */
  pollWaitMs?: number;
  clock?: () => number;
  log?: (line: string) => void;
  /** Every batch processed (metrics). */
  onBatch?: (batch: SourceBatch, delta: ProcessorCounters) => void;
  onWindowClosed?: (partition: string, window: WindowResults) => void;
  /** Just before a checkpoint's flush: what should go out with it (the pipeline's own health metrics). */
  beforeCheckpoint?: () => void;
  /** Names this process among the pipeline instances sharing a checkpoint store (partition ownership). */
  instanceId?: string;
  /** A partition whose owner has been silent this long may be claimed by another instance. Default 30 s. */
  ownershipTimeoutMs?: number;
  /** Every checkpoint attempt with its duration (flush included) and outcome. */
  onCheckpoint?: (result: { ok: boolean; durationMs: number; error?: unknown }) => void;
}

const DEFAULT_MAX_POLL_RECORDS = 5_000;
const DEFAULT_OWNERSHIP_TIMEOUT_MS = 30_000;
const CLAIM_RETRY_MS = 200;
const CHECKPOINT_SPACING = 10;
const DEFAULT_POLL_WAIT_MS = 200;
/** Lake rows in files being written per partition before a batch waits (backpressure). */
const MAX_PENDING_ROWS = 100_000;

const counterDelta = (after: ProcessorCounters, before: ProcessorCounters): ProcessorCounters => ({
  events: after.events - before.events,
  accepted: after.accepted - before.accepted,
  duplicates: after.duplicates - before.duplicates,
  late: after.late - before.late,
  invalid: after.invalid - before.invalid,
});

/**
 * Sources → partition pipelines → sinks, continuously (`genai-pipeline run`). Each partition is
 * processed on its own (CONTRACT.md §2). Checkpoints: every partition's output is delivered (lake
 * files stored, metric sinks acknowledged), then every partition's state and position are saved in
 * one atomic write, and only then does the source learn it may commit (Kafka offsets, log retention).
 * After a crash, `start` resumes each partition from the last checkpoint and removes what was written
 * after it, so the lake ends up as if the crash had not happened.
 *
 * Partitions that move between instances (a Kafka group rebalance) are handed over through the
 * shared checkpoint store: the instance losing one delivers and checkpoints it, then releases it; the
 * instance getting it claims it (waiting for that release, or for the old owner's heartbeat to expire
 * when it died), resumes from that checkpoint and seeks the source there. So no record is processed
 * twice past a checkpoint and none is skipped.
 */
export class Pipeline {
  private readonly partitions = new Map<string, PartitionPipeline>();
  private readonly clock: () => number;
  private readonly log: (line: string) => void;
  private lastCheckpointAt: number | null = null;
  private lastCheckpointAttempt: number;
  /** How long the last checkpoint took (flush and save). */
  private lastCheckpointMs = 0;
  private readonly lag = new Map<string, { records?: number; ms?: number }>();
  private stopping = false;
  private readonly instanceId: string;
  private readonly ownershipTimeoutMs: number;
  /** Partitions move between instances: claim before processing, hand over when revoked. */
  private readonly movable: boolean;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Partitions another instance took over (found by a heartbeat): dropped at the next step boundary. */
  private readonly lost = new Set<string>();
  /** A processing failure: no checkpoint may be taken after it. */
  private failure: Error | undefined;
  /** Partitions with no more records (closed Kinesis shards), their final state checkpointed. */
  private readonly ended = new Set<string>();

  constructor(private readonly options: PipelineOptions) {
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => undefined);
    this.lastCheckpointAttempt = this.clock();
    this.instanceId = options.instanceId ?? randomUUID();
    this.ownershipTimeoutMs = options.ownershipTimeoutMs ?? DEFAULT_OWNERSHIP_TIMEOUT_MS;
    this.movable = options.source.assignedPartitions !== undefined && options.source.seek !== undefined;
  }

  /** Loads the checkpoints and starts the source where they left off. */
  async start(): Promise<void> {
    const { source, checkpoints } = this.options;
    const saved = await checkpoints.load(source.name);
    const positions = new Map([...saved].map(([partition, checkpoint]) => [partition, checkpoint.position]));
    for (const [partition, checkpoint] of saved) if (checkpoint.ended) this.ended.add(partition);
    // Movable partitions are opened once claimed, from their latest checkpoint (maybe another
    // instance's, read then). Their ownership is renewed on a timer, so a long step or checkpoint
    // does not let it lapse.
    if (this.movable) {
      this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.ownershipTimeoutMs / 3);
      this.heartbeatTimer.unref();
    } else {
      for (const [partition, checkpoint] of saved) {
        if (!checkpoint.ended) await this.openPartition(partition, checkpoint);
      }
    }
    await source.start(positions);
    if (positions.size > 0) {
      this.log(`resumed ${positions.size} partition(s) of ${source.name} from their checkpoints`);
    }
  }

  /**
   * Polls and processes until `signal` aborts, checkpointing on the interval. Resolves after the
   * current batch; call `stop` next for the final checkpoint.
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.step();
      // A checkpoint stops processing while it runs (a large dedupe index takes seconds to snapshot):
      // spacing them at least ten times their own duration keeps that under a tenth of the time.
      const interval = Math.max(
        this.options.checkpointIntervalMs,
        CHECKPOINT_SPACING * this.lastCheckpointMs,
      );
      if (this.clock() - this.lastCheckpointAttempt >= interval) {
        await this.checkpoint().catch(() => undefined);
      }
    }
  }

  /** One poll and its processing; false when the source had nothing. */
  async step(): Promise<boolean> {
    if (this.movable) await this.keepOwnership();
    const batches = await this.options.source.poll(
      this.options.maxPollRecords ?? DEFAULT_MAX_POLL_RECORDS,
      this.options.pollWaitMs ?? DEFAULT_POLL_WAIT_MS,
    );
    // A rebalance may have come during the poll: hand over first, so nobody waits on us.
    if (this.movable) await this.keepOwnership();
    for (const batch of batches) {
      if (this.ended.has(batch.partition)) continue;
      if (this.movable && !this.partitions.has(batch.partition)) {
        // Records fetched before the claim may start anywhere: go on from the partition's checkpoint.
        const claimed = await this.claim(batch.partition);
        if (!claimed.owned) continue;
        // Without a checkpoint a partition starts at the beginning, if the source can say where that is.
        const resumeAt = claimed.resumeAt ?? this.options.source.beginning;
        if (resumeAt !== undefined && resumeAt !== batch.after) {
          this.options.source.seek?.(batch.partition, resumeAt);
          continue;
        }
      }
      const open = this.partitions.get(batch.partition);
      if (this.movable && open !== undefined) {
        if (!this.stillHeld(batch.partition)) continue;
        // The source restarted the partition elsewhere (its assignment blinked): go on from here.
        const at = open.resumePosition ?? this.options.source.beginning;
        if (batch.after !== undefined && at !== undefined && batch.after !== at) {
          this.options.source.seek?.(batch.partition, at);
          continue;
        }
      }
      const partition = await this.openPartition(batch.partition);
      const before = { ...partition.counters };
      try {
        await partition.process(batch);
      } catch (error) {
        // Its state may cover part of the batch: no checkpoint may be taken of it any more.
        this.failure = error as Error;
        throw error;
      }
      this.lag.set(batch.partition, { records: batch.lagRecords, ms: batch.lagMs });
      this.options.onBatch?.(batch, counterDelta(partition.counters, before));
      if (batch.ended) await this.finish(partition);
    }
    return batches.length > 0;
  }

  /**
   * A partition that has no more records: its final state is delivered and checkpointed at once (the
   * partitions continuing it start from that), then it is let go.
   */
  private async finish(partition: PartitionPipeline): Promise<void> {
    const { source, checkpoints } = this.options;
    const checkpoint = await partition.flush(this.clock());
    if (checkpoint === undefined)
      throw new Error(`partition ${partition.partition}: ended without a position`);
    const owner = this.movable ? this.instanceId : undefined;
    const notOwned = await checkpoints.save(source.name, [checkpoint], owner);
    if (notOwned.length > 0) {
      // Whoever holds it next reads the end again from the last checkpoint and finishes it.
      this.drop(partition.partition, 'ended, but its lease is not held here any more');
      return;
    }
    this.partitions.delete(partition.partition);
    this.lag.delete(partition.partition);
    if (owner !== undefined) await checkpoints.release(source.name, partition.partition, owner);
    this.ended.add(partition.partition);
    this.log(
      `partition ${partition.partition}: ended; its final state is checkpointed for the partitions that continue it`,
    );
  }

  /**
   * Processes until the source has nothing more (the embedded log after its collector stopped), or
   * until `deadline` (epoch ms) passes: what is left stays in the source for the next start.
   */
  async drain(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    while (this.clock() <= deadline && (await this.step())) {
      // each step processes one poll
    }
  }

  /**
   * Delivers everything processed, then saves every partition's checkpoint in one atomic write and
   * lets the source commit. A failure (a sink down) leaves the previous checkpoint in force; it is
   * logged, reported and rethrown, and the next interval tries again.
   */
  async checkpoint(): Promise<void> {
    if (this.failure) {
      throw new Error(
        `no checkpoint after a processing failure (the last one stays in force): ${this.failure.message}`,
      );
    }
    const started = this.clock();
    this.lastCheckpointAttempt = started;
    this.options.beforeCheckpoint?.();
    try {
      const taken: PartitionCheckpoint[] = [];
      for (const partition of [...this.partitions.values()]) {
        if (this.movable && !this.stillHeld(partition.partition)) continue;
        const checkpoint = await partition.flush(started);
        if (checkpoint) taken.push(checkpoint);
      }
      if (taken.length > 0) {
        const notOwned = await this.options.checkpoints.save(
          this.options.source.name,
          taken,
          this.movable ? this.instanceId : undefined,
        );
        for (const partition of notOwned) this.lost.add(partition);
        const saved = taken.filter((c) => !notOwned.includes(c.partition));
        await this.options.source.commit(new Map(saved.map((c) => [c.partition, c.position])));
      }
      this.lastCheckpointAt = started;
      this.lastCheckpointMs = this.clock() - started;
      this.options.onCheckpoint?.({ ok: true, durationMs: this.lastCheckpointMs });
    } catch (error) {
      this.log(`checkpoint failed, the previous one stays in force: ${(error as Error).message}`);
      this.options.onCheckpoint?.({ ok: false, durationMs: this.clock() - started, error });
      throw error;
    }
  }

  /** Final checkpoint (open windows stay open, in it), partitions released, the source closed. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.heartbeatTimer);
    try {
      // After a processing failure the last good checkpoint stays in force (a restart resumes there).
      if (this.failure) this.log(`not checkpointing at stop: ${this.failure.message}`);
      else await this.checkpoint();
      if (this.movable) {
        for (const partition of this.partitions.keys()) {
          await this.options.checkpoints.release(this.options.source.name, partition, this.instanceId);
        }
      }
    } finally {
      await this.options.source.close();
    }
  }

  /**
   * Drops the partitions another instance took over (without writing more), and hands over those the
   * source no longer assigns here: delivered, checkpointed, released.
   */
  private async keepOwnership(): Promise<void> {
    const { source, checkpoints } = this.options;
    for (const partition of this.lost) {
      if (this.partitions.has(partition)) {
        this.drop(partition, 'another instance took it over');
      }
    }
    this.lost.clear();
    const assigned = source.assignedPartitions?.() ?? new Set<string>();
    for (const [partition, pipeline] of [...this.partitions]) {
      if (assigned.has(partition) || !this.stillHeld(partition)) continue;
      const checkpoint = this.failure ? undefined : await pipeline.flush(this.clock());
      if (checkpoint) await checkpoints.save(source.name, [checkpoint], this.instanceId);
      await checkpoints.release(source.name, partition, this.instanceId);
      this.partitions.delete(partition);
      this.log(`partition ${partition}: handed over after its checkpoint`);
    }
  }

  /**
   * False, and the partition dropped without writing more, when the store can tell at once that this
   * instance no longer owns it (its lease went unrenewed for too long: another may take it any moment).
   */
  private stillHeld(partition: string): boolean {
    if (this.options.checkpoints.holds?.(partition) !== false) return true;
    this.drop(partition, 'its lease is no longer held here');
    return false;
  }

  /**
   * Forgets a partition another instance owns now (or may at any moment), and stops its queued lake
   * writes. Its ownership is given up too, should it still be held here after all (a lapse in
   * renewals): whoever takes it next resumes from its checkpoint, so it never sits unread.
   */
  private drop(partition: string, why: string): void {
    this.partitions.get(partition)?.abandon();
    this.partitions.delete(partition);
    this.lag.delete(partition);
    this.log(`partition ${partition}: ${why}; dropped without writing more`);
    const { source, checkpoints } = this.options;
    checkpoints.release(source.name, partition, this.instanceId).catch((error: Error) => {
      this.log(`partition ${partition}: letting go failed (its lease expires instead): ${error.message}`);
    });
  }

  /** Renews ownership of the open partitions; notes the ones another instance took. */
  private async heartbeat(): Promise<void> {
    const { source, checkpoints } = this.options;
    try {
      const open = [...this.partitions.keys()];
      // Dropped at once, not at the next step: its queued lake writes stop before the new owner prunes.
      for (const partition of await checkpoints.heartbeat(source.name, open, this.instanceId, this.clock())) {
        if (this.partitions.has(partition)) this.drop(partition, 'another instance owns it now');
      }
    } catch (error) {
      this.log(`ownership heartbeat failed (retried on the next beat): ${(error as Error).message}`);
    }
  }

  /**
   * Waits until this instance owns the partition (its previous owner released it, or went silent for
   * the ownership timeout) and opens it from its latest checkpoint, returning where that resumes.
   * Gives up (owned: false) when the partition is no longer assigned here or the pipeline stops;
   * meanwhile it hands over its own revoked partitions, so two instances swapping never wait on each other.
   */
  private async claim(partition: string): Promise<{ owned: boolean; resumeAt?: string }> {
    const { source, checkpoints } = this.options;
    let waited = false;
    while (
      !(await checkpoints.claim(
        source.name,
        partition,
        this.instanceId,
        this.clock(),
        this.ownershipTimeoutMs,
      ))
    ) {
      if (this.stopping || !source.assignedPartitions?.().has(partition)) return { owned: false };
      if (!waited) this.log(`partition ${partition}: waiting for its previous owner to hand it over`);
      waited = true;
      await this.keepOwnership();
      await new Promise((resolve) => setTimeout(resolve, CLAIM_RETRY_MS));
    }
    const checkpoint = await checkpoints.get(source.name, partition);
    if (checkpoint?.ended) {
      // Finished by its previous owner just before the hand-over: nothing is left to read.
      this.ended.add(partition);
      await checkpoints.release(source.name, partition, this.instanceId);
      return { owned: false };
    }
    await this.openPartition(partition, checkpoint);
    return checkpoint ? { owned: true, resumeAt: checkpoint.position } : { owned: true };
  }

  /** What a partition continuing others starts from: their final checkpoints, its keys only. */
  private async inheritedState(partition: string): Promise<InheritedState | undefined> {
    const { source, checkpoints } = this.options;
    const lineage = source.lineage?.(partition);
    if (lineage === undefined || lineage.parents.length === 0) return undefined;
    const finals: PartitionCheckpoint[] = [];
    for (const parent of lineage.parents) {
      const checkpoint = await checkpoints.get(source.name, parent);
      // Never read here (expired from the stream before this pipeline began): no state to take over.
      if (checkpoint === undefined) continue;
      if (!checkpoint.ended) {
        throw new Error(
          `partition ${partition}: its parent ${parent} has not ended yet; a child is read only after its parents (not retriable)`,
        );
      }
      finals.push(checkpoint);
    }
    if (finals.length === 0) return undefined;
    this.log(
      `partition ${partition}: continues ${finals.map((c) => c.partition).join(' and ')} with their open windows`,
    );
    return inheritFromParents(finals, lineage.ownsKey);
  }

  /** Per-partition figures for status and metrics. */
  partitionStats(): {
    partition: string;
    counters: Readonly<ProcessorCounters>;
    watermark: number;
    closedThrough: number;
    windowsClosed: number;
    bufferedRows: number;
    lagRecords: number | undefined;
    lagMs: number | undefined;
  }[] {
    return [...this.partitions.values()].map((p) => ({
      partition: p.partition,
      counters: p.counters,
      watermark: p.watermark,
      closedThrough: p.closedThrough,
      windowsClosed: p.windowsClosed,
      bufferedRows: p.bufferedRows,
      lagRecords: this.options.source.currentLagRecords?.(p.partition) ?? this.lag.get(p.partition)?.records,
      lagMs: this.lag.get(p.partition)?.ms,
    }));
  }

  get lastCheckpoint(): number | null {
    return this.lastCheckpointAt;
  }

  /**
   * The open partition, or the partition opened from `checkpoint`; without one, from the final state
   * of the partitions it continues (a reshard), or from nothing.
   */
  private async openPartition(
    partition: string,
    checkpoint?: PartitionCheckpoint,
  ): Promise<PartitionPipeline> {
    const open = this.partitions.get(partition);
    if (open) return open;
    const options = this.options;
    const inherited = checkpoint ? undefined : await this.inheritedState(partition);
    const { pipeline, filesRemoved } = await PartitionPipeline.open(
      {
        partition,
        sourceId: options.sourceIdOf(partition),
        store: options.store,
        encoder: options.encoder,
        windowSinks: options.windowSinks,
        pricer: options.pricer,
        maxOutOfOrdernessMs: options.maxOutOfOrdernessMs,
        ...(options.anomalyParams ? { anomalyParams: options.anomalyParams } : {}),
        maxPendingRows: MAX_PENDING_ROWS,
        onWindowClosed: (p, window) => options.onWindowClosed?.(p, window),
      },
      { checkpoint, inherited },
      options.prunableStores,
    );
    if (filesRemoved > 0) {
      this.log(
        `partition ${partition}: removed ${filesRemoved} lake file(s) written after its last checkpoint`,
      );
    }
    this.partitions.set(partition, pipeline);
    return pipeline;
  }
}
