import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, test } from 'vitest';
import { PriceCatalog } from '../../src/pricing/catalog.js';

const usage = (input: number, output: number, cacheRead = 0, cacheWrite = 0) => ({
  input_tokens: input,
  output_tokens: output,
  cache_read_input_tokens: cacheRead,
  cache_write_input_tokens: cacheWrite,
});

const libraryPrice = (
  u: ReturnType<typeof usage>,
  model: string,
  providerId: string | undefined,
  time: number,
) =>
  calcPrice(
    {
      input_tokens: u.input_tokens,
      output_tokens: u.output_tokens,
      cache_read_tokens: u.cache_read_input_tokens,
      cache_write_tokens: u.cache_write_input_tokens,
    },
    model,
    { timestamp: new Date(time), ...(providerId ? { providerId } : {}) },
  )?.total_price;

const time = Date.UTC(2025, 5, 1);

describe('PriceCatalog', () => {
  test.each([
    ['aws.bedrock', 'anthropic.claude-3-5-sonnet-20241022-v2:0', 'aws'],
    ['openai', 'gpt-4o', 'openai'],
    ['openai', 'gpt-4o-mini', 'openai'],
    ['anthropic', 'claude-3-5-haiku-20241022', 'anthropic'],
  ])('prices %s %s exactly as genai-prices does', (provider, model, providerId) => {
    const catalog = new PriceCatalog();
    let seed = 7;
    const next = (max: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % max;
    };
    for (let i = 0; i < 200; i++) {
      const input = next(50_000);
      const cacheRead = i % 3 === 0 ? Math.floor(input / 3) : 0;
      const cacheWrite = i % 5 === 0 ? Math.floor(input / 4) : 0;
      const u = usage(input, next(4_000), cacheRead, cacheWrite);
      const expected = libraryPrice(u, model, providerId, time);
      expect(expected).toBeTypeOf('number');
      const ours = catalog.cost(provider, model, u, time) as number;
      expect(Math.abs(ours - (expected as number))).toBeLessThanOrEqual(Math.abs(expected as number) * 1e-12);
    }
  });

  test('maps the OTel provider name aws.bedrock to the catalog provider aws', () => {
    // Without the provider the Bedrock id is unknown to the catalog; with it, it is priced.
    expect(
      libraryPrice(usage(1000, 100), 'anthropic.claude-3-5-sonnet-20241022-v2:0', undefined, time),
    ).toBeUndefined();
    expect(
      new PriceCatalog().cost(
        'aws.bedrock',
        'anthropic.claude-3-5-sonnet-20241022-v2:0',
        usage(1000, 100),
        time,
      ),
    ).toBeGreaterThan(0);
  });

  test('falls back to matching without the provider when the provider is not in the catalog', () => {
    const cost = new PriceCatalog().cost('my-gateway', 'gpt-4o', usage(1000, 100), time);
    expect(cost).toBeCloseTo(libraryPrice(usage(1000, 100), 'gpt-4o', undefined, time) as number, 12);
  });

  test('returns undefined for a model nobody prices', () => {
    expect(new PriceCatalog().cost('openai', 'no-such-model-xyz', usage(1000, 100), time)).toBeUndefined();
  });

  test('remembers at most maxModels resolutions and stays correct past the bound', () => {
    const catalog = new PriceCatalog(2);
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'unknown-a', 'gpt-4o'])
      catalog.cost('openai', model, usage(10, 10), time);
    expect(catalog.cost('openai', 'gpt-4o', usage(1000, 100), time)).toBeCloseTo(
      libraryPrice(usage(1000, 100), 'gpt-4o', 'openai', time) as number,
      12,
    );
  });
});
