import { describe, expect, it } from 'vitest';
import {
  MAX_PARTITION_KEY_CHARS,
  partitionKeyFor,
  partitionKeyOf,
} from '../../src/transport/partition-key.js';

const event = (service: string, model_id: string) =>
  ({ kind: 'invocation', event: { service, model_id } }) as never;

describe('partitionKeyOf', () => {
  it('joins service and model with NUL, so concatenations cannot collide', () => {
    expect(partitionKeyOf(event('a', 'bc'))).toBe('a\u0000bc');
    expect(partitionKeyOf(event('a', 'bc'))).not.toBe(partitionKeyOf(event('ab', 'c')));
  });

  it('hashes keys longer than Kinesis allows, stably', () => {
    const key = partitionKeyOf(event('s'.repeat(200), 'm'.repeat(100)));
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key.length).toBeLessThanOrEqual(MAX_PARTITION_KEY_CHARS);
    expect(partitionKeyOf(event('s'.repeat(200), 'm'.repeat(100)))).toBe(key);
  });

  it("is partitionKeyFor of the event's service and model (what the processors compute for a key)", () => {
    expect(partitionKeyFor('a', 'bc')).toBe(partitionKeyOf(event('a', 'bc')));
    expect(partitionKeyFor('s'.repeat(200), 'm'.repeat(100))).toBe(
      partitionKeyOf(event('s'.repeat(200), 'm'.repeat(100))),
    );
  });
});
