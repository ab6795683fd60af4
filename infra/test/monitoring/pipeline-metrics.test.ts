import { METRICS, PIPELINE_HEALTH_METRICS } from '@genai-pipeline/schemas';
import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { PipelineMetrics } from '../../src/monitoring/pipeline-metrics.js';

const metrics = new PipelineMetrics('GenAI/Pipeline');

describe('PipelineMetrics', () => {
  it('reads a service series with the statistic schemas names for it', () => {
    const latency = metrics.forService(METRICS.latency, 'support-bot');
    expect([latency.namespace, latency.metricName, latency.statistic, latency.dimensions]).toEqual([
      'GenAI/Pipeline',
      'Latency',
      'p95',
      { Service: 'support-bot' },
    ]);
  });

  it('spells SEARCH terms over one exact dimension set', () => {
    expect(metrics.search(METRICS.costUsd, ['TenantId'], { period: Duration.hours(1) }).expression).toBe(
      `SEARCH('{GenAI/Pipeline,TenantId} MetricName="CostUSD"', 'Sum', 3600)`,
    );
    expect(metrics.total(METRICS.requests).expression).toBe(
      `SUM(SEARCH('{GenAI/Pipeline,Service} MetricName="Requests"', 'Sum', 300))`,
    );
  });

  it('spells Metrics Insights sums for alarms', () => {
    expect(metrics.insightsSum(PIPELINE_HEALTH_METRICS.sinkFailures, 'Sink').expression).toBe(
      'SELECT SUM(SinkFailures) FROM SCHEMA("GenAI/Pipeline", Sink)',
    );
  });

  it('reads pipeline-wide health series without dimensions, with their own statistic', () => {
    const lag = metrics.pipelineWide(PIPELINE_HEALTH_METRICS.consumerLagMs);
    expect([lag.metricName, lag.statistic, Object.keys(lag.dimensions ?? {})]).toEqual([
      'ConsumerLagMs',
      'Maximum',
      [],
    ]);
  });
});
