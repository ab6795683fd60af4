import { describe, expect, test } from 'vitest';
import { DEDUPE_HORIZON_MS, DedupeIndex } from '../../src/window/dedupe-index.js';

describe('DedupeIndex', () => {
  test('an id is a duplicate while its first copy is within 10 minutes of the largest accepted time', () => {
    const index = new DedupeIndex();
    index.remember('a', 1_000_000);
    expect(index.isDuplicate('a', 1_000_000)).toBe(true);
    expect(index.isDuplicate('a', 1_000_000 + DEDUPE_HORIZON_MS)).toBe(true);
    expect(index.isDuplicate('a', 1_000_000 + DEDUPE_HORIZON_MS + 1)).toBe(false);
    expect(index.isDuplicate('b', 1_000_000)).toBe(false);
  });

  test('forgets ids once they fall out of the horizon, and only those', () => {
    const index = new DedupeIndex();
    index.remember('old', 0);
    index.remember('edge', 59_999);
    index.remember('new', 600_000);
    index.forgetBefore(659_999);
    expect(index.size).toBe(3);
    expect(index.isDuplicate('edge', 659_999)).toBe(true);
    index.forgetBefore(660_000);
    expect(index.size).toBe(1);
    expect(index.isDuplicate('new', 660_000)).toBe(true);
  });

  test('an id accepted again after being forgotten is remembered under its new time', () => {
    const index = new DedupeIndex();
    index.remember('a', 0);
    index.forgetBefore(DEDUPE_HORIZON_MS + 120_000);
    index.remember('a', DEDUPE_HORIZON_MS + 120_000);
    index.forgetBefore(DEDUPE_HORIZON_MS + 130_000);
    expect(index.isDuplicate('a', DEDUPE_HORIZON_MS + 130_000)).toBe(true);
  });

  test('past maxIds the oldest minute is forgotten early and counted', () => {
    const index = new DedupeIndex(3);
    index.remember('a', 0);
    index.remember('b', 1);
    index.remember('c', 60_000);
    index.remember('d', 60_001);
    expect(index.size).toBe(2);
    expect(index.idsForgottenEarly).toBe(2);
    expect(index.isDuplicate('a', 60_001)).toBe(false);
  });
});
