import { LAKE_TABLES } from '@genai-pipeline/schemas';
import { afterAll, describe, expect, it } from 'vitest';
import { inlineEncoder, WorkerPoolEncoder } from '../../src/lake/encoder.js';
import { encodeColumns, encodeParquet } from '../../src/lake/parquet.js';
import { sampleRow } from '../support/rows.js';

// The worker script runs from the package's build (turbo's test task builds it first).
describe('Parquet encoders', () => {
  const pool = new WorkerPoolEncoder(2);
  afterAll(() => pool.close());

  const rows = Array.from({ length: 70_000 }, (_, i) =>
    sampleRow(LAKE_TABLES.invocations, i, { event_id: `event-${i}`, tenant_id: i % 3 ? `t-${i % 7}` : null }),
  );

  it('the worker pool produces the same bytes as encoding inline, for every table', async () => {
    const batches = encodeColumns(LAKE_TABLES.invocations, rows);
    // Buffer#equals: a deep equality over megabytes element by element would take the test's time.
    const fromWorker = Buffer.from(await pool.encode('invocations', batches));
    expect(fromWorker.equals(Buffer.from(encodeParquet(LAKE_TABLES.invocations, rows)))).toBe(true);
    for (const spec of Object.values(LAKE_TABLES)) {
      const sample = Array.from({ length: 5 }, (_, i) => sampleRow(spec, i));
      const sampleBatches = encodeColumns(spec, sample);
      expect(await pool.encode(spec.name, sampleBatches)).toEqual(
        await inlineEncoder.encode(spec.name, sampleBatches),
      );
    }
  });

  it('runs requests concurrently and answers each with its own file', async () => {
    const [a, b, c] = await Promise.all([
      pool.encode('invocations', encodeColumns(LAKE_TABLES.invocations, rows.slice(0, 10))),
      pool.encode('invocations', encodeColumns(LAKE_TABLES.invocations, rows.slice(10, 30))),
      pool.encode(
        'dead_letters',
        encodeColumns(LAKE_TABLES.dead_letters, [sampleRow(LAKE_TABLES.dead_letters, 1)]),
      ),
    ]);
    expect(a).toEqual(encodeParquet(LAKE_TABLES.invocations, rows.slice(0, 10)));
    expect(b).toEqual(encodeParquet(LAKE_TABLES.invocations, rows.slice(10, 30)));
    expect(c).toEqual(encodeParquet(LAKE_TABLES.dead_letters, [sampleRow(LAKE_TABLES.dead_letters, 1)]));
  });

  it('leaves the caller its batches, so a failed file can be encoded again', async () => {
    const batches = encodeColumns(LAKE_TABLES.invocations, rows.slice(0, 100));
    const first = await pool.encode('invocations', batches);
    expect(await pool.encode('invocations', batches)).toEqual(first);
  });

  it('a worker that dies fails its requests as retriable, and the pool goes on with a new worker', async () => {
    const single = new WorkerPoolEncoder(1);
    try {
      const batches = encodeColumns(LAKE_TABLES.invocations, rows.slice(0, 20_000));
      const pending = single.encode('invocations', batches);
      const slots = (single as unknown as { workers: { worker: { terminate(): Promise<number> } }[] })
        .workers;
      await slots[0]?.worker.terminate();
      await expect(pending).rejects.toMatchObject({ name: 'EncoderWorkerError', retriable: true });
      const again = Buffer.from(await single.encode('invocations', batches));
      expect(again.equals(Buffer.from(encodeParquet(LAKE_TABLES.invocations, rows.slice(0, 20_000))))).toBe(
        true,
      );
    } finally {
      await single.close();
    }
  });
});
