import { posix } from 'node:path';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { LakeStoreError, LakeUsageError } from '../lake/errors.js';
import type { ReadableLakeStore } from '../lake/store.js';
import { type ResilienceOptions, type SinkHealth, SinkResilience } from '../util/resilience.js';
import { isRetriable } from '../util/retriable.js';
import { formatS3Location, S3_LIMITS, type S3LakeConfig, type S3Location, s3ClientConfig } from './config.js';

export interface S3LakeStoreOptions {
  location: S3Location;
  client: S3Client;
  /** Files larger than this go up as multipart uploads in parts of this size. Default 8 MiB, at least 5 MiB. */
  partSizeBytes?: number;
  /** Parts of one file in flight at once. Default 4. */
  partConcurrency?: number;
  resilience?: Partial<ResilienceOptions>;
}

export interface S3LakeStoreHealth extends SinkHealth {
  /** Bytes of the files stored. */
  bytesSent: number;
  /** Files uploaded in parts (larger than one part). */
  multipartUploads: number;
  /**
   * Multipart uploads that failed and whose abort failed too: invisible, but their parts are billed
   * until the bucket's AbortIncompleteMultipartUpload lifecycle rule removes them.
   */
  uploadsLeftIncomplete: number;
  /** Time of the last successful put, retries and backoff included. */
  lastPutLatencyMs: number;
  /** Sum over successful puts (divide by `sent` for the mean). */
  putLatencyMsTotal: number;
}

/** Written and deleted by ensureWritable; `_` so Athena, Hive and DuckDB globs skip it if a delete is denied. */
const WRITE_PROBE_NAME = '_genai-pipeline-write-probe';
const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
const DEFAULT_PART_CONCURRENCY = 4;

interface AwsErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** `NoSuchBucket (HTTP 404): The specified bucket does not exist`, `Error ECONNRESET: socket hang up`. */
function describeError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const shape = error as AwsErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : 'Error';
  const code = typeof shape.code === 'string' && shape.code !== name ? ` ${shape.code}` : '';
  const status =
    typeof shape.$metadata?.httpStatusCode === 'number' ? ` (HTTP ${shape.$metadata.httpStatusCode})` : '';
  const message = typeof shape.message === 'string' && shape.message !== '' ? shape.message : 'no message';
  return `${name}${code}${status}: ${message}`;
}

/** One failed attempt; SinkResilience retries it when `retriable`. The caller's context is added at the end. */
class AttemptError extends Error {
  readonly retriable: boolean;

  constructor(error: unknown, detail = '') {
    super(`${describeError(error)}${detail}`, { cause: error });
    this.name = 'AttemptError';
    this.retriable = isRetriable(error);
  }
}

/**
 * The lake (CONTRACT.md §4) under an S3 prefix: `s3://bucket/prefix/<table>/dt=.../hour=.../<file>`.
 *
 * No temporary name and rename (S3 has no rename): S3 makes an object visible only when its PutObject or
 * CompleteMultipartUpload succeeds, so readers never see part of a file, and a put to an existing key
 * replaces the object whole. Since file names come from what files hold, a retry, a restart or a replay
 * overwrites the same keys instead of adding objects.
 *
 * Each put is one request under SinkResilience: retriable failures (throttling, 5xx, network, timeouts)
 * are retried with backoff and jitter as a whole new upload, behind a circuit breaker.
 */
export class S3LakeStore implements ReadableLakeStore {
  readonly location: S3Location;
  private readonly client: S3Client;
  private readonly partSizeBytes: number;
  private readonly partConcurrency: number;
  private readonly resilience: SinkResilience;
  private readonly counters = {
    bytesSent: 0,
    multipartUploads: 0,
    uploadsLeftIncomplete: 0,
    lastPutLatencyMs: 0,
    putLatencyMsTotal: 0,
  };

  constructor(options: S3LakeStoreOptions) {
    this.location = options.location;
    this.client = options.client;
    this.partSizeBytes = options.partSizeBytes ?? DEFAULT_PART_BYTES;
    if (!Number.isSafeInteger(this.partSizeBytes) || this.partSizeBytes < S3_LIMITS.minPartBytes) {
      throw new LakeUsageError(
        `S3LakeStore partSizeBytes must be an integer ≥ ${S3_LIMITS.minPartBytes} (S3's minimum part), got ${this.partSizeBytes}`,
      );
    }
    this.partConcurrency = options.partConcurrency ?? DEFAULT_PART_CONCURRENCY;
    this.resilience = new SinkResilience(options.resilience);
  }

  /** A store with its own SDK client (standard AWS configuration plus the config's overrides); see destroy(). */
  static fromConfig(config: S3LakeConfig): S3LakeStore {
    return new S3LakeStore({
      location: config.uri,
      client: new S3Client(s3ClientConfig(config)),
      partSizeBytes: config.partSizeBytes,
      partConcurrency: config.partConcurrency,
      resilience: config.resilience,
    });
  }

  describe(): string {
    return formatS3Location(this.location);
  }

  /** The object key of a lake-relative path. Throws LakeUsageError for paths that are not normalized relative file paths. */
  keyFor(relativePath: string): string {
    const normalized = posix.normalize(relativePath);
    if (
      normalized !== relativePath ||
      normalized === '.' ||
      normalized.startsWith('/') ||
      normalized === '..' ||
      normalized.startsWith('../') ||
      normalized.endsWith('/')
    ) {
      throw new LakeUsageError(
        `lake path ${JSON.stringify(relativePath)} must be a normalized relative file path`,
      );
    }
    const key = this.location.prefix === '' ? relativePath : `${this.location.prefix}/${relativePath}`;
    if (Buffer.byteLength(key) > S3_LIMITS.maxKeyBytes) {
      throw new LakeUsageError(`S3 key ${key} is longer than S3's ${S3_LIMITS.maxKeyBytes} bytes`);
    }
    return key;
  }

