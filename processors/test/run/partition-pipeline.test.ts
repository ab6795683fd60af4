import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAKE_TABLES, type LakeTableName } from '@genai-pipeline/schemas';
import { inlineEncoder, LocalLakeStore, type WindowResults } from '@genai-pipeline/sinks';
import { describe, expect, test } from 'vitest';
import { Pricer } from '../../src/pricing/pricer.js';
import type { PartitionCheckpoint } from '../../src/run/checkpoint-store.js';
import { PartitionPipeline } from '../../src/run/partition-pipeline.js';
import type { SourceBatch, SourceEntry } from '../../src/sources/source.js';
import { invocationEvent } from '../support/events.js';
import { queryLake } from '../support/lake-query.js';

const MINUTE = 60_000;
/** A window start, well in the past. */
const T0 = Date.UTC(2025, 5, 1, 10);
const RECEIVED_AT = T0 + 10 * MINUTE;
const TABLES = Object.keys(LAKE_TABLES) as LakeTableName[];

const tempLake = async () => new LocalLakeStore(await mkdtemp(join(tmpdir(), 'partition-pipeline-')));

function openPipeline(store: LocalLakeStore, checkpoint?: PartitionCheckpoint, sourceId = 'ab12-log') {
  const closed: WindowResults[] = [];
  const opening = PartitionPipeline.open(
    {
      partition: 'log',
      sourceId,
      store,
      encoder: inlineEncoder,
      windowSinks: [],
      pricer: new Pricer(new Map()),
      maxOutOfOrdernessMs: 0,
      maxPendingRows: 100_000,
      onWindowClosed: (_partition, window) => closed.push(window),
    },
    { checkpoint },
    [store],
  );
  return { opening, closed };
}

const invocation = (id: string, eventTime: number, receivedAt = RECEIVED_AT): SourceEntry => ({
  record: { format: 'json', text: JSON.stringify(invocationEvent({ event_id: id, event_time: eventTime })) },
  receivedAt,
});
const batch = (position: string, entries: SourceEntry[]): SourceBatch => ({
  partition: 'log',
  entries,
  position,
});

/** Every file of the lake by table: names only. */
async function files(store: LocalLakeStore): Promise<Record<string, string[]>> {
  const listing: Record<string, string[]> = {};
  for (const table of TABLES) {
    const names: string[] = [];
    for await (const path of store.list(table)) names.push(path.slice(path.lastIndexOf('/') + 1));
    listing[table] = names.sort();
  }
  return listing;
}

/**
 * A checkpoint taken after three records in windows T0, T0+1m, T0+2m: the first two windows closed
 * (closedThrough T0+2m), the third open; next ordinal 3.
 */
async function checkpointAfterThreeWindows(): Promise<PartitionCheckpoint> {
  const { opening } = openPipeline(await tempLake());
  const { pipeline } = await opening;
  await pipeline.process(
    batch('3', [invocation('a', T0), invocation('b', T0 + MINUTE), invocation('c', T0 + 2 * MINUTE)]),
  );
  const checkpoint = await pipeline.flush(RECEIVED_AT);
  if (checkpoint === undefined) throw new Error('a pipeline that processed a batch gives a checkpoint');
  return checkpoint;
}

describe('PartitionPipeline.open', () => {
  test("removes its source's files from the checkpoint's marks on, keeps older ones and other sources'", async () => {
    const checkpoint = await checkpointAfterThreeWindows();
    expect(checkpoint.nextOrdinal).toBe(3);
    expect(checkpoint.processor.closedThrough).toBe(T0 + 2 * MINUTE);
    const store = await tempLake();
    const put = (table: LakeTableName, name: string) =>
      store.put(`${table}/dt=2025-06-01/hour=10/${name}`, new Uint8Array([1]));
    for (const table of ['invocations', 'scores', 'dead_letters'] as const) {
      await put(table, 'ab12-log-0-2.parquet'); // before nextOrdinal: kept
      await put(table, 'ab12-log-3-9.parquet'); // written after the checkpoint
      await put(table, 'ab12-log-7-7.parquet');
      await put(table, 'cd34-log-3-9.parquet'); // another store's run
      await put(table, 'ab12-log2-3-9.parquet'); // another partition of this store
    }
    const [closedStart, openStart] = [T0 + MINUTE, T0 + 2 * MINUTE];
    for (const table of ['rollups_1m', 'score_rollups_1m', 'anomalies'] as const) {
      await put(table, `ab12-log-${T0}-${closedStart}.parquet`); // closed before the checkpoint: kept
      await put(table, `ab12-log-${openStart}-${openStart}.parquet`); // closed after it
      await put(table, `cd34-log-${openStart}-${openStart}.parquet`);
    }
    // A write a crash interrupted, this source's and another's.
    await put('invocations', '.tmp-0a1b2c-ab12-log-0-2.parquet');
    await put('invocations', '.tmp-0a1b2c-cd34-log-0-2.parquet');

    const { filesRemoved } = await openPipeline(store, checkpoint).opening;

    expect(filesRemoved).toBe(3 * 2 + 3 * 1 + 1);
    const raw = ['ab12-log-0-2.parquet', 'ab12-log2-3-9.parquet', 'cd34-log-3-9.parquet'];
    const windows = [`ab12-log-${T0}-${closedStart}.parquet`, `cd34-log-${openStart}-${openStart}.parquet`];
    expect(await files(store)).toEqual({
      invocations: ['.tmp-0a1b2c-cd34-log-0-2.parquet', ...raw],
      scores: raw,
      dead_letters: raw,
      rollups_1m: windows,
      score_rollups_1m: windows,
      anomalies: windows,
    });
  });

  test("without a checkpoint, every file of its source goes (nothing of it is covered), others' stay", async () => {
    const store = await tempLake();
    await store.put('invocations/dt=2025-06-01/hour=10/ab12-log-0-2.parquet', new Uint8Array([1]));
    await store.put(`rollups_1m/dt=2025-06-01/hour=10/ab12-log-n60000-${T0}.parquet`, new Uint8Array([1]));
    await store.put('invocations/dt=2025-06-01/hour=10/cd34-log-0-2.parquet', new Uint8Array([1]));
    const { filesRemoved } = await openPipeline(store).opening;
    expect(filesRemoved).toBe(2);
    expect((await files(store)).invocations).toEqual(['cd34-log-0-2.parquet']);
    expect((await files(store)).rollups_1m).toEqual([]);
  });

  test('resumes the checkpointed state: counters, open windows, next ordinal and position', async () => {
    const checkpoint = await checkpointAfterThreeWindows();
    const store = await tempLake();
    const { opening, closed } = openPipeline(store, checkpoint);
    const { pipeline } = await opening;
    expect(pipeline.counters).toEqual(checkpoint.processor.counters);
    expect(pipeline.closedThrough).toBe(T0 + 2 * MINUTE);
    expect(await pipeline.flush(RECEIVED_AT)).toEqual({ ...checkpoint, takenAt: RECEIVED_AT });
    // The checkpoint's open window goes on: it closes holding the event from before and the new one.
    await pipeline.process(
      batch('5', [invocation('d', T0 + 2 * MINUTE + 1), invocation('e', T0 + 3 * MINUTE)]),
    );
    expect(closed.map((w) => w.windowStart)).toEqual([T0 + 2 * MINUTE]);
    expect(closed[0]?.rollups.map((row) => row.requests)).toEqual([2]);
    expect((await pipeline.flush(RECEIVED_AT))?.nextOrdinal).toBe(5);
    expect((await files(store)).invocations).toEqual(['ab12-log-3-4.parquet']);
  });
});

