import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LAKE_TABLES, type LakeRow, type LakeTableName } from '@genai-pipeline/schemas';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ParquetEncoder } from '../../src/lake/encoder.js';
import { LakeRowError, LakeStoreError, LakeUsageError } from '../../src/lake/errors.js';
import { LakeSink, type LakeSinkOptions } from '../../src/lake/lake-sink.js';
import { LocalLakeStore } from '../../src/lake/local-store.js';
import { writeParquetFile } from '../../src/lake/parquet.js';
import type { LakeStore } from '../../src/lake/store.js';
import { type LakeReader, openLakeReader, sqlString } from '../support/duckdb.js';
import { sampleRow } from '../support/rows.js';

const H0 = Date.UTC(2025, 2, 14, 23, 0, 0);
const H1 = H0 + 3_600_000;
const H2 = H1 + 3_600_000;

let reader: LakeReader;
let dir: string;

beforeAll(async () => {
  reader = await openLakeReader();
});

afterAll(() => reader.close());

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sinks-lake-'));
  return () => rm(dir, { recursive: true, force: true });
});

function invocation(eventTime: number, id: number): LakeRow {
  return sampleRow(LAKE_TABLES.invocations, id, { event_id: `e-${id}`, event_time: eventTime });
}

function rollup(windowStart: number, key: number): LakeRow {
  return sampleRow(LAKE_TABLES.rollups_1m, key, {
    window_start: windowStart,
    window_end: windowStart + 60_000,
  });
}

function deadLetter(receivedAt: number, id: number): LakeRow {
  return sampleRow(LAKE_TABLES.dead_letters, id, { received_at: receivedAt });
}

function sink(options: Partial<LakeSinkOptions> = {}, root = dir): LakeSink {
  return new LakeSink({ store: new LocalLakeStore(root), sourceId: 'src', ...options });
}

/** Every file under root, relative, sorted (temporary files included, so leftovers show up). */
async function listFiles(root = dir): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .sort();
}

async function countRows(table: LakeTableName, root = dir): Promise<number> {
  const glob = sqlString(path.join(root, table, '**', '*.parquet'));
  const [row] = await reader.query(`SELECT count(*)::DOUBLE AS n FROM read_parquet(${glob})`);
  return row?.n as number;
}

async function fileRowCounts(root = dir): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const file of await listFiles(root)) {
    const [row] = await reader.query(
      `SELECT count(*)::DOUBLE AS n FROM read_parquet(${sqlString(path.join(root, file))})`,
    );
    counts[file] = row?.n as number;
  }
  return counts;
}

/** A mixed run: raw rows over three hours (one late), rollups, dead letters, with each kind of flush. */
async function replayScenario(lake: LakeSink): Promise<void> {
  for (let offset = 0; offset < 30; offset++) {
    lake.append('invocations', offset, [invocation(H0 + offset * 200_000, offset)]);
    if (offset % 10 === 9) lake.append('dead_letters', offset, [deadLetter(H0 + offset * 200_000, offset)]);
    await lake.flushReady();
  }
  lake.append('rollups_1m', H0, [rollup(H0, 1), rollup(H0, 2)]);
  lake.append('rollups_1m', H1 - 60_000, [rollup(H1 - 60_000, 1)]);
  await lake.flushPartitionsBefore(H1);
  lake.append('invocations', 30, [invocation(H0 + 5, 30), invocation(H2 + 5, 31)]);
  await lake.flush();
}