  /**
   * Proves the prefix takes writes by putting and deleting a marker object (HeadBucket would need
   * s3:ListBucket, which a writer may lack, and reports a missing bucket as a bare 404). Throws
   * LakeStoreError with a one-line reason: a missing bucket or denied access fails at once, an
   * unreachable endpoint after the retries.
   */
  async ensureWritable(): Promise<void> {
    const key = this.keyFor(WRITE_PROBE_NAME);
    await this.attempt(key, `S3 lake ${this.describe()} is not writable`, () =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.location.bucket, Key: key, Body: new Uint8Array(0) }),
      ),
    );
    // The put proved writability; a writer without s3:DeleteObject leaves one fixed, skipped marker.
    await this.client
      .send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: key }))
      .catch(() => undefined);
  }

  async put(relativePath: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    const key = this.keyFor(relativePath);
    const started = performance.now();
    try {
      await this.resilience.execute(() => this.upload(key, bytes), signal);
    } catch (error) {
      throw this.finalError(key, `writing lake object s3://${this.location.bucket}/${key} failed`, error);
    }
    const latency = performance.now() - started;
    this.counters.bytesSent += bytes.byteLength;
    if (bytes.byteLength > this.partSizeBytes) this.counters.multipartUploads++;
    this.counters.lastPutLatencyMs = latency;
    this.counters.putLatencyMsTotal += latency;
  }

  async *list(dir: string): AsyncIterable<string> {
    const prefix = `${this.keyFor(dir)}/`;
    const rootLength = this.location.prefix === '' ? 0 : this.location.prefix.length + 1;
    const what = `listing lake objects under s3://${this.location.bucket}/${prefix} failed`;
    let continuationToken: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.attempt(prefix, what, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.location.bucket,
            Prefix: prefix,
            ContinuationToken: continuationToken,
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) yield object.Key.slice(rootLength);
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  async get(relativePath: string): Promise<Uint8Array | undefined> {
    const key = this.keyFor(relativePath);
    const what = `reading lake object s3://${this.location.bucket}/${key} failed`;
    return this.attempt(key, what, async () => {
      try {
        const output = await this.client.send(
          new GetObjectCommand({ Bucket: this.location.bucket, Key: key }),
        );
        return await output.Body?.transformToByteArray();
      } catch (error) {
        // Absent is an answer, not a failure (and must not count against the breaker).
        if ((error as AwsErrorShape | null)?.name === 'NoSuchKey') return undefined;
        throw error;
      }
    });
  }

  async remove(relativePath: string): Promise<void> {
    const key = this.keyFor(relativePath);
    await this.attempt(key, `removing lake object s3://${this.location.bucket}/${key} failed`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: key })),
    );
  }

  health(): S3LakeStoreHealth {
    return { ...this.resilience.health(), ...this.counters };
  }

  /** Closes the SDK client's connections (for stores made by fromConfig). */
  destroy(): void {
    this.client.destroy();
  }

  /** One attempt: PutObject up to one part, else a multipart upload, aborted when it fails. */
  private async upload(key: string, bytes: Uint8Array): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.location.bucket, Key: key, Body: bytes },
      partSize: this.partSizeBytes,
      queueSize: this.partConcurrency,
      // We abort ourselves: lib-storage's own abort, when it fails (endpoint down, no
      // s3:AbortMultipartUpload, s3rver's 405), throws the abort's error instead of the upload's, so a
      // retriable SlowDown would surface as a non-retriable 403 or 405.
      leavePartsOnError: true,
    });
    try {
      await upload.done();
    } catch (error) {
      const abandoned = upload.uploadId !== undefined && !(await this.abortUpload(key, upload.uploadId));
      const note = abandoned ? '; its incomplete multipart upload could not be aborted' : '';
      throw new AttemptError(error, note);
    }
  }

  /** Drops the parts of a failed multipart upload; false when that failed too (counted in health). */
  private async abortUpload(key: string, uploadId: string): Promise<boolean> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.location.bucket, Key: key, UploadId: uploadId }),
      );
      return true;
    } catch (error) {
      // Gone already: the CompleteMultipartUpload whose answer was lost did complete (the retry rewrites it).
      if ((error as AwsErrorShape | null)?.name === 'NoSuchUpload') return true;
      this.counters.uploadsLeftIncomplete++;
      return false;
    }
  }

  /** One request under the retry policy and breaker; failures as LakeStoreError naming `what`. */
  private async attempt<T>(key: string, what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await this.resilience.execute(async () => {
        try {
          return await request();
        } catch (error) {
          throw new AttemptError(error);
        }
      });
    } catch (error) {
      throw this.finalError(key, what, error);
    }
  }

  /** The error a caller sees: the last attempt's, or the open breaker's (retriable: the endpoint may come back). */
  private finalError(key: string, what: string, error: unknown): LakeStoreError {
    if (error instanceof AttemptError) {
      return new LakeStoreError(key, `${what}: ${error.message}`, error.retriable, { cause: error.cause });
    }
    return new LakeStoreError(key, `${what}: ${describeError(error)}`, isRetriable(error), {
      cause: error,
    });
  }
}
