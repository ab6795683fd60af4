/** An S3 lake on s3rver (a real S3 API server, in-process) and ways to read it back independently of the writer. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { LAKE_TABLES, type LakeRow, type LakeTableName } from '@genai-pipeline/schemas';
import S3rver from 's3rver';

export interface S3LakeServer {
  endpoint: string;
  /** An SDK client with the SDK's default settings (checksums on), path-style, no SDK retries. */
  client: S3Client;
  close(): Promise<void>;
}

export async function startS3LakeServer(bucket: string): Promise<S3LakeServer> {
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    forcePathStyle: true,
    maxAttempts: 1,
  });
  return {
    endpoint,
    client,
    async close() {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Keys under `prefix/`, relative to it, sorted. */
export async function listRelativeKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) keys.push((object.Key ?? '').slice(prefix.length + 1));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys.sort();
}

export async function readObject(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (object.Body === undefined) throw new Error(`s3://${bucket}/${key} has no body`);
  return object.Body.transformToByteArray();
}

/** Copies every object under `prefix/` into a new temporary directory (same relative layout) and returns it. */
export async function downloadPrefix(client: S3Client, bucket: string, prefix: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 's3-lake-copy-'));
  for (const relative of await listRelativeKeys(client, bucket, prefix)) {
    const target = join(dir, ...relative.split('/'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, await readObject(client, bucket, `${prefix}/${relative}`));
  }
  return dir;
}

const BASE_MS = Date.UTC(2025, 2, 14, 9, 40, 0);

/**
 * `rowsPerOrdinal` valid rows of a table for one ordinal, their partition times 37 s apart per ordinal
 * so a run of ordinals crosses hour partitions; every third row has its nullable columns null.
 */
export function lakeRows(table: LakeTableName, ordinal: number, rowsPerOrdinal: number): LakeRow[] {
  const spec = LAKE_TABLES[table];
  const rows: LakeRow[] = [];
  for (let j = 0; j < rowsPerOrdinal; j++) {
    const row: LakeRow = {};
    for (const column of spec.columns) {
      if (column.nullable && (ordinal + j) % 3 === 0) {
        row[column.name] = null;
        continue;
      }
      switch (column.type) {
        case 'timestamp':
          row[column.name] = BASE_MS + ordinal * 37_000 + j;
          break;
        case 'int64':
          row[column.name] = ordinal * 1_000 + j;
          break;
        case 'double':
          row[column.name] = (ordinal + j) / 7;
          break;
        case 'string':
          row[column.name] = `${column.name}-${ordinal}-${j}`;
          break;
      }
    }
    rows.push(row);
  }
  return rows;
}
