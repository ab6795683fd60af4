import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import {
  DEFAULT_DIMENSION_SETS,
  type LakeRow,
  METRICS,
  OTHER_DIMENSION_VALUE,
} from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import { CardinalityGuard } from '../../src/cloudwatch/cardinality-guard.js';
import { batchDatums, buildDatums, datumBytes } from '../../src/cloudwatch/request-builder.js';
import type { WindowResults } from '../../src/window-results.js';
import { generateWindow, KEYS, prng, sketchOf, weightedPercentile, withinContractBand } from './windows.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const DAY = 86_400_000;

const guard = () => new CardinalityGuard({ maxValuesPerDimensionPerDay: 100, maxScoreNames: 20 });
const build = (windows: WindowResults[], mapper = guard(), now = NOW) =>
  buildDatums(windows, { dimensionSets: DEFAULT_DIMENSION_SETS, mapper, now, horizonMs: 14 * DAY });

const dims = (datum: MetricDatum) =>
  Object.fromEntries((datum.Dimensions ?? []).map((d) => [d.Name, d.Value]));
const seriesKey = (datum: MetricDatum) =>
  `${datum.Timestamp?.getTime()}|${datum.MetricName}|${JSON.stringify(dims(datum))}`;

const COLUMN = {
  Service: 'service',
  ModelId: 'model_id',
  TenantId: 'tenant_id',
  Provider: 'provider',
} as const;

/** Expected sum of `column` per window × dimension set × values, straight from the rows. */
function expectedSums(windows: WindowResults[], metric: string, column: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const window of windows) {
    for (const row of window.rollups) {
      for (const set of DEFAULT_DIMENSION_SETS) {
        if (set.some((name) => row[COLUMN[name]] === null)) continue;
        const d = Object.fromEntries(set.map((name) => [name, row[COLUMN[name]]]));
        const key = `${window.windowStart}|${metric}|${JSON.stringify(d)}`;
        sums.set(key, (sums.get(key) ?? 0) + (row[column] as number));
      }
    }
  }
  return sums;
}

