import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/emitter/ring-buffer.js';

describe('RingBuffer', () => {
  it('is FIFO across wrap-around and refuses pushes when full', () => {
    const ring = new RingBuffer<number>(3);
    expect(ring.push(1) && ring.push(2) && ring.push(3)).toBe(true);
    expect(ring.push(4)).toBe(false);
    expect(ring.shift()).toBe(1);
    expect(ring.push(4)).toBe(true); // wraps into slot 0
    expect(ring.peek()).toBe(2);
    expect([ring.shift(), ring.shift(), ring.shift(), ring.shift()]).toEqual([2, 3, 4, undefined]);
    expect(ring.size).toBe(0);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new RingBuffer(0)).toThrow(/capacity must be a positive integer/);
    expect(() => new RingBuffer(1.5)).toThrow(/capacity/);
  });
});
