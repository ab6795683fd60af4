import { describe, expect, test } from 'vitest';
import { scoreRollup } from '../../src/aggregate/score-rollup.js';

describe('score rollup aggregate', () => {
  test('count, sum, avg, min, max', () => {
    const acc = scoreRollup.create();
    for (const value of [1, -1, 1, 1]) scoreRollup.add(acc, value);
    expect(scoreRollup.result(acc)).toEqual({ count: 4, sum: 2, avg: 0.5, min: -1, max: 1 });
  });

  test('merge equals one aggregate over both parts', () => {
    const a = scoreRollup.add(scoreRollup.add(scoreRollup.create(), 0.2), 0.9);
    const b = scoreRollup.add(scoreRollup.create(), 0.1);
    const merged = scoreRollup.result(scoreRollup.merge(a, b));
    expect(merged.count).toBe(3);
    expect(merged.sum).toBeCloseTo(1.2, 15);
    expect(merged.min).toBe(0.1);
    expect(merged.max).toBe(0.9);
    expect(scoreRollup.result(a).count).toBe(2);
  });

  test('an empty accumulator has no row', () => {
    expect(() => scoreRollup.result(scoreRollup.create())).toThrow(/empty/);
  });
});
