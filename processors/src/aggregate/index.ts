export type { AggregateFunction } from './aggregate-function.js';
export { addToSum, type CompensatedSum, createSum, mergeSums, sumValue } from './compensated-sum.js';
export {
  type DistributionAcc,
  type DistributionSummary,
  distribution,
  quantile,
  SKETCH_RELATIVE_ACCURACY,
  weightedDistribution,
} from './distribution.js';
export { type PricedInvocation, type RollupAcc, type RollupMetrics, rollup } from './rollup.js';
export { type ScoreAcc, type ScoreMetrics, scoreRollup } from './score-rollup.js';
