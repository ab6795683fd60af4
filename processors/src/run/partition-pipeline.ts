import type { LakeRow, LakeTableName } from '@genai-pipeline/schemas';
import {
  LakeSink,
  type LakeStore,
  type ParquetEncoder,
  type PrunableLakeStore,
  removeFilesFrom,
  type WindowResults,
  type WindowSink,
} from '@genai-pipeline/sinks';
import { AnomalyDetector, type AnomalyParams } from '../anomaly/detector.js';
import { ResultFanOut } from '../output/fan-out.js';
import type { Pricer } from '../pricing/pricer.js';
import type { SourceBatch } from '../sources/source.js';
import {
  PartitionProcessor,
  type ProcessorCounters,
  type ProcessorOutput,
} from '../window/partition-processor.js';
import type { PartitionCheckpoint } from './checkpoint-store.js';
import type { InheritedState } from './inherit-state.js';

/** Tables whose ordinals are source record ordinals; the others' are window starts. */
const RECORD_ORDINAL_TABLES: ReadonlySet<LakeTableName> = new Set(['invocations', 'scores', 'dead_letters']);

export interface PartitionPipelineOptions {
  partition: string;
  /** Names this partition's lake files: unique per source partition, stable across restarts. */
  sourceId: string;
  store: LakeStore;
  encoder: ParquetEncoder;
  windowSinks: readonly WindowSink[];
  pricer: Pricer;
  maxOutOfOrdernessMs: number;
  anomalyParams?: Partial<AnomalyParams>;
  /** Rows cut into files but not yet written before a batch waits for the writes. */
  maxPendingRows: number;
  /** Sees every closed window (status view, metrics). */
  onWindowClosed: (partition: string, window: WindowResults) => void;
}

/** Where a partition starts: its own checkpoint if it has one, else what it inherits from its parents. */
export interface PartitionStart {
  checkpoint?: PartitionCheckpoint | undefined;
  inherited?: InheritedState | undefined;
}

/**
 * One source partition from its records to its sinks: the core's processor and anomaly detector (the
 * partition's keys live only here), a lake writer naming files after the partition's record ordinals,
 * and the position the processed records reached. Checkpoints capture all of it at one moment.
 */
export class PartitionPipeline {
  readonly partition: string;
  private readonly processor: PartitionProcessor;
  private readonly detector: AnomalyDetector;
  private readonly output: ResultFanOut;
  private position: string | undefined;
  private nextOrdinal: number;
  private ended = false;

  private constructor(options: PartitionPipelineOptions, start: PartitionStart) {
    this.partition = options.partition;
    const { checkpoint } = start;
    const state = checkpoint ?? start.inherited;
    this.detector = state
      ? AnomalyDetector.restore(state.detector, options.anomalyParams)
      : new AnomalyDetector(options.anomalyParams);
    const lake = new LakeSink({
      store: options.store,
      encoder: options.encoder,
      sourceId: options.sourceId,
      maxPendingRows: options.maxPendingRows,
    });
    this.output = new ResultFanOut(lake, options.windowSinks, true);
    const output: ProcessorOutput = {
      raw: (table, ordinal, row) => this.output.raw(table, ordinal, row),
      deadLetter: (ordinal, row: LakeRow) => this.output.deadLetter(ordinal, row),
      windowClosed: (window) => {
        this.output.windowClosed(window);
        options.onWindowClosed(options.partition, window);
      },
    };
    const processorOptions = {
      maxOutOfOrdernessMs: options.maxOutOfOrdernessMs,
      pricer: options.pricer,
      detector: this.detector,
      output,
    };
    this.processor = state
      ? PartitionProcessor.restore(state.processor, processorOptions)
      : new PartitionProcessor(processorOptions);
    this.position = checkpoint?.position;
    this.nextOrdinal = checkpoint?.nextOrdinal ?? 0;
    if (checkpoint === undefined && start.inherited) this.processor.closeOverdueWindows();
  }

  /**
   * A partition resuming from its checkpoint, or else starting from the state it inherits from the
   * partitions it continues (a reshard), or from nothing. First removes the lake files that were
   * written after that checkpoint: processing resumes there and writes those rows again.
   */
  static async open(
    options: PartitionPipelineOptions,
    start: PartitionStart,
    stores: readonly PrunableLakeStore[],
  ): Promise<{ pipeline: PartitionPipeline; filesRemoved: number }> {
    const { checkpoint } = start;
    const nextOrdinal = checkpoint?.nextOrdinal ?? 0;
    const closedThrough = checkpoint?.processor.closedThrough ?? null;
    // Windows closed before the checkpoint all start before closedThrough; later ones at or after it.
    const windowsFrom = closedThrough ?? Number.NEGATIVE_INFINITY;
    let filesRemoved = 0;
    for (const store of stores) {
      filesRemoved += await removeFilesFrom(store, options.sourceId, (table) =>
        RECORD_ORDINAL_TABLES.has(table) ? nextOrdinal : windowsFrom,
      );
    }
    return { pipeline: new PartitionPipeline(options, start), filesRemoved };
  }

  /** Where the records processed so far end (the source position); undefined before the first batch. */
  get resumePosition(): string | undefined {
    return this.position;
  }

  get counters(): Readonly<ProcessorCounters> {
    return this.processor.counters;
  }

  /** W of CONTRACT.md §2 (−∞ before the first accepted event). */
  get watermark(): number {
    return this.processor.watermark;
  }

  /** Every window ending at or before this has closed (−∞ before the first). */
  get closedThrough(): number {
    return this.processor.closedWindowsThrough;
  }

  get windowsClosed(): number {
    return this.output.windowsClosed;
  }

  get bufferedRows(): number {
    return this.output.bufferedRows;
  }

  /** Processes a batch of this partition, then writes what is ready (waiting when too much is pending). */
  async process(batch: SourceBatch): Promise<void> {
    for (const { record, receivedAt } of batch.entries) {
      this.processor.process(record, this.nextOrdinal++, receivedAt);
    }
    this.position = batch.position;
    if (batch.ended) this.ended = true;
    await this.output.afterBatch(this.processor.watermark);
  }

  /** Another instance owns the partition now: what is buffered or queued here is never written. */
  abandon(): void {
    this.output.abandon();
  }

  /**
   * Delivers everything processed so far (every lake file stored, every metric sink acknowledged) and
   * returns the checkpoint that covers it; undefined when the partition has processed nothing yet.
   * Open windows stay open: they are in the checkpoint.
   */
  async flush(takenAt: number): Promise<PartitionCheckpoint | undefined> {
    await this.output.flush();
    if (this.position === undefined) return undefined;
    return {
      version: 1,
      partition: this.partition,
      position: this.position,
      nextOrdinal: this.nextOrdinal,
      processor: this.processor.snapshot(),
      detector: this.detector.snapshot(),
      takenAt,
      ...(this.ended ? { ended: true as const } : {}),
    };
  }
}
