import { describe, expect, test } from 'vitest';
import { hourStartOf, WINDOW_MS, windowStartOf } from '../../src/window/tumbling.js';

describe('tumbling windows', () => {
  test('are 60 s and aligned to the epoch', () => {
    expect(WINDOW_MS).toBe(60_000);
    expect(windowStartOf(0)).toBe(0);
    expect(windowStartOf(59_999)).toBe(0);
    expect(windowStartOf(60_000)).toBe(60_000);
    expect(windowStartOf(Date.UTC(2025, 0, 1, 12, 34, 56, 789))).toBe(Date.UTC(2025, 0, 1, 12, 34));
  });

  test('hours are UTC hours', () => {
    expect(hourStartOf(Date.UTC(2025, 0, 1, 23, 59, 59, 999))).toBe(Date.UTC(2025, 0, 1, 23));
    expect(hourStartOf(Date.UTC(2025, 0, 2))).toBe(Date.UTC(2025, 0, 2));
  });
});
