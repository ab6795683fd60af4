import { describe, expect, test } from 'vitest';
import { WINDOW_MS, windowStartOf } from '../../src/window/tumbling.js';

describe('tumbling windows', () => {
  test('are 60 s and aligned to the epoch', () => {
    expect(WINDOW_MS).toBe(60_000);
    expect(windowStartOf(0)).toBe(0);
    expect(windowStartOf(59_999)).toBe(0);
    expect(windowStartOf(60_000)).toBe(60_000);
    expect(windowStartOf(Date.UTC(2025, 0, 1, 12, 34, 56, 789))).toBe(Date.UTC(2025, 0, 1, 12, 34));
  });
});
