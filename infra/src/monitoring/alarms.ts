/**
 * The alarms, all to one SNS topic. Names are `<prefix>-<what>[-<service>]`; docs/runbooks.md has a
 * section for each (a test keeps the two in step).
 *
 * CloudWatch alarms cannot use SEARCH, so per-service alarms need the `services` list; the
 * namespace-wide ones use Metrics Insights (`SELECT SUM(...) FROM SCHEMA(...)`), whose alarms see
 * only the last 3 hours, which is why the daily cost alarm is per service.
 */

import {
  DEAD_LETTER_REASONS,
  DIMENSION_NAMES,
  METRICS,
  PIPELINE_HEALTH_DIMENSION_NAMES,
  PIPELINE_HEALTH_METRICS,
} from '@genai-pipeline/schemas';
import { Annotations, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.js';
import type { PipelineMetrics } from './pipeline-metrics.js';

/** The error-rate expression: errors / requests, once the window has enough requests to judge. */
export const errorRateExpression = (minRequests: number): string =>
  `IF(requests >= ${minRequests}, errors / requests, 0)`;

export interface PipelineAlarmsProps {
  config: InfraConfig;
  metrics: PipelineMetrics;
}

export class PipelineAlarms extends Construct {
  readonly topic: sns.Topic;
  /** Every metric alarm (not the composite). */
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly systemDegraded: cloudwatch.CompositeAlarm;
  /** Every alarm name, the composite included (literal strings, for runbooks and tests). */
  readonly alarmNames: string[] = [];
  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: PipelineAlarmsProps) {
    super(scope, id);
    const { config, metrics } = props;
    const t = config.thresholds;
    this.prefix = config.prefix;
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: `${config.prefix}-alarms`,
      displayName: 'genai-pipeline alarms',
      enforceSSL: true,
    });
    if (config.alarmEmail !== undefined) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    }

    const degraded: cloudwatch.Alarm[] = [];

    this.add('cost-hourly', {
      metric: metrics.insightsSum(METRICS.costUsd, DIMENSION_NAMES.service, {
        period: Duration.hours(1),
        label: 'cost USD per hour, all services',
      }),
      threshold: t.hourlyCostUsd,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription: `Cost over ${t.hourlyCostUsd} USD in one hour, all services together.`,
    });

    if (config.services.length === 0) {
      Annotations.of(this).addWarning(
        'no per-service alarms (daily cost, error rate, p95 latency, latency anomaly): set -c services=a,b',
      );
    }
    for (const service of config.services) {
      this.add(`cost-daily-${service}`, {
        metric: metrics.forService(METRICS.costUsd, service, { period: Duration.days(1), statistic: 'Sum' }),
        threshold: t.dailyCostUsd,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `Cost of ${service} over ${t.dailyCostUsd} USD in one day.`,
      });
      const period = Duration.minutes(5);
      degraded.push(
        this.add(`error-rate-${service}`, {
          metric: new cloudwatch.MathExpression({
            expression: errorRateExpression(t.errorRateMinRequests),
            usingMetrics: {
              errors: metrics.forService(METRICS.errors, service, { period }),
              requests: metrics.forService(METRICS.requests, service, { period }),
            },
            label: `${service} error rate`,
            period,
          }),
          threshold: t.errorRate,
          evaluationPeriods: 3,
          datapointsToAlarm: 2,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          alarmDescription: `Errors/Requests of ${service} over ${t.errorRate * 100} % (2 of 3 five-minute periods).`,
        }),
      );
      degraded.push(
        this.add(`latency-p95-${service}`, {
          metric: metrics.forService(METRICS.latency, service, { period, statistic: 'p95' }),
          threshold: t.latencyP95Ms,
          evaluationPeriods: 3,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          alarmDescription: `p95 latency of ${service} over ${t.latencyP95Ms} ms for 15 minutes.`,
        }),
      );
      const latency = metrics.forService(METRICS.latency, service, { period, statistic: 'p95' });
      new cloudwatch.CfnAnomalyDetector(this, `LatencyModel-${service}`, {
        singleMetricAnomalyDetector: {
          namespace: config.namespace,
          metricName: METRICS.latency.name,
          dimensions: [{ name: DIMENSION_NAMES.service, value: service }],
          stat: 'p95',
        },
      });
      const anomalyName = this.alarmName(`latency-anomaly-${service}`);
      this.register(
        anomalyName,
        new cloudwatch.AnomalyDetectionAlarm(this, `latency-anomaly-${service}`, {
          alarmName: anomalyName,
          metric: latency,
          stdDevs: t.latencyAnomalyStdDevs,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          alarmDescription: `p95 latency of ${service} above its learned band (${t.latencyAnomalyStdDevs} standard deviations) for 15 minutes.`,
        }),
      );
    }

    degraded.push(
      this.add('consumer-lag', {
        metric: metrics.pipelineWide(PIPELINE_HEALTH_METRICS.consumerLagMs),
        threshold: t.consumerLagMs,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `The processor reads more than ${t.consumerLagMs} ms behind the source for 5 minutes.`,
      }),
      this.add('watermark-delay', {
        metric: metrics.pipelineWide(PIPELINE_HEALTH_METRICS.watermarkDelayMs),
        threshold: t.watermarkDelayMs,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `Windows close more than ${t.watermarkDelayMs} ms behind real time for 5 minutes.`,
      }),
      this.add('sink-failures', {
        metric: metrics.insightsSum(
          PIPELINE_HEALTH_METRICS.sinkFailures,
          PIPELINE_HEALTH_DIMENSION_NAMES.sink,
        ),
        threshold: 1,
        evaluationPeriods: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription: 'A sink failed writes after its retries in two consecutive five-minute periods.',
      }),
      this.add('no-events', {
        metric: metrics.pipelineWide(PIPELINE_HEALTH_METRICS.eventsIn, { period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        // No datapoint at all means the processor is not running or not publishing.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        alarmDescription: 'No events read for 15 minutes (or the processor publishes no metrics).',
      }),
    );
    this.add('breaker-trips', {
      metric: metrics.insightsSum(PIPELINE_HEALTH_METRICS.breakerTrips, PIPELINE_HEALTH_DIMENSION_NAMES.sink),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription: "A sink's circuit breaker opened in the last five minutes.",
    });
    const deadLetterThresholds: Record<(typeof DEAD_LETTER_REASONS)[number], number> = {
      invalid: t.invalidDeadLettersPer5Min,
      late: t.lateDeadLettersPer5Min,
    };
    for (const reason of DEAD_LETTER_REASONS) {
      this.add(`dead-letters-${reason}`, {
        metric: metrics.forReason(PIPELINE_HEALTH_METRICS.deadLetters, reason, {
          period: Duration.minutes(5),
        }),
        threshold: deadLetterThresholds[reason],
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `More than ${deadLetterThresholds[reason]} ${reason} records dead-lettered in five minutes.`,
      });
    }

    const compositeName = this.alarmName('system-degraded');
    this.alarmNames.push(compositeName);
    this.systemDegraded = new cloudwatch.CompositeAlarm(this, 'system-degraded', {
      compositeAlarmName: compositeName,
      alarmRule: cloudwatch.AlarmRule.anyOf(...degraded),
      alarmDescription:
        'Any of: a service error rate or p95 latency alarm, consumer lag, watermark delay, sink failures, no events.',
    });
    this.systemDegraded.addAlarmAction(new actions.SnsAction(this.topic));
  }

  private alarmName(suffix: string): string {
    return `${this.prefix}-${suffix}`;
  }

  private add(
    suffix: string,
    props: Omit<cloudwatch.AlarmProps, 'alarmName' | 'treatMissingData'> & {
      treatMissingData?: cloudwatch.TreatMissingData;
    },
  ): cloudwatch.Alarm {
    const name = this.alarmName(suffix);
    return this.register(
      name,
      new cloudwatch.Alarm(this, suffix, {
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...props,
        alarmName: name,
      }),
    );
  }

  private register(name: string, alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    this.alarmNames.push(name);
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }
}
