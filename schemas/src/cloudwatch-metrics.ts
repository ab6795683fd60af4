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