describe('buildDatums', () => {
  const random = prng(11);
  const generated = [0, 1, 2].map((i) => generateWindow(NOW - 10 * 60_000 + i * 60_000, random));
  const windows = generated.map((g) => g.window);
  const { datums, outOfHorizon, nonFinite } = build(windows);

  it('publishes every count and sum per window and dimension set, equal to the rows fed in', () => {
    expect(outOfHorizon).toBe(0);
    expect(nonFinite).toBe(0);
    const columns: [string, string][] = [
      [METRICS.requests.name, 'requests'],
      [METRICS.errors.name, 'errors'],
      [METRICS.throttles.name, 'throttled'],
      [METRICS.inputTokens.name, 'input_tokens'],
      [METRICS.outputTokens.name, 'output_tokens'],
      [METRICS.cacheReadInputTokens.name, 'cache_read_input_tokens'],
      [METRICS.cacheWriteInputTokens.name, 'cache_write_input_tokens'],
      [METRICS.costUsd.name, 'cost_usd'],
    ];
    for (const [metric, column] of columns) {
      const expected = expectedSums(windows, metric, column);
      const published = new Map(
        datums.filter((d) => d.MetricName === metric).map((d) => [seriesKey(d), d.Value as number]),
      );
      expect([...published.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, sum] of expected) expect(published.get(key)).toBeCloseTo(sum, 9);
    }
  });

  it('puts exactly one value kind in each datum, finite, with the contract units, at the window start', () => {
    const starts = new Set(windows.map((w) => w.windowStart));
    const units = Object.fromEntries(Object.values(METRICS).map((m) => [m.name, m.unit]));
    for (const datum of datums) {
      const kinds = [datum.Value, datum.StatisticValues, datum.Values].filter((v) => v !== undefined);
      expect(kinds).toHaveLength(1);
      const numbers = [
        datum.Value,
        ...Object.values(datum.StatisticValues ?? {}),
        ...(datum.Values ?? []),
        ...(datum.Counts ?? []),
      ].filter((v) => v !== undefined);
      expect(numbers.every(Number.isFinite)).toBe(true);
      expect(starts.has(datum.Timestamp?.getTime() as number)).toBe(true);
      expect(datum.Unit).toBe(
        datum.MetricName?.startsWith('Score_') ? 'None' : units[datum.MetricName as string],
      );
      expect(datum.Values?.length ?? 0).toBeLessThanOrEqual(150);
    }
  });

  it('leaves rows without a tenant out of [TenantId] only', () => {
    const tenantless = datums.filter(
      (d) =>
        d.MetricName === 'Requests' &&
        dims(d).Service === 'support-bot' &&
        dims(d).ModelId === 'claude-sonnet',
    );
    const rows = windows[0]?.rollups.filter((r) => r.model_id === 'claude-sonnet') as LakeRow[];
    expect(rows.some((r) => r.tenant_id === null)).toBe(true);
    const first = tenantless.find((d) => d.Timestamp?.getTime() === windows[0]?.windowStart);
    expect(first?.Value).toBe(rows.reduce((sum, r) => sum + (r.requests as number), 0));
    const tenants = new Set(datums.filter((d) => 'TenantId' in dims(d)).map((d) => dims(d).TenantId));
    expect(tenants).toEqual(new Set(['t1', 't2', 't3']));
  });

  it('merges latency sketches across rows: exact total count, percentiles within 1%', () => {
    generated.forEach(({ window, latencies }) => {
      for (const service of ['support-bot', 'search']) {
        const samples = window.rollups.flatMap((row, i) =>
          row.service === service ? (latencies[i] as number[]) : [],
        );
        const series = datums.filter(
          (d) =>
            d.MetricName === 'Latency' &&
            d.Timestamp?.getTime() === window.windowStart &&
            JSON.stringify(dims(d)) === JSON.stringify({ Service: service }),
        );
        const values = series.flatMap((d) => d.Values ?? []);
        const counts = series.flatMap((d) => d.Counts ?? []);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(samples.length);
        for (const q of [0.5, 0.95, 0.99]) {
          expect(withinContractBand(samples, q, weightedPercentile(values, counts, q))).toBe(true);
        }
      }
    });
  });

  it('splits a distribution of more than 150 distinct values into several datums of one series', () => {
    const samples = Array.from({ length: 2000 }, (_, i) => 1 + i * 3);
    const window: WindowResults = {
      windowStart: NOW - 60_000,
      rollups: [{ ...(KEYS[0] as object), requests: 2000, errors: 0, throttled: 0 } as LakeRow],
      rollupDistributions: [{ latency: sketchOf(samples), ttft: null }],
      scoreRollups: [],
      anomalies: [],
    };
    const latency = build([window]).datums.filter((d) => d.MetricName === 'Latency' && 'TenantId' in dims(d));
    const distinct = sketchOf(samples).values.length;
    expect(distinct).toBeGreaterThan(300);
    expect(latency).toHaveLength(Math.ceil(distinct / 150));
    expect(latency.flatMap((d) => d.Counts ?? []).reduce((a, b) => a + b, 0)).toBe(2000);
  });

  it('merges score statistic sets across rows and counts anomalies', () => {
    const window = windows[1] as WindowResults;
    const rows = window.scoreRollups.filter((r) => r.service === 'search' && r.name === 'faithfulness');
    const datum = datums.find(
      (d) =>
        d.MetricName === 'Score_faithfulness' &&
        d.Timestamp?.getTime() === window.windowStart &&
        JSON.stringify(dims(d)) === JSON.stringify({ Service: 'search' }),
    );
    expect(datum?.StatisticValues).toEqual({
      SampleCount: rows.reduce((s, r) => s + (r.count as number), 0),
      Sum: expect.closeTo(
        rows.reduce((s, r) => s + (r.sum as number), 0),
        9,
      ),
      Minimum: Math.min(...rows.map((r) => r.min as number)),
      Maximum: Math.max(...rows.map((r) => r.max as number)),
    });
    const anomalies = datums.filter(
      (d) => d.MetricName === 'Anomalies' && 'Service' in dims(d) && !('ModelId' in dims(d)),
    );
    expect(anomalies.map((d) => d.Value)).toEqual([1, 1, 1]);
  });

  it('folds past the guard cap into __other__ and merges the folded series', () => {
    const capped = new CardinalityGuard({ maxValuesPerDimensionPerDay: 1, maxScoreNames: 1 });
    const window = windows[0] as WindowResults;
    const built = build([window], capped).datums;
    const byModel = built.filter(
      (d) => d.MetricName === 'Requests' && Object.keys(dims(d)).join() === 'ModelId',
    );
    const total = window.rollups.reduce((s, r) => s + (r.requests as number), 0);
    expect(byModel.map((d) => dims(d).ModelId)).toEqual(['claude-sonnet', OTHER_DIMENSION_VALUE]);
    expect(byModel.reduce((s, d) => s + (d.Value as number), 0)).toBe(total);
    expect(new Set(built.filter((d) => d.MetricName?.startsWith('Score_')).map((d) => d.MetricName))).toEqual(
      new Set(['Score_faithfulness', `Score_${OTHER_DIMENSION_VALUE}`]),
    );
    expect(capped.folds().ModelId).toBeGreaterThan(0);
  });

  it('skips and counts windows past the 14-day horizon without taking guard slots', () => {
    const old = generateWindow(NOW - 15 * DAY, prng(3)).window;
    const fresh = generateWindow(NOW - 60_000, prng(3)).window;
    const mapper = new CardinalityGuard({ maxValuesPerDimensionPerDay: 100, maxScoreNames: 20 });
    const result = build([old, fresh], mapper);
    expect(result.outOfHorizon).toBe(build([fresh]).datums.length);
    expect(result.datums.every((d) => d.Timestamp?.getTime() === fresh.windowStart)).toBe(true);
    const control = new CardinalityGuard({ maxValuesPerDimensionPerDay: 100, maxScoreNames: 20 });
    build([fresh], control);
    expect(mapper.trackedValueCount()).toBe(control.trackedValueCount());
  });

  it('skips and counts a series whose value is not finite', () => {
    const window = generateWindow(NOW - 60_000, prng(5), { keys: [KEYS[0] as (typeof KEYS)[0]] }).window;
    (window.rollups[0] as LakeRow).cost_usd = Number.NaN;
    const result = build([window]);
    expect(result.nonFinite).toBe(4);
    expect(result.datums.some((d) => d.MetricName === 'CostUSD')).toBe(false);
  });
});