describe('LakeSink', () => {
  it('writes each table and UTC hour to its partition, named by source and ordinal range', async () => {
    const lake = sink({ deadLetterSourceId: 'run-7' });
    await replayScenario(lake);
    expect(await listFiles()).toEqual([
      'dead_letters/dt=2025-03-14/hour=23/run-7-9-9.parquet',
      'dead_letters/dt=2025-03-15/hour=00/run-7-19-29.parquet',
      'invocations/dt=2025-03-14/hour=23/src-0-17.parquet',
      'invocations/dt=2025-03-14/hour=23/src-30-30.parquet',
      'invocations/dt=2025-03-15/hour=00/src-18-29.parquet',
      'invocations/dt=2025-03-15/hour=01/src-30-30.parquet',
      'rollups_1m/dt=2025-03-14/hour=23/src-1741993200000-1741996740000.parquet',
    ]);
    expect(await countRows('invocations')).toBe(32);
    expect(await countRows('rollups_1m')).toBe(3);
    expect(await countRows('dead_letters')).toBe(3);
    expect(lake.stats()).toEqual({
      filesWritten: 7,
      rowsWritten: {
        invocations: 32,
        scores: 0,
        rollups_1m: 3,
        score_rollups_1m: 0,
        anomalies: 0,
        dead_letters: 3,
      },
      bufferedRows: 0,
    });
  });

  it('writes the same files with the same bytes for the same appends', async () => {
    const other = await mkdtemp(path.join(tmpdir(), 'sinks-lake-'));
    try {
      await replayScenario(sink());
      await replayScenario(sink({}, other));
      const files = await listFiles();
      expect(await listFiles(other)).toEqual(files);
      for (const file of files) {
        expect(await readFile(path.join(other, file)), file).toEqual(await readFile(path.join(dir, file)));
      }
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('replaces its files when the same input is replayed into the same lake', async () => {
    await replayScenario(sink());
    const files = await listFiles();
    await replayScenario(sink());
    expect(await listFiles()).toEqual(files);
    expect(await countRows('invocations')).toBe(32);
    expect(await countRows('rollups_1m')).toBe(3);
  });

  it('leaves no temporary file behind', async () => {
    await replayScenario(sink());
    expect((await listFiles()).filter((f) => path.basename(f).startsWith('.'))).toEqual([]);
  });

  describe('flushReady', () => {
    it('cuts full files at ordinal boundaries and keeps the latest ordinal buffered', async () => {
      const lake = sink({ maxRowsPerFile: 7 });
      for (let ordinal = 0; ordinal < 10; ordinal++) {
        lake.append(
          'invocations',
          ordinal,
          [0, 1, 2].map((k) => invocation(H0, ordinal * 3 + k)),
        );
      }
      await lake.flushReady();
      expect(await fileRowCounts()).toEqual({
        'invocations/dt=2025-03-14/hour=23/src-0-1.parquet': 6,
        'invocations/dt=2025-03-14/hour=23/src-2-3.parquet': 6,
        'invocations/dt=2025-03-14/hour=23/src-4-5.parquet': 6,
        'invocations/dt=2025-03-14/hour=23/src-6-7.parquet': 6,
      });
      expect(lake.stats().bufferedRows).toBe(6);
    });

    it('never splits one ordinal, even across appends or beyond maxRowsPerFile', async () => {
      const lake = sink({ maxRowsPerFile: 2 });
      for (let k = 0; k < 3; k++) lake.append('invocations', 5, [invocation(H0, k)]);
      lake.append(
        'invocations',
        6,
        [3, 4, 5, 6, 7].map((k) => invocation(H0, k)),
      );
      lake.append('invocations', 7, [invocation(H0, 8)]);
      await lake.flushReady();
      expect(await fileRowCounts()).toEqual({
        'invocations/dt=2025-03-14/hour=23/src-5-5.parquet': 3,
        'invocations/dt=2025-03-14/hour=23/src-6-6.parquet': 5,
      });
    });

    it('writes the largest buffers until the buffered rows fit maxBufferedRows', async () => {
      const lake = sink({ maxBufferedRows: 10 });
      const hours = [H0, H0, H1, H0, H2, H1, H0, H0, H1, H0, H0, H2, H0, H1, H0, H1];
      for (const [offset, hour] of hours.entries())
        lake.append('invocations', offset, [invocation(hour, offset)]);
      await lake.flushReady();
      expect(await fileRowCounts()).toEqual({ 'invocations/dt=2025-03-14/hour=23/src-0-14.parquet': 9 });
      expect(lake.stats().bufferedRows).toBe(7);
    });

    it('keeps memory bounded over a long input and loses no row', async () => {
      const lake = sink({ maxBufferedRows: 50, maxRowsPerFile: 40 });
      let maxBuffered = 0;
      for (let offset = 0; offset < 1_000; offset++) {
        lake.append('invocations', offset, [invocation(H0 + ((offset * 7919) % 3) * 3_600_000, offset)]);
        await lake.flushReady();
        maxBuffered = Math.max(maxBuffered, lake.stats().bufferedRows);
      }
      expect(maxBuffered).toBeLessThanOrEqual(50);
      await lake.flush();
      expect(await countRows('invocations')).toBe(1_000);
      const [ids] = await reader.query(
        `SELECT count(DISTINCT event_id)::DOUBLE AS n FROM read_parquet(${sqlString(`${dir}/invocations/**/*.parquet`)})`,
      );
      expect(ids).toEqual({ n: 1_000 });
    });
  });

  describe('flushPartitionsBefore', () => {
    it('writes exactly the partitions whose hour ended at or before the time', async () => {
      const lake = sink();
      lake.append('invocations', 0, [invocation(H0 + 1, 0), invocation(H1 - 1, 1)]);
      lake.append('invocations', 1, [invocation(H1, 2)]);
      await lake.flushPartitionsBefore(H1 - 1);
      expect(await listFiles()).toEqual([]);
      await lake.flushPartitionsBefore(H1);
      expect(await fileRowCounts()).toEqual({ 'invocations/dt=2025-03-14/hour=23/src-0-0.parquet': 2 });
      expect(lake.stats().bufferedRows).toBe(1);
    });

    it('puts late rows of a written partition into a new file', async () => {
      const lake = sink();
      lake.append('invocations', 0, [invocation(H0, 0)]);
      lake.append('invocations', 1, [invocation(H1, 1)]);
      await lake.flushPartitionsBefore(H1);
      lake.append('invocations', 2, [invocation(H0 + 10, 2)]);
      await lake.flush();
      expect(await fileRowCounts()).toEqual({
        'invocations/dt=2025-03-14/hour=23/src-0-0.parquet': 1,
        'invocations/dt=2025-03-14/hour=23/src-2-2.parquet': 1,
        'invocations/dt=2025-03-15/hour=00/src-1-1.parquet': 1,
      });
    });

    it('refuses more rows of an ordinal in a partition it already wrote, which would overwrite that file', async () => {
      const lake = sink();
      lake.append('invocations', 4, [invocation(H0, 0)]);
      await lake.flushPartitionsBefore(H1);
      expect(() => lake.append('invocations', 4, [invocation(H0 + 1, 1)])).toThrow(
        /partition invocations\/dt=2025-03-14\/hour=23: ordinal 4 was already written/,
      );
      lake.append('invocations', 4, [invocation(H1, 2)]);
      lake.append('invocations', 5, [invocation(H0 + 2, 3)]);
      await lake.flush();
      expect(await countRows('invocations')).toBe(3);
    });
  });

  describe('append', () => {
    it('rejects a decreasing ordinal of a table but not of another table', () => {
      const lake = sink();
      lake.append('invocations', 10, [invocation(H0, 0)]);
      expect(() => lake.append('invocations', 9, [invocation(H0, 1)])).toThrow(
        /lake table invocations: ordinal 9 after 10; ordinals must be non-decreasing per table/,
      );
      expect(() => lake.append('dead_letters', 3, [deadLetter(H0, 1)])).not.toThrow();
    });

    it('rejects an invalid row without buffering any row of the append', () => {
      const lake = sink();
      const bad = { ...invocation(H0, 1), status: null };
      expect(() => lake.append('invocations', 0, [invocation(H1, 0), bad])).toThrow(LakeRowError);
      expect(lake.stats().bufferedRows).toBe(0);
    });

    it('takes windows before 1970 (negative ordinals)', async () => {
      const lake = sink();
      lake.append('rollups_1m', -120_000, [rollup(-120_000, 1)]);
      lake.append('rollups_1m', -60_000, [rollup(-60_000, 1)]);
      await lake.flush();
      expect(await fileRowCounts()).toEqual({
        'rollups_1m/dt=1969-12-31/hour=23/src-n120000-n60000.parquet': 2,
      });
    });

    it.each([0.5, Number.NaN, 2 ** 53])('rejects ordinal %d', (ordinal) => {
      expect(() => sink().append('invocations', ordinal, [])).toThrow(LakeUsageError);
    });
  });

  it.each<[Partial<LakeSinkOptions>, RegExp]>([
    [{ sourceId: '../x' }, /source id "..\/x"/],
    [{ deadLetterSourceId: 'a b' }, /source id "a b"/],
    [{ maxRowsPerFile: 0 }, /maxRowsPerFile must be a positive integer, got 0/],
    [{ maxBufferedRows: 1.5 }, /maxBufferedRows must be a positive integer, got 1.5/],
  ])('rejects options %j', (options, message) => {
    expect(() => sink(options)).toThrow(message);
  });

  describe('when the store fails', () => {
    /** The real local store, made to fail chosen writes. */
    class FailingStore implements LakeStore {
      readonly inner: LocalLakeStore;
      failures: number;

      constructor(root: string, failures: number) {
        this.inner = new LocalLakeStore(root);
        this.failures = failures;
      }

      async put(relativePath: string, bytes: Uint8Array): Promise<void> {
        if (this.failures > 0) {
          this.failures--;
          throw new LakeStoreError(relativePath, 'injected write failure', true);
        }
        await this.inner.put(relativePath, bytes);
      }

      describe(): string {
        return this.inner.describe();
      }
    }

    it('a background write that failed and was retried by a flush is not reported again later', async () => {
      const store = new FailingStore(dir, 1);
      const lake = new LakeSink({ store, sourceId: 'src', maxPendingRows: 1_000 });
      lake.append('invocations', 0, [invocation(H0, 0)]);
      await lake.flushPartitionsBefore(H1);
      // The background write fails; the flush (a checkpoint) retries the file and succeeds.
      await lake.flush();
      expect(await listFiles()).toHaveLength(1);
      lake.append('invocations', 1, [invocation(H1, 1)]);
      await expect(lake.flushReady()).resolves.toBeUndefined();
      await lake.flush();
      expect(lake.stats()).toMatchObject({ filesWritten: 2, bufferedRows: 0 });
    });

    it('keeps the rows and writes the same file on the next flush', async () => {
      const store = new FailingStore(dir, 1);
      const lake = new LakeSink({ store, sourceId: 'src' });
      lake.append('invocations', 0, [invocation(H0, 0), invocation(H0 + 1, 1)]);
      await expect(lake.flush()).rejects.toThrow(/injected write failure \(retriable\)/);
      expect(lake.stats()).toMatchObject({ filesWritten: 0, bufferedRows: 2 });
      expect(await listFiles()).toEqual([]);

      lake.append('invocations', 1, [invocation(H0 + 2, 2)]);
      await lake.flush();
      expect(await fileRowCounts()).toEqual({
        'invocations/dt=2025-03-14/hour=23/src-0-0.parquet': 2,
        'invocations/dt=2025-03-14/hour=23/src-1-1.parquet': 1,
      });
      expect(lake.stats()).toMatchObject({ filesWritten: 2, bufferedRows: 0 });
    });

    it('stops at the first failure and keeps every unwritten file', async () => {
      const store = new FailingStore(dir, 1);
      const lake = new LakeSink({ store, sourceId: 'src' });
      for (let hour = 0; hour < 12; hour++)
        lake.append('invocations', hour, [invocation(H0 + hour * 3_600_000, hour)]);
      await expect(lake.flush()).rejects.toThrow(LakeStoreError);
      const written = lake.stats().filesWritten;
      expect(written).toBeLessThan(12);
      expect(lake.stats().bufferedRows).toBe(12 - written);
      await lake.flush();
      expect(lake.stats()).toMatchObject({ filesWritten: 12, bufferedRows: 0 });
      expect(await countRows('invocations')).toBe(12);
    });
  });

  describe('with maxPendingRows (background writes)', () => {
    /** An encoder whose files finish only when the test releases them. */
    function gatedEncoder() {
      const gates: (() => void)[] = [];
      const encoder: ParquetEncoder = {
        encode: (table, batches) =>
          new Promise((resolve) => gates.push(() => resolve(writeParquetFile(LAKE_TABLES[table], batches)))),
        close: async () => undefined,
      };
      return {
        encoder,
        release: () => {
          for (const open of gates.splice(0)) open();
        },
        waiting: () => gates.length,
      };
    }

    it('returns while files are written, and flush waits for all of them', async () => {
      const { encoder, release, waiting } = gatedEncoder();
      const lake = sink({ maxRowsPerFile: 2, maxPendingRows: 100, encoder });
      for (let i = 0; i < 5; i++) lake.append('invocations', i, [invocation(H0 + i, i)]);
      await lake.flushReady();
      expect(waiting()).toBeGreaterThan(0);
      expect(await listFiles()).toEqual([]);
      let flushed = false;
      const flushing = lake.flush().then(() => {
        flushed = true;
      });
      // Files are encoded one write round after another: open each gate as it appears.
      while (!flushed) {
        release();
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await flushing;
      expect(await countRows('invocations')).toBe(5);
      expect(lake.stats().bufferedRows).toBe(0);
    });

    it('waits for the writes once more rows than maxPendingRows are waiting (backpressure)', async () => {
      const { encoder, release } = gatedEncoder();
      const lake = sink({ maxRowsPerFile: 2, maxPendingRows: 1, encoder });
      for (let i = 0; i < 5; i++) lake.append('invocations', i, [invocation(H0 + i, i)]);
      let returned = false;
      const ready = lake.flushReady().then(() => {
        returned = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(returned).toBe(false);
      release();
      await ready;
      expect(lake.stats().filesWritten).toBe(2);
    });

    it('abandon: queued files, buffered rows and files still being encoded are never written', async () => {
      const { encoder, release, waiting } = gatedEncoder();
      // Concurrent writes take the first files; the rest stay queued behind them.
      const lake = sink({ maxRowsPerFile: 1, maxPendingRows: 100, encoder });
      for (let i = 0; i < 12; i++) lake.append('invocations', i, [invocation(H0 + i, i)]);
      await lake.flushReady();
      lake.append('invocations', 12, [invocation(H0 + 12, 12)]);
      const underWay = waiting();
      expect(underWay).toBeGreaterThan(0);
      expect(underWay).toBeLessThan(12);
      lake.abandon();
      release();
      await new Promise((resolve) => setTimeout(resolve, 20));
      release();
      await lake.flush();
      expect(await listFiles()).toEqual([]);
      expect(lake.stats().bufferedRows).toBe(0);
    });

    it("abandon: a write under way is told to stop, and its failure is no one's to report", async () => {
      const signals: AbortSignal[] = [];
      const store: LakeStore = {
        // A put that keeps retrying until it is told to stop.
        put: (_relativePath, _bytes, signal) =>
          new Promise((_resolve, reject) => {
            if (signal === undefined) return;
            signals.push(signal);
            signal.addEventListener('abort', () => reject(signal.reason));
          }),
        describe: () => 'stuck',
      };
      const lake = new LakeSink({ store, sourceId: 'src', maxRowsPerFile: 1, maxPendingRows: 100 });
      for (let i = 0; i < 3; i++) lake.append('invocations', i, [invocation(H0 + i, i)]);
      const flushing = lake.flush();
      while (signals.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(signals.every((signal) => !signal.aborted)).toBe(true);
      lake.abandon();
      expect(signals.every((signal) => signal.aborted)).toBe(true);
      await flushing;
      await lake.flushReady();
    });

    it('reports a background failure on the next call and keeps the file for a retry', async () => {
      let failures = 1;
      const store: LakeStore = {
        put: async (relativePath, bytes) => {
          if (failures-- > 0) throw new LakeStoreError(relativePath, 'injected write failure', true);
          await new LocalLakeStore(dir).put(relativePath, bytes);
        },
        describe: () => 'flaky',
      };
      const lake = new LakeSink({ store, sourceId: 'src', maxRowsPerFile: 1, maxPendingRows: 100 });
      lake.append('invocations', 0, [invocation(H0, 0)]);
      lake.append('invocations', 1, [invocation(H0 + 1, 1)]);
      await lake.flushReady();
      await new Promise((resolve) => setTimeout(resolve, 20));
      await expect(lake.flushReady()).rejects.toThrow(/injected write failure/);
      await lake.flush();
      expect(await countRows('invocations')).toBe(2);
    });
  });

  describe('large buffers', () => {
    it('seals closed rows into columnar chunks and still writes every row, in order, in whole-unit files', async () => {
      const lake = sink({ maxRowsPerFile: 40_000 });
      for (let offset = 0; offset < 50_000; offset++) {
        lake.append('invocations', offset, [invocation(H0 + offset, offset)]);
      }
      await lake.flushReady();
      // Sealed chunks of 16,384 rows are never split: the first file takes two of them.
      expect(await fileRowCounts()).toEqual({
        'invocations/dt=2025-03-14/hour=23/src-0-32767.parquet': 32_768,
      });
      await lake.flush();
      expect(await countRows('invocations')).toBe(50_000);
      const glob = sqlString(`${dir}/invocations/**/*.parquet`);
      const [check] = await reader.query(
        `SELECT count(*)::DOUBLE AS n FROM (SELECT event_id, row_number() OVER (ORDER BY filename, file_row_number) - 1 AS i
           FROM read_parquet(${glob}, filename = true)) WHERE event_id <> 'e-' || i::VARCHAR`,
      );
      expect(check).toEqual({ n: 0 });
    });
  });

  describe('fileSpanMs', () => {
    it('rolls files by event-time span inside the hour partition', async () => {
      const quarter = 15 * 60_000;
      const lake = sink({ fileSpanMs: quarter });
      lake.append('invocations', 0, [invocation(H0 + 1, 0)]);
      lake.append('invocations', 1, [invocation(H0 + quarter + 1, 1)]);
      lake.append('invocations', 2, [invocation(H0 + 2, 2)]);
      await lake.flushPartitionsBefore(H0 + quarter);
      expect(await fileRowCounts()).toEqual({ 'invocations/dt=2025-03-14/hour=23/src-0-2.parquet': 2 });
      await lake.flush();
      expect(await fileRowCounts()).toEqual({
        'invocations/dt=2025-03-14/hour=23/src-0-2.parquet': 2,
        'invocations/dt=2025-03-14/hour=23/src-1-1.parquet': 1,
      });
    });

    it('must divide an hour', () => {
      expect(() => sink({ fileSpanMs: 7 * 60_000 })).toThrow(/fileSpanMs must divide an hour/);
    });
  });
});
