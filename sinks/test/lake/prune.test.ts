import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LakeTableName } from '@genai-pipeline/schemas';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LakeUsageError } from '../../src/lake/errors.js';
import { dataFileName, partitionPath } from '../../src/lake/layout.js';
import { LocalLakeStore } from '../../src/lake/local-store.js';
import { removeFilesFrom } from '../../src/lake/prune.js';

let dir: string;
let store: LocalLakeStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sinks-prune-'));
  store = new LocalLakeStore(dir);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HOUR_10 = Date.UTC(2025, 2, 14, 10);
const HOUR_11 = Date.UTC(2025, 2, 14, 11);

/** Lake path of a data file of `sourceId` holding ordinals first..last, in the partition of timeMs. */
const fileOf = (table: LakeTableName, sourceId: string, first: number, last: number, timeMs = HOUR_10) =>
  `${partitionPath(table, timeMs)}/${dataFileName(sourceId, first, last)}`;

/** The name LocalLakeStore writes a file under until its rename: what a crash mid-write leaves. */
const temporaryOf = (lakePath: string, hex = '0123456789ab') => {
  const cut = lakePath.lastIndexOf('/');
  return `${lakePath.slice(0, cut)}/.tmp-${hex}-${lakePath.slice(cut + 1)}`;
};

async function writeFiles(paths: string[]): Promise<void> {
  for (const lakePath of paths) await store.put(lakePath, new TextEncoder().encode(lakePath));
}

/** Every file in the lake directory, as lake-relative paths, read from disk rather than through the store. */
async function filesOnDisk(): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

const marks =
  (byTable: Partial<Record<LakeTableName, number>>) =>
  (table: LakeTableName): number =>
    byTable[table] ?? Number.POSITIVE_INFINITY;

describe('removeFilesFrom', () => {
  it("removes the source's files whose first ordinal is at or after each table's mark, and keeps the rest", async () => {
    const source = 'log-ab';
    const removed = [
      fileOf('invocations', source, 20, 29),
      // 100 sorts before 20 as text: the ordinals are compared as numbers.
      fileOf('invocations', source, 100, 120, HOUR_11),
      fileOf('scores', source, -5, -1),
      fileOf('scores', source, -3, 4, HOUR_11),
      fileOf('scores', source, 7, 9),
      // A -Infinity mark: everything of the source goes, negative ordinals included.
      fileOf('rollups_1m', source, -7_200_000, -3_600_000),
      fileOf('rollups_1m', source, 0, 60_000, HOUR_11),
      temporaryOf(fileOf('invocations', source, 200, 210)),
      // A leftover of a write from before the mark still goes: it was never renamed into the lake.
      temporaryOf(fileOf('anomalies', source, 1, 2), 'fedcba987654'),
    ];
    const kept = [
      fileOf('invocations', source, 3, 5),
      fileOf('invocations', source, 10, 25),
      fileOf('scores', source, -10, -6),
      fileOf('scores', source, -6, 100),
      // No mark for anomalies: the files stay.
      fileOf('anomalies', source, 1, 2),
      // Other sources whose ids are prefixes or extensions of this one, or end in an ordinal-like part.
      fileOf('invocations', 'log-ab-x', 100, 120),
      fileOf('invocations', 'log-a', 100, 120),
      fileOf('invocations', 'log-abc', 100, 120),
      fileOf('invocations', 'log-ab-1', 100, 120),
      fileOf('invocations', 'xlog-ab', 100, 120),
      fileOf('rollups_1m', 'log', 0, 60_000),
      fileOf('rollups_1m', 'log-ab-n1', 0, 60_000),
      `${partitionPath('invocations', HOUR_10)}/log-ab-100-120.parquet.crc`,
      `${partitionPath('invocations', HOUR_10)}/log-ab-100-120.json`,
      `${partitionPath('invocations', HOUR_10)}/log-ab-100.parquet`,
      `${partitionPath('scores', HOUR_10)}/_SUCCESS`,
    ];
    await writeFiles([...removed, ...kept]);
    const asked: LakeTableName[] = [];
    const count = await removeFilesFrom(store, source, (table) => {
      asked.push(table);
      return marks({ invocations: 20, scores: -5, rollups_1m: Number.NEGATIVE_INFINITY })(table);
    });
    expect(await filesOnDisk()).toEqual([...kept].sort());
    expect(count).toBe(removed.length);
    expect([...asked].sort()).toEqual([
      'anomalies',
      'dead_letters',
      'invocations',
      'rollups_1m',
      'score_rollups_1m',
      'scores',
    ]);
  });

  it("matches a '.' in the source id literally", async () => {
    const removed = [fileOf('invocations', 'log.a', 5, 6), temporaryOf(fileOf('scores', 'log.a', 7, 8))];
    const kept = [
      fileOf('invocations', 'logxa', 5, 6),
      fileOf('invocations', 'log-a', 5, 6),
      temporaryOf(fileOf('scores', 'logxa', 7, 8)),
    ];
    await writeFiles([...removed, ...kept]);
    expect(await removeFilesFrom(store, 'log.a', () => 0)).toBe(removed.length);
    expect(await filesOnDisk()).toEqual([...kept].sort());
  });

  it("leaves other sources' temporary files: their writes may still be in flight", async () => {
    const inFlight = temporaryOf(fileOf('invocations', 'other', 1, 2));
    await writeFiles([inFlight, fileOf('invocations', 'mine', 1, 2)]);
    expect(await removeFilesFrom(store, 'mine', () => 0)).toBe(1);
    expect(await filesOnDisk()).toEqual([inFlight]);
  });

  it('handles a lake with no table folders, or no folder at all, and a second run finds nothing left', async () => {
    expect(await removeFilesFrom(new LocalLakeStore(path.join(dir, 'missing')), 'src', () => 0)).toBe(0);
    await writeFiles([fileOf('dead_letters', 'src', 1, 1)]);
    await writeFile(path.join(dir, 'README.txt'), 'not a table');
    expect(await removeFilesFrom(store, 'src', () => 0)).toBe(1);
    expect(await removeFilesFrom(store, 'src', () => 0)).toBe(0);
    expect(await filesOnDisk()).toEqual(['README.txt']);
  });

  it.each(['', '.hidden', '_hidden', '-dash', 'a/b', '..', 'log*', 'a b'])(
    'rejects the source id %j before touching the lake',
    async (sourceId) => {
      const lakePath = fileOf('invocations', 'a', 1, 2);
      await writeFiles([lakePath]);
      await expect(removeFilesFrom(store, sourceId, () => Number.NEGATIVE_INFINITY)).rejects.toThrow(
        LakeUsageError,
      );
      expect(await filesOnDisk()).toEqual([lakePath]);
    },
  );
});
