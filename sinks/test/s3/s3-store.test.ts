import { randomBytes } from 'node:crypto';
import {
  HeadObjectCommand,
  type ListObjectsV2CommandInput,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LakeStoreError, LakeUsageError } from '../../src/lake/errors.js';
import { dataFileName, partitionPath } from '../../src/lake/layout.js';
import { removeFilesFrom } from '../../src/lake/prune.js';
import { parseS3LakeConfig } from '../../src/s3/config.js';
import { S3LakeStore, type S3LakeStoreOptions } from '../../src/s3/s3-store.js';
import { FaultProxy, listKeys, readObject, type S3rverFixture, startS3rver, testClient } from './harness.js';

const BUCKET = 'lake-bucket';
/** For a store at the bucket's root (empty prefix), away from the other tests' objects. */
const ROOT_BUCKET = 'lake-root-bucket';
const PREFIX = 'runs/one';
const MIB = 1024 * 1024;
const FAST_RETRIES = { initialDelayMs: 1, maxDelayMs: 5 };
const FILE = 'invocations/dt=2025-03-14/hour=10/src-0-9.parquet';

let s3: S3rverFixture;
let proxy: FaultProxy;
let testPrefix: string;
let testNumber = 0;
const stores: S3LakeStore[] = [];

beforeAll(async () => {
  s3 = await startS3rver([BUCKET, ROOT_BUCKET]);
  proxy = await FaultProxy.start(s3.endpoint);
});

afterAll(async () => {
  await proxy.close();
  await s3.close();
});

afterEach(() => {
  for (const store of stores.splice(0)) store.destroy();
  proxy.reset();
});

/** A store behind the fault proxy, under a prefix of its own so tests never see each other's objects. */
function proxiedStore(options: Partial<S3LakeStoreOptions> = {}, bucket = BUCKET): S3LakeStore {
  testPrefix = `${PREFIX}/t${++testNumber}`;
  const store = new S3LakeStore({
    location: { bucket, prefix: testPrefix },
    client: testClient(proxy.endpoint),
    partSizeBytes: 5 * MIB,
    ...options,
    resilience: { ...FAST_RETRIES, ...options.resilience },
  });
  stores.push(store);
  return store;
}

const keyOf = (relativePath: string): string => `${testPrefix}/${relativePath}`;

async function expectNoObject(key: string): Promise<void> {
  await expect(s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toMatchObject({
    name: 'NotFound',
  });
  expect(await listKeys(s3.client, BUCKET, testPrefix)).toEqual([]);
}

async function rejection(promise: Promise<unknown>): Promise<LakeStoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LakeStoreError);
  return error as LakeStoreError;
}

