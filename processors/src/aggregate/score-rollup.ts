import type { AggregateFunction } from './aggregate-function.js';
import { addToSum, type CompensatedSum, createSum, mergeSums, sumValue } from './compensated-sum.js';

/** The metrics of one `score_rollups_1m` row. */
export interface ScoreMetrics {
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
}

export interface ScoreAcc {
  count: number;
  sum: CompensatedSum;
  min: number;
  max: number;
}

export const scoreRollup: AggregateFunction<number, ScoreAcc, ScoreMetrics> = {
  create: () => ({
    count: 0,
    sum: createSum(),
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
  }),

  add(acc, value) {
    acc.count += 1;
    addToSum(acc.sum, value);
    if (value < acc.min) acc.min = value;
    if (value > acc.max) acc.max = value;
    return acc;
  },

  merge: (a, b) => ({
    count: a.count + b.count,
    sum: mergeSums(a.sum, b.sum),
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
  }),

  result(acc) {
    if (acc.count === 0) throw new Error('scoreRollup.result: an empty accumulator has no row');
    const sum = sumValue(acc.sum);
    return { count: acc.count, sum, avg: sum / acc.count, min: acc.min, max: acc.max };
  },
};