describe('PartitionPipeline.flush', () => {
  test('undefined before any batch', async () => {
    const { pipeline } = await openPipeline(await tempLake()).opening;
    expect(await pipeline.flush(RECEIVED_AT)).toBeUndefined();
  });

  test("a checkpoint with the last batch's position, the next ordinal and both snapshots; the lake has it all", async () => {
    const store = await tempLake();
    const { pipeline } = await openPipeline(store).opening;
    await pipeline.process(batch('17', [invocation('a', T0), invocation('a', T0 + 1)]));
    await pipeline.process(batch('19', [invocation('b', T0 + MINUTE)]));
    expect(pipeline.bufferedRows).toBeGreaterThan(0);
    const checkpoint = await pipeline.flush(RECEIVED_AT + 1);
    expect(checkpoint).toMatchObject({
      version: 1,
      partition: 'log',
      position: '19',
      nextOrdinal: 3,
      takenAt: RECEIVED_AT + 1,
      processor: {
        version: 1,
        counters: { events: 3, accepted: 2, duplicates: 1, late: 0, invalid: 0 },
        maxAcceptedEventTime: T0 + MINUTE,
        closedThrough: T0 + MINUTE,
      },
      detector: { version: 1 },
    });
    expect(checkpoint?.processor.openWindows.map((w) => w.windowStart)).toEqual([T0 + MINUTE]);
    expect(pipeline.bufferedRows).toBe(0);
    const listing = await files(store);
    // One file of ordinals 0 to 2 (the duplicate at 1 has no row).
    expect(listing.invocations).toEqual(['ab12-log-0-2.parquet']);
    expect(listing.rollups_1m).toEqual([`ab12-log-${T0}-${T0}.parquet`]);
  });
});

describe('PartitionPipeline.process', () => {
  test('ordinals go on from batch to batch: lake files are named after them', async () => {
    const store = await tempLake();
    const { pipeline } = await openPipeline(store).opening;
    await pipeline.process(batch('2', [invocation('a', T0), invocation('b', T0 + 1)]));
    await pipeline.flush(RECEIVED_AT);
    await pipeline.process(
      batch('5', [invocation('c', T0 + 2), invocation('d', T0 + 3), invocation('e', T0 + 4)]),
    );
    expect((await pipeline.flush(RECEIVED_AT))?.nextOrdinal).toBe(5);
    expect((await files(store)).invocations).toEqual(['ab12-log-0-1.parquet', 'ab12-log-2-4.parquet']);
  });

  test("each entry's receivedAt is its processing clock: the future bound and the dead letter's received_at", async () => {
    const store = await tempLake();
    const { pipeline } = await openPipeline(store).opening;
    const earlier = Date.UTC(2020, 0, 1);
    const later = Date.UTC(2020, 0, 3);
    // Long past by the wall clock, but two days ahead of when the first entry was received.
    const eventTime = Date.UTC(2020, 0, 3);
    await pipeline.process(
      batch('2', [
        invocation('future', eventTime, earlier),
        invocation('fine', eventTime, later),
        { record: { format: 'json', text: '{"event_id": "bad"' }, receivedAt: later },
      ]),
    );
    await pipeline.flush(later);
    expect(pipeline.counters).toMatchObject({ events: 3, accepted: 1, invalid: 2 });
    const rows = await queryLake(
      store.rootDir,
      'SELECT CAST(epoch_ms(received_at) AS DOUBLE) AS received_at, reason, error FROM {dead_letters} ORDER BY received_at',
    );
    expect(rows).toEqual([
      { received_at: earlier, reason: 'invalid', error: expect.stringContaining('event_time') },
      { received_at: later, reason: 'invalid', error: expect.stringContaining('not valid JSON') },
    ]);
  });
});
