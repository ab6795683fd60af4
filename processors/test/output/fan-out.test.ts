import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAKE_TABLES, type LakeRow } from '@genai-pipeline/schemas';
import { LakeSink, LocalLakeStore, type WindowResults, type WindowSink } from '@genai-pipeline/sinks';
import { describe, expect, it } from 'vitest';
import { ResultFanOut } from '../../src/output/fan-out.js';

const H0 = Date.UTC(2025, 0, 1, 10);

function rollupRow(windowStart: number): LakeRow {
  return Object.fromEntries(
    LAKE_TABLES.rollups_1m.columns.map((c) => [
      c.name,
      c.type === 'string' ? 'x' : c.type === 'timestamp' ? windowStart : c.nullable ? null : 1,
    ]),
  );
}

function windowAt(windowStart: number): WindowResults {
  return {
    windowStart,
    rollups: [rollupRow(windowStart)],
    rollupDistributions: [],
    scoreRollups: [],
    anomalies: [],
  };
}

function recordingSink(): WindowSink & { written: number[]; flushed: number } {
  const sink = {
    name: 'recording',
    written: [] as number[],
    flushed: 0,
    write: async (windows: readonly WindowResults[]) => {
      sink.written.push(...windows.map((w) => w.windowStart));
    },
    flush: async () => {
      sink.flushed++;
    },
    close: async () => undefined,
  };
  return sink;
}

describe('ResultFanOut', () => {
  it('sends closed windows to the lake and to every metric sink once, and flush reaches all of them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fan-out-'));
    const lake = new LakeSink({ store: new LocalLakeStore(dir), sourceId: 'src' });
    const [a, b] = [recordingSink(), recordingSink()];
    const fanOut = new ResultFanOut(lake, [a, b]);
    fanOut.windowClosed(windowAt(H0));
    fanOut.windowClosed(windowAt(H0 + 60_000));
    await fanOut.afterBatch(H0 + 90_000);
    expect(a.written).toEqual([H0, H0 + 60_000]);
    fanOut.windowClosed(windowAt(H0 + 120_000));
    await fanOut.flush();
    expect(a.written).toEqual([H0, H0 + 60_000, H0 + 120_000]);
    expect(b.written).toEqual(a.written);
    expect([a.flushed, b.flushed]).toEqual([1, 1]);
    expect(await readdir(join(dir, 'rollups_1m/dt=2025-01-01/hour=10'))).toHaveLength(1);
  });

  it('abandon: windows not yet delivered go nowhere, to the lake or the metric sinks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fan-out-'));
    const lake = new LakeSink({ store: new LocalLakeStore(dir), sourceId: 'src' });
    const sink = recordingSink();
    const fanOut = new ResultFanOut(lake, [sink]);
    fanOut.windowClosed(windowAt(H0));
    fanOut.abandon();
    await fanOut.flush();
    expect(sink.written).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('writes an hour partition of the lake once the watermark has passed it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fan-out-'));
    const lake = new LakeSink({ store: new LocalLakeStore(dir), sourceId: 'src' });
    const fanOut = new ResultFanOut(lake, []);
    fanOut.windowClosed(windowAt(H0 + 59 * 60_000));
    await fanOut.afterBatch(H0 + 59 * 60_000 + 90_000);
    expect(await readdir(join(dir, 'rollups_1m/dt=2025-01-01/hour=10'))).toHaveLength(1);
  });

  it("with windowTablesPromptly, writes each batch's closed windows at once instead of at the hour", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fan-out-'));
    const files = async (prefix: string) =>
      (await readdir(join(dir, 'rollups_1m/dt=2025-01-01/hour=10')).catch(() => [])).filter((name) =>
        name.startsWith(prefix),
      );
    const prompt = new ResultFanOut(
      new LakeSink({ store: new LocalLakeStore(dir), sourceId: 'prompt' }),
      [],
      true,
    );
    const lazy = new ResultFanOut(new LakeSink({ store: new LocalLakeStore(dir), sourceId: 'lazy' }), []);
    for (const fanOut of [prompt, lazy]) {
      fanOut.windowClosed(windowAt(H0));
      await fanOut.afterBatch(H0 + 90_000);
    }
    expect(await files('prompt')).toHaveLength(1);
    expect(await files('lazy')).toHaveLength(0);
    // A batch that closed no window writes no file.
    await prompt.afterBatch(H0 + 100_000);
    expect(await files('prompt')).toHaveLength(1);
    prompt.windowClosed(windowAt(H0 + 60_000));
    await prompt.afterBatch(H0 + 150_000);
    expect(await files('prompt')).toHaveLength(2);
  });
});
