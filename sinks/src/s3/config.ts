import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { z } from 'zod';

const MIB = 1024 * 1024;

/** S3's documented multipart limits: parts of 5 MiB to 5 GiB (the last may be smaller), ≤ 10,000 parts. */
export const S3_LIMITS = Object.freeze({
  minPartBytes: 5 * MIB,
  maxPartBytes: 5 * 1024 * MIB,
  maxKeyBytes: 1024,
});

/** Where the lake lives: a bucket and a key prefix without leading or trailing `/` ('' for the bucket root). */
export interface S3Location {
  bucket: string;
  prefix: string;
}

// Rules for general purpose bucket names (AWS "Bucket naming rules"); legacy us-east-1 names with
// capitals or underscores cannot be created since 2018 and are not accepted here.
const BUCKET_RULES: ReadonlyArray<[RegExp | ((name: string) => boolean), string]> = [
  [(name) => name.length >= 3 && name.length <= 63, 'must be 3 to 63 characters long'],
  [/^[a-z0-9.-]*$/, 'may hold only lowercase letters, digits, dots and hyphens'],
  [/^[a-z0-9].*[a-z0-9]$/, 'must begin and end with a letter or digit'],
  [(name) => !name.includes('..'), 'must not hold two adjacent dots'],
  [(name) => !/^\d{1,3}(\.\d{1,3}){3}$/.test(name), 'must not be formatted as an IP address'],
  [
    (name) => !/^(xn--|sthree-|amzn-s3-demo-)/.test(name),
    'must not start with xn--, sthree- or amzn-s3-demo-',
  ],
  [
    (name) => !/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name),
    'must not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3 (reserved suffixes)',
  ],
];

/** Throws naming the broken rule; returns nothing when the name is valid. */
export function assertBucketName(bucket: string): void {
  for (const [rule, message] of BUCKET_RULES) {
    const ok = typeof rule === 'function' ? rule(bucket) : rule.test(bucket);
    if (!ok) throw new Error(`S3 bucket name ${JSON.stringify(bucket)} ${message}`);
  }
}

/**
 * Parses `s3://bucket[/prefix]`. Repeated and trailing slashes in the prefix are dropped, so
 * `s3://b/lake/`, `s3://b//lake` and `s3://b/lake` name the same place; `.` and `..` segments are
 * rejected (HTTP layers may resolve them, so the keys written would not be the keys named).
 */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/?#]*)([^?#]*)$/.exec(uri);
  if (match === null) {
    throw new Error(`S3 URI ${JSON.stringify(uri)} must look like s3://bucket/prefix (no query or fragment)`);
  }
  const bucket = match[1] ?? '';
  assertBucketName(bucket);
  const segments = (match[2] ?? '').split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new Error(`S3 URI ${JSON.stringify(uri)}: prefix must not hold "." or ".." segments`);
  }
  return { bucket, prefix: segments.join('/') };
}

/** The location as an `s3://` URL, with a trailing slash when it has a prefix. */
export function formatS3Location(location: S3Location): string {
  return `s3://${location.bucket}/${location.prefix === '' ? '' : `${location.prefix}/`}`;
}

const resilienceSchema = z
  .object({
    maxAttempts: z.number().int().positive(),
    initialDelayMs: z.number().int().nonnegative(),
    maxDelayMs: z.number().int().nonnegative(),
    breakerThreshold: z.number().int().positive(),
    halfOpenAfterMs: z.number().int().positive(),
  })
  .partial();

export const s3LakeConfigSchema = z.object({
  /** `s3://bucket/prefix` (CONTRACT.md §5 `--s3-uri`). */
  uri: z.string().transform((uri, ctx): S3Location => {
    try {
      return parseS3Uri(uri);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }),
  /** Unset: the SDK's standard chain (`AWS_REGION`, profile). */
  region: z.string().min(1).optional(),
  /**
   * Unset: the SDK's standard chain, which reads `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL` itself
   * (and the profile's `endpoint_url`).
   */
  endpoint: z.url().optional(),
  /**
   * `bucket` in the path instead of the host name. Needed for endpoints addressed by host name that
   * have no wildcard DNS (s3rver or MinIO at `localhost`); the SDK already uses paths for IP hosts.
   */
  forcePathStyle: z.boolean().default(false),
  /**
   * `when-required`: send request checksums only where S3 requires them. Unset: the SDK's default
   * (`when-supported`, or `AWS_REQUEST_CHECKSUM_CALCULATION`). Some S3-compatible servers store the
   * aws-chunked framing of streamed checksummed bodies as object bytes; this store always sends whole
   * buffers, whose checksums go in a header, so the default is safe on s3rver too.
   */
  checksums: z.enum(['when-supported', 'when-required']).optional(),
  /** Multipart part size: files larger than this are uploaded in parts. */
  partSizeBytes: z
    .number()
    .int()
    .min(S3_LIMITS.minPartBytes)
    .max(S3_LIMITS.maxPartBytes)
    .default(8 * MIB),
  /** Parts of one file uploaded at once (memory: the file is already in memory, parts are slices). */
  partConcurrency: z.number().int().min(1).max(16).default(4),
  /** No bytes on an open connection for this long fails the request (retriable), so a hung endpoint cannot stall the lake. */
  socketTimeoutMs: z.number().int().positive().default(60_000),
  connectTimeoutMs: z.number().int().positive().default(10_000),
  /** Retries of whole file uploads (backoff with jitter, breaker); the SDK's own retries stay off. */
  resilience: resilienceSchema.default({}),
});

export type S3LakeConfig = z.infer<typeof s3LakeConfigSchema>;
export type S3LakeConfigInput = z.input<typeof s3LakeConfigSchema>;

/** Validates and fills defaults; throws one line naming each bad field. */
export function parseS3LakeConfig(input: S3LakeConfigInput): S3LakeConfig {
  const result = s3LakeConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
  );
  throw new Error(`invalid S3 lake config: ${problems.join('; ')}`);
}

/**
 * S3Client options from a config. Region, credentials and endpoint not given here come from the SDK's
 * standard configuration. `maxAttempts: 1`: retries belong to the store's SinkResilience, where they are
 * counted and sit under the circuit breaker (an SDK retry inside would multiply the attempts).
 */
export function s3ClientConfig(config: S3LakeConfig): S3ClientConfig {
  return {
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    forcePathStyle: config.forcePathStyle,
    ...(config.checksums === undefined
      ? {}
      : {
          requestChecksumCalculation:
            config.checksums === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
        }),
    maxAttempts: 1,
    // S3 speaks HTTP/1.1 (unlike Kinesis' default HTTP/2 handler); explicit so the timeouts apply.
    requestHandler: new NodeHttpHandler({
      connectionTimeout: config.connectTimeoutMs,
      socketTimeout: config.socketTimeoutMs,
    }),
  };
}
