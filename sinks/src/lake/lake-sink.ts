import { LAKE_TABLES, type LakeRow, type LakeTableName } from '@genai-pipeline/schemas';
import { SerialQueue } from '../util/serial-queue.js';
import { inlineEncoder, type ParquetEncoder } from './encoder.js';
import { LakeUsageError } from './errors.js';
import { assertOrdinal, assertSafeSourceId, dataFileName, HOUR_MS, partitionPath } from './layout.js';
import { type EncodedBatch, encodeColumns, validateLakeRows } from './parquet.js';
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
  /**
   * Event-time span of the rows one file may hold, within its hour partition: files roll when the span
   * has passed (flushPartitionsBefore) or at maxRowsPerFile, never by the wall clock. Must divide an
   * hour. Default one hour (the partition).
   */
  fileSpanMs?: number;
  /** Default: encoding on the calling thread. */
  encoder?: ParquetEncoder;
}

export interface LakeSinkStats {
  filesWritten: number;
  rowsWritten: Record<LakeTableName, number>;
  /** Rows not yet in a written file (buffered, or cut into a file whose write failed). */
  bufferedRows: number;
}

/**
 * Rows of a buffer already turned into columnar batches: ~315 bytes an invocation row against ~1.2 KB
 * as row objects (heap snapshot of a replay), and
 * work the file's encoding no longer has to do. Holds whole ordinals only, so it is never split.
 */
interface SealedChunk {
  batches: EncodedBatch[];
  rows: number;
  firstOrdinal: number;
  lastOrdinal: number;
}

/**
 * Rows of one table and one file span (by default the UTC hour partition), in appended order: sealed
 * chunks at the head, then row objects grouped into runs of one ordinal each.
 */
interface SpanBuffer {
  table: LakeTableName;
  spanStart: number;
  dir: string;
  chunks: SealedChunk[];
  chunkRows: number;
  rows: LakeRow[];
  runStarts: number[];
  runOrdinals: number[];
}

/** A file cut from a buffer under its final name, kept until the store accepted it. */
interface PendingFile {
  table: LakeTableName;
  relativePath: string;
  batches: EncodedBatch[];
  rows: number;
}

interface TableState {
  latestOrdinal: number;
  /** Spans already cut at latestOrdinal: more rows of that ordinal there would reuse a file name. */
  spansCutAtLatest: Set<number>;
}

