/**
 * The S3 lake (CONTRACT.md §4, §5 `--sink s3`): a LakeSink writing through S3LakeStore to s3rver (a real
 * S3 API server) produces the same keys and the same Parquet bytes as the local lake, DuckDB reads them,
 * and a replay overwrites instead of adding objects.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { LAKE_TABLES, type LakeTableName } from '@genai-pipeline/schemas';
import { LakeSink, type LakeStore, LocalLakeStore, S3LakeStore } from '@genai-pipeline/sinks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, listFiles, openDuckDb, TABLE_NAMES } from '../support/lake.js';
import {
  downloadPrefix,
  lakeRows,
  listRelativeKeys,
  readObject,
  type S3LakeServer,
  startS3LakeServer,
} from '../support/s3/s3-lake.js';

const BUCKET = 'genai-lake';
const PREFIX = 'prod/lake';
const ORDINALS = 240; // 240 × 37 s of event time from 09:40: four hour partitions
const ROWS_PER_ORDINAL = 3;

/** The same appends every time: every table, ordinals crossing hours, files rolled at 200 rows. */
async function writeLake(store: LakeStore): Promise<void> {
  const sink = new LakeSink({ store, sourceId: 'input-0', maxRowsPerFile: 200 });
  for (let ordinal = 0; ordinal < ORDINALS; ordinal++) {
    for (const table of TABLE_NAMES) sink.append(table, ordinal, lakeRows(table, ordinal, ROWS_PER_ORDINAL));
    if (ordinal % 50 === 49) await sink.flushReady();
  }
  await sink.flush();
}

let s3: S3LakeServer;
let duckdb: DuckDBConnection;
let store: S3LakeStore;
const tempDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 's3-lake-e2e-'));
  tempDirs.push(dir);
  return dir;
}

async function lakeSnapshot(): Promise<Map<string, Buffer>> {
  const snapshot = new Map<string, Buffer>();
  for (const key of await listRelativeKeys(s3.client, BUCKET, PREFIX)) {
    snapshot.set(key, Buffer.from(await readObject(s3.client, BUCKET, `${PREFIX}/${key}`)));
  }
  return snapshot;
}

const expectedCounts = Object.fromEntries(TABLE_NAMES.map((t) => [t, ORDINALS * ROWS_PER_ORDINAL])) as Record<
  LakeTableName,
  number
>;

beforeAll(async () => {
  s3 = await startS3LakeServer(BUCKET);
  duckdb = await openDuckDb();
  store = new S3LakeStore({ location: { bucket: BUCKET, prefix: PREFIX }, client: s3.client });
});

afterAll(async () => {
  duckdb.closeSync();
  await s3.close();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('S3 lake through LakeSink', () => {
  let local: string;

  it('writes the same keys and the same Parquet bytes as the local lake', async () => {
    local = tempDir();
    await writeLake(new LocalLakeStore(local));
    await store.ensureWritable();
    await writeLake(store);

    const localFiles = listFiles(local);
    const snapshot = await lakeSnapshot();
    expect([...snapshot.keys()]).toEqual(localFiles);
    // Several files per table and several hour partitions, so the comparison covers the layout.
    expect(localFiles.filter((f) => f.startsWith('invocations/')).length).toBeGreaterThan(3);
    expect(new Set(localFiles.map((f) => f.split('/').slice(1, 3).join('/'))).size).toBe(4);
    for (const file of localFiles) {
      expect(snapshot.get(file)?.equals(readFileSync(join(local, ...file.split('/')))), file).toBe(true);
    }
    expect(store.health()).toMatchObject({ failed: 0, retried: 0, sent: localFiles.length + 1 });
  });

  it('reads back with DuckDB: every row of every table, as in the local lake', async () => {
    const copy = await downloadPrefix(s3.client, BUCKET, PREFIX);
    tempDirs.push(copy);
    expect(Object.keys(LAKE_TABLES).sort()).toEqual([...TABLE_NAMES].sort());
    expect(await countRows(duckdb, copy)).toEqual(expectedCounts);
    expect(await countRows(duckdb, local)).toEqual(expectedCounts);
  });

  it('a replay of the same appends overwrites the same keys: no new objects, no duplicate rows', async () => {
    const before = await lakeSnapshot();
    const sentBefore = store.health().sent;
    await writeLake(store);
    const after = await lakeSnapshot();
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [key, bytes] of before) expect(after.get(key)?.equals(bytes), key).toBe(true);
    // The replay really wrote every file again.
    expect(store.health().sent - sentBefore).toBe(before.size);
    const copy = await downloadPrefix(s3.client, BUCKET, PREFIX);
    tempDirs.push(copy);
    expect(await countRows(duckdb, copy)).toEqual(expectedCounts);
  });
});
