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
});
