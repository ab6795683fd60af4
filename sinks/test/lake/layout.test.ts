import { describe, expect, it } from 'vitest';
import { LakeUsageError } from '../../src/lake/errors.js';
import { assertSafeSourceId, dataFileName, hourStart, partitionPath } from '../../src/lake/layout.js';

describe('partitionPath', () => {
  it('puts the last millisecond of a UTC day and the first of the next in different partitions', () => {
    expect(partitionPath('invocations', Date.UTC(2025, 0, 31, 23, 59, 59, 999))).toBe(
      'invocations/dt=2025-01-31/hour=23',
    );
    expect(partitionPath('invocations', Date.UTC(2025, 1, 1, 0, 0, 0, 0))).toBe(
      'invocations/dt=2025-02-01/hour=00',
    );
  });

  it('uses UTC hours with two digits, whatever the local time zone', () => {
    expect(partitionPath('rollups_1m', Date.UTC(2024, 1, 29, 7, 30))).toBe(
      'rollups_1m/dt=2024-02-29/hour=07',
    );
  });

  it('places times before 1970 in their own hour', () => {
    expect(partitionPath('dead_letters', -1)).toBe('dead_letters/dt=1969-12-31/hour=23');
  });

  it('rejects a time outside the Date range', () => {
    expect(() => partitionPath('scores', 9e15)).toThrow(LakeUsageError);
  });
});

describe('hourStart', () => {
  it('floors to the UTC hour', () => {
    const hour = Date.UTC(2025, 5, 1, 13);
    expect(hourStart(hour)).toBe(hour);
    expect(hourStart(hour + 3_599_999)).toBe(hour);
    expect(hourStart(hour + 3_600_000)).toBe(hour + 3_600_000);
    expect(hourStart(-1)).toBe(-3_600_000);
  });
});

describe('dataFileName', () => {
  it('names negative ordinals (windows before 1970) without a second minus sign', () => {
    expect(dataFileName('src', -120_000, -60_000)).toBe('src-n120000-n60000.parquet');
    expect(dataFileName('src', -60_000, 0)).toBe('src-n60000-0.parquet');
  });

  it('names a file by source and ordinal range', () => {
    expect(dataFileName('kafka.events-p3', 120, 9_007_199_254_740_991)).toBe(
      'kafka.events-p3-120-9007199254740991.parquet',
    );
  });

  it.each([
    ['', /must start with a letter or digit/],
    ['a/b', /\[A-Za-z0-9._-\]/],
    ['.hidden', /must start with a letter or digit/],
    ['_tmp', /must start with a letter or digit/],
    ['run 1', /\[A-Za-z0-9._-\]/],
    ['ü', /\[A-Za-z0-9._-\]/],
  ])('rejects source id %j', (sourceId, message) => {
    expect(() => assertSafeSourceId(sourceId)).toThrow(message);
    expect(() => dataFileName(sourceId, 1, 2)).toThrow(LakeUsageError);
  });

  it.each([
    [Number.NaN, 2, /ordinal NaN must be a safe integer/],
    [1.5, 2, /ordinal 1.5 must be/],
    [3, 2, /last ordinal 2 is before first ordinal 3/],
  ])('rejects ordinals %d..%d', (first, last, message) => {
    expect(() => dataFileName('src', first, last)).toThrow(message);
  });
});
