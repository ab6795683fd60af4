import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS, PIPELINE_HEALTH_METRICS, scoreMetric } from '@genai-pipeline/schemas';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { findRepoRoot } from '../../src/compute/processor-image.js';
import { errorRateExpression } from '../../src/monitoring/alarms.js';
import { alarmReferences } from '../support/metric-references.js';
import { joined, resourcesOf, type Synthesized, synth, TEST_SERVICES } from '../support/synth.js';

interface AlarmProps {
  AlarmName: string;
  Threshold?: number;
  ComparisonOperator: string;
  EvaluationPeriods: number;
  DatapointsToAlarm?: number;
  TreatMissingData?: string;
  AlarmActions: unknown[];
  MetricName?: string;
  Period?: number;
  Statistic?: string;
  ThresholdMetricId?: string;
  Metrics?: {
    Id: string;
    Expression?: string;
    Period?: number;
    ReturnData?: boolean;
    MetricStat?: { Metric: { MetricName: string; Dimensions: unknown }; Stat: string; Period: number };
  }[];
}

let synthesized: Synthesized;
let alarms: Map<string, AlarmProps>;
beforeAll(() => {
  synthesized = synth({ hourlyCostUsd: '25', dailyCostUsd: '300', latencyP95Ms: '8000' });
  alarms = new Map(
    Object.values(resourcesOf(synthesized.monitoringTemplate, 'AWS::CloudWatch::Alarm')).map((alarm) => [
      (alarm.Properties as unknown as AlarmProps).AlarmName,
      alarm.Properties as unknown as AlarmProps,
    ]),
  );
});

const alarm = (name: string): AlarmProps => {
  const found = alarms.get(name);
  if (found === undefined) throw new Error(`no alarm ${name}; have ${[...alarms.keys()].join(', ')}`);
  return found;
};

