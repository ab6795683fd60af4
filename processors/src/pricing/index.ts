export { PriceCatalog } from './catalog.js';
export {
  loadPriceOverrides,
  type PriceOverrides,
  parsePriceOverrides,
  type TokenPrices,
} from './override-file.js';
export { type PricedCost, Pricer } from './pricer.js';
export { costAtPrices, type TokenUsage } from './token-usage.js';
