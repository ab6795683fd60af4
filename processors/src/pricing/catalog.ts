import {
  calcPrice,
  type ModelPrice,
  type PriceCalculation,
  type PriceCalculationResult,
  type Usage,
} from '@pydantic/genai-prices';
import { costAtPrices, type TokenUsage } from './token-usage.js';

/**
 * The built-in price catalog: `@pydantic/genai-prices` (pinned by the lock file), tiers included.
 *
 * A full `calcPrice` costs ~20 µs (it matches the model id against every provider's patterns), too
 * much per event. So each (provider, model) is resolved once. A model whose prices are flat (no tiers,
 * no date- or time-conditional prices) is linear in each token count, so its per-token rates are read
 * by asking the library for one million tokens of each kind: the library's own rules (such as a missing
 * cache price falling back to the input price) carry over unchanged. Tiered or conditional models go
 * through `calcPrice` on every call.
 */
/** OTel `gen_ai.provider.name` values whose genai-prices provider id differs. */
const CATALOG_PROVIDER_IDS: Record<string, string> = {
  'aws.bedrock': 'aws',
  'azure.ai.openai': 'azure',
  'azure.ai.inference': 'azure',
  'gcp.vertex_ai': 'google',
  'gcp.gemini': 'google',
  'gcp.gen_ai': 'google',
  x_ai: 'x-ai',
  mistral_ai: 'mistral',
};

type Resolution =
  | { kind: 'flat'; perRequest: number; input: number; output: number; cacheRead: number; cacheWrite: number }
  | { kind: 'library'; providerId: string | undefined }
  | { kind: 'unknown' };

function libraryUsage(usage: TokenUsage): Usage {
  return {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cache_read_tokens: usage.cache_read_input_tokens,
    cache_write_tokens: usage.cache_write_input_tokens,
  };
}

function libraryPrice(
  usage: Usage,
  modelId: string,
  providerId: string | undefined,
  eventTime: number,
): PriceCalculationResult {
  return calcPrice(usage, modelId, { timestamp: new Date(eventTime), ...(providerId ? { providerId } : {}) });
}

const isFlat = (price: ModelPrice): boolean =>
  Object.values(price).every((value) => typeof value !== 'object');

export class PriceCatalog {
  private readonly resolutions = new Map<string, Resolution>();

  /** @param maxModels bound on remembered (provider, model) pairs: hostile model ids cannot grow memory. */
  constructor(private readonly maxModels = 10_000) {}

  /** Cost in USD, or `undefined` when the catalog does not know the model. */
  cost(provider: string, modelId: string, usage: TokenUsage, eventTime: number): number | undefined {
    const resolution = this.resolve(provider, modelId, eventTime);
    switch (resolution.kind) {
      case 'unknown':
        return undefined;
      case 'flat':
        return (
          resolution.perRequest +
          costAtPrices(
            usage,
            resolution.input,
            resolution.output,
            resolution.cacheRead,
            resolution.cacheWrite,
          )
        );
      case 'library':
        return libraryPrice(libraryUsage(usage), modelId, resolution.providerId, eventTime)?.total_price;
    }
  }

  private resolve(provider: string, modelId: string, eventTime: number): Resolution {
    const key = `${provider}\u0000${modelId}`;
    let resolution = this.resolutions.get(key);
    if (resolution === undefined) {
      resolution = resolveModel(provider, modelId, eventTime);
      if (this.resolutions.size >= this.maxModels) this.resolutions.clear();
      this.resolutions.set(key, resolution);
    }
    return resolution;
  }
}

const MTOK = 1e6;

function resolveModel(provider: string, modelId: string, eventTime: number): Resolution {
  const mappedId = CATALOG_PROVIDER_IDS[provider] ?? provider;
  let providerId: string | undefined = mappedId;
  let found = libraryPrice({}, modelId, providerId, eventTime);
  if (found === null) {
    providerId = undefined;
    found = libraryPrice({}, modelId, providerId, eventTime);
  }
  if (found === null) return { kind: 'unknown' };
  if (Array.isArray(found.model.prices) || !isFlat(found.model_price)) return { kind: 'library', providerId };
  const perRequest = found.total_price;
  const rate = (usage: Usage) =>
    (libraryPrice(usage, modelId, providerId, eventTime) as PriceCalculation).total_price - perRequest;
  return {
    kind: 'flat',
    perRequest,
    input: rate({ input_tokens: MTOK }),
    output: rate({ output_tokens: MTOK }),
    // The whole input read from (written to) the cache: what one million such tokens cost.
    cacheRead: rate({ input_tokens: MTOK, cache_read_tokens: MTOK }),
    cacheWrite: rate({ input_tokens: MTOK, cache_write_tokens: MTOK }),
  };
}
