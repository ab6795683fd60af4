import { METRICS, PIPELINE_HEALTH_METRICS, scoreMetric } from '@genai-pipeline/schemas';
import { beforeAll, describe, expect, it } from 'vitest';
import { dashboardReferences } from '../support/metric-references.js';
import { joined, resourcesOf, type Synthesized, synth } from '../support/synth.js';

interface Widget {
  type: string;
  properties: {
    title?: string;
    metrics?: unknown[][];
    annotations?: { horizontal?: { value: number; label: string }[] };
    query?: string;
  };
}

let synthesized: Synthesized;
let dashboards: Map<string, Widget[]>;
beforeAll(() => {
  synthesized = synth({ qualityTargets: 'faithfulness:0.85,resolved:0.6' });
  dashboards = new Map(
    Object.values(resourcesOf(synthesized.monitoringTemplate, 'AWS::CloudWatch::Dashboard')).map(
      (dashboard) => [
        dashboard.Properties.DashboardName as string,
        (JSON.parse(joined(dashboard.Properties.DashboardBody)) as { widgets: Widget[] }).widgets,
      ],
    ),
  );
});

const titles = (name: string) => (dashboards.get(name) ?? []).map((widget) => widget.properties.title);

describe('dashboards', () => {
  it('has the usage views: cost and tokens over time, cost by service/tenant/model, errors, latency, TTFT, quality, anomalies', () => {
    expect(titles('genai-pipeline-usage')).toEqual(
      expect.arrayContaining([
        'Cost (USD) over time',
        'Tokens over time',
        'Cost by service (USD/hour)',
        'Cost by tenant (USD/hour)',
        'Cost by model (USD/hour)',
        'Errors: throttles and others (timeouts, filtered, failures)',
        'Error rate (Errors / Requests)',
        'Latency p50 / p95 / p99 by service (ms)',
        'Time to first token p50 / p95 by service (ms)',
        'Quality: faithfulness (average by service)',
        'Quality: resolved (average by service)',
        'Anomalies detected by service',
      ]),
    );
  });

  it('draws each quality target as a horizontal line', () => {
    const widgets = dashboards.get('genai-pipeline-usage') ?? [];
    const faithfulness = widgets.find((widget) =>
      widget.properties.title?.startsWith('Quality: faithfulness'),
    );
    expect(faithfulness?.properties.annotations?.horizontal).toEqual([
      expect.objectContaining({ value: 0.85, label: 'target 0.85' }),
    ]);
  });

  it('has the pipeline-health views: input, lag, dead letters, sinks, breaker trips, service, logs, alarms', () => {
    const widgets = dashboards.get('genai-pipeline-pipeline-health') ?? [];
    expect(titles('genai-pipeline-pipeline-health')).toEqual(
      expect.arrayContaining([
        'Events in, windows closed',
        'Lag behind the source and watermark delay (ms)',
        'Dead letters by reason',
        'Sink failures by sink',
        'Circuit breaker trips by sink',
        'Processor CPU and memory (%)',
        'Processor errors (pino level >= 50)',
        'Alarms',
      ]),
    );
    const logs = widgets.find((widget) => widget.type === 'log');
    expect(logs?.properties.query).toContain('filter level >= 50');
  });

  it('references only metrics the pipeline publishes, or AWS service metrics', () => {
    const known = new Set([
      ...Object.values(METRICS).map((metric) => metric.name),
      ...Object.values(PIPELINE_HEALTH_METRICS).map((metric) => metric.name),
      ...Object.keys(synthesized.config.qualityTargets).map((name) => scoreMetric(name).name),
    ]);
    const references = dashboardReferences(synthesized.monitoringTemplate);
    const own = references.filter((reference) => reference.namespace === 'GenAI/Pipeline');
    expect(own.length).toBeGreaterThan(20);
    for (const reference of own) {
      expect(known.has(reference.name), `${reference.name} in "${reference.where}"`).toBe(true);
    }
    for (const reference of references.filter((reference) => reference.namespace !== 'GenAI/Pipeline')) {
      expect(reference.namespace, reference.where).toMatch(/^AWS\//);
    }
    // Every published usage metric appears on a dashboard.
    const shown = new Set(own.map((reference) => reference.name));
    for (const metric of [...Object.values(METRICS), ...Object.values(PIPELINE_HEALTH_METRICS)]) {
      expect(shown.has(metric.name), `${metric.name} is on no dashboard`).toBe(true);
    }
  });

  it('uses the configured namespace everywhere', () => {
    const custom = synth({ namespace: 'Team/GenAI' });
    const references = [...dashboardReferences(custom.monitoringTemplate)].filter(
      (reference) => !reference.namespace.startsWith('AWS/'),
    );
    expect(new Set(references.map((reference) => reference.namespace))).toEqual(new Set(['Team/GenAI']));
  });
});