const WRITE_CONCURRENCY = 4;
/** Closed rows of a buffer sealed into columnar form at a time. */
const CHUNK_ROWS = 16_384;
const TABLE_NAMES = Object.keys(LAKE_TABLES) as LakeTableName[];

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new LakeUsageError(`LakeSink option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Buffers lake rows per (table, file span) and writes them as Parquet files named from what they hold
 * (`sourceId-firstOrdinal-lastOrdinal.parquet`). Which rows go into which file depends only on the
 * sequence of calls, never on the clock or on write timing, so replaying the same input rewrites the
 * same files instead of adding rows.
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
  private readonly fileSpanMs: number;
  private readonly encoder: ParquetEncoder;
  private readonly buffers = new Map<string, SpanBuffer>();
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
  private readonly writing = new SerialQueue();
  /** A write that failed in the background, reported by the next call. */
  private backgroundFailure: { error: unknown } | undefined;
  /** Another writer owns this source now: nothing more is written. */
  private abandoned = false;
  /** Aborted on abandon: stops the retries of writes under way. */
  private readonly abandoning = new AbortController();

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
    this.fileSpanMs = positiveInteger(opts.fileSpanMs, HOUR_MS, 'fileSpanMs');
    if (HOUR_MS % this.fileSpanMs !== 0) {
      throw new LakeUsageError(`LakeSink option fileSpanMs must divide an hour, got ${this.fileSpanMs}`);
    }
    this.encoder = opts.encoder ?? inlineEncoder;
  }

  /**
   * Buffers rows that share one ordinal (a source record offset for raw tables and dead letters, a
   * window_start for rollup tables). A file never splits one append, so file names
   * (sourceId-firstOrdinal-lastOrdinal) stay unique and deterministic. Ordinals must be non-decreasing
   * per table, and once flushPartitionsBefore or flush wrote a span, that span takes no more rows of
   * the ordinal it ended with (append all rows of an ordinal before those calls; flushReady never
   * closes an ordinal). Validates rows (LakeRowError). Sync, no I/O.
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
      // One row (every raw event): no grouping needed.
      const row = rows[0] as LakeRow;
      const span = this.spanStart(row[spec.partitionBy] as number);
      this.openOrdinal(state, table, ordinal, [span]);
      this.bufferRows(table, span, ordinal, rows);
      return;
    }
    const bySpan = new Map<number, LakeRow[]>();
    for (const row of rows) {
      const span = this.spanStart(row[spec.partitionBy] as number);
      const group = bySpan.get(span);
      if (group === undefined) bySpan.set(span, [row]);
      else group.push(row);
    }
    this.openOrdinal(state, table, ordinal, bySpan.keys());
    for (const [span, group] of bySpan) this.bufferRows(table, span, ordinal, group);
  }

  /**
   * Writes buffers that reached maxRowsPerFile, then the largest buffers until total buffered rows
   * <= maxBufferedRows. Rows of each table's latest ordinal stay buffered (more may follow), so the
   * bound can be exceeded by those.
   */
  async flushReady(): Promise<void> {
    for (const buffer of this.buffers.values()) {
      this.cutUnits(buffer, this.closedUnitCount(buffer), true);
    }
    while (this.openRows > this.maxBufferedRows) {
      let largest: SpanBuffer | undefined;
      let largestRows = 0;
      for (const buffer of this.buffers.values()) {
        const closedRows = this.rowsBeforeUnit(buffer, this.closedUnitCount(buffer));
        if (closedRows > largestRows) {
          largest = buffer;
          largestRows = closedRows;
        }
      }
      if (largest === undefined) break;
      this.cutUnits(largest, this.closedUnitCount(largest), false);
    }
    await this.writeInBackground();
  }

  /**
   * Writes every buffer whose file span ends at or before timeMs (no more rows can arrive there except
   * late raw rows, which then go to a new file). With the default span: whole hour partitions.
   */
  async flushPartitionsBefore(timeMs: number): Promise<void> {
    for (const buffer of [...this.buffers.values()]) {
      if (buffer.spanStart + this.fileSpanMs <= timeMs) this.cutAll(buffer);
    }
    await this.writeInBackground();
  }

  /**
   * Writes the buffered rows of these tables now, in the background like flushReady (a continuous
   * pipeline makes each closed window's rollups queryable at once instead of at its next checkpoint).
   */
  async flushTables(tables: readonly LakeTableName[]): Promise<void> {
    for (const buffer of [...this.buffers.values()]) {
      if (tables.includes(buffer.table)) this.cutAll(buffer);
    }
    await this.writeInBackground();
  }

  /**
   * Writes everything buffered and waits until every file is stored (what a checkpoint needs). Files
   * whose background write failed are retried here: only a failure of this flush's writes is thrown.
   */
  async flush(): Promise<void> {
    for (const buffer of [...this.buffers.values()]) this.cutAll(buffer);
    await this.writeQueued();
    this.backgroundFailure = undefined;
  }

  stats(): LakeSinkStats {
    return {
      filesWritten: this.filesWritten,
      rowsWritten: { ...this.rowsWritten },
      bufferedRows: this.openRows + this.pendingRows,
    };
  }

  private spanStart(timeMs: number): number {
    return Math.floor(timeMs / this.fileSpanMs) * this.fileSpanMs;
  }

  private tableState(table: LakeTableName): TableState {
    let state = this.tables.get(table);
    if (state === undefined) {
      state = { latestOrdinal: Number.NEGATIVE_INFINITY, spansCutAtLatest: new Set() };
      this.tables.set(table, state);
    }
    return state;
  }

  /** Makes `ordinal` the table's latest; throws, before anything is buffered, if a span already closed it. */
  private openOrdinal(
    state: TableState,
    table: LakeTableName,
    ordinal: number,
    spans: Iterable<number>,
  ): void {
    if (ordinal !== state.latestOrdinal) {
      state.latestOrdinal = ordinal;
      state.spansCutAtLatest.clear();
      return;
    }
    for (const span of spans) {
      if (state.spansCutAtLatest.has(span)) {
        throw new LakeUsageError(
          `lake table ${table}, partition ${partitionPath(table, span)}: ordinal ${ordinal} was already written ` +
            'there by flushPartitionsBefore/flush; append all rows of an ordinal before flushing its partition',
        );
      }
    }
  }

  private bufferRows(table: LakeTableName, span: number, ordinal: number, rows: readonly LakeRow[]): void {
    const key = `${table}/${span}`;
    let buffer = this.buffers.get(key);
    if (buffer === undefined) {
      buffer = {
        table,
        spanStart: span,
        dir: partitionPath(table, span),
        chunks: [],
        chunkRows: 0,
        rows: [],
        runStarts: [],
        runOrdinals: [],
      };
      this.buffers.set(key, buffer);
    }
    if (buffer.runOrdinals.at(-1) !== ordinal) {
      buffer.runStarts.push(buffer.rows.length);
      buffer.runOrdinals.push(ordinal);
      // The runs before this one are closed: seal them once there are enough.
      if ((buffer.runStarts.at(-1) as number) >= CHUNK_ROWS) this.sealClosedRuns(buffer);
    }
    for (const row of rows) buffer.rows.push(row);
    this.openRows += rows.length;
  }

  private sealClosedRuns(buffer: SpanBuffer): void {
    const runs = buffer.runOrdinals.length - 1;
    const rows = buffer.runStarts[runs] as number;
    buffer.chunks.push({
      batches: encodeColumns(LAKE_TABLES[buffer.table], buffer.rows.slice(0, rows)),
      rows,
      firstOrdinal: buffer.runOrdinals[0] as number,
      lastOrdinal: buffer.runOrdinals[runs - 1] as number,
    });
    buffer.chunkRows += rows;
    this.dropRuns(buffer, runs);
  }

  /** Removes the first `runs` runs of the buffer's row objects. */
  private dropRuns(buffer: SpanBuffer, runs: number): void {
    const cutRows = this.runStart(buffer, runs);
    buffer.rows = buffer.rows.slice(cutRows);
    buffer.runStarts = buffer.runStarts.slice(runs).map((start) => start - cutRows);
    buffer.runOrdinals = buffer.runOrdinals.slice(runs);
  }

  private runStart(buffer: SpanBuffer, run: number): number {
    return run < buffer.runStarts.length ? (buffer.runStarts[run] as number) : buffer.rows.length;
  }

  // A buffer's units, in order: its sealed chunks, then its runs of row objects. Files take whole units.

  private unitCount(buffer: SpanBuffer): number {
    return buffer.chunks.length + buffer.runOrdinals.length;
  }

  /** Units that can be written now: all but a trailing run of the table's latest ordinal. */
  private closedUnitCount(buffer: SpanBuffer): number {
    const units = this.unitCount(buffer);
    return buffer.runOrdinals.at(-1) === this.tableState(buffer.table).latestOrdinal ? units - 1 : units;
  }

  private rowsBeforeUnit(buffer: SpanBuffer, unit: number): number {
    let rows = 0;
    const chunks = Math.min(unit, buffer.chunks.length);
    for (let i = 0; i < chunks; i++) rows += (buffer.chunks[i] as SealedChunk).rows;
    if (unit > buffer.chunks.length) rows += this.runStart(buffer, unit - buffer.chunks.length);
    return rows;
  }

  private unitOrdinals(buffer: SpanBuffer, unit: number): [number, number] {
    const chunk = buffer.chunks[unit];
    if (chunk !== undefined) return [chunk.firstOrdinal, chunk.lastOrdinal];
    const ordinal = buffer.runOrdinals[unit - buffer.chunks.length] as number;
    return [ordinal, ordinal];
  }

  private cutAll(buffer: SpanBuffer): void {
    const state = this.tableState(buffer.table);
    if (buffer.runOrdinals.at(-1) === state.latestOrdinal) state.spansCutAtLatest.add(buffer.spanStart);
    this.cutUnits(buffer, this.unitCount(buffer), false);
  }

  /**
   * Queues files of whole units from the head of the buffer, up to unitLimit, each of at most
   * maxRowsPerFile rows unless one unit alone is larger. With onlyFull, a last file that could still
   * grow stays buffered.
   */
  private cutUnits(buffer: SpanBuffer, unitLimit: number, onlyFull: boolean): void {
    let unit = 0;
    while (unit < unitLimit) {
      let end = unit;
      while (
        end < unitLimit &&
        (end === unit ||
          this.rowsBeforeUnit(buffer, end + 1) - this.rowsBeforeUnit(buffer, unit) <= this.maxRowsPerFile)
      ) {
        end++;
      }
      const rowCount = this.rowsBeforeUnit(buffer, end) - this.rowsBeforeUnit(buffer, unit);
      if (onlyFull && end === unitLimit && rowCount < this.maxRowsPerFile) break;
      this.queueFile(buffer, unit, end);
      unit = end;
    }
    if (unit === 0) return;
    const cutChunks = Math.min(unit, buffer.chunks.length);
    const cutRows = this.rowsBeforeUnit(buffer, unit);
    for (const chunk of buffer.chunks.slice(0, cutChunks)) buffer.chunkRows -= chunk.rows;
    buffer.chunks = buffer.chunks.slice(cutChunks);
    this.dropRuns(buffer, unit - cutChunks);
    this.openRows -= cutRows;
    if (this.unitCount(buffer) === 0) this.buffers.delete(`${buffer.table}/${buffer.spanStart}`);
  }

  private queueFile(buffer: SpanBuffer, firstUnit: number, endUnit: number): void {
    const sourceId = buffer.table === 'dead_letters' ? this.deadLetterSourceId : this.sourceId;
    const name = dataFileName(
      sourceId,
      this.unitOrdinals(buffer, firstUnit)[0],
      this.unitOrdinals(buffer, endUnit - 1)[1],
    );
    const batches: EncodedBatch[] = [];
    for (const chunk of buffer.chunks.slice(firstUnit, endUnit)) batches.push(...chunk.batches);
    const firstRun = Math.max(0, firstUnit - buffer.chunks.length);
    const endRun = endUnit - buffer.chunks.length;
    if (endRun > firstRun) {
      const rows = buffer.rows.slice(this.runStart(buffer, firstRun), this.runStart(buffer, endRun));
      batches.push(...encodeColumns(LAKE_TABLES[buffer.table], rows));
    }
    const rows = this.rowsBeforeUnit(buffer, endUnit) - this.rowsBeforeUnit(buffer, firstUnit);
    this.pending.push({ table: buffer.table, relativePath: `${buffer.dir}/${name}`, batches, rows });
    this.pendingRows += rows;
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

  /** A background write failure, unless every file has been stored since (a later call retried it). */
  private throwBackgroundFailure(): void {
    const failure = this.backgroundFailure;
    if (failure === undefined) return;
    this.backgroundFailure = undefined;
    if (this.pending.length > 0) throw failure.error;
  }

  /** Writes queued files after any earlier flush call's writes; a failed file stays queued for the next call. */
  private writeQueued(): Promise<void> {
    return this.writing.run(() => this.writePending());
  }

  /**
   * Stops writing for good: buffered rows and queued files are dropped, writes not yet started never
   * start, and those under way make no further attempt (one already sent may still land). For a
   * partition another instance took over: it writes those rows again from its checkpoint.
   */
  abandon(): void {
    this.abandoned = true;
    this.abandoning.abort(new Error('the lake writer was abandoned: another writer owns these rows now'));
    this.buffers.clear();
    this.pending.length = 0;
    this.openRows = 0;
    this.pendingRows = 0;
  }

  private async writePending(): Promise<void> {
    const files = [...this.pending];
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < files.length && !this.abandoned) {
        const file = files[next++] as PendingFile;
        try {
          const bytes = await this.encoder.encode(file.table, file.batches);
          await this.store.put(file.relativePath, bytes, this.abandoning.signal);
        } catch (error) {
          // Abandoned: nobody waits for these rows any more, so a failure is no one's to report.
          if (!this.abandoned) failure ??= { error };
          return;
        }
        // Gone from the queue only if abandoned meanwhile.
        const queued = this.pending.indexOf(file);
        if (queued >= 0) {
          this.pending.splice(queued, 1);
          this.pendingRows -= file.rows;
        }
        this.filesWritten++;
        this.rowsWritten[file.table] += file.rows;
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, files.length) }, worker));
    if (failure !== undefined) throw failure.error;
  }
}
