import type { InvocationEvent } from '@genai-pipeline/schemas';
import { PriceCatalog } from './catalog.js';
import type { PriceOverrides } from './override-file.js';
import { costAtPrices } from './token-usage.js';

export interface PricedCost {
  cost_usd: number;
  /** False when neither the event, the override file nor the catalog priced the call (it counts in unpriced_requests). */
  priced: boolean;
}

const UNPRICED: PricedCost = { cost_usd: 0, priced: false };

/** CONTRACT.md §2: the event's own cost, else the override file, else the built-in catalog, else 0 (unpriced). */
export class Pricer {
  constructor(
    private readonly overrides: PriceOverrides = new Map(),
    private readonly catalog = new PriceCatalog(),
  ) {}

  cost(event: InvocationEvent): PricedCost {
    if (event.cost_usd !== null) return { cost_usd: event.cost_usd, priced: true };
    const override = this.overrides.get(event.model_id);
    if (override !== undefined) {
      const cost = costAtPrices(
        event,
        override.input,
        override.output,
        override.cache_read ?? override.input,
        override.cache_write ?? override.input,
      );
      return { cost_usd: cost, priced: true };
    }
    const cost = this.catalog.cost(event.provider, event.model_id, event, event.event_time);
    return cost === undefined ? UNPRICED : { cost_usd: cost, priced: true };
  }
}
