import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { DEAD_LETTER_REASONS, PIPELINE_HEALTH_METRICS } from '@genai-pipeline/schemas';

/** What the pipeline did since its last health report: counts are deltas, published with `Sum`. */
export interface PipelineHealthReport {
  eventsIn: number;
  windowsClosed: number;
  deadLetters: Record<(typeof DEAD_LETTER_REASONS)[number], number>;
  /** Per sink name (as given to `--sink`): failed requests and breaker trips. */
  sinks: Record<string, { failed: number; breakerTrips: number }>;
}

/** The pipeline's own CloudWatch metrics (names from schemas' PIPELINE_HEALTH_METRICS), at `now`. */
export function healthDatums(report: PipelineHealthReport, now: number): MetricDatum[] {
  const timestamp = new Date(now);
  const datum = (
    metric: (typeof PIPELINE_HEALTH_METRICS)[keyof typeof PIPELINE_HEALTH_METRICS],
    value: number,
    dimension?: { Name: string; Value: string },
  ): MetricDatum => ({
    MetricName: metric.name,
    Unit: metric.unit,
    Timestamp: timestamp,
    Value: value,
    ...(dimension ? { Dimensions: [dimension] } : {}),
  });
  const { eventsIn, windowsClosed, deadLetters, sinkFailures, breakerTrips } = PIPELINE_HEALTH_METRICS;
  return [
    datum(eventsIn, report.eventsIn),
    datum(windowsClosed, report.windowsClosed),
    ...DEAD_LETTER_REASONS.map((reason) =>
      datum(deadLetters, report.deadLetters[reason], { Name: 'Reason', Value: reason }),
    ),
    ...Object.entries(report.sinks).flatMap(([sink, health]) => [
      datum(sinkFailures, health.failed, { Name: 'Sink', Value: sink }),
      datum(breakerTrips, health.breakerTrips, { Name: 'Sink', Value: sink }),
    ]),
  ];
}
