import type { Dimension, MetricDatum, StandardUnit } from '@aws-sdk/client-cloudwatch';
import {
  type DimensionName,
  type LakeRow,
  METRICS,
  type MetricSpec,
  scoreMetric,
} from '@genai-pipeline/schemas';
import type { WeightedDistribution, WindowResults } from '../window-results.js';
import { CLOUDWATCH_LIMITS } from './config.js';

/** How datum dimension values and score names are chosen: the cardinality guard, or identity. */
export interface NameMapper {
  dimensionValue(dimension: DimensionName, value: string, timestampMs: number): string;
  scoreName(name: string, timestampMs: number): string;
}

const IDENTITY: NameMapper = {
  dimensionValue: (_dimension, value) => value,
  scoreName: (name) => name,
};

export interface BuildOptions {
  dimensionSets: readonly (readonly DimensionName[])[];
  mapper: NameMapper;
  /** The clock the 14-day horizon is measured from. */
  now: number;
  horizonMs: number;
}

export interface BuiltDatums {
  datums: MetricDatum[];
  /** Datums of windows older than the horizon, skipped (CloudWatch would reject them). */
  outOfHorizon: number;
  /** Datums whose value was NaN or infinite, skipped (CloudWatch rejects them). */
  nonFinite: number;
}

const ROW_COLUMN: Record<DimensionName, string> = {
  Service: 'service',
  ModelId: 'model_id',
  TenantId: 'tenant_id',
  Provider: 'provider',
};

/** Rollup columns published as summed `Value`s. */
const VALUE_COLUMNS: readonly (readonly [MetricSpec, string])[] = [
  [METRICS.requests, 'requests'],
  [METRICS.errors, 'errors'],
  [METRICS.throttles, 'throttled'],
  [METRICS.inputTokens, 'input_tokens'],
  [METRICS.outputTokens, 'output_tokens'],
  [METRICS.cacheReadInputTokens, 'cache_read_input_tokens'],
  [METRICS.cacheWriteInputTokens, 'cache_write_input_tokens'],
  [METRICS.costUsd, 'cost_usd'],
];

/**
 * Sketch bucket values are rounded to 7 significant digits (a relative change below 1e-6, far inside the
 * sketch's own 0.5%) so the request body stays small; equal rounded values merge.
 */
const roundValue = (value: number): number => Number(value.toPrecision(7));

type Accumulator =
  | { kind: 'value'; value: number }
  | { kind: 'statistic-set'; count: number; sum: number; min: number; max: number }
  | { kind: 'distribution'; counts: Map<number, number> };

interface Series {
  name: string;
  unit: StandardUnit;
  dimensions: Dimension[];
  acc: Accumulator;
}

/** One window's series, keyed by metric name and dimensions, merged across the rows that share them. */
class WindowSeries {
  readonly series = new Map<string, Series>();

  constructor(
    private readonly windowStart: number,
    private readonly dimensionSets: BuildOptions['dimensionSets'],
    private readonly mapper: NameMapper,
  ) {}

  /** The dimension lists of `row` for every set whose dimensions the row has (no tenant: not in [TenantId]). */
  dimensionsOf(row: LakeRow): Dimension[][] {
    const lists: Dimension[][] = [];
    for (const set of this.dimensionSets) {
      const dimensions: Dimension[] = [];
      for (const name of set) {
        const value = row[ROW_COLUMN[name]];
        if (typeof value !== 'string') break;
        dimensions.push({ Name: name, Value: this.mapper.dimensionValue(name, value, this.windowStart) });
      }
      if (dimensions.length === set.length) lists.push(dimensions);
    }
    return lists;
  }

  scoreName(name: string): string {
    return this.mapper.scoreName(name, this.windowStart);
  }

  add(spec: MetricSpec, dimensions: Dimension[], contribution: Accumulator): void {
    let key = spec.name;
    for (const d of dimensions) key += `\u0000${d.Name}\u0000${d.Value}`;
    const existing = this.series.get(key);
    if (existing === undefined) {
      this.series.set(key, { name: spec.name, unit: spec.unit, dimensions, acc: copyOf(contribution) });
    } else {
      mergeInto(existing.acc, contribution);
    }
  }
}

function copyOf(acc: Accumulator): Accumulator {
  return acc.kind === 'distribution' ? { kind: acc.kind, counts: new Map(acc.counts) } : { ...acc };
}

/** A metric has one accumulator kind, so `into` and `from` always match. */
function mergeInto(into: Accumulator, from: Accumulator): void {
  if (into.kind === 'value' && from.kind === 'value') {
    into.value += from.value;
  } else if (into.kind === 'statistic-set' && from.kind === 'statistic-set') {
    into.count += from.count;
    into.sum += from.sum;
    into.min = Math.min(into.min, from.min);
    into.max = Math.max(into.max, from.max);
  } else if (into.kind === 'distribution' && from.kind === 'distribution') {
    for (const [value, count] of from.counts) into.counts.set(value, (into.counts.get(value) ?? 0) + count);
  }
}

const numberAt = (row: LakeRow, column: string): number => {
  const value = row[column];
  return typeof value === 'number' ? value : Number.NaN;
};

function distributionContribution(distribution: WeightedDistribution): Accumulator {
  const counts = new Map<number, number>();
  distribution.values.forEach((value, i) => {
    const count = distribution.counts[i] ?? 0;
    if (count <= 0) return;
    const rounded = roundValue(value);
    counts.set(rounded, (counts.get(rounded) ?? 0) + count);
  });
  return { kind: 'distribution', counts };
}

