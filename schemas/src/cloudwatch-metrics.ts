/**
 * CloudWatch names of CONTRACT.md §7, in one place: the CloudWatch sink publishes them, and infra's
 * dashboards and alarms import them, so the two cannot drift.
 */

export const DEFAULT_CLOUDWATCH_NAMESPACE = 'GenAI/Pipeline';

export const DIMENSION_NAMES = {
  service: 'Service',
  modelId: 'ModelId',
  tenantId: 'TenantId',
  provider: 'Provider',
} as const;

export type DimensionName = (typeof DIMENSION_NAMES)[keyof typeof DIMENSION_NAMES];

/** The default dimension sets; events without a tenant are left out of `[TenantId]` only. */
export const DEFAULT_DIMENSION_SETS: readonly (readonly DimensionName[])[] = [
  ['Service'],
  ['Service', 'ModelId'],
  ['ModelId'],
  ['TenantId'],
];

/** Where the cardinality guard folds values past its cap (the lake keeps true values). */
export const OTHER_DIMENSION_VALUE = '__other__';

export type MetricUnit = 'Count' | 'None' | 'Milliseconds';

/** How a metric's datum carries its value (exactly one per datum: CloudWatch rejects mixtures). */
export type DatumShape = 'value' | 'distribution' | 'statistic-set';

export interface MetricSpec {
  name: string;
  unit: MetricUnit;
  shape: DatumShape;
  /** The statistic dashboards and alarms read it with. */
  statistic: 'Sum' | 'Average' | 'p50' | 'p95' | 'p99';
}

const metric = (
  name: string,
  unit: MetricUnit,
  shape: DatumShape,
  statistic: MetricSpec['statistic'],
): MetricSpec => ({
  name,
  unit,
  shape,
  statistic,
});

export const METRICS = {
  requests: metric('Requests', 'Count', 'value', 'Sum'),
  /** status != OK; error rate is metric math Errors/Requests, never a published ratio. */
  errors: metric('Errors', 'Count', 'value', 'Sum'),
  throttles: metric('Throttles', 'Count', 'value', 'Sum'),
  inputTokens: metric('InputTokens', 'Count', 'value', 'Sum'),
  outputTokens: metric('OutputTokens', 'Count', 'value', 'Sum'),
  cacheReadInputTokens: metric('CacheReadInputTokens', 'Count', 'value', 'Sum'),
  cacheWriteInputTokens: metric('CacheWriteInputTokens', 'Count', 'value', 'Sum'),
  costUsd: metric('CostUSD', 'None', 'value', 'Sum'),
  latency: metric('Latency', 'Milliseconds', 'distribution', 'p95'),
  timeToFirstToken: metric('TimeToFirstToken', 'Milliseconds', 'distribution', 'p95'),
  anomalies: metric('Anomalies', 'Count', 'value', 'Sum'),
} as const satisfies Record<string, MetricSpec>;

export const SCORE_METRIC_PREFIX = 'Score_';

/** A score's distribution, published as StatisticValues. */
export function scoreMetric(scoreName: string): MetricSpec {
  return metric(`${SCORE_METRIC_PREFIX}${scoreName}`, 'None', 'statistic-set', 'Average');
}

/*
 * Pipeline health: the processor's own metrics (not per-event telemetry), published to the same
 * namespace so one dashboard and one SNS topic cover both. Dashboards and alarms in infra/ import
 * these names; the processor publishes exactly them.
 */

/** Dimension names of the pipeline-health metrics. */
export const PIPELINE_HEALTH_DIMENSION_NAMES = {
  /** Why a record went to `dead_letters`: `invalid` or `late` (CONTRACT.md §2). */
  reason: 'Reason',
  /** Sink name as given to `--sink`: `lake`, `s3`, `cloudwatch`, `timestream`, `influxdb`. */
  sink: 'Sink',
} as const;

export type PipelineHealthDimensionName =
  (typeof PIPELINE_HEALTH_DIMENSION_NAMES)[keyof typeof PIPELINE_HEALTH_DIMENSION_NAMES];

export interface PipelineHealthMetricSpec {
  name: string;
  unit: MetricUnit;
  /** Always one `Value` per datum and publishing interval. */
  shape: 'value';
  /** The statistic dashboards and alarms read it with (several tasks may publish the same series). */
  statistic: 'Sum' | 'Maximum';
  /** The one dimension set it is published with (empty: pipeline-wide, no dimensions). */
  dimensions: readonly PipelineHealthDimensionName[];
  description: string;
}

const healthMetric = (
  name: string,
  unit: MetricUnit,
  statistic: PipelineHealthMetricSpec['statistic'],
  dimensions: readonly PipelineHealthDimensionName[],
  description: string,
): PipelineHealthMetricSpec => ({ name, unit, shape: 'value', statistic, dimensions, description });

export const PIPELINE_HEALTH_METRICS = {
  eventsIn: healthMetric('EventsIn', 'Count', 'Sum', [], 'records read from the source, valid or not'),
  windowsClosed: healthMetric('WindowsClosed', 'Count', 'Sum', [], 'rollup windows closed and emitted'),
  consumerLagMs: healthMetric(
    'ConsumerLagMs',
    'Milliseconds',
    'Maximum',
    [],
    'age of the newest record read behind the head of the source (Kafka lag or Kinesis iterator age), per partition maximum',
  ),
  watermarkDelayMs: healthMetric(
    'WatermarkDelayMs',
    'Milliseconds',
    'Maximum',
    [],
    'processing time minus the lowest partition watermark: how far behind real time windows close',
  ),
  deadLetters: healthMetric(
    'DeadLetters',
    'Count',
    'Sum',
    ['Reason'],
    'records written to dead_letters, by reason (`invalid`, `late`)',
  ),
  sinkFailures: healthMetric(
    'SinkFailures',
    'Count',
    'Sum',
    ['Sink'],
    'sink writes that failed after their retries (the batch stays unacknowledged and is retried)',
  ),
  breakerTrips: healthMetric(
    'BreakerTrips',
    'Count',
    'Sum',
    ['Sink'],
    "times a sink's circuit breaker opened",
  ),
} as const satisfies Record<string, PipelineHealthMetricSpec>;

/** Values of the `Reason` dimension of `DeadLetters`. */
export const DEAD_LETTER_REASONS = ['invalid', 'late'] as const;
