import type { LakeRow } from '@genai-pipeline/schemas';
import type { LakeSink, WindowResults, WindowSink } from '@genai-pipeline/sinks';
import type { ProcessorOutput } from '../window/partition-processor.js';

const WINDOW_TABLES = ['rollups_1m', 'score_rollups_1m', 'anomalies'] as const;

/**
 * Routes a partition's results to every sink: all tables to the lake sink (ordinals are source offsets,
 * or window starts for window results), closed windows also to the metric sinks. Window results are
 * handed to the metric sinks after each input batch, so a slow sink slows intake (backpressure)
 * instead of growing memory.
 */
export class ResultFanOut implements ProcessorOutput {
  private pendingWindows: WindowResults[] = [];
  /** Windows closed so far (the pipeline-health metric WindowsClosed). */
  windowsClosed = 0;
  private windowsToWrite = false;

  /**
   * `windowTablesPromptly`: write the window tables' files after every batch that closed a window
   * (a continuous pipeline, for freshness); otherwise they wait like the raw tables (a replay, for
   * large files).
   */
  constructor(
    private readonly lake: LakeSink,
    private readonly windowSinks: readonly WindowSink[],
    private readonly windowTablesPromptly = false,
  ) {}

  raw(table: 'invocations' | 'scores', offset: number, row: LakeRow): void {
    this.lake.append(table, offset, [row]);
  }

  deadLetter(offset: number, row: LakeRow): void {
    this.lake.append('dead_letters', offset, [row]);
  }

  windowClosed(window: WindowResults): void {
    this.windowsClosed++;
    this.windowsToWrite = true;
    if (window.rollups.length > 0) this.lake.append('rollups_1m', window.windowStart, window.rollups);
    if (window.scoreRollups.length > 0)
      this.lake.append('score_rollups_1m', window.windowStart, window.scoreRollups);
    if (window.anomalies.length > 0) this.lake.append('anomalies', window.windowStart, window.anomalies);
    if (this.windowSinks.length > 0) this.pendingWindows.push(window);
  }

  /** Rows not yet in a written lake file. */
  get bufferedRows(): number {
    return this.lake.stats().bufferedRows;
  }

  /** After an input batch: write what is ready; file spans the watermark has passed are complete. */
  async afterBatch(watermark: number): Promise<void> {
    if (this.windowTablesPromptly && this.windowsToWrite) await this.lake.flushTables(WINDOW_TABLES);
    this.windowsToWrite = false;
    await this.lake.flushReady();
    await this.lake.flushPartitionsBefore(watermark);
    await this.drainWindows();
  }

  /** Writes nothing more (another instance took the partition over): see LakeSink.abandon. */
  abandon(): void {
    this.lake.abandon();
    this.pendingWindows = [];
  }

  /** Everything delivered: every lake file stored and every metric sink acknowledged. */
  async flush(): Promise<void> {
    await this.lake.flush();
    await this.drainWindows();
    await Promise.all(this.windowSinks.map((sink) => sink.flush()));
  }

  private async drainWindows(): Promise<void> {
    if (this.pendingWindows.length === 0) return;
    const windows = this.pendingWindows;
    this.pendingWindows = [];
    await Promise.all(this.windowSinks.map((sink) => sink.write(windows)));
  }
}
