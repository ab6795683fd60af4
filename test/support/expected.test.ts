import type { InvocationEvent } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import {
  computeExpected,
  costOf,
  InvalidEvent,
  parseLine,
  percentileBounds,
  percentileMatches,
  rollupKey,
  scoreRollupKey,
} from './expected.js';

const T = Date.UTC(2025, 0, 1, 0, 0); // a window start
const NOW = Date.UTC(2025, 0, 2);
const S = 1000;

const inv = (id: string, at: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    event_id: id,
    event_time: T + at,
    service: 'svc',
    provider: 'p',
    model_id: 'm',
    operation: 'chat',
    input_tokens: 100,
    output_tokens: 10,
    latency_ms: 100,
    status: 'OK',
    tenant_id: 't1',
    cost_usd: 0.5,
    ...extra,
  });

const score = (id: string, at: number, value: number): string =>
  JSON.stringify({
    kind: 'score',
    event_id: id,
    event_time: T + at,
    service: 'svc',
    model_id: 'm',
    name: 'thumbs',
    value,
  });

describe('computeExpected on a hand-computed partition', () => {
  const lines = [
    inv('a', 10 * S), // window 0
    '',
    inv('b', 20 * S, {
      status: 'ERROR',
      latency_ms: 300,
      ttft_ms: 50,
      cost_usd: 0.25,
      cache_read_input_tokens: 40,
    }),
    inv('a', 15 * S, { input_tokens: 999 }), // duplicate: first copy wins
    '{not json',
    inv('c', 95 * S), // window 1; W = 65 s >= 60 s closes window 0
    inv('d', 30 * S), // window 0 already closed: late
    score('s1', 100 * S, 1),
    score('s2', 40 * S, -1), // late score
    score('a', 101 * S, 1), // same id as invocation a: duplicate across kinds
    inv('e', 700 * S), // W = 670 s
    inv('a', 12 * S, { tenant_id: null }), // a's time is 688 s behind the max: no longer a duplicate; late
  ];
  const expected = computeExpected(lines, { nowMs: NOW });

  it('counts records, duplicates, late and invalid events', () => {
    expect(expected.summary).toEqual({ events: 11, accepted: 8, duplicates: 2, late: 3, invalid: 1 });
  });

  it('keeps late events and the first copy of a duplicate in the raw tables', () => {
    expect(expected.invocations.map((e) => e.event_id)).toEqual(['a', 'b', 'c', 'd', 'e', 'a']);
    expect(expected.invocations[0]?.input_tokens).toBe(100);
    expect(expected.scores.map((e) => e.event_id)).toEqual(['s1', 's2']);
    expect(expected.deadLetters.map((d) => d.reason)).toEqual(['invalid', 'late', 'late', 'late']);
  });

  it('rolls up only on-time events, per key and window', () => {
    const w0 = expected.rollups.get(
      rollupKey({ window_start: T, service: 'svc', provider: 'p', model_id: 'm', tenant_id: 't1' }),
    );
    expect(w0).toMatchObject({
      requests: 2,
      errors: 1,
      input_tokens: 200,
      cache_read_input_tokens: 40,
      cost_usd: 0.75,
      latency_ms_sum: 400,
      latency_ms_max: 300,
      latencies: [100, 300],
      ttfts: [50],
      window_end: T + 60 * S,
    });
    expect(expected.rollups.size).toBe(3); // windows 0, 1 and 11
    const s1 = expected.scoreRollups.get(
      scoreRollupKey({
        window_start: T + 60 * S,
        service: 'svc',
        model_id: 'm',
        tenant_id: null,
        name: 'thumbs',
      }),
    );
    expect(s1).toMatchObject({ count: 1, sum: 1, min: 1, max: 1 });
    expect(expected.scoreRollups.size).toBe(1);
  });

  it('moves the watermark by the configured out-of-orderness', () => {
    // With 120 s, W after c is -25 s: d is on time.
    const relaxed = computeExpected(lines.slice(0, 7), { nowMs: NOW, maxOutOfOrdernessMs: 120 * S });
    expect(relaxed.summary.late).toBe(0);
  });
});

