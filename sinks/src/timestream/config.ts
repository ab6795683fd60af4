import { z } from 'zod';

const HOUR_MS = 3_600_000;

/** Timestream database and table names: 3 to 256 letters, digits, `_`, `-` or `.`. */
const timestreamName = (what: string) =>
  z.string().regex(/^[a-zA-Z0-9_.-]{3,256}$/, `${what} must be 3 to 256 letters, digits, "_", "-" or "."`);

/** SinkResilience options (retries, backoff, breaker), each optional. */
export const resilienceConfigSchema = z
  .object({
    maxAttempts: z.number().int().min(1),
    initialDelayMs: z.number().positive(),
    maxDelayMs: z.number().positive(),
    breakerThreshold: z.number().int().min(1),
    halfOpenAfterMs: z.number().positive(),
  })
  .partial()
  .strict();

export const timestreamSinkConfigSchema = z
  .object({
    /** `--timestream-database` */
    database: timestreamName('database'),
    /** `--timestream-table` */
    table: timestreamName('table'),
    /** Default: the SDK's region chain (`AWS_REGION`, profile). */
    region: z.string().min(1).optional(),
    /**
     * Endpoint override that keeps endpoint discovery (DescribeEndpoints is asked there, writes go to the
     * address it returns). Default: the SDK's, including `AWS_ENDPOINT_URL_TIMESTREAM_WRITE`.
     */
    endpoint: z.url().optional(),
    /**
     * The table's memory store retention: older windows are skipped and counted as `out_of_horizon`
     * (Timestream would reject them), unless magnetic store writes are enabled on the table.
     */
    memoryStoreRetentionHours: z.number().positive().default(24),
    magneticStoreWrites: z.boolean().default(false),
    /** WriteRecords takes at most 100 records. */
    maxRecordsPerRequest: z.number().int().min(1).max(100).default(100),
    /** Dead letters kept for inspection (all are counted). */
    deadLetterCapacity: z.number().int().min(0).default(1_000),
    requestTimeoutMs: z.number().int().positive().default(10_000),
    resilience: resilienceConfigSchema.default({}),
  })
  .strict();

export type TimestreamSinkConfigInput = z.input<typeof timestreamSinkConfigSchema>;
export type TimestreamSinkConfig = z.output<typeof timestreamSinkConfigSchema>;

/** Validates a sink's options; the error names the sink and each offending option. */
export function parseSinkConfig<S extends z.ZodType>(
  sink: string,
  schema: S,
  input: z.input<S>,
): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`,
    );
    throw new TypeError(`invalid ${sink} sink config: ${problems.join('; ')}`);
  }
  return result.data;
}

export function parseTimestreamSinkConfig(input: TimestreamSinkConfigInput): TimestreamSinkConfig {
  return parseSinkConfig('timestream', timestreamSinkConfigSchema, input);
}

/** Oldest window start Timestream still accepts at `now`; -Infinity with magnetic store writes. */
export function timestreamHorizon(config: TimestreamSinkConfig, now: number): number {
  return config.magneticStoreWrites
    ? Number.NEGATIVE_INFINITY
    : now - config.memoryStoreRetentionHours * HOUR_MS;
}
