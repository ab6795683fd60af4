/**
 * Two dashboards: `<prefix>-usage` (cost and tokens over time; cost by service, tenant and model;
 * errors; latency p50/p95/p99 and TTFT; quality scores with target lines; anomalies) and
 * `<prefix>-pipeline-health` (input, lag, watermark, dead letters, sinks, breaker, the service, logs
 * and alarm states). Metric names come from schemas only.
 */

import {
  DEAD_LETTER_REASONS,
  DIMENSION_NAMES,
  METRICS,
  PIPELINE_HEALTH_DIMENSION_NAMES,
  PIPELINE_HEALTH_METRICS,
  scoreMetric,
} from '@genai-pipeline/schemas';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.js';
import type { PipelineMetrics } from './pipeline-metrics.js';

const WIDE = 12;
const HEIGHT = 6;
const TARGET_COLOR = '#2ca02c';

export interface PipelineDashboardsProps {
  config: InfraConfig;
  metrics: PipelineMetrics;
  alarms: cloudwatch.IAlarm[];
  processorService?: ecs.FargateService;
  processorLogGroup?: logs.ILogGroup;
  /** The transport's own lag metric (Kinesis iterator age), when there is one. */
  sourceLag?: cloudwatch.IMetric;
}

export class PipelineDashboards extends Construct {
  readonly usage: cloudwatch.Dashboard;
  readonly health: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineDashboardsProps) {
    super(scope, id);
    this.usage = new cloudwatch.Dashboard(this, 'Usage', {
      dashboardName: `${props.config.prefix}-usage`,
      defaultInterval: Duration.hours(24),
      widgets: usageWidgets(props),
    });
    this.health = new cloudwatch.Dashboard(this, 'Health', {
      dashboardName: `${props.config.prefix}-pipeline-health`,
      defaultInterval: Duration.hours(6),
      widgets: healthWidgets(props),
    });
  }
}

function graph(title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) {
  return new cloudwatch.GraphWidget({ title, left, width: WIDE, height: HEIGHT, ...extra });
}

function usageWidgets({ config, metrics }: PipelineDashboardsProps): cloudwatch.IWidget[][] {
  const hourly = { period: Duration.hours(1) };
  const errors = metrics.total(METRICS.errors, { label: 'errors' });
  const throttles = metrics.total(METRICS.throttles, { label: 'throttles' });
  const requests = metrics.total(METRICS.requests, { label: 'requests' });
  const latencyBy = (statistic: string) =>
    metrics.search(METRICS.latency, [DIMENSION_NAMES.service], { statistic, label: statistic });
  const scoreWidgets = Object.entries(config.qualityTargets).map(([name, target]) =>
    graph(
      `Quality: ${name} (average by service)`,
      [metrics.search(scoreMetric(name), [DIMENSION_NAMES.service], { statistic: 'Average' })],
      {
        width: 8,
        leftAnnotations: [{ value: target, label: `target ${target}`, color: TARGET_COLOR }],
      },
    ),
  );
  return [
    [
      new cloudwatch.TextWidget({
        markdown: `# GenAI usage (namespace \`${config.namespace}\`)\nRaw calls, per-tenant detail and the timeouts/filtered split are in Athena (workgroup \`${config.prefix}\`, named queries).`,
        width: 24,
        height: 2,
      }),
    ],
    [
      graph('Cost (USD) over time', [metrics.total(METRICS.costUsd, { label: 'cost USD' })]),
      graph('Tokens over time', [
        metrics.total(METRICS.inputTokens, { label: 'input' }),
        metrics.total(METRICS.outputTokens, { label: 'output' }),
        metrics.total(METRICS.cacheReadInputTokens, { label: 'cache read' }),
        metrics.total(METRICS.cacheWriteInputTokens, { label: 'cache write' }),
      ]),
    ],
    [
      graph(
        'Cost by service (USD/hour)',
        [metrics.search(METRICS.costUsd, [DIMENSION_NAMES.service], hourly)],
        {
          width: 8,
          stacked: true,
        },
      ),
      graph(
        'Cost by tenant (USD/hour)',
        [metrics.search(METRICS.costUsd, [DIMENSION_NAMES.tenantId], hourly)],
        {
          width: 8,
          stacked: true,
        },
      ),
      graph(
        'Cost by model (USD/hour)',
        [metrics.search(METRICS.costUsd, [DIMENSION_NAMES.modelId], hourly)],
        {
          width: 8,
          stacked: true,
        },
      ),
    ],
    [
      graph('Errors: throttles and others (timeouts, filtered, failures)', [
        throttles,
        new cloudwatch.MathExpression({
          expression: 'errors - throttles',
          usingMetrics: { errors, throttles },
          label: 'other errors',
        }),
      ]),
      graph(
        'Error rate (Errors / Requests)',
        [
          new cloudwatch.MathExpression({
            expression: 'errors / requests',
            usingMetrics: { errors, requests },
            label: 'error rate',
          }),
        ],
        {
          leftYAxis: { min: 0, max: 1 },
          leftAnnotations: [{ value: config.thresholds.errorRate, label: 'alarm', color: '#d62728' }],
        },
      ),
    ],
    [
      graph(
        'Latency p50 / p95 / p99 by service (ms)',
        [latencyBy('p50'), latencyBy('p95'), latencyBy('p99')],
        {
          leftAnnotations: [{ value: config.thresholds.latencyP95Ms, label: 'p95 alarm', color: '#d62728' }],
        },
      ),
      graph('Time to first token p50 / p95 by service (ms)', [
        metrics.search(METRICS.timeToFirstToken, [DIMENSION_NAMES.service], {
          statistic: 'p50',
          label: 'p50',
        }),
        metrics.search(METRICS.timeToFirstToken, [DIMENSION_NAMES.service], {
          statistic: 'p95',
          label: 'p95',
        }),
      ]),
    ],
    scoreWidgets,
    [
      graph('Anomalies detected by service', [metrics.search(METRICS.anomalies, [DIMENSION_NAMES.service])], {
        stacked: true,
      }),
      graph('Anomalies detected by model', [metrics.search(METRICS.anomalies, [DIMENSION_NAMES.modelId])], {
        stacked: true,
      }),
    ],
  ];
}

