import type { InvocationEvent } from '@genai-pipeline/schemas';
import { describe, expect, test } from 'vitest';
import { Pricer } from '../../src/pricing/pricer.js';
import { invocationEvent } from '../support/events.js';

const event = (overrides: Partial<InvocationEvent>): InvocationEvent =>
  invocationEvent({ cache_read_input_tokens: 200, cache_write_input_tokens: 100, ...overrides });

describe('Pricer', () => {
  const overrides = new Map([
    ['my-finetune-v1', { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 }],
    ['no-cache-prices', { input: 2, output: 4 }],
    ['gpt-4o', { input: 1, output: 1 }],
  ]);
  const pricer = new Pricer(overrides);

  test("the event's own cost wins over everything", () => {
    expect(pricer.cost(event({ cost_usd: 0.42, model_id: 'my-finetune-v1' }))).toEqual({
      cost_usd: 0.42,
      priced: true,
    });
    expect(pricer.cost(event({ cost_usd: 0 }))).toEqual({ cost_usd: 0, priced: true });
  });

  test('the override file prices uncached input, cache reads, cache writes and output apart', () => {
    const expected = (700 * 3 + 200 * 0.3 + 100 * 3.75 + 500 * 15) / 1e6;
    expect(pricer.cost(event({ model_id: 'my-finetune-v1' })).cost_usd).toBeCloseTo(expected, 15);
  });

  test('a missing cache price falls back to the input price', () => {
    expect(pricer.cost(event({ model_id: 'no-cache-prices' })).cost_usd).toBeCloseTo(
      (1000 * 2 + 500 * 4) / 1e6,
      15,
    );
  });

  test('the override file comes before the built-in catalog', () => {
    expect(pricer.cost(event({ model_id: 'gpt-4o' })).cost_usd).toBeCloseTo(1500 / 1e6, 15);
    expect(new Pricer().cost(event({ model_id: 'gpt-4o' })).cost_usd).toBeGreaterThan(1500 / 1e6);
  });

  test('an unknown model costs 0 and is unpriced', () => {
    expect(pricer.cost(event({ model_id: 'nobody-knows-me' }))).toEqual({ cost_usd: 0, priced: false });
  });
});
