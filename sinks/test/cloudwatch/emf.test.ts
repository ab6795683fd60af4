import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import { EmfWriter, emfDocuments } from '../../src/cloudwatch/emf.js';

const T = Date.UTC(2025, 0, 15, 12, 0, 0);
const base = { Dimensions: [{ Name: 'Service', Value: 'svc' }], Timestamp: new Date(T) };

type Histogram = { Values: number[]; Counts: number[] };
const stats = (h: Histogram) => {
  const count = h.Counts.reduce((a, b) => a + b, 0);
  const sum = h.Values.reduce((s, v, i) => s + v * (h.Counts[i] ?? 0), 0);
  return { count, sum, min: Math.min(...h.Values), max: Math.max(...h.Values) };
};

describe('emfDocuments', () => {
  it('writes one document per timestamp and dimension values, with its directive', () => {
    const documents = emfDocuments('GenAI/Pipeline', [
      { ...base, MetricName: 'Requests', Unit: 'Count', Value: 5 },
      { ...base, MetricName: 'CostUSD', Unit: 'None', Value: 0.25 },
      {
        ...base,
        MetricName: 'Requests',
        Unit: 'Count',
        Value: 7,
        Dimensions: [{ Name: 'ModelId', Value: 'm' }],
      },
    ]);
    expect(documents).toEqual([
      {
        _aws: {
          Timestamp: T,
          CloudWatchMetrics: [
            {
              Namespace: 'GenAI/Pipeline',
              Dimensions: [['Service']],
              Metrics: [
                { Name: 'Requests', Unit: 'Count' },
                { Name: 'CostUSD', Unit: 'None' },
              ],
            },
          ],
        },
        Service: 'svc',
        Requests: 5,
        CostUSD: 0.25,
      },
      {
        _aws: {
          Timestamp: T,
          CloudWatchMetrics: [
            {
              Namespace: 'GenAI/Pipeline',
              Dimensions: [['ModelId']],
              Metrics: [{ Name: 'Requests', Unit: 'Count' }],
            },
          ],
        },
        ModelId: 'm',
        Requests: 7,
      },
    ]);
  });

  it('keeps at most 100 metrics per directive and 100 values per histogram, losing no count', () => {
    const many: MetricDatum[] = Array.from({ length: 150 }, (_, i) => ({
      ...base,
      MetricName: `M${i}`,
      Value: i,
    }));
    const latency: MetricDatum = {
      ...base,
      MetricName: 'Latency',
      Unit: 'Milliseconds',
      Values: Array.from({ length: 150 }, (_, i) => i + 1),
      Counts: Array.from({ length: 150 }, () => 3),
    };
    const documents = emfDocuments('NS', [...many, latency]);
    for (const document of documents) {
      const metrics = document._aws.CloudWatchMetrics[0]?.Metrics ?? [];
      expect(metrics.length).toBeLessThanOrEqual(100);
      for (const { Name } of metrics) expect(document[Name]).toBeDefined();
    }
    const histograms = documents
      .map((d) => d.Latency as Histogram | undefined)
      .filter((h) => h !== undefined);
    expect(histograms.map((h) => h.Values.length)).toEqual([100, 50]);
    expect(histograms.reduce((s, h) => s + stats(h).count, 0)).toBe(450);
    expect(documents.filter((d) => 'M149' in d)).toHaveLength(1);
  });

  it.each([
    [{ SampleCount: 1, Sum: 0.7, Minimum: 0.7, Maximum: 0.7 }],
    [{ SampleCount: 2, Sum: 1.1, Minimum: 0.3, Maximum: 0.8 }],
    [{ SampleCount: 5, Sum: 2.5, Minimum: 0.1, Maximum: 0.9 }],
    [{ SampleCount: 4, Sum: 8, Minimum: 2, Maximum: 2 }],
  ])('carries a statistic set %j as a histogram with the same count, sum, min and max', (set) => {
    const [document] = emfDocuments('NS', [
      { ...base, MetricName: 'Score_x', Unit: 'None', StatisticValues: set },
    ]);
    const got = stats(document?.Score_x as Histogram);
    expect(got.count).toBe(set.SampleCount);
    expect(got.sum).toBeCloseTo(set.Sum, 12);
    expect(got.min).toBe(set.Minimum);
    expect(got.max).toBe(set.Maximum);
  });
});

describe('EmfWriter', () => {
  it('appends one JSON line per document to a file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'emf-')), 'metrics.log');
    const writer = new EmfWriter({ file });
    await writer.putMetricData('NS', [{ ...base, MetricName: 'Requests', Unit: 'Count', Value: 1 }]);
    await writer.putMetricData('NS', [{ ...base, MetricName: 'Requests', Unit: 'Count', Value: 2 }]);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line).Requests)).toEqual([1, 2]);
  });
});