describe('parseLine', () => {
  const fieldOf = (line: string): string | null => {
    try {
      parseLine(line, NOW);
    } catch (error) {
      if (error instanceof InvalidEvent) return error.field;
      throw error;
    }
    return 'valid';
  };

  it.each([
    ['[1]', null],
    ['nope', null],
    [inv('x', 0, { input_tokens: '5' }), 'input_tokens'],
    [inv('x', 0, { output_tokens: 1.5 }), 'output_tokens'],
    [inv('x', 0, { latency_ms: -1 }), 'latency_ms'],
    [inv('x', 0, { status: 'ok' }), 'status'],
    [inv('x', 0, { service: '' }), 'service'],
    [inv('x', 0, { model_id: null }), 'model_id'],
    [inv('x', 0, { event_time: '2025-01-01T00:00:00Z' }), 'event_time'],
    [inv('x', NOW - T + 3601 * S), 'event_time'],
    [
      inv('x', 0, { input_tokens: 10, cache_read_input_tokens: 6, cache_write_input_tokens: 5 }),
      'cache_read_input_tokens',
    ],
    [inv('x', 0, { kind: 'metric' }), 'kind'],
    [inv('x', 0, { tenant_id: 7 }), 'tenant_id'],
    [inv('x'.repeat(129), 0), 'event_id'],
    [inv('x', NOW - T + 3600 * S), 'valid'],
    [inv('x', 0, { tenant_id: '', ttft_ms: null, error_code: null, unknown_field: 'ignored' }), 'valid'],
  ])('%s -> %s', (line, field) => {
    expect(fieldOf(line)).toBe(field);
  });

  it('normalises absent optional fields to null and absent cache counts to 0', () => {
    const parsed = parseLine(
      inv('x', 0, { tenant_id: '', ttft_ms: null, cost_usd: undefined, extra: 1 }),
      NOW,
    );
    expect(parsed.kind).toBe('invocation');
    expect(parsed.event).toMatchObject({
      tenant_id: null,
      ttft_ms: null,
      cost_usd: null,
      cache_read_input_tokens: 0,
    });
    expect(parsed.event).not.toHaveProperty('extra');
  });
});

describe('costOf', () => {
  const event = (model_id: string, provider: string, cost_usd: number | null = null): InvocationEvent => {
    const parsed = parseLine(inv('x', 0), NOW);
    if (parsed.kind !== 'invocation') throw new Error('expected an invocation');
    return {
      ...parsed.event,
      model_id,
      provider,
      input_tokens: 1000,
      output_tokens: 500,
      cache_read_input_tokens: 200,
      cache_write_input_tokens: 100,
      cost_usd,
    };
  };
  const pricing = {
    models: { 'my-finetune-v2': { input: 0.5, output: 1.5 }, 'gpt-4o': { input: 1, output: 1 } },
  };

  it('prefers the event cost, then the override file, then the catalog', () => {
    expect(costOf(event('gpt-4o', 'openai', 0.125), pricing)).toEqual({ cost: 0.125, priced: true });
    // Override without cache prices: cache tokens at the input price. (700*0.5 + 300*0.5 + 500*1.5) / 1e6
    expect(costOf(event('my-finetune-v2', 'self-hosted'), pricing).cost).toBeCloseTo(0.00125, 15);
    expect(costOf(event('gpt-4o', 'openai'), pricing).cost).toBeCloseTo(0.0015, 15);
  });

  it('maps aws.bedrock to the catalog provider aws (Sonnet 3.5 v2: $3/$15, cache $0.30/$3.75)', () => {
    // (700*3 + 200*0.3 + 100*3.75 + 500*15) / 1e6
    const { cost, priced } = costOf(
      event('anthropic.claude-3-5-sonnet-20241022-v2:0', 'aws.bedrock'),
      undefined,
    );
    expect(priced).toBe(true);
    expect(cost).toBeCloseTo(0.010035, 12);
  });

  it('retries the catalog without a provider it does not know, and leaves unknown models unpriced', () => {
    const haiku = costOf(event('claude-3-5-haiku-20241022', 'some-gateway'), undefined);
    // (700*0.8 + 200*0.08 + 100*1 + 500*4) / 1e6
    expect(haiku.cost).toBeCloseTo(0.002676, 12);
    expect(costOf(event('zz-internal-llm-7b', 'self-hosted'), undefined)).toEqual({ cost: 0, priced: false });
  });
});

describe('percentile rule', () => {
  it('accepts values within 1% of the span between the bounding ranks', () => {
    const sorted = [10, 20, 30, 40, 50];
    expect(percentileBounds(sorted, 0.5)).toEqual([30, 30]);
    expect(percentileBounds(sorted, 0.95)).toEqual([40, 50]); // rank 3.8
    expect(percentileMatches(45, sorted, 0.95)).toBe(true);
    expect(percentileMatches(39.7, sorted, 0.95)).toBe(true);
    expect(percentileMatches(39.5, sorted, 0.95)).toBe(false);
    expect(percentileMatches(50.4, sorted, 0.95)).toBe(true);
    expect(percentileMatches(50.6, sorted, 0.95)).toBe(false);
    expect(percentileMatches(30.2, sorted, 0.5)).toBe(true);
    expect(percentileMatches(31, sorted, 0.5)).toBe(false);
  });
});
