import {
  DEFAULT_CLOUDWATCH_NAMESPACE,
  DEFAULT_DIMENSION_SETS,
  DIMENSION_NAMES,
  type DimensionName,
} from '@genai-pipeline/schemas';
import { z } from 'zod';

/** CloudWatch's documented PutMetricData limits (DESIGN.md, "Limits the sinks must respect"). */
export const CLOUDWATCH_LIMITS = Object.freeze({
  maxDatumsPerRequest: 1000,
  maxRequestBytes: 1_000_000,
  maxDimensionsPerDatum: 30,
  maxDimensionValueLength: 1024,
  maxMetricNameLength: 255,
  maxValuesPerDatum: 150,
  horizonMs: 14 * 24 * 3_600_000,
});

const dimensionName = z.enum(Object.values(DIMENSION_NAMES) as [DimensionName, ...DimensionName[]]);

const dimensionSet = z
  .array(dimensionName)
  .min(1, 'a dimension set names at least one dimension')
  .max(CLOUDWATCH_LIMITS.maxDimensionsPerDatum)
  .refine((set) => new Set(set).size === set.length, 'a dimension set names each dimension once');

/** Where EMF lines go instead of PutMetricData: `off` (use the API), `stdout`, or a file appended to. */
const emfMode = z.union([z.literal('off'), z.literal('stdout'), z.object({ file: z.string().min(1) })]);

export const cloudWatchSinkConfigSchema = z.object({
  namespace: z.string().min(1).max(255).default(DEFAULT_CLOUDWATCH_NAMESPACE),
  dimensionSets: z
    .array(dimensionSet)
    .min(1)
    .default(DEFAULT_DIMENSION_SETS.map((set) => [...set])),
  /** Distinct values per dimension per UTC day (of the datum's window) before folding into `__other__`. */
  maxValuesPerDimensionPerDay: z.number().int().positive().default(100),
  /** Distinct score names per UTC day before `Score___other__`. */
  maxScoreNames: z.number().int().positive().default(20),
  horizonMs: z
    .number()
    .int()
    .positive()
    .max(CLOUDWATCH_LIMITS.horizonMs)
    .default(CLOUDWATCH_LIMITS.horizonMs),
  maxDatumsPerRequest: z
    .number()
    .int()
    .positive()
    .max(CLOUDWATCH_LIMITS.maxDatumsPerRequest)
    .default(CLOUDWATCH_LIMITS.maxDatumsPerRequest),
  /** Serialized (uncompressed) JSON body bound: holds whether AWS measures the gzip or the plain body. */
  maxRequestBytes: z
    .number()
    .int()
    .min(10_000)
    .max(CLOUDWATCH_LIMITS.maxRequestBytes)
    .default(CLOUDWATCH_LIMITS.maxRequestBytes),
  /** Datums held while CloudWatch is unreachable; `write` waits (backpressure) when full. */
  maxQueuedDatums: z.number().int().min(CLOUDWATCH_LIMITS.maxDatumsPerRequest).default(100_000),
  emf: emfMode.default('off'),
  /** AWS region; unset means the SDK's standard chain (`AWS_REGION`, profile). */
  region: z.string().min(1).optional(),
});

export type CloudWatchSinkConfig = z.infer<typeof cloudWatchSinkConfigSchema>;
export type CloudWatchSinkConfigInput = z.input<typeof cloudWatchSinkConfigSchema>;
export type EmfMode = CloudWatchSinkConfig['emf'];

/** Validates and fills defaults; throws a message naming each bad field. */
export function parseCloudWatchSinkConfig(input: CloudWatchSinkConfigInput = {}): CloudWatchSinkConfig {
  const result = cloudWatchSinkConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
  );
  throw new Error(`invalid CloudWatch sink config: ${problems.join('; ')}`);
}
