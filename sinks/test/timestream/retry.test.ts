import { describe, expect, it } from 'vitest';
import { rejectionAction, VersionClock } from '../../src/timestream/retry.js';

describe('VersionClock', () => {
  it('follows the wall clock and never repeats or goes back', () => {
    let now = 1_000;
    const clock = new VersionClock(() => now);
    expect(clock.next()).toBe(1_000);
    expect(clock.next()).toBe(1_001);
    now = 900; // the wall clock stepped back
    expect(clock.next()).toBe(1_002);
    now = 5_000;
    expect(clock.next()).toBe(5_000);
  });

  it('hands out a version above an existing one', () => {
    const clock = new VersionClock(() => 1_000);
    expect(clock.above(7_000)).toBe(7_001);
    expect(clock.next()).toBe(7_002);
    expect(clock.above(10)).toBe(7_003);
  });
});

describe('rejectionAction', () => {
  const clock = () => new VersionClock(() => 1_000);

  it('re-sends a version conflict above ExistingVersion', () => {
    expect(
      rejectionAction(
        { RecordIndex: 0, Reason: 'same dimensions ... higher version', ExistingVersion: 4_000 },
        clock(),
      ),
    ).toEqual({
      kind: 'retry-with-version',
      version: 4_001,
    });
  });

  it('re-sends transient reasons unchanged', () => {
    for (const reason of [
      'Internal server error',
      'Request throttled',
      'Service temporarily unavailable, try again',
    ]) {
      expect(rejectionAction({ RecordIndex: 0, Reason: reason }, clock())).toEqual({ kind: 'retry' });
    }
  });

  it('dead-letters retention, limit and validation rejections with their reason', () => {
    for (const reason of [
      'The record timestamp is outside the time range [x, y) of the data ingestion window.',
      'Measure name exceeds the limit',
      'Invalid measure value',
    ]) {
      expect(rejectionAction({ RecordIndex: 3, Reason: reason }, clock())).toEqual({
        kind: 'dead-letter',
        reason,
      });
    }
    expect(rejectionAction({ RecordIndex: 3 }, clock())).toEqual({
      kind: 'dead-letter',
      reason: 'rejected without a reason',
    });
  });
});