describe('S3LakeStore against s3rver', () => {
  it('maps lake paths to keys under the prefix and rejects paths that are not normalized relative files', () => {
    const store = proxiedStore();
    expect(store.describe()).toBe(`s3://${BUCKET}/${testPrefix}/`);
    expect(store.keyFor(FILE)).toBe(`${testPrefix}/${FILE}`);
    const atRoot = new S3LakeStore({ location: { bucket: BUCKET, prefix: '' }, client: s3.client });
    expect(atRoot.keyFor(FILE)).toBe(FILE);
    expect(atRoot.describe()).toBe(`s3://${BUCKET}/`);
    for (const bad of ['/abs.parquet', '../up.parquet', 'a//b.parquet', 'a/./b.parquet', 'dir/', '.', '']) {
      expect(() => store.keyFor(bad), bad).toThrow(LakeUsageError);
    }
    expect(() => store.keyFor(`${'x'.repeat(1100)}.parquet`)).toThrow(/1024 bytes/);
  });

  it('rejects a part size below S3 minimum', () => {
    expect(() => proxiedStore({ partSizeBytes: MIB })).toThrow(/partSizeBytes must be an integer ≥ 5242880/);
  });

  it('puts a small file with one PutObject and overwrites it in place on a second put', async () => {
    const store = proxiedStore();
    const first = randomBytes(1000);
    const second = randomBytes(2000);
    await store.put(FILE, first);
    expect(Buffer.from(await readObject(s3.client, BUCKET, keyOf(FILE))).equals(first)).toBe(true);
    await store.put(FILE, second);
    expect(Buffer.from(await readObject(s3.client, BUCKET, keyOf(FILE))).equals(second)).toBe(true);
    expect(await listKeys(s3.client, BUCKET, testPrefix)).toEqual([keyOf(FILE)]);
    expect(proxy.operations()).toEqual(['PutObject', 'PutObject']);
    expect(store.health()).toMatchObject({
      sent: 2,
      failed: 0,
      retried: 0,
      bytesSent: 3000,
      multipartUploads: 0,
    });
  });

  it('uploads a file larger than one part as a multipart upload that reads back identical', async () => {
    const store = proxiedStore();
    const bytes = randomBytes(12 * MIB + 123);
    await store.put(FILE, bytes);
    expect(Buffer.from(await readObject(s3.client, BUCKET, keyOf(FILE))).equals(bytes)).toBe(true);
    expect(proxy.operations()).toEqual([
      'CreateMultipartUpload',
      'UploadPart',
      'UploadPart',
      'UploadPart',
      'CompleteMultipartUpload',
    ]);
    expect(proxy.requests.every((r) => r.outcome === 200)).toBe(true);
    expect(store.health()).toMatchObject({ sent: 1, multipartUploads: 1, bytesSent: bytes.byteLength });
  });

  it('writes exactly the bytes of a view into a larger buffer, in one part and in several', async () => {
    const store = proxiedStore();
    const backing = randomBytes(12 * MIB);
    for (const view of [backing.subarray(100, 2100), backing.subarray(1000, 1000 + 11 * MIB)]) {
      const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      await store.put(FILE, bytes);
      expect(Buffer.from(await readObject(s3.client, BUCKET, keyOf(FILE))).equals(view)).toBe(true);
    }
  });

  it('makes no further attempt once its signal aborts (a writer that lost its partition)', async () => {
    const store = proxiedStore({ resilience: { initialDelayMs: 50, maxDelayMs: 50 } });
    proxy.plan = (operation) => (operation === 'PutObject' ? 'slow-down' : undefined);
    const abandoning = new AbortController();
    const putting = store.put(FILE, randomBytes(10), abandoning.signal).catch((error: unknown) => error);
    while (proxy.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    abandoning.abort(new Error('abandoned'));
    expect(await putting).toBeInstanceOf(LakeStoreError);
    const attempts = proxy.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(proxy.requests.length).toBe(attempts);
    expect(attempts).toBeLessThan(3);
    await expectNoObject(keyOf(FILE));
  });

  it('retries 503 SlowDown with backoff and lands the object once', async () => {
    const store = proxiedStore();
    proxy.plan = (_operation, _nth, overall) => (overall <= 3 ? 'slow-down' : undefined);
    const bytes = randomBytes(4096);
    await store.put(FILE, bytes);
    expect(proxy.requests.map((r) => r.outcome)).toEqual(['slow-down', 'slow-down', 'slow-down', 200]);
    expect(Buffer.from(await readObject(s3.client, BUCKET, keyOf(FILE))).equals(bytes)).toBe(true);
    expect(await listKeys(s3.client, BUCKET, testPrefix)).toEqual([keyOf(FILE)]);
    expect(store.health()).toMatchObject({ sent: 1, failed: 0, retried: 3, breakerState: 'closed' });
  });

  it('retries a multipart upload whose part was throttled as a new upload, aborting the failed one', async () => {
    const store = proxiedStore();
    proxy.plan = (operation, nth) => (operation === 'UploadPart' && nth === 2 ? 'slow-down' : undefined);
    const bytes = randomBytes(11 * MIB);
    await store.put(FILE, bytes);
    expect(proxy.operations().filter((o) => o === 'CreateMultipartUpload')).toHaveLength(2);
    expect(proxy.operations()).toContain('AbortMultipartUpload');
    expect(Buffer.from(await readObject(s3.client, BUCKET, keyOf(FILE))).equals(bytes)).toBe(true);
    expect(await listKeys(s3.client, BUCKET, testPrefix)).toEqual([keyOf(FILE)]);
    expect(store.health()).toMatchObject({ sent: 1, retried: 1, multipartUploads: 1 });
  });

  it('keeps the part error (retriable) when the abort of the failed upload fails too', async () => {
    // s3rver has no AbortMultipartUpload (405); lib-storage's own abort would report that 405 instead.
    const store = proxiedStore({ resilience: { maxAttempts: 1 } });
    proxy.plan = (operation, nth) => (operation === 'UploadPart' && nth === 2 ? 'slow-down' : undefined);
    const error = await rejection(store.put(FILE, randomBytes(11 * MIB)));
    expect(error.retriable).toBe(true);
    expect(error.message).toMatch(/SlowDown \(HTTP 503\).*could not be aborted \(retriable\)$/);
    expect(proxy.requests.find((r) => r.operation === 'AbortMultipartUpload')?.outcome).toBe(405);
    expect(store.health()).toMatchObject({ sent: 0, failed: 1, uploadsLeftIncomplete: 1 });
    await expectNoObject(keyOf(FILE));
  });

  it('restart mid-upload: the endpoint dies after the first part, nothing is visible, the next run writes the whole file', async () => {
    const crashed = proxiedStore({ resilience: { maxAttempts: 1 } });
    proxy.plan = (operation, nth) =>
      (operation === 'UploadPart' && nth > 1) || operation === 'AbortMultipartUpload' ? 'reset' : undefined;
    const bytes = randomBytes(15 * MIB + 1);
    const error = await rejection(crashed.put(FILE, bytes));
    expect(error.retriable).toBe(true);
    expect(error.message).toMatch(/could not be aborted \(retriable\)$/);
    expect(crashed.health().uploadsLeftIncomplete).toBe(1);
    // One part reached S3 before the endpoint died: the upload really was part-way.
    expect(proxy.requests.filter((r) => r.operation === 'UploadPart' && r.outcome === 200)).toHaveLength(1);
    expect(proxy.operations()).not.toContain('CompleteMultipartUpload');
    await expectNoObject(keyOf(FILE));

    proxy.reset();
    const restarted = new S3LakeStore({
      location: crashed.location,
      client: testClient(proxy.endpoint),
      partSizeBytes: 5 * MIB,
    });
    stores.push(restarted);
    await restarted.put(FILE, bytes);
    expect(Buffer.from(await readObject(s3.client, BUCKET, keyOf(FILE))).equals(bytes)).toBe(true);
    expect(await listKeys(s3.client, BUCKET, testPrefix)).toEqual([keyOf(FILE)]);
  });

  it('fails at once on a missing bucket (not retriable), naming the bucket and the reason', async () => {
    const store = proxiedStore({}, 'no-such-bucket');
    const error = await rejection(store.put(FILE, randomBytes(100)));
    expect(error.retriable).toBe(false);
    expect(error.message).toBe(
      `writing lake object s3://no-such-bucket/${testPrefix}/${FILE} failed: NoSuchBucket (HTTP 404): The specified bucket does not exist (not retriable)`,
    );
    expect(proxy.requests).toHaveLength(1);
    expect(store.health()).toMatchObject({ sent: 0, failed: 1, retried: 0 });
  });

  it('ensureWritable passes on a writable prefix and leaves no marker behind', async () => {
    const store = proxiedStore();
    await store.ensureWritable();
    expect(proxy.operations()).toEqual(['PutObject', 'DeleteObject']);
    expect(await listKeys(s3.client, BUCKET, testPrefix)).toEqual([]);
  });

  it('ensureWritable fails fast with a one-line reason when the bucket does not exist', async () => {
    const store = proxiedStore({}, 'no-such-bucket');
    const error = await rejection(store.ensureWritable());
    expect(error.message).toBe(
      `S3 lake s3://no-such-bucket/${testPrefix}/ is not writable: NoSuchBucket (HTTP 404): The specified bucket does not exist (not retriable)`,
    );
    expect(proxy.requests).toHaveLength(1);
  });

  it('opens the breaker after consecutive failed puts and then rejects without sending (retriable)', async () => {
    const store = proxiedStore({
      resilience: { maxAttempts: 2, breakerThreshold: 2, halfOpenAfterMs: 600_000 },
    });
    proxy.plan = () => 'slow-down';
    for (let i = 0; i < 2; i++)
      expect((await rejection(store.put(FILE, randomBytes(10)))).retriable).toBe(true);
    const sentBeforeOpen = proxy.requests.length;
    expect(sentBeforeOpen).toBe(4);
    const error = await rejection(store.put(FILE, randomBytes(10)));
    expect(error.retriable).toBe(true);
    expect(error.message).toMatch(/circuit breaker is open/);
    expect(proxy.requests).toHaveLength(sentBeforeOpen);
    expect(store.health()).toMatchObject({ failed: 3, retried: 2, breakerTrips: 1, breakerState: 'open' });
  });

  it('fromConfig: a hung request times out (retriable) and is retried; AWS_ENDPOINT_URL_S3 is honoured', async () => {
    proxy.plan = (_operation, _nth, overall) => (overall === 1 ? 'hang' : undefined);
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: proxy.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    });
    try {
      const store = S3LakeStore.fromConfig(
        parseS3LakeConfig({
          uri: `s3://${BUCKET}/${PREFIX}/from-config/`,
          forcePathStyle: true,
          socketTimeoutMs: 300,
          resilience: FAST_RETRIES,
        }),
      );
      stores.push(store);
      const bytes = randomBytes(2048);
      await store.put(FILE, bytes);
      expect(proxy.requests.map((r) => r.outcome)).toEqual(['hang', 200]);
      expect(store.health()).toMatchObject({ sent: 1, retried: 1 });
      const key = `${PREFIX}/from-config/${FILE}`;
      expect(Buffer.from(await readObject(s3.client, BUCKET, key)).equals(bytes)).toBe(true);
    } finally {
      process.env = saved;
    }
  });
});

