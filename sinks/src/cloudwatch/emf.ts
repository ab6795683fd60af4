import { appendFile } from 'node:fs/promises';
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchMetricsClient } from './client.js';

/** EMF limits: ≤ 100 metrics per directive, ≤ 100 values in a metric's array. */
export const EMF_LIMITS = Object.freeze({ maxMetricsPerDirective: 100, maxValuesPerMetric: 100 });

type EmfValue = number | { Values: number[]; Counts: number[] };

export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [member: string]: unknown;
}

/**
 * A statistic set as an EMF histogram with the same count, sum, minimum and maximum: min and max once
 * each, and the remaining n−2 samples at their mean (which lies between them). EMF has no statistic-set
 * form; this keeps every statistic a StatisticSet carries exact.
 */
function statisticSetHistogram(set: NonNullable<MetricDatum['StatisticValues']>): EmfValue {
  const n = set.SampleCount ?? 0;
  const min = set.Minimum ?? 0;
  const max = set.Maximum ?? 0;
  const sum = set.Sum ?? 0;
  const samples: [number, number][] =
    n <= 1
      ? [[min, n]]
      : [
          [min, 1],
          [max, 1],
        ];
  if (n > 2) samples.push([(sum - min - max) / (n - 2), n - 2]);
  const merged = new Map<number, number>();
  for (const [value, count] of samples) merged.set(value, (merged.get(value) ?? 0) + count);
  const sorted = [...merged].sort((a, b) => a[0] - b[0]);
  return { Values: sorted.map(([v]) => v), Counts: sorted.map(([, c]) => c) };
}

/** A datum's EMF metric values: one number, or histograms of ≤ 100 values each. */
function emfValues(datum: MetricDatum): EmfValue[] {
  if (datum.Value !== undefined) return [datum.Value];
  if (datum.StatisticValues !== undefined) return [statisticSetHistogram(datum.StatisticValues)];
  const values = datum.Values ?? [];
  const counts = datum.Counts ?? values.map(() => 1);
  const chunks: EmfValue[] = [];
  for (let i = 0; i < values.length; i += EMF_LIMITS.maxValuesPerMetric) {
    chunks.push({
      Values: values.slice(i, i + EMF_LIMITS.maxValuesPerMetric),
      Counts: counts.slice(i, i + EMF_LIMITS.maxValuesPerMetric),
    });
  }
  return chunks;
}

interface DocumentDraft {
  timestamp: number;
  dimensions: Record<string, string>;
  metrics: Map<string, { unit: string; value: EmfValue }>;
}

/**
 * Datums → EMF documents: one per timestamp × dimension values (its dimension set as the directive),
 * ≤ 100 metrics each; a metric appearing twice (a split distribution) goes to a further document.
 */
export function emfDocuments(namespace: string, datums: readonly MetricDatum[]): EmfDocument[] {
  const groups = new Map<string, DocumentDraft[]>();
  for (const datum of datums) {
    const timestamp = datum.Timestamp?.getTime() ?? 0;
    const dimensions = Object.fromEntries((datum.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? '']));
    const key = JSON.stringify([timestamp, Object.entries(dimensions)]);
    let drafts = groups.get(key);
    if (drafts === undefined) {
      drafts = [];
      groups.set(key, drafts);
    }
    const name = datum.MetricName ?? '';
    for (const value of emfValues(datum)) {
      let draft = drafts.find(
        (d) => !d.metrics.has(name) && d.metrics.size < EMF_LIMITS.maxMetricsPerDirective,
      );
      if (draft === undefined) {
        draft = { timestamp, dimensions, metrics: new Map() };
        drafts.push(draft);
      }
      draft.metrics.set(name, { unit: datum.Unit ?? 'None', value });
    }
  }
  const documents: EmfDocument[] = [];
  for (const drafts of groups.values()) {
    for (const draft of drafts) {
      const document: EmfDocument = {
        _aws: {
          Timestamp: draft.timestamp,
          CloudWatchMetrics: [
            {
              Namespace: namespace,
              Dimensions: [Object.keys(draft.dimensions)],
              Metrics: [...draft.metrics].map(([name, { unit }]) => ({ Name: name, Unit: unit })),
            },
          ],
        },
        ...draft.dimensions,
      };
      for (const [name, { value }] of draft.metrics) document[name] = value;
      documents.push(document);
    }
  }
  return documents;
}

/** Where EMF lines go: stdout (Lambda, containers with a log driver) or a file the CloudWatch agent tails. */
export type EmfTarget = 'stdout' | { file: string };

/** Writes datums as EMF JSON lines instead of calling PutMetricData; resolves once the lines are written. */
export class EmfWriter implements CloudWatchMetricsClient {
  constructor(private readonly target: EmfTarget) {}

  async putMetricData(namespace: string, datums: MetricDatum[]): Promise<void> {
    const text = emfDocuments(namespace, datums)
      .map((document) => `${JSON.stringify(document)}\n`)
      .join('');
    if (this.target === 'stdout') {
      await new Promise<void>((resolve, reject) =>
        process.stdout.write(text, (error) => (error ? reject(error) : resolve())),
      );
    } else {
      await appendFile(this.target.file, text);
    }
  }
}
