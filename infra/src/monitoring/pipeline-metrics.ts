/**
 * CloudWatch metric objects for the names of schemas' cloudwatch-metrics.ts, the single source the
 * CloudWatch sink publishes with. Nothing here spells a metric or dimension name.
 */

import {
  DIMENSION_NAMES,
  type DimensionName,
  type MetricSpec,
  PIPELINE_HEALTH_DIMENSION_NAMES,
  type PipelineHealthMetricSpec,
} from '@genai-pipeline/schemas';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

type AnySpec = Pick<MetricSpec, 'name' | 'statistic'> | Pick<PipelineHealthMetricSpec, 'name' | 'statistic'>;

export interface MetricOptions {
  period?: Duration;
  statistic?: string;
  label?: string;
}

export class PipelineMetrics {
  constructor(readonly namespace: string) {}

  /** One series of a published dimension set. */
  metric(spec: AnySpec, dimensions: Record<string, string>, options: MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName: spec.name,
      dimensionsMap: dimensions,
      statistic: options.statistic ?? spec.statistic,
      period: options.period ?? Duration.minutes(1),
      label: options.label,
    });
  }

  /** The `[Service]` series of one service. */
  forService(spec: AnySpec, service: string, options: MetricOptions = {}): cloudwatch.Metric {
    return this.metric(spec, { [DIMENSION_NAMES.service]: service }, { label: service, ...options });
  }

  /** The `DeadLetters` series of one reason. */
  forReason(spec: PipelineHealthMetricSpec, reason: string, options: MetricOptions = {}): cloudwatch.Metric {
    return this.metric(
      spec,
      { [PIPELINE_HEALTH_DIMENSION_NAMES.reason]: reason },
      { label: reason, ...options },
    );
  }

  /** A dimensionless pipeline-health series. */
  pipelineWide(spec: PipelineHealthMetricSpec, options: MetricOptions = {}): cloudwatch.Metric {
    return this.metric(spec, {}, options);
  }

  /** The `SEARCH` term matching every series of one dimension set (dashboards only: alarms cannot SEARCH). */
  searchTerm(spec: AnySpec, dimensionSet: readonly string[], statistic: string, period: Duration): string {
    const schema = [this.namespace, ...dimensionSet].join(',');
    return `SEARCH('{${schema}} MetricName="${spec.name}"', '${statistic}', ${period.toSeconds()})`;
  }

  /** Every series of a dimension set, one line each (e.g. cost by service, by tenant, by model). */
  search(
    spec: AnySpec,
    dimensionSet: readonly (DimensionName | string)[],
    options: MetricOptions = {},
  ): cloudwatch.MathExpression {
    const period = options.period ?? Duration.minutes(5);
    return new cloudwatch.MathExpression({
      expression: this.searchTerm(spec, dimensionSet, options.statistic ?? spec.statistic, period),
      label: options.label ?? '',
      period,
      usingMetrics: {},
    });
  }

  /**
   * The sum over all services (the `[Service]` set covers every event), for dashboards. Only for
   * additive statistics: a sum of percentiles means nothing.
   */
  total(spec: AnySpec, options: MetricOptions = {}): cloudwatch.MathExpression {
    const period = options.period ?? Duration.minutes(5);
    return new cloudwatch.MathExpression({
      expression: `SUM(${this.searchTerm(spec, [DIMENSION_NAMES.service], 'Sum', period)})`,
      label: options.label ?? spec.name,
      period,
      usingMetrics: {},
    });
  }

  /**
   * A Metrics Insights sum over every series of one dimension set: one time series alarms can use
   * (they evaluate only the last 3 hours of it, so periods stay <= 1 hour).
   */
  insightsSum(spec: AnySpec, dimension: string, options: MetricOptions = {}): cloudwatch.MathExpression {
    const period = options.period ?? Duration.minutes(5);
    return new cloudwatch.MathExpression({
      expression: `SELECT SUM(${spec.name}) FROM SCHEMA("${this.namespace}", ${dimension})`,
      label: options.label ?? spec.name,
      period,
      usingMetrics: {},
    });
  }
}