function healthWidgets(props: PipelineDashboardsProps): cloudwatch.IWidget[][] {
  const { metrics, config } = props;
  const minute = { period: Duration.minutes(1) };
  const lag: cloudwatch.IMetric[] = [
    metrics.pipelineWide(PIPELINE_HEALTH_METRICS.consumerLagMs, { label: 'consumer lag (processor)' }),
  ];
  if (props.sourceLag !== undefined) lag.push(props.sourceLag);
  const rows: cloudwatch.IWidget[][] = [
    [
      graph('Events in, windows closed', [
        metrics.pipelineWide(PIPELINE_HEALTH_METRICS.eventsIn, { ...minute, label: 'events in' }),
        metrics.pipelineWide(PIPELINE_HEALTH_METRICS.windowsClosed, { ...minute, label: 'windows closed' }),
      ]),
      graph('Lag behind the source and watermark delay (ms)', lag, {
        right: [metrics.pipelineWide(PIPELINE_HEALTH_METRICS.watermarkDelayMs, { label: 'watermark delay' })],
        leftAnnotations: [{ value: config.thresholds.consumerLagMs, label: 'lag alarm', color: '#d62728' }],
      }),
    ],
    [
      graph(
        'Dead letters by reason',
        DEAD_LETTER_REASONS.map((reason) =>
          metrics.forReason(PIPELINE_HEALTH_METRICS.deadLetters, reason, { period: Duration.minutes(5) }),
        ),
        { width: 8 },
      ),
      graph(
        'Sink failures by sink',
        [metrics.search(PIPELINE_HEALTH_METRICS.sinkFailures, [PIPELINE_HEALTH_DIMENSION_NAMES.sink])],
        { width: 8 },
      ),
      graph(
        'Circuit breaker trips by sink',
        [metrics.search(PIPELINE_HEALTH_METRICS.breakerTrips, [PIPELINE_HEALTH_DIMENSION_NAMES.sink])],
        { width: 8 },
      ),
    ],
  ];
  const serviceRow: cloudwatch.IWidget[] = [];
  if (props.processorService !== undefined) {
    serviceRow.push(
      graph('Processor CPU and memory (%)', [
        props.processorService.metricCpuUtilization(),
        props.processorService.metricMemoryUtilization(),
      ]),
    );
  }
  if (props.processorLogGroup !== undefined) {
    serviceRow.push(
      new cloudwatch.LogQueryWidget({
        title: 'Processor errors (pino level >= 50)',
        logGroupNames: [props.processorLogGroup.logGroupName],
        queryLines: [
          'fields @timestamp, msg, err.message',
          'filter level >= 50',
          'sort @timestamp desc',
          'limit 50',
        ],
        width: WIDE,
        height: HEIGHT,
      }),
    );
  }
  if (serviceRow.length > 0) rows.push(serviceRow);
  rows.push([
    new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: 24, height: 4 }),
  ]);
  return rows;
}
