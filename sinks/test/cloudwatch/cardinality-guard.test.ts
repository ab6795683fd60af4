import { OTHER_DIMENSION_VALUE } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import { CardinalityGuard } from '../../src/cloudwatch/cardinality-guard.js';
import { prng } from './windows.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

describe('CardinalityGuard', () => {
  it('passes the first N distinct values of a day, folds later new ones and counts each fold', () => {
    const guard = new CardinalityGuard({ maxValuesPerDimensionPerDay: 2, maxScoreNames: 1 });
    expect(guard.dimensionValue('ModelId', 'a', T0)).toBe('a');
    expect(guard.dimensionValue('ModelId', 'b', T0)).toBe('b');
    expect(guard.dimensionValue('ModelId', 'c', T0)).toBe(OTHER_DIMENSION_VALUE);
    // Values already admitted keep passing; other dimensions have their own cap.
    expect(guard.dimensionValue('ModelId', 'a', T0 + 1000)).toBe('a');
    expect(guard.dimensionValue('Service', 'c', T0)).toBe('c');
    expect(guard.scoreName('faithfulness', T0)).toBe('faithfulness');
    expect(guard.scoreName('relevancy', T0)).toBe(OTHER_DIMENSION_VALUE);
    expect(guard.folds()).toEqual({ ModelId: 1, ScoreName: 1 });
  });

  it('starts a fresh cap each UTC day of the datum, not of the wall clock', () => {
    const guard = new CardinalityGuard({ maxValuesPerDimensionPerDay: 1, maxScoreNames: 1 });
    const midnight = Date.UTC(2025, 0, 16);
    expect(guard.dimensionValue('TenantId', 'x', midnight - 1)).toBe('x');
    expect(guard.dimensionValue('TenantId', 'y', midnight - 1)).toBe(OTHER_DIMENSION_VALUE);
    expect(guard.dimensionValue('TenantId', 'y', midnight)).toBe('y');
    // The earlier day is still tracked: a late window of it keeps its own cap.
    expect(guard.dimensionValue('TenantId', 'z', midnight - 60_000)).toBe(OTHER_DIMENSION_VALUE);
  });

  it('folds values CloudWatch would reject: blank, non-ASCII, over 1024 chars, or too long a metric name', () => {
    const guard = new CardinalityGuard({ maxValuesPerDimensionPerDay: 100, maxScoreNames: 100 });
    for (const value of ['', '   ', 'modèle', 'x'.repeat(1025)]) {
      expect(guard.dimensionValue('ModelId', value, T0)).toBe(OTHER_DIMENSION_VALUE);
    }
    expect(guard.dimensionValue('ModelId', 'x'.repeat(1024), T0)).toBe('x'.repeat(1024));
    expect(guard.scoreName('s'.repeat(250), T0)).toBe(OTHER_DIMENSION_VALUE);
    expect(guard.folds()).toEqual({ ModelId: 4, ScoreName: 1 });
  });

  it('keeps series and memory bounded under 10,000 random model ids', () => {
    const random = prng(7);
    const guard = new CardinalityGuard({ maxValuesPerDimensionPerDay: 100, maxScoreNames: 20 });
    const published = new Set<string>();
    let folded = 0;
    for (let i = 0; i < 10_000; i++) {
      const id = `model-${Math.floor(random() * 1e9).toString(36)}`;
      const value = guard.dimensionValue('ModelId', id, T0 + i * 10);
      published.add(value);
      if (value === OTHER_DIMENSION_VALUE) folded++;
    }
    expect(published.size).toBe(101);
    expect(folded).toBe(10_000 - 100);
    expect(guard.folds()).toEqual({ ModelId: folded });
    // Thirty days of hostile ids: only the tracked days are remembered.
    for (let day = 0; day < 30; day++) {
      for (let i = 0; i < 500; i++) guard.dimensionValue('ModelId', `d${day}-${i}`, T0 + day * DAY);
    }
    expect(guard.trackedValueCount()).toBeLessThanOrEqual(16 * 100);
  });
});
