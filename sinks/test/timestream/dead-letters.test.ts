import { describe, expect, it } from 'vitest';
import { DeadLetterList } from '../../src/timestream/dead-letters.js';

describe('DeadLetterList', () => {
  it('keeps the newest entries up to its capacity and counts all', () => {
    const list = new DeadLetterList(2);
    for (const reason of ['a', 'b', 'c']) list.add({ reason, payload: `{"${reason}":1}` });
    expect(list.count).toBe(3);
    expect(list.list().map((l) => l.reason)).toEqual(['b', 'c']);
  });

  it('with capacity 0 only counts', () => {
    const list = new DeadLetterList(0);
    list.add({ reason: 'x', payload: '' });
    expect([list.count, list.list()]).toEqual([1, []]);
  });

  it('rejects a negative or fractional capacity', () => {
    expect(() => new DeadLetterList(-1)).toThrow(/capacity must be an integer >= 0/);
    expect(() => new DeadLetterList(1.5)).toThrow(RangeError);
  });
});
