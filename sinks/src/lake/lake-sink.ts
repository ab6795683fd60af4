import { LAKE_TABLES, type LakeRow, type LakeTableName } from '@genai-pipeline/schemas';
import { inlineEncoder, type ParquetEncoder } from './encoder.js';
import { LakeUsageError } from './errors.js';
import {
  assertOrdinal,
  assertSafeSourceId,
  dataFileName,
  HOUR_MS,
  hourStart,
  partitionPath,
} from './layout.js';
import { validateLakeRows } from './parquet.js';
import type { LakeStore } from './store.js';

export interface LakeSinkOptions {
  store: LakeStore;
  /** Names the files of every table but dead_letters: the input or source partition the ordinals belong to. */
  sourceId: string;
  /** Names dead_letters files (an audit log of each run); defaults to sourceId. */
  deadLetterSourceId?: string;
  /** Rows per file (a single ordinal's rows are never split, so one file may hold more). Default 250,000. */
  maxRowsPerFile?: number;
  /** Rows buffered across all partitions before flushReady writes the largest buffers. Default 500,000. */
  maxBufferedRows?: number;
  /**
   * Rows cut into files but not yet written up to which flushReady and flushPartitionsBefore return at
   * once while the files are encoded and stored in the background; above it they wait for the writes
   * (backpressure). Default 0: they always wait.
   */
  maxPendingRows?: number;
  /** Default: encoding on the calling thread. */
  encoder?: ParquetEncoder;
}

export interface LakeSinkStats {
  filesWritten: number;
  rowsWritten: Record<LakeTableName, number>;
  /** Rows not yet in a written file (buffered, or cut into a file whose write failed). */
  bufferedRows: number;
}

/** Rows of one table and one UTC hour, in appended order, grouped into runs of one ordinal each. */
interface PartitionBuffer {
  table: LakeTableName;
  hourStart: number;
  dir: string;
  rows: LakeRow[];
  runStarts: number[];
  runOrdinals: number[];
}

/** Rows cut from a buffer under their final file name, kept until the store accepted them. */
interface PendingFile {
  table: LakeTableName;
  relativePath: string;
  rows: LakeRow[];
}

interface TableState {
  latestOrdinal: number;
  /** Partitions already cut at latestOrdinal: more rows of that ordinal there would reuse a file name. */
  partitionsCutAtLatest: Set<number>;
}

