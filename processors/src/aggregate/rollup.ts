import type { InvocationEvent } from '@genai-pipeline/schemas';
import type { AggregateFunction } from './aggregate-function.js';
import { addToSum, type CompensatedSum, createSum, mergeSums, sumValue } from './compensated-sum.js';
import {
  type DistributionAcc,
  type DistributionSnapshot,
  distribution,
  quantile,
  restoreDistribution,
  snapshotDistribution,
} from './distribution.js';

/** An accepted invocation whose `cost_usd` holds the computed cost; `priced` is false when nothing priced it. */
export interface PricedInvocation {
  event: InvocationEvent & { cost_usd: number };
  priced: boolean;
}

/** The metrics of one `rollups_1m` row (window and key columns are the caller's). */
export interface RollupMetrics {
  requests: number;
  errors: number;
  throttled: number;
  timeouts: number;
  filtered: number;
  error_rate: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_write_input_tokens: number;
  cost_usd: number;
  unpriced_requests: number;
  latency_ms_avg: number;
  latency_ms_p50: number;
  latency_ms_p95: number;
  latency_ms_p99: number;
  latency_ms_max: number;
  ttft_ms_p50: number | null;
  ttft_ms_p95: number | null;
}

export interface RollupAcc {
  requests: number;
  errors: number;
  throttled: number;
  timeouts: number;
  filtered: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_write_input_tokens: number;
  cost: CompensatedSum;
  unpriced_requests: number;
  latency: DistributionAcc;
  ttft: DistributionAcc;
}

export const rollup: AggregateFunction<PricedInvocation, RollupAcc, RollupMetrics> = {
  create: () => ({
    requests: 0,
    errors: 0,
    throttled: 0,
    timeouts: 0,
    filtered: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_input_tokens: 0,
    cache_write_input_tokens: 0,
    cost: createSum(),
    unpriced_requests: 0,
    latency: distribution.create(),
    ttft: distribution.create(),
  }),

  add(acc, { event, priced }) {
    acc.requests += 1;
    switch (event.status) {
      case 'OK':
        break;
      case 'THROTTLED':
        acc.throttled += 1;
        acc.errors += 1;
        break;
      case 'TIMEOUT':
        acc.timeouts += 1;
        acc.errors += 1;
        break;
      case 'FILTERED':
        acc.filtered += 1;
        acc.errors += 1;
        break;
      default:
        acc.errors += 1;
    }
    acc.input_tokens += event.input_tokens;
    acc.output_tokens += event.output_tokens;
    acc.cache_read_input_tokens += event.cache_read_input_tokens;
    acc.cache_write_input_tokens += event.cache_write_input_tokens;
    addToSum(acc.cost, event.cost_usd);
    if (!priced) acc.unpriced_requests += 1;
    distribution.add(acc.latency, event.latency_ms);
    if (event.ttft_ms !== null) distribution.add(acc.ttft, event.ttft_ms);
    return acc;
  },

  merge: (a, b) => ({
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    throttled: a.throttled + b.throttled,
    timeouts: a.timeouts + b.timeouts,
    filtered: a.filtered + b.filtered,
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens,
    cache_write_input_tokens: a.cache_write_input_tokens + b.cache_write_input_tokens,
    cost: mergeSums(a.cost, b.cost),
    unpriced_requests: a.unpriced_requests + b.unpriced_requests,
    latency: distribution.merge(a.latency, b.latency),
    ttft: distribution.merge(a.ttft, b.ttft),
  }),

  result(acc) {
    if (acc.requests === 0) throw new Error('rollup.result: an empty accumulator has no row');
    const hasTtft = acc.ttft.count > 0;
    return {
      requests: acc.requests,
      errors: acc.errors,
      throttled: acc.throttled,
      timeouts: acc.timeouts,
      filtered: acc.filtered,
      error_rate: acc.errors / acc.requests,
      input_tokens: acc.input_tokens,
      output_tokens: acc.output_tokens,
      cache_read_input_tokens: acc.cache_read_input_tokens,
      cache_write_input_tokens: acc.cache_write_input_tokens,
      cost_usd: sumValue(acc.cost),
      unpriced_requests: acc.unpriced_requests,
      latency_ms_avg: sumValue(acc.latency.sum) / acc.latency.count,
      latency_ms_p50: quantile(acc.latency, 0.5),
      latency_ms_p95: quantile(acc.latency, 0.95),
      latency_ms_p99: quantile(acc.latency, 0.99),
      latency_ms_max: acc.latency.max,
      ttft_ms_p50: hasTtft ? quantile(acc.ttft, 0.5) : null,
      ttft_ms_p95: hasTtft ? quantile(acc.ttft, 0.95) : null,
    };
  },
};

/** A rollup accumulator as plain JSON (checkpoints). */
export type RollupSnapshot = Omit<RollupAcc, 'latency' | 'ttft'> & {
  latency: DistributionSnapshot;
  ttft: DistributionSnapshot;
};

export const snapshotRollup = (acc: RollupAcc): RollupSnapshot => ({
  ...acc,
  cost: { ...acc.cost },
  latency: snapshotDistribution(acc.latency),
  ttft: snapshotDistribution(acc.ttft),
});

export const restoreRollup = (snapshot: RollupSnapshot): RollupAcc => ({
  ...snapshot,
  cost: { ...snapshot.cost },
  latency: restoreDistribution(snapshot.latency),
  ttft: restoreDistribution(snapshot.ttft),
});
