import { DDSketch } from '@datadog/sketches-js';
import type { WeightedDistribution } from '@genai-pipeline/sinks';
import type { AggregateFunction } from './aggregate-function.js';
import { addToSum, type CompensatedSum, createSum, mergeSums, sumValue } from './compensated-sum.js';

/**
 * Relative accuracy of the quantile sketch. The contract allows 1% around the true rank value;
 * half of that leaves room for the representative value DDSketch returns within a bucket.
 */
export const SKETCH_RELATIVE_ACCURACY = 0.005;

/** A latency-like distribution: exact count, sum, min and max beside a mergeable DDSketch for quantiles. */
export interface DistributionAcc {
  count: number;
  sum: CompensatedSum;
  min: number;
  max: number;
  sketch: DDSketch;
}

export interface DistributionSummary {
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
}

/** A sketch quantile, clamped to the exact extremes (the sketch's bucket value may lie just outside). */
export function quantile(acc: DistributionAcc, q: number): number {
  return Math.min(acc.max, Math.max(acc.min, acc.sketch.getValueAtQuantile(q)));
}

export const distribution: AggregateFunction<number, DistributionAcc, DistributionSummary | null> = {
  create: () => ({
    count: 0,
    sum: createSum(),
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    sketch: new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY }),
  }),

  add(acc, value) {
    acc.count += 1;
    addToSum(acc.sum, value);
    if (value < acc.min) acc.min = value;
    if (value > acc.max) acc.max = value;
    acc.sketch.accept(value);
    return acc;
  },

  merge(a, b) {
    const sketch = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });
    sketch.merge(a.sketch);
    sketch.merge(b.sketch);
    return {
      count: a.count + b.count,
      sum: mergeSums(a.sum, b.sum),
      min: Math.min(a.min, b.min),
      max: Math.max(a.max, b.max),
      sketch,
    };
  },

  result(acc) {
    if (acc.count === 0) return null;
    const sum = sumValue(acc.sum);
    return {
      count: acc.count,
      sum,
      avg: sum / acc.count,
      min: acc.min,
      max: acc.max,
      p50: quantile(acc, 0.5),
      p95: quantile(acc, 0.95),
      p99: quantile(acc, 0.99),
    };
  },
};

/**
 * The sketch as weighted values (each bucket's representative value, clamped to the exact extremes,
 * with its count) for sinks that publish distributions, such as CloudWatch's Values/Counts.
 */
export function weightedDistribution(acc: DistributionAcc): WeightedDistribution {
  const values: number[] = [];
  const counts: number[] = [];
  const { sketch } = acc;
  if (sketch.zeroCount > 0) {
    values.push(0);
    counts.push(sketch.zeroCount);
  }
  const { store, mapping } = sketch;
  for (let key = store.minKey; key <= store.maxKey && store.count > 0; key++) {
    const count = store.bins[key - store.offset] ?? 0;
    if (count === 0) continue;
    values.push(Math.min(acc.max, Math.max(acc.min, mapping.value(key))));
    counts.push(count);
  }
  return { count: acc.count, sum: sumValue(acc.sum), min: acc.min, max: acc.max, values, counts };
}

/** A distribution as plain JSON (checkpoints): exact statistics plus the sketch's non-empty buckets. */
export interface DistributionSnapshot {
  count: number;
  sum: CompensatedSum;
  /** null while empty (±Infinity, which JSON cannot hold). */
  min: number | null;
  max: number | null;
  zeroCount: number;
  /** [bucket key, count] pairs of the sketch's store. */
  buckets: [number, number][];
}

export function snapshotDistribution(acc: DistributionAcc): DistributionSnapshot {
  const { store, zeroCount } = acc.sketch;
  const buckets: [number, number][] = [];
  for (let key = store.minKey; key <= store.maxKey && store.count > 0; key++) {
    const count = store.bins[key - store.offset] ?? 0;
    if (count > 0) buckets.push([key, count]);
  }
  const finite = (value: number) => (Number.isFinite(value) ? value : null);
  return {
    count: acc.count,
    sum: { ...acc.sum },
    min: finite(acc.min),
    max: finite(acc.max),
    zeroCount,
    buckets,
  };
}

/** The inverse of snapshotDistribution: an accumulator that answers every query as the original did. */
export function restoreDistribution(snapshot: DistributionSnapshot): DistributionAcc {
  const acc = distribution.create();
  const { sketch } = acc;
  for (const [key, count] of snapshot.buckets) sketch.store.add(key, count);
  sketch.zeroCount = snapshot.zeroCount;
  const min = snapshot.min ?? Number.POSITIVE_INFINITY;
  const max = snapshot.max ?? Number.NEGATIVE_INFINITY;
  sketch.count = snapshot.count;
  sketch.min = min;
  sketch.max = max;
  sketch.sum = sumValue(snapshot.sum);
  acc.count = snapshot.count;
  acc.sum = { ...snapshot.sum };
  acc.min = min;
  acc.max = max;
  return acc;
}