const WRITE_CONCURRENCY = 4;
const TABLE_NAMES = Object.keys(LAKE_TABLES) as LakeTableName[];

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new LakeUsageError(`LakeSink option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Buffers lake rows per (table, UTC hour partition) and writes them as Parquet files named from what
 * they hold (`sourceId-firstOrdinal-lastOrdinal.parquet`). Which rows go into which file depends only
 * on the sequence of calls, never on the clock or on write timing, so replaying the same input
 * rewrites the same files instead of adding rows.
 *
 * An ordinal is a source record offset (raw tables, dead letters) or a window start (rollup tables).
 * Files never split an ordinal, so within a partition their ordinal ranges never overlap.
 */
export class LakeSink {
  private readonly store: LakeStore;
  private readonly sourceId: string;
  private readonly deadLetterSourceId: string;
  private readonly maxRowsPerFile: number;
  private readonly maxBufferedRows: number;
  private readonly maxPendingRows: number;
  private readonly encoder: ParquetEncoder;
  /** A write that failed in the background, reported by the next call. */
  private backgroundFailure: { error: unknown } | undefined;
  private readonly buffers = new Map<string, PartitionBuffer>();
  private readonly tables = new Map<LakeTableName, TableState>();
  private readonly pending: PendingFile[] = [];
  private openRows = 0;
  private pendingRows = 0;
  private filesWritten = 0;
  private readonly rowsWritten = Object.fromEntries(TABLE_NAMES.map((t) => [t, 0])) as Record<
    LakeTableName,
    number
  >;
  /** Writes run one flush call at a time, in call order; cutting files happens at call time. */
  private writing: Promise<void> = Promise.resolve();

  constructor(opts: LakeSinkOptions) {
    assertSafeSourceId(opts.sourceId);
    if (opts.deadLetterSourceId !== undefined) assertSafeSourceId(opts.deadLetterSourceId);
    this.store = opts.store;
    this.sourceId = opts.sourceId;
    this.deadLetterSourceId = opts.deadLetterSourceId ?? opts.sourceId;
    this.maxRowsPerFile = positiveInteger(opts.maxRowsPerFile, 250_000, 'maxRowsPerFile');
    this.maxBufferedRows = positiveInteger(opts.maxBufferedRows, 500_000, 'maxBufferedRows');
    this.maxPendingRows =
      opts.maxPendingRows === undefined ? 0 : positiveInteger(opts.maxPendingRows, 0, 'maxPendingRows');
    this.encoder = opts.encoder ?? inlineEncoder;
  }

  /**
   * Buffers rows that share one ordinal (a source record offset for raw tables and dead letters, a
   * window_start for rollup tables). A file never splits one append, so file names
   * (sourceId-firstOrdinal-lastOrdinal) stay unique and deterministic. Ordinals must be non-decreasing
   * per table, and once flushPartitionsBefore or flush wrote a partition, that partition takes no more
   * rows of the ordinal it ended with (append all rows of an ordinal before those calls; flushReady
   * never closes an ordinal). Validates rows (LakeRowError). Sync, no I/O.
   */
  append(table: LakeTableName, ordinal: number, rows: readonly LakeRow[]): void {
    const spec = LAKE_TABLES[table];
    if (spec === undefined) throw new LakeUsageError(`unknown lake table ${JSON.stringify(table)}`);
    assertOrdinal(ordinal, `lake table ${table}`);
    const state = this.tableState(table);
    if (ordinal < state.latestOrdinal) {
      throw new LakeUsageError(
        `lake table ${table}: ordinal ${ordinal} after ${state.latestOrdinal}; ordinals must be non-decreasing per table`,
      );
    }
    validateLakeRows(spec, rows);
    if (rows.length === 1) {
      // One row (every raw event): no grouping by hour needed.
      const row = rows[0] as LakeRow;
      const hour = hourStart(row[spec.partitionBy] as number);
      this.openOrdinal(state, table, ordinal, [hour]);
      this.bufferRows(table, hour, ordinal, [row]);
      return;
    }
    const byHour = new Map<number, LakeRow[]>();
    for (const row of rows) {
      const hour = hourStart(row[spec.partitionBy] as number);
      const group = byHour.get(hour);
      if (group === undefined) byHour.set(hour, [row]);
      else group.push(row);
    }
    this.openOrdinal(state, table, ordinal, byHour.keys());
    for (const [hour, group] of byHour) this.bufferRows(table, hour, ordinal, group);
  }

  /** Makes `ordinal` the table's latest; throws, before anything is buffered, if a partition already closed it. */
  private openOrdinal(
    state: TableState,
    table: LakeTableName,
    ordinal: number,
    hours: Iterable<number>,
  ): void {
    if (ordinal !== state.latestOrdinal) {
      state.latestOrdinal = ordinal;
      state.partitionsCutAtLatest.clear();
      return;
    }
    for (const hour of hours) {
      if (state.partitionsCutAtLatest.has(hour)) {
        throw new LakeUsageError(
          `lake table ${table}, partition ${partitionPath(table, hour)}: ordinal ${ordinal} was already written ` +
            'there by flushPartitionsBefore/flush; append all rows of an ordinal before flushing its partition',
        );
      }
    }
  }

  /**
   * Writes buffers that reached maxRowsPerFile, then the largest buffers until total buffered rows
   * <= maxBufferedRows. Rows of each table's latest ordinal stay buffered (more may follow), so the
   * bound can be exceeded by those.
   */
  async flushReady(): Promise<void> {
    for (const buffer of this.buffers.values()) {
      this.cutRuns(buffer, this.closedRunCount(buffer), true);
    }
    while (this.openRows > this.maxBufferedRows) {
      let largest: PartitionBuffer | undefined;
      let largestRows = 0;
      for (const buffer of this.buffers.values()) {
        const closedRows = this.rowsBeforeRun(buffer, this.closedRunCount(buffer));
        if (closedRows > largestRows) {
          largest = buffer;
          largestRows = closedRows;
        }
      }
      if (largest === undefined) break;
      this.cutRuns(largest, this.closedRunCount(largest), false);
    }
    await this.writeInBackground();
  }

  /**
   * Writes every buffer of a partition whose hour ends at or before timeMs (no more rows can arrive
   * there except late raw rows, which then go to a new file).
   */
  async flushPartitionsBefore(timeMs: number): Promise<void> {
    for (const buffer of [...this.buffers.values()]) {
      if (buffer.hourStart + HOUR_MS <= timeMs) this.cutAll(buffer);
    }
    await this.writeInBackground();
  }

  /** Writes everything buffered and waits until every file is stored (what a checkpoint needs). */
  async flush(): Promise<void> {
    this.throwBackgroundFailure();
    for (const buffer of [...this.buffers.values()]) this.cutAll(buffer);
    await this.writeQueued();
  }

  /**
   * Starts writing queued files and returns at once, unless the rows waiting to be written exceed
   * maxPendingRows: then it waits for the writes (backpressure). A write that fails in the background
   * is thrown by the next call; its file stays queued for a retry.
   */
  private async writeInBackground(): Promise<void> {
    this.throwBackgroundFailure();
    if (this.pending.length === 0) return;
    const run = this.writeQueued();
    if (this.pendingRows > this.maxPendingRows) {
      await run;
      return;
    }
    run.catch((error: unknown) => {
      this.backgroundFailure ??= { error };
    });
  }

  private throwBackgroundFailure(): void {
    const failure = this.backgroundFailure;
    if (failure === undefined) return;
    this.backgroundFailure = undefined;
    throw failure.error;
  }

  stats(): LakeSinkStats {
    return {
      filesWritten: this.filesWritten,
      rowsWritten: { ...this.rowsWritten },
      bufferedRows: this.openRows + this.pendingRows,
    };
  }

  private tableState(table: LakeTableName): TableState {
    let state = this.tables.get(table);
    if (state === undefined) {
      state = { latestOrdinal: -1, partitionsCutAtLatest: new Set() };
      this.tables.set(table, state);
    }
    return state;
  }

  private bufferRows(table: LakeTableName, hour: number, ordinal: number, rows: LakeRow[]): void {
    const key = `${table}/${hour}`;
    let buffer = this.buffers.get(key);
    if (buffer === undefined) {
      buffer = {
        table,
        hourStart: hour,
        dir: partitionPath(table, hour),
        rows: [],
        runStarts: [],
        runOrdinals: [],
      };
      this.buffers.set(key, buffer);
    }
    if (buffer.runOrdinals.at(-1) !== ordinal) {
      buffer.runStarts.push(buffer.rows.length);
      buffer.runOrdinals.push(ordinal);
    }
    for (const row of rows) buffer.rows.push(row);
    this.openRows += rows.length;
  }

  /** Runs that can be written now: all but a trailing run of the table's latest ordinal. */
  private closedRunCount(buffer: PartitionBuffer): number {
    const runs = buffer.runOrdinals.length;
    return buffer.runOrdinals[runs - 1] === this.tableState(buffer.table).latestOrdinal ? runs - 1 : runs;
  }

  private rowsBeforeRun(buffer: PartitionBuffer, run: number): number {
    return run < buffer.runStarts.length ? (buffer.runStarts[run] as number) : buffer.rows.length;
  }

  private cutAll(buffer: PartitionBuffer): void {
    const state = this.tableState(buffer.table);
    if (buffer.runOrdinals.at(-1) === state.latestOrdinal) state.partitionsCutAtLatest.add(buffer.hourStart);
    this.cutRuns(buffer, buffer.runOrdinals.length, false);
  }

  /**
   * Queues files of whole runs from the head of the buffer, up to runLimit, each of at most
   * maxRowsPerFile rows unless one run alone is larger. With onlyFull, a last file that could still
   * grow stays buffered.
   */
  private cutRuns(buffer: PartitionBuffer, runLimit: number, onlyFull: boolean): void {
    let run = 0;
    while (run < runLimit) {
      let end = run;
      while (
        end < runLimit &&
        (end === run ||
          this.rowsBeforeRun(buffer, end + 1) - this.rowsBeforeRun(buffer, run) <= this.maxRowsPerFile)
      ) {
        end++;
      }
      const rowCount = this.rowsBeforeRun(buffer, end) - this.rowsBeforeRun(buffer, run);
      if (onlyFull && end === runLimit && rowCount < this.maxRowsPerFile) break;
      this.queueFile(buffer, run, end);
      run = end;
    }
    if (run === 0) return;
    const cutRows = this.rowsBeforeRun(buffer, run);
    buffer.rows = buffer.rows.slice(cutRows);
    buffer.runStarts = buffer.runStarts.slice(run).map((start) => start - cutRows);
    buffer.runOrdinals = buffer.runOrdinals.slice(run);
    this.openRows -= cutRows;
    if (buffer.rows.length === 0) this.buffers.delete(`${buffer.table}/${buffer.hourStart}`);
  }

  private queueFile(buffer: PartitionBuffer, firstRun: number, endRun: number): void {
    const sourceId = buffer.table === 'dead_letters' ? this.deadLetterSourceId : this.sourceId;
    const name = dataFileName(
      sourceId,
      buffer.runOrdinals[firstRun] as number,
      buffer.runOrdinals[endRun - 1] as number,
    );
    const rows = buffer.rows.slice(this.rowsBeforeRun(buffer, firstRun), this.rowsBeforeRun(buffer, endRun));
    this.pending.push({ table: buffer.table, relativePath: `${buffer.dir}/${name}`, rows });
    this.pendingRows += rows.length;
  }

  /** Writes queued files after any earlier flush call's writes; a failed file stays queued for the next call. */
  private writeQueued(): Promise<void> {
    const run = this.writing.then(() => this.writePending());
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async writePending(): Promise<void> {
    const files = [...this.pending];
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < files.length) {
        const file = files[next++] as PendingFile;
        try {
          await this.store.put(file.relativePath, await this.encoder.encode(file.table, file.rows));
        } catch (error) {
          failure ??= { error };
          return;
        }
        this.pending.splice(this.pending.indexOf(file), 1);
        this.pendingRows -= file.rows.length;
        this.filesWritten++;
        this.rowsWritten[file.table] += file.rows.length;
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, files.length) }, worker));
    if (failure !== undefined) throw failure.error;
  }
}