describe('alarms', () => {
  it('has the namespace-wide, per-service and pipeline-health alarms, and nothing else', () => {
    const perService = TEST_SERVICES.flatMap((service) =>
      ['cost-daily', 'error-rate', 'latency-p95', 'latency-anomaly'].map(
        (what) => `genai-pipeline-${what}-${service}`,
      ),
    );
    const pipeline = [
      'cost-hourly',
      'consumer-lag',
      'watermark-delay',
      'sink-failures',
      'no-events',
      'breaker-trips',
      'dead-letters-invalid',
      'dead-letters-late',
    ].map((what) => `genai-pipeline-${what}`);
    expect([...alarms.keys()].sort()).toEqual([...perService, ...pipeline].sort());
    expect(synthesized.monitoring.alarms.alarmNames.sort()).toEqual(
      [...perService, ...pipeline, 'genai-pipeline-system-degraded'].sort(),
    );
  });

  it('alarms on hourly cost over all services with a Metrics Insights sum', () => {
    const hourly = alarm('genai-pipeline-cost-hourly');
    expect(hourly.Threshold).toBe(25);
    expect(hourly.ComparisonOperator).toBe('GreaterThanThreshold');
    expect(hourly.Metrics).toEqual([
      expect.objectContaining({
        Expression: 'SELECT SUM(CostUSD) FROM SCHEMA("GenAI/Pipeline", Service)',
        Period: 3600,
      }),
    ]);
  });

  it('alarms on daily cost per service', () => {
    const daily = alarm('genai-pipeline-cost-daily-support-bot');
    expect(daily.Threshold).toBe(300);
    expect(daily.Metrics?.[0]?.MetricStat).toMatchObject({
      Metric: { MetricName: METRICS.costUsd.name, Dimensions: [{ Name: 'Service', Value: 'support-bot' }] },
      Stat: 'Sum',
      Period: 86_400,
    });
  });

  it('alarms on an error rate over 5 % as metric math Errors/Requests', () => {
    const errorRate = alarm('genai-pipeline-error-rate-search');
    expect(errorRate.Threshold).toBe(0.05);
    expect(errorRate.ComparisonOperator).toBe('GreaterThanThreshold');
    expect([errorRate.EvaluationPeriods, errorRate.DatapointsToAlarm]).toEqual([3, 2]);
    const byId = new Map(errorRate.Metrics?.map((query) => [query.Id, query]));
    const expression = errorRate.Metrics?.find((query) => query.Expression !== undefined);
    expect(expression?.Expression).toBe(errorRateExpression(20));
    expect(expression?.Expression).toBe('IF(requests >= 20, errors / requests, 0)');
    expect(expression?.ReturnData).toBe(true);
    expect(byId.get('errors')?.MetricStat).toMatchObject({ Metric: { MetricName: 'Errors' }, Stat: 'Sum' });
    expect(byId.get('requests')?.MetricStat).toMatchObject({
      Metric: { MetricName: 'Requests' },
      Stat: 'Sum',
    });
    expect(byId.get('errors')?.ReturnData).toBe(false);
  });

  it('alarms on p95 latency over the threshold', () => {
    const latency = alarm('genai-pipeline-latency-p95-support-bot');
    expect(latency.Threshold).toBe(8000);
    expect(latency.Metrics?.[0]?.MetricStat).toMatchObject({
      Metric: { MetricName: 'Latency' },
      Stat: 'p95',
    });
  });

  it('alarms above an anomaly-detection band on p95 latency, backed by an anomaly detector', () => {
    const anomaly = alarm('genai-pipeline-latency-anomaly-support-bot');
    expect(anomaly.ComparisonOperator).toBe('GreaterThanUpperThreshold');
    const band = anomaly.Metrics?.find((query) => query.Expression?.startsWith('ANOMALY_DETECTION_BAND'));
    const latency = anomaly.Metrics?.find((query) => query.MetricStat !== undefined);
    expect(band?.Expression).toBe(`ANOMALY_DETECTION_BAND(${latency?.Id}, 3)`);
    expect(anomaly.ThresholdMetricId).toBe(band?.Id);
    expect(latency?.MetricStat).toMatchObject({ Metric: { MetricName: 'Latency' }, Stat: 'p95' });
    synthesized.monitoringTemplate.hasResourceProperties('AWS::CloudWatch::AnomalyDetector', {
      SingleMetricAnomalyDetector: {
        Namespace: 'GenAI/Pipeline',
        MetricName: 'Latency',
        Stat: 'p95',
        Dimensions: [{ Name: 'Service', Value: 'support-bot' }],
      },
    });
  });

  it('alarms on pipeline health', () => {
    expect(alarm('genai-pipeline-consumer-lag')).toMatchObject({
      MetricName: 'ConsumerLagMs',
      Statistic: 'Maximum',
      Threshold: 120_000,
    });
    expect(alarm('genai-pipeline-no-events')).toMatchObject({
      MetricName: 'EventsIn',
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    expect(alarm('genai-pipeline-dead-letters-invalid').Metrics?.[0]?.MetricStat?.Metric).toEqual({
      Namespace: 'GenAI/Pipeline',
      MetricName: 'DeadLetters',
      Dimensions: [{ Name: 'Reason', Value: 'invalid' }],
    });
    expect(alarm('genai-pipeline-sink-failures').Metrics?.[0]?.Expression).toBe(
      'SELECT SUM(SinkFailures) FROM SCHEMA("GenAI/Pipeline", Sink)',
    );
  });

  it('sends every alarm, and the composite, to the one SNS topic', () => {
    const topics = Object.keys(resourcesOf(synthesized.monitoringTemplate, 'AWS::SNS::Topic'));
    expect(topics).toHaveLength(1);
    for (const props of alarms.values()) expect(props.AlarmActions).toEqual([{ Ref: topics[0] }]);
    synthesized.monitoringTemplate.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', {
      AlarmName: 'genai-pipeline-system-degraded',
      AlarmActions: [{ Ref: topics[0] }],
    });
  });

  it('degrades the system on error rate, p95 latency, lag, watermark, sink failures or no events', () => {
    const [composite] = Object.values(
      resourcesOf(synthesized.monitoringTemplate, 'AWS::CloudWatch::CompositeAlarm'),
    );
    const rule = joined(composite?.Properties.AlarmRule);
    const members = [...rule.matchAll(/ALARM\("<token>"\)/g)];
    expect(members).toHaveLength(2 * TEST_SERVICES.length + 4);
    expect(rule).toMatch(/^\(ALARM\("<token>"\)( OR ALARM\("<token>"\))*\)$/);
  });

  it('references only metrics the pipeline publishes (schemas METRICS, score metrics, PIPELINE_HEALTH_METRICS)', () => {
    const known = new Set([
      ...Object.values(METRICS).map((metric) => metric.name),
      ...Object.values(PIPELINE_HEALTH_METRICS).map((metric) => metric.name),
      ...Object.keys(synthesized.config.qualityTargets).map((name) => scoreMetric(name).name),
    ]);
    const references = alarmReferences(synthesized.monitoringTemplate);
    expect(references.length).toBeGreaterThan(alarms.size);
    for (const reference of references) {
      expect(reference.namespace, reference.where).toBe('GenAI/Pipeline');
      expect(known.has(reference.name), `${reference.name} in ${reference.where}`).toBe(true);
    }
  });

  it('warns at synth when no services are listed, and still has the namespace-wide alarms', () => {
    const bare = synth({ services: '' });
    const names = bare.monitoring.alarms.alarmNames;
    expect(names).toContain('genai-pipeline-cost-hourly');
    expect(names.some((name) => name.includes('error-rate'))).toBe(false);
    const warnings = bare.monitoringAnnotations.findWarning('*', Match.stringLikeRegexp('set -c services'));
    expect(warnings).toHaveLength(1);
  });
});

describe('runbooks', () => {
  const runbooks = readFileSync(join(findRepoRoot(), 'docs', 'runbooks.md'), 'utf8');
  /** `## genai-pipeline-error-rate-<service>` headings, as patterns (`<service>` is any service). */
  const headings = [...runbooks.matchAll(/^## `([^`]+)`$/gm)].map((match) => match[1] as string);
  const pattern = (heading: string) =>
    new RegExp(`^${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('<service>', '[A-Za-z0-9._-]+')}$`);

  it('has a section for every alarm the stack creates, and none for alarms it does not', () => {
    const names = synthesized.monitoring.alarms.alarmNames;
    for (const name of names) {
      expect(
        headings.some((heading) => pattern(heading).test(name)),
        `docs/runbooks.md has no section for ${name}`,
      ).toBe(true);
    }
    for (const heading of headings) {
      expect(
        names.some((name) => pattern(heading).test(name)),
        `runbook section ${heading} matches no alarm`,
      ).toBe(true);
    }
  });

  it('says for each alarm what fired, the first query, likely causes and what to do', () => {
    const sections = runbooks.split(/^## /m).slice(1);
    expect(sections).toHaveLength(headings.length);
    for (const section of sections) {
      const title = section.split('\n')[0];
      for (const part of ['**What fired**', '**First query**', '**Likely causes**', '**What to do**']) {
        expect(section, `${title} lacks ${part}`).toContain(part);
      }
      expect(section, `${title} has no query block`).toMatch(/```(sql|logsinsights)\n/);
    }
  });
});
