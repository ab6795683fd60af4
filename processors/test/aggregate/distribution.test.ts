import { describe, expect, test } from 'vitest';
import {
  distribution,
  quantile,
  restoreDistribution,
  snapshotDistribution,
  weightedDistribution,
} from '../../src/aggregate/distribution.js';

/** The contract's rule: within 1% of a value between the sorted samples at ranks floor(q(n-1)) and ceil(q(n-1)). */
function withinContract(values: number[], q: number, got: number): boolean {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = q * (sorted.length - 1);
  const low = sorted[Math.floor(rank)] as number;
  const high = sorted[Math.ceil(rank)] as number;
  return got >= low * 0.99 && got <= high * 1.01;
}

function lognormalSamples(n: number, seed: number): number[] {
  let state = seed;
  const uniform = () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647;
  };
  return Array.from({ length: n }, () => {
    const normal = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    return Math.exp(6 + normal);
  });
}

describe('distribution aggregate', () => {
  test('count, sum, min and max are exact; quantiles meet the contract', () => {
    for (const n of [1, 2, 3, 10, 101, 5000]) {
      const values = lognormalSamples(n, n + 3);
      const acc = distribution.create();
      for (const value of values) distribution.add(acc, value);
      const summary = distribution.result(acc);
      expect(summary?.count).toBe(n);
      expect(summary?.min).toBe(Math.min(...values));
      expect(summary?.max).toBe(Math.max(...values));
      expect(summary?.sum).toBeCloseTo(
        values.reduce((a, b) => a + b, 0),
        6,
      );
      for (const q of [0.5, 0.95, 0.99]) expect(withinContract(values, q, quantile(acc, q))).toBe(true);
    }
  });

  test('zero values are counted (a 0 ms latency is a sample too)', () => {
    const acc = distribution.create();
    for (const value of [0, 0, 0, 10]) distribution.add(acc, value);
    expect(quantile(acc, 0.5)).toBe(0);
    expect(distribution.result(acc)?.count).toBe(4);
  });

  test('merge equals aggregating the union and leaves its inputs unchanged', () => {
    const values = lognormalSamples(3000, 11);
    const left = distribution.create();
    const right = distribution.create();
    for (const [i, value] of values.entries()) distribution.add(i % 3 ? left : right, value);
    const leftCount = left.count;
    const merged = distribution.merge(left, right);
    expect(left.count).toBe(leftCount);
    expect(merged.count).toBe(3000);
    expect(merged.max).toBe(Math.max(...values));
    for (const q of [0.5, 0.95, 0.99]) expect(withinContract(values, q, quantile(merged, q))).toBe(true);
  });

  test('an empty distribution has no summary', () => {
    expect(distribution.result(distribution.create())).toBeNull();
  });

  test('as weighted values: exact count and extremes, counts that add up, quantiles that still meet the contract', () => {
    const values = [0, 0, ...lognormalSamples(2000, 5)];
    const acc = distribution.create();
    for (const value of values) distribution.add(acc, value);
    const weighted = weightedDistribution(acc);
    expect(weighted.count).toBe(values.length);
    expect(weighted.counts.reduce((a, b) => a + b, 0)).toBe(values.length);
    expect(weighted.values[0]).toBe(0);
    expect(weighted.counts[0]).toBe(2);
    expect(weighted.values).toEqual([...weighted.values].sort((a, b) => a - b));
    expect(Math.min(...weighted.values)).toBeGreaterThanOrEqual(weighted.min);
    expect(Math.max(...weighted.values)).toBeLessThanOrEqual(weighted.max);
    // The weighted value at the same rank rule as the contract: within 1% of the samples there.
    const expanded = weighted.values.flatMap((value, i) => Array(weighted.counts[i]).fill(value) as number[]);
    for (const q of [0.5, 0.95, 0.99]) {
      expect(withinContract(values, q, expanded[Math.floor(q * (expanded.length - 1))] as number)).toBe(true);
    }
  });
});

describe('distribution snapshots', () => {
  test('restore answers like the original, through JSON, and keeps aggregating the same way', () => {
    const values = [0, ...lognormalSamples(3000, 17)];
    const original = distribution.create();
    for (const value of values) distribution.add(original, value);
    const restored = restoreDistribution(JSON.parse(JSON.stringify(snapshotDistribution(original))));
    expect(distribution.result(restored)).toEqual(distribution.result(original));
    expect(weightedDistribution(restored)).toEqual(weightedDistribution(original));
    for (const value of [0.5, 1e4, 3]) {
      distribution.add(original, value);
      distribution.add(restored, value);
    }
    expect(distribution.result(restored)).toEqual(distribution.result(original));
  });

  test('an empty distribution round-trips through JSON (checkpoints) and then tracks min and max', () => {
    const restored = restoreDistribution(
      JSON.parse(JSON.stringify(snapshotDistribution(distribution.create()))),
    );
    expect(distribution.result(restored)).toBeNull();
    distribution.add(restored, 7);
    expect(distribution.result(restored)).toMatchObject({ min: 7, max: 7 });
    expect(weightedDistribution(restored)).toMatchObject({ count: 1, min: 7, max: 7 });
  });
});
