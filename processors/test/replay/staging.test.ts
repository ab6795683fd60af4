import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { commitStaging, discardStaging, stagingDir } from '../../src/replay/staging.js';

describe('replay staging', () => {
  test('commit moves every staged file to its lake path, replacing same-named files, and removes the staging folder', async () => {
    const lake = await mkdtemp(join(tmpdir(), 'lake-'));
    const staging = stagingDir(lake, 'run1');
    await mkdir(join(staging, 'rollups_1m/dt=2025-01-01/hour=00'), { recursive: true });
    await writeFile(join(staging, 'rollups_1m/dt=2025-01-01/hour=00/f.parquet'), 'new');
    await mkdir(join(lake, 'rollups_1m/dt=2025-01-01/hour=00'), { recursive: true });
    await writeFile(join(lake, 'rollups_1m/dt=2025-01-01/hour=00/f.parquet'), 'old');
    expect(await commitStaging(staging, lake)).toBe(1);
    expect(await readFile(join(lake, 'rollups_1m/dt=2025-01-01/hour=00/f.parquet'), 'utf8')).toBe('new');
    expect(await readdir(lake)).toEqual(['rollups_1m']);
  });

  test('discard leaves the lake untouched', async () => {
    const lake = await mkdtemp(join(tmpdir(), 'lake-'));
    const staging = stagingDir(lake, 'run2');
    await mkdir(join(staging, 'invocations'), { recursive: true });
    await writeFile(join(staging, 'invocations/x.parquet'), 'x');
    await discardStaging(staging);
    expect(await readdir(lake)).toEqual([]);
  });

  test('a run that staged nothing commits nothing and leaves the lake as it was', async () => {
    const lake = await mkdtemp(join(tmpdir(), 'lake-'));
    expect(await commitStaging(stagingDir(lake, 'empty-run'), lake)).toBe(0);
    expect(await readdir(lake)).toEqual([]);
  });

  test("removes an earlier replay's files of the same source that this run did not write again, but no dead letters", async () => {
    const lake = await mkdtemp(join(tmpdir(), 'lake-'));
    const partition = 'invocations/dt=2025-01-01/hour=00';
    await mkdir(join(lake, partition), { recursive: true });
    await writeFile(join(lake, partition, 'replay-abc-0-9.parquet'), 'old, cut differently');
    await writeFile(join(lake, partition, 'replay-abc-10-19.parquet'), 'old');
    await writeFile(join(lake, partition, 'replay-other-0-9.parquet'), 'another input');
    await mkdir(join(lake, 'dead_letters/dt=2025-01-01/hour=00'), { recursive: true });
    await writeFile(join(lake, 'dead_letters/dt=2025-01-01/hour=00/replay-abc-run-1-0-0.parquet'), 'audit');
    const staging = stagingDir(lake, 'run2');
    await mkdir(join(staging, partition), { recursive: true });
    await writeFile(join(staging, partition, 'replay-abc-0-19.parquet'), 'new');
    await commitStaging(staging, lake, 'replay-abc-');
    expect((await readdir(join(lake, partition))).sort()).toEqual([
      'replay-abc-0-19.parquet',
      'replay-other-0-9.parquet',
    ]);
    expect(await readdir(join(lake, 'dead_letters/dt=2025-01-01/hour=00'))).toEqual([
      'replay-abc-run-1-0-0.parquet',
    ]);
  });
});