async function collect(paths: AsyncIterable<string>): Promise<string[]> {
  const collected: string[] = [];
  for await (const relativePath of paths) collected.push(relativePath);
  return collected.sort();
}

async function putDirectly(bucket: string, key: string): Promise<void> {
  await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
}

/**
 * Cuts every ListObjectsV2 answer of the client into pages of pageSize, as S3 does past 1000 keys, each
 * page a request of its own. s3rver cannot page itself on Node 20 (its continuation tokens use DES,
 * which OpenSSL 3 lacks: any truncated listing answers 500), so the wrapper pages through StartAfter,
 * with the last key of a page as its continuation token.
 */
function withListPagesOf(pageSize: number, client: S3Client): S3Client {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'ListObjectsV2Command') return next(args);
      const { ContinuationToken, ...input } = args.input as ListObjectsV2CommandInput;
      const result = await next({ ...args, input: { ...input, StartAfter: ContinuationToken } });
      const contents = (result.output as ListObjectsV2CommandOutput).Contents ?? [];
      const page = contents.slice(0, pageSize);
      const truncated = contents.length > pageSize;
      const NextContinuationToken = truncated ? page.at(-1)?.Key : undefined;
      return {
        ...result,
        output: { ...result.output, Contents: page, IsTruncated: truncated, NextContinuationToken },
      };
    },
    { step: 'initialize', name: 'listPages' },
  );
  return client;
}

