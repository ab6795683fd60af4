import { describe, expect, test } from 'vitest';
import { addToSum, createSum, mergeSums, sumValue } from '../../src/aggregate/compensated-sum.js';

describe('compensated sum', () => {
  test('keeps small terms that a naive sum loses', () => {
    const acc = createSum();
    const values = [1e16, 1, 1, 1, 1, -1e16];
    let naive = 0;
    for (const value of values) {
      addToSum(acc, value);
      naive += value;
    }
    expect(naive).not.toBe(4);
    expect(sumValue(acc)).toBe(4);
  });

  test('merging two partial sums equals summing everything in one', () => {
    const a = createSum();
    const b = createSum();
    const all = createSum();
    for (let i = 1; i <= 1000; i++) {
      const value = 0.1 * i + 1e-7 / i;
      addToSum(i % 2 ? a : b, value);
      addToSum(all, value);
    }
    expect(sumValue(mergeSums(a, b))).toBeCloseTo(sumValue(all), 10);
    expect(a.sum).not.toBe(mergeSums(a, b).sum);
  });
});
