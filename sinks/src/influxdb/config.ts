import { z } from 'zod';
import { parseSinkConfig, resilienceConfigSchema } from '../timestream/config.js';

export const influxSinkConfigSchema = z
  .object({
    /** `--influx-url`: the server's base URL (a path prefix, if any, is kept). */
    url: z.url({ protocol: /^https?$/ }),
    /** `--influx-token`: sent as `Authorization: Token <token>`; required by the v2 API. */
    token: z.string().min(1).optional(),
    /** `--influx-bucket`: write through the v2 API `/api/v2/write` (InfluxDB 2.x, Timestream for InfluxDB). */
    bucket: z.string().min(1).optional(),
    /** The bucket's organization (name), for `/api/v2/write?org=`; InfluxDB 2.x OSS requires it. */
    org: z.string().min(1).optional(),
    /** `--influx-db`: write through the v1 API `/write?db=` (InfluxDB 1.x, and 2.x's v1 compatibility). */
    db: z.string().min(1).optional(),
    /** v1 only: the retention policy (`rp=`); default: the database's default policy. */
    retentionPolicy: z.string().min(1).optional(),
    /** Lines per write request (InfluxData recommends batches of about 5,000). */
    maxLinesPerRequest: z.number().int().min(1).max(100_000).default(5_000),
    /** Body bytes per write request (but for a single longer line). */
    maxBytesPerRequest: z
      .number()
      .int()
      .min(1_024)
      .default(5 * 1024 * 1024),
    requestTimeoutMs: z.number().int().positive().default(10_000),
    /** Longest `Retry-After` honoured; longer ones are capped (the breaker takes over then). */
    maxRetryAfterMs: z.number().int().min(0).default(60_000),
    /** Dead letters kept for inspection (all are counted). */
    deadLetterCapacity: z.number().int().min(0).default(1_000),
    resilience: resilienceConfigSchema.default({}),
  })
  .strict()
  .refine((c) => (c.bucket === undefined) !== (c.db === undefined), {
    message: 'give exactly one of bucket (v2 API) or db (v1 API)',
    path: ['bucket'],
  })
  .refine((c) => c.bucket === undefined || c.token !== undefined, {
    message: 'the v2 API (bucket) needs a token',
    path: ['token'],
  })
  .refine((c) => c.db !== undefined || c.retentionPolicy === undefined, {
    message: 'retentionPolicy applies to the v1 API (db) only',
    path: ['retentionPolicy'],
  });

export type InfluxSinkConfigInput = z.input<typeof influxSinkConfigSchema>;
export type InfluxSinkConfig = z.output<typeof influxSinkConfigSchema>;

export function parseInfluxSinkConfig(input: InfluxSinkConfigInput): InfluxSinkConfig {
  return parseSinkConfig('influxdb', influxSinkConfigSchema, input);
}

/** The write endpoint of the configured API, with `precision=ms` (the lines carry milliseconds). */
export function influxWriteUrl(config: InfluxSinkConfig): URL {
  const base = new URL(config.url.endsWith('/') ? config.url : `${config.url}/`);
  if (config.bucket !== undefined) {
    const url = new URL('api/v2/write', base);
    if (config.org !== undefined) url.searchParams.set('org', config.org);
    url.searchParams.set('bucket', config.bucket);
    url.searchParams.set('precision', 'ms');
    return url;
  }
  const url = new URL('write', base);
  url.searchParams.set('db', config.db ?? '');
  if (config.retentionPolicy !== undefined) url.searchParams.set('rp', config.retentionPolicy);
  url.searchParams.set('precision', 'ms');
  return url;
}