describe('S3LakeStore.list and remove against s3rver', () => {
  const inTable = [
    'invocations/dt=2025-03-14/hour=10/a-1-2.parquet',
    'invocations/dt=2025-03-14/hour=11/a-3-4.parquet',
    'invocations/dt=2025-03-15/hour=00/b-1-1.parquet',
    'invocations/notes.txt',
  ];
  const besideTable = ['invocations-archive/dt=2025-03-14/hour=10/a-1-2.parquet', 'scores/a-1-2.parquet'];

  it('lists the objects under a table as lake-relative paths, not those of sibling folders or prefixes', async () => {
    const store = proxiedStore();
    for (const file of [...inTable, ...besideTable]) await store.put(file, randomBytes(10));
    // Another lake whose prefix extends this one's.
    await putDirectly(BUCKET, `${testPrefix}0/invocations/dt=2025-03-14/hour=10/a-1-2.parquet`);
    proxy.reset();
    expect(await collect(store.list('invocations'))).toEqual(inTable);
    expect(await collect(store.list('invocations/dt=2025-03-14'))).toEqual(inTable.slice(0, 2));
    expect(await collect(store.list('anomalies'))).toEqual([]);
    expect(proxy.operations()).toEqual(['Read', 'Read', 'Read']);
  });

  it('lists and prunes by lake-relative paths in a lake at the root of its bucket', async () => {
    const store = new S3LakeStore({ location: { bucket: ROOT_BUCKET, prefix: '' }, client: s3.client });
    for (const file of [...inTable, ...besideTable]) await store.put(file, randomBytes(10));
    expect(await collect(store.list('invocations'))).toEqual(inTable);
    await removeFilesFrom(store, 'a', () => Number.NEGATIVE_INFINITY);
    expect(await listKeys(s3.client, ROOT_BUCKET)).toEqual([
      'invocations-archive/dt=2025-03-14/hour=10/a-1-2.parquet',
      'invocations/dt=2025-03-15/hour=00/b-1-1.parquet',
      'invocations/notes.txt',
    ]);
  });

  it('follows continuation tokens through every page, and retries a throttled page without repeating any', async () => {
    const store = proxiedStore({ client: withListPagesOf(2, testClient(proxy.endpoint)) });
    const files = Array.from({ length: 5 }, (_, i) => `scores/dt=2025-03-14/hour=10/src-${i}-${i}.parquet`);
    for (const file of files) await store.put(file, randomBytes(10));
    proxy.reset();
    expect(await collect(store.list('scores'))).toEqual(files);
    expect(proxy.operations()).toEqual(['Read', 'Read', 'Read']);

    proxy.reset();
    proxy.plan = (operation, nth) => (operation === 'Read' && nth === 2 ? 'slow-down' : undefined);
    const listed: string[] = [];
    for await (const file of store.list('scores')) listed.push(file);
    expect(listed.sort()).toEqual(files);
    expect(proxy.requests.map((r) => r.outcome)).toEqual([200, 'slow-down', 200, 200]);
    expect(store.health()).toMatchObject({ retried: 1, failed: 0 });
  });

  it('fails a listing in a missing bucket at once (not retriable), naming the bucket and the prefix', async () => {
    const store = proxiedStore({}, 'no-such-bucket');
    const error = await rejection(collect(store.list('invocations')));
    expect(error.retriable).toBe(false);
    expect(error.message).toBe(
      `listing lake objects under s3://no-such-bucket/${testPrefix}/invocations/ failed: NoSuchBucket (HTTP 404): The specified bucket does not exist (not retriable)`,
    );
    expect(proxy.requests).toHaveLength(1);
  });

  it('rejects a folder that is not a normalized relative path without sending anything', async () => {
    const store = proxiedStore();
    for (const bad of ['', '.', '/invocations', '../invocations', 'invocations/', 'a//b']) {
      await expect(collect(store.list(bad)), bad).rejects.toThrow(LakeUsageError);
      await expect(store.remove(bad), bad).rejects.toThrow(LakeUsageError);
    }
    expect(proxy.requests).toEqual([]);
  });

  it('removes one object and nothing else; a missing object is no error', async () => {
    const store = proxiedStore();
    await store.put(FILE, randomBytes(10));
    await store.put(`${FILE}.keep`, randomBytes(10));
    await store.remove(FILE);
    await store.remove(FILE);
    await store.remove('scores/never-written.parquet');
    expect(await listKeys(s3.client, BUCKET, testPrefix)).toEqual([keyOf(`${FILE}.keep`)]);
  });

  it('reads an object back; a missing one is undefined and does not count as a failure', async () => {
    const store = proxiedStore();
    const body = randomBytes(100);
    await store.put(FILE, body);
    expect(Buffer.from((await store.get(FILE)) as Uint8Array).equals(body)).toBe(true);
    expect(await store.get('scores/never-written.parquet')).toBeUndefined();
    expect(store.health().failed).toBe(0);
  });

  it('retries a throttled read, and fails at once in a missing bucket (not retriable)', async () => {
    const store = proxiedStore();
    await store.put(FILE, randomBytes(10));
    proxy.reset();
    proxy.plan = (operation, nth) => (operation === 'Read' && nth === 1 ? 'slow-down' : undefined);
    expect((await store.get(FILE))?.byteLength).toBe(10);
    expect(proxy.requests.map((r) => r.outcome)).toEqual(['slow-down', 200]);

    const missing = proxiedStore({}, 'no-such-bucket');
    const error = await rejection(missing.get(FILE));
    expect(error.retriable).toBe(false);
    expect(error.message).toContain(`reading lake object s3://no-such-bucket/${testPrefix}/${FILE} failed`);
  });

  it('retries a throttled delete, and fails at once in a missing bucket naming the object (not retriable)', async () => {
    const store = proxiedStore();
    await store.put(FILE, randomBytes(10));
    proxy.reset();
    proxy.plan = (operation, nth) => (operation === 'DeleteObject' && nth === 1 ? 'slow-down' : undefined);
    await store.remove(FILE);
    expect(proxy.requests.map((r) => r.outcome)).toEqual(['slow-down', 204]);
    await expectNoObject(keyOf(FILE));

    const missing = proxiedStore({}, 'no-such-bucket');
    const error = await rejection(missing.remove(FILE));
    expect(error.retriable).toBe(false);
    expect(error.message).toBe(
      `removing lake object s3://no-such-bucket/${testPrefix}/${FILE} failed: NoSuchBucket (HTTP 404): The specified bucket does not exist (not retriable)`,
    );
  });

  it("removeFilesFrom removes a source's objects from each table's mark across list pages, and nothing else", async () => {
    const store = proxiedStore({ client: withListPagesOf(2, testClient(proxy.endpoint)) });
    const at = (table: 'invocations' | 'scores', sourceId: string, first: number, last: number) =>
      `${partitionPath(table, Date.UTC(2025, 2, 14, 10))}/${dataFileName(sourceId, first, last)}`;
    const removed = [
      at('invocations', 'log.a', 10, 19),
      at('invocations', 'log.a', 100, 100),
      at('scores', 'log.a', -5, -1),
    ];
    const kept = [
      at('invocations', 'log.a', 0, 9),
      at('invocations', 'logxa', 10, 19),
      at('invocations', 'log.a-x', 10, 19),
      at('scores', 'log.a', -6, 0),
      `${partitionPath('scores', 0)}/log.a-1-2.json`,
    ];
    for (const file of [...removed, ...kept]) await store.put(file, randomBytes(10));
    proxy.reset();
    const count = await removeFilesFrom(store, 'log.a', (table) =>
      table === 'invocations' ? 10 : table === 'scores' ? -5 : Number.NEGATIVE_INFINITY,
    );
    expect(count).toBe(removed.length);
    expect(await listKeys(s3.client, BUCKET, testPrefix)).toEqual(kept.map(keyOf).sort());
    expect(proxy.operations().filter((o) => o === 'DeleteObject')).toHaveLength(removed.length);
  });
});