function collectWindow(window: WindowResults, options: BuildOptions, mapper: NameMapper): WindowSeries {
  const series = new WindowSeries(window.windowStart, options.dimensionSets, mapper);
  window.rollups.forEach((row, i) => {
    const distributions = window.rollupDistributions[i];
    for (const dimensions of series.dimensionsOf(row)) {
      for (const [spec, column] of VALUE_COLUMNS) {
        series.add(spec, dimensions, { kind: 'value', value: numberAt(row, column) });
      }
      if (distributions === undefined) continue;
      series.add(METRICS.latency, dimensions, distributionContribution(distributions.latency));
      if (distributions.ttft !== null) {
        series.add(METRICS.timeToFirstToken, dimensions, distributionContribution(distributions.ttft));
      }
    }
  });
  for (const row of window.scoreRollups) {
    const dimensionLists = series.dimensionsOf(row);
    if (dimensionLists.length === 0) continue;
    const spec = scoreMetric(series.scoreName(String(row.name)));
    const contribution: Accumulator = {
      kind: 'statistic-set',
      count: numberAt(row, 'count'),
      sum: numberAt(row, 'sum'),
      min: numberAt(row, 'min'),
      max: numberAt(row, 'max'),
    };
    for (const dimensions of dimensionLists) series.add(spec, dimensions, contribution);
  }
  for (const row of window.anomalies) {
    for (const dimensions of series.dimensionsOf(row)) {
      series.add(METRICS.anomalies, dimensions, { kind: 'value', value: 1 });
    }
  }
  return series;
}

const finite = (...values: number[]): boolean => values.every(Number.isFinite);

/** A series as datums: one, or several for a distribution of more than 150 distinct values; [] if not finite. */
function seriesDatums(series: Series, timestamp: Date): MetricDatum[] {
  const base = {
    MetricName: series.name,
    Dimensions: series.dimensions,
    Timestamp: timestamp,
    Unit: series.unit,
  };
  const { acc } = series;
  switch (acc.kind) {
    case 'value':
      return finite(acc.value) ? [{ ...base, Value: acc.value }] : [];
    case 'statistic-set':
      if (acc.count <= 0 || !finite(acc.count, acc.sum, acc.min, acc.max)) return [];
      return [
        {
          ...base,
          StatisticValues: { SampleCount: acc.count, Sum: acc.sum, Minimum: acc.min, Maximum: acc.max },
        },
      ];
    case 'distribution': {
      const entries = [...acc.counts].filter(([value]) => Number.isFinite(value)).sort((a, b) => a[0] - b[0]);
      const datums: MetricDatum[] = [];
      for (let i = 0; i < entries.length; i += CLOUDWATCH_LIMITS.maxValuesPerDatum) {
        const chunk = entries.slice(i, i + CLOUDWATCH_LIMITS.maxValuesPerDatum);
        datums.push({
          ...base,
          Values: chunk.map(([value]) => value),
          Counts: chunk.map(([, count]) => count),
        });
      }
      return datums;
    }
  }
}

/** True when CloudWatch still accepts a datum timestamped `timestampMs` at `now`. */
export const withinHorizon = (timestampMs: number, now: number, horizonMs: number): boolean =>
  timestampMs >= now - horizonMs;

/**
 * Window results → PutMetricData datums (CONTRACT.md §7): per window × dimension set × dimension values,
 * timestamped at the window start, counts and sums as `Value`, latency/TTFT as `Values`/`Counts` merged
 * across rows, scores as `StatisticValues`, anomaly counts. Pure apart from the mapper (the guard).
 * Windows past the horizon are counted, not built through the guard (they must not take its slots).
 */
export function buildDatums(windows: readonly WindowResults[], options: BuildOptions): BuiltDatums {
  const result: BuiltDatums = { datums: [], outOfHorizon: 0, nonFinite: 0 };
  for (const window of windows) {
    const inHorizon = withinHorizon(window.windowStart, options.now, options.horizonMs);
    const series = collectWindow(window, options, inHorizon ? options.mapper : IDENTITY);
    const timestamp = new Date(window.windowStart);
    for (const one of series.series.values()) {
      const datums = seriesDatums(one, timestamp);
      if (datums.length === 0) result.nonFinite++;
      if (inHorizon) result.datums.push(...datums);
      else result.outOfHorizon += datums.length;
    }
  }
  return result;
}

/** Bytes a datum adds to the JSON body (timestamps go as epoch seconds in awsJson1_0), plus its comma. */
export function datumBytes(datum: MetricDatum): number {
  const timestamp = datum.Timestamp === undefined ? undefined : datum.Timestamp.getTime() / 1000;
  return Buffer.byteLength(JSON.stringify({ ...datum, Timestamp: timestamp })) + 1;
}

export interface BatchLimits {
  namespace: string;
  maxDatumsPerRequest: number;
  maxRequestBytes: number;
}

/** Greedy batches in order: each ≤ maxDatumsPerRequest datums and ≤ maxRequestBytes of JSON body. */
export function batchDatums(datums: readonly MetricDatum[], limits: BatchLimits): MetricDatum[][] {
  const envelope = Buffer.byteLength(JSON.stringify({ Namespace: limits.namespace, MetricData: [] }));
  const batches: MetricDatum[][] = [];
  let batch: MetricDatum[] = [];
  let bytes = envelope;
  for (const datum of datums) {
    const size = datumBytes(datum);
    if (
      batch.length > 0 &&
      (batch.length >= limits.maxDatumsPerRequest || bytes + size > limits.maxRequestBytes)
    ) {
      batches.push(batch);
      batch = [];
      bytes = envelope;
    }
    batch.push(datum);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
