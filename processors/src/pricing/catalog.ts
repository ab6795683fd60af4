import { calcPrice, type ModelPrice } from '@pydantic/genai-prices';
import { costAtPrices, type TokenUsage } from './token-usage.js';

/**
 * The built-in price catalog: `@pydantic/genai-prices` (pinned by the lock file), tiers included.
 *
 * A full `calcPrice` costs ~20 µs (it matches the model id against every provider's patterns), too
 * much per event. So each (provider, model) is resolved once: models whose prices for our four usage
 * keys are flat numbers are priced here with the same formula; tiered or date-conditional models go
 * through `calcPrice` on every call so the library's tier rules stay the only ones.
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
  | {
      kind: 'flat';
      providerId: string | undefined;
      input: number;
      output: number;
      cacheRead: number | undefined;
      cacheWrite: number | undefined;
      perRequest: number;
    }
  | { kind: 'library'; providerId: string | undefined }
  | { kind: 'unknown' };

const PRICE_KEYS = ['input_mtok', 'output_mtok', 'cache_read_mtok', 'cache_write_mtok'] as const;

function libraryUsage(usage: TokenUsage) {
  return {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cache_read_tokens: usage.cache_read_input_tokens,
    cache_write_tokens: usage.cache_write_input_tokens,
  };
}

function libraryCost(
  usage: TokenUsage,
  modelId: string,
  providerId: string | undefined,
  eventTime: number,
): number | undefined {
  const options = { timestamp: new Date(eventTime), ...(providerId ? { providerId } : {}) };
  return calcPrice(libraryUsage(usage), modelId, options)?.total_price;
}

function flatOrUndefined(price: ModelPrice, key: (typeof PRICE_KEYS)[number]): number | undefined | 'tiered' {
  const value = price[key];
  if (value === undefined || typeof value === 'number') return value;
  return 'tiered';
}

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
      case 'flat': {
        // A cache price the model lacks matters only when the call used that cache: the library's own rule then applies.
        const needsLibrary =
          (resolution.cacheRead === undefined && usage.cache_read_input_tokens > 0) ||
          (resolution.cacheWrite === undefined && usage.cache_write_input_tokens > 0);
        if (needsLibrary) return libraryCost(usage, modelId, resolution.providerId, eventTime);
        return (
          costAtPrices(
            usage,
            resolution.input,
            resolution.output,
            resolution.cacheRead ?? 0,
            resolution.cacheWrite ?? 0,
          ) + resolution.perRequest
        );
      }
      case 'library':
        return libraryCost(usage, modelId, resolution.providerId, eventTime);
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

function resolveModel(provider: string, modelId: string, eventTime: number): Resolution {
  const probe = { input_tokens: 1, output_tokens: 1 };
  const timestamp = new Date(eventTime);
  const mappedId = CATALOG_PROVIDER_IDS[provider] ?? provider;
  let providerId: string | undefined = mappedId;
  let found = calcPrice(probe, modelId, { providerId: mappedId, timestamp });
  if (found === null) {
    providerId = undefined;
    found = calcPrice(probe, modelId, { timestamp });
  }
  if (found === null) return { kind: 'unknown' };
  if (Array.isArray(found.model.prices)) return { kind: 'library', providerId };
  const price = found.model_price;
  const [input, output, cacheRead, cacheWrite] = PRICE_KEYS.map((key) => flatOrUndefined(price, key));
  const perRequest = price.requests_kcount ?? 0;
  if (
    typeof input !== 'number' ||
    typeof output !== 'number' ||
    cacheRead === 'tiered' ||
    cacheWrite === 'tiered' ||
    typeof perRequest !== 'number'
  ) {
    return { kind: 'library', providerId };
  }
  return { kind: 'flat', providerId, input, output, cacheRead, cacheWrite, perRequest: perRequest / 1000 };
}
