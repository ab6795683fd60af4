/** Window results like the processor's, from a seeded generator, with the raw samples kept for checking. */
import type { LakeRow } from '@genai-pipeline/schemas';
import type { WeightedDistribution, WindowResults } from '../../src/window-results.js';

export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const GAMMA = 1.005 / 0.995;

/** Log-bucketed like DDSketch at 0.5% relative accuracy, representative values clamped to min/max. */
export function sketchOf(samples: readonly number[]): WeightedDistribution {
  const buckets = new Map<number, number>();
  for (const v of samples) {
    const key = Math.ceil(Math.log(v) / Math.log(GAMMA));
    buckets.set(key, (buckets.get(key) ?? 0) + 1);
  }
  const min = Math.min(...samples);
  const max = Math.max(...samples);
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  return {
    count: samples.length,
    sum: samples.reduce((a, b) => a + b, 0),
    min,
    max,
    values: keys.map((k) => Math.min(max, Math.max(min, (2 * GAMMA ** k) / (GAMMA + 1)))),
    counts: keys.map((k) => buckets.get(k) ?? 0),
  };
}

export interface Key {
  service: string;
  provider: string;
  model_id: string;
  tenant_id: string | null;
}

export interface GeneratedWindow {
  window: WindowResults;
  /** Raw latency samples per rollup row, same index. */
  latencies: number[][];
  ttfts: number[][];
}

export const KEYS: Key[] = [
  { service: 'support-bot', provider: 'aws.bedrock', model_id: 'claude-sonnet', tenant_id: 't1' },
  { service: 'support-bot', provider: 'aws.bedrock', model_id: 'claude-sonnet', tenant_id: null },
  { service: 'support-bot', provider: 'openai', model_id: 'gpt-4o', tenant_id: 't2' },
  { service: 'search', provider: 'openai', model_id: 'gpt-4o', tenant_id: 't1' },
  { service: 'search', provider: 'openai', model_id: 'embed-small', tenant_id: 't3' },
];

/** One window: a rollup row per key with `requestsPerKey` calls (log-normal latencies), scores and anomalies. */
export function generateWindow(
  windowStart: number,
  random: () => number,
  options: { keys?: Key[]; requestsPerKey?: number; scoreNames?: string[]; anomalies?: number } = {},
): GeneratedWindow {
  const keys = options.keys ?? KEYS;
  const latencies: number[][] = [];
  const ttfts: number[][] = [];
  const rollups: LakeRow[] = [];
  const scoreRollups: LakeRow[] = [];
  const anomalies: LakeRow[] = [];
  const rollupDistributions: WindowResults['rollupDistributions'] = [];
  for (const key of keys) {
    const requests = options.requestsPerKey ?? 50 + Math.floor(random() * 400);
    const latency = Array.from({ length: requests }, () => Math.exp(6 + random() * 2.5));
    const ttft = key.model_id.startsWith('embed') ? [] : latency.map((v) => v * (0.1 + random() * 0.3));
    latencies.push(latency);
    ttfts.push(ttft);
    const errors = Math.floor(random() * requests * 0.1);
    rollups.push({
      window_start: windowStart,
      window_end: windowStart + 60_000,
      ...key,
      requests,
      errors,
      throttled: Math.floor(errors / 2),
      input_tokens: Math.floor(random() * 1e6),
      output_tokens: Math.floor(random() * 1e5),
      cache_read_input_tokens: Math.floor(random() * 1e4),
      cache_write_input_tokens: Math.floor(random() * 1e3),
      cost_usd: random() * 10,
    });
    rollupDistributions.push({ latency: sketchOf(latency), ttft: ttft.length > 0 ? sketchOf(ttft) : null });
    for (const name of options.scoreNames ?? ['faithfulness', 'user_rating']) {
      const values = Array.from({ length: 1 + Math.floor(random() * 20) }, () => random());
      scoreRollups.push({
        window_start: windowStart,
        window_end: windowStart + 60_000,
        service: key.service,
        model_id: key.model_id,
        tenant_id: key.tenant_id,
        name,
        count: values.length,
        sum: values.reduce((a, b) => a + b, 0),
        avg: 0,
        min: Math.min(...values),
        max: Math.max(...values),
      });
    }
  }
  for (let i = 0; i < (options.anomalies ?? 1); i++) {
    const key = keys[i % keys.length] as Key;
    anomalies.push({ window_start: windowStart, ...key, kind: 'latency', score_name: null });
  }
  return { window: { windowStart, rollups, rollupDistributions, scoreRollups, anomalies }, latencies, ttfts };
}

/** CloudWatch-style percentile from weighted values: the value at nearest rank ceil(q·n). */
export function weightedPercentile(values: readonly number[], counts: readonly number[], q: number): number {
  const pairs = values.map((v, i) => [v, counts[i] ?? 0] as const).sort((a, b) => a[0] - b[0]);
  const total = pairs.reduce((sum, [, c]) => sum + c, 0);
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [value, count] of pairs) {
    seen += count;
    if (seen >= rank) return value;
  }
  return pairs.at(-1)?.[0] ?? Number.NaN;
}

/** True percentile band of the contract: sorted values at ranks floor(q(n−1)) and ceil(q(n−1)), widened by 1%. */
export function withinContractBand(samples: readonly number[], q: number, observed: number): boolean {
  const sorted = [...samples].sort((a, b) => a - b);
  const lo = sorted[Math.floor(q * (sorted.length - 1))] as number;
  const hi = sorted[Math.ceil(q * (sorted.length - 1))] as number;
  return observed >= lo * 0.99 && observed <= hi * 1.01;
}