describe('batchDatums', () => {
  const limits = { namespace: 'GenAI/Pipeline', maxDatumsPerRequest: 1000, maxRequestBytes: 1_000_000 };
  const datum = (i: number): MetricDatum => ({
    MetricName: 'Requests',
    Dimensions: [{ Name: 'Service', Value: `s${i % 7}` }],
    Timestamp: new Date(NOW),
    Unit: 'Count',
    Value: i,
  });

  it('uses ceil(n/1000) requests when the size does not bind, in order', () => {
    const datums = Array.from({ length: 2500 }, (_, i) => datum(i));
    const batches = batchDatums(datums, limits);
    expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
    expect(batches.flat()).toEqual(datums);
  });

  it('keeps each request body under the byte limit', () => {
    const big = (i: number): MetricDatum => ({
      ...datum(i),
      Value: undefined,
      Values: Array.from({ length: 150 }, (_, j) => 1000.123456 + j),
      Counts: Array.from({ length: 150 }, () => 123456),
    });
    const datums = Array.from({ length: 900 }, (_, i) => big(i));
    const batches = batchDatums(datums, limits);
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) {
      const body = JSON.stringify({
        Namespace: limits.namespace,
        MetricData: batch.map((d) => ({ ...d, Timestamp: (d.Timestamp as Date).getTime() / 1000 })),
      });
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(limits.maxRequestBytes);
    }
    expect(batches.flat()).toHaveLength(900);
    expect(datumBytes(datums[0] as MetricDatum)).toBeGreaterThan(2000);
  });
});
