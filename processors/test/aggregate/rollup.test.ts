import type { InvocationStatus } from '@genai-pipeline/schemas';
import { describe, expect, test } from 'vitest';
import { type PricedInvocation, rollup } from '../../src/aggregate/rollup.js';
import { invocationEvent } from '../support/events.js';

const invocation = (
  status: InvocationStatus,
  latency: number,
  ttft: number | null,
  cost: number,
  priced = true,
): PricedInvocation => ({
  priced,
  event: {
    ...invocationEvent({
      input_tokens: 100,
      output_tokens: 10,
      cache_read_input_tokens: 5,
      cache_write_input_tokens: 1,
      latency_ms: latency,
      ttft_ms: ttft,
      status,
    }),
    cost_usd: cost,
  },
});

describe('rollup aggregate', () => {
  test('counts statuses, sums tokens and cost, and summarises latency', () => {
    const acc = rollup.create();
    const inputs = [
      invocation('OK', 100, 20, 0.1),
      invocation('ERROR', 200, null, 0.2),
      invocation('THROTTLED', 300, null, 0, false),
      invocation('TIMEOUT', 400, 40, 0.3),
      invocation('FILTERED', 500, null, 0.4),
    ];
    for (const input of inputs) rollup.add(acc, input);
    const result = rollup.result(acc);
    expect(result).toMatchObject({
      requests: 5,
      errors: 4,
      throttled: 1,
      timeouts: 1,
      filtered: 1,
      error_rate: 0.8,
      input_tokens: 500,
      output_tokens: 50,
      cache_read_input_tokens: 25,
      cache_write_input_tokens: 5,
      unpriced_requests: 1,
      latency_ms_avg: 300,
      latency_ms_max: 500,
    });
    expect(result.cost_usd).toBeCloseTo(1.0, 12);
    expect(result.latency_ms_p50).toBeGreaterThanOrEqual(297);
    expect(result.latency_ms_p50).toBeLessThanOrEqual(303);
    expect(result.ttft_ms_p50).not.toBeNull();
  });

  test('ttft percentiles are null when no call reported ttft', () => {
    const acc = rollup.add(rollup.create(), invocation('OK', 10, null, 0));
    expect(rollup.result(acc).ttft_ms_p50).toBeNull();
    expect(rollup.result(acc).ttft_ms_p95).toBeNull();
  });

  test('merge of partials equals one aggregate over everything', () => {
    const whole = rollup.create();
    const a = rollup.create();
    const b = rollup.create();
    for (let i = 0; i < 200; i++) {
      const input = invocation(
        i % 7 === 0 ? 'ERROR' : 'OK',
        50 + i,
        i % 2 ? 10 + i : null,
        0.001 * i,
        i % 9 !== 0,
      );
      rollup.add(whole, input);
      rollup.add(i < 80 ? a : b, input);
    }
    const merged = rollup.result(rollup.merge(a, b));
    const expected = rollup.result(whole);
    expect(merged).toEqual({ ...expected, cost_usd: merged.cost_usd, latency_ms_avg: merged.latency_ms_avg });
    expect(merged.cost_usd).toBeCloseTo(expected.cost_usd, 12);
    expect(merged.latency_ms_avg).toBeCloseTo(expected.latency_ms_avg, 9);
  });

  test('an empty accumulator has no row', () => {
    expect(() => rollup.result(rollup.create())).toThrow(/empty/);
  });
});
