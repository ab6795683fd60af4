/**
 * Deterministic window results for the time-series sink tests (InfluxDB and Timestream): every
 * rollup, score-rollup and anomaly column of CONTRACT.md §4, absent tenants and providers, null TTFT,
 * and names with the characters line protocol must escape (space, comma, equals, quotes).
 */
import type { LakeRow } from '@genai-pipeline/schemas';
import type { WindowResults } from '@genai-pipeline/sinks';
import { Prng } from '../prng.js';

const WINDOW_MS = 60_000;

const KEYS = [
  {
    service: 'support-bot',
    provider: 'aws.bedrock',
    model_id: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
    tenant_id: 'acme',
  },
  {
    service: 'support-bot',
    provider: 'aws.bedrock',
    model_id: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
    tenant_id: null,
  },
  { service: 'search api', provider: 'openai', model_id: 'gpt-4.1-mini', tenant_id: 'globex, inc' },
  { service: 'agent=planner', provider: 'anthropic', model_id: 'claude "sonnet" 4', tenant_id: 'x=y z' },
] as const;

export interface SyntheticWindowsOptions {
  /** Start of the first window (minute-aligned epoch ms). */
  start: number;
  count: number;
  seed?: number;
}

export function syntheticWindows(options: SyntheticWindowsOptions): WindowResults[] {
  const prng = new Prng(options.seed ?? 7);
  const windows: WindowResults[] = [];
  for (let w = 0; w < options.count; w++) {
    const windowStart = options.start + w * WINDOW_MS;
    const window_end = windowStart + WINDOW_MS;
    const rollups: LakeRow[] = KEYS.map((key, k) => {
      const requests = 10 + prng.int(0, 500);
      const errors = prng.int(0, Math.ceil(requests / 10));
      const inputTokens = requests * (200 + prng.int(0, 2_000));
      const cacheRead = prng.int(0, Math.floor(inputTokens / 3));
      const latency = 200 + prng.next() * 3_000;
      const hasTtft = k % 2 === 0;
      return {
        window_start: windowStart,
        window_end,
        ...key,
        requests,
        errors,
        throttled: Math.floor(errors / 2),
        timeouts: errors - Math.floor(errors / 2),
        filtered: 0,
        error_rate: errors / requests,
        input_tokens: inputTokens,
        output_tokens: requests * (50 + prng.int(0, 800)),
        cache_read_input_tokens: cacheRead,
        cache_write_input_tokens: prng.int(0, 1_000),
        cost_usd: (inputTokens / 1e6) * 3 + prng.next() / 3,
        unpriced_requests: k === 3 ? requests : 0,
        latency_ms_avg: latency,
        latency_ms_p50: latency * 0.9,
        latency_ms_p95: latency * 1.7,
        latency_ms_p99: latency * 2.3,
        latency_ms_max: latency * 3.1,
        ttft_ms_p50: hasTtft ? latency / 4 : null,
        ttft_ms_p95: hasTtft ? latency / 2 : null,
      };
    });
    const scoreRollups: LakeRow[] = ['faithfulness', 'user_rating'].map((name, i) => {
      const count = 1 + prng.int(0, 40);
      const avg = name === 'user_rating' ? 1 + prng.next() * 4 : prng.next();
      return {
        window_start: windowStart,
        window_end,
        service: KEYS[i]?.service ?? 'support-bot',
        model_id: KEYS[i]?.model_id ?? 'm',
        tenant_id: KEYS[i]?.tenant_id ?? null,
        name,
        count,
        sum: avg * count,
        avg,
        min: avg / 2,
        max: Math.min(avg * 1.5, name === 'user_rating' ? 5 : 1),
      };
    });
    const anomalies: LakeRow[] =
      w % 2 === 0
        ? [
            {
              window_start: windowStart,
              service: 'support-bot',
              provider: 'aws.bedrock',
              model_id: KEYS[0].model_id,
              tenant_id: 'acme',
              kind: 'token_spike',
              score_name: null,
              observed: 123_456.5,
              baseline: 20_000.25,
              score: 6.2,
              severity: 'critical',
            },
            {
              window_start: windowStart,
              service: 'search api',
              provider: null,
              model_id: 'gpt-4.1-mini',
              tenant_id: null,
              kind: 'quality_drop',
              score_name: 'faithfulness',
              observed: 0.41,
              baseline: 0.82,
              score: 3.9,
              severity: 'warning',
            },
          ]
        : [];
    windows.push({
      windowStart,
      rollups,
      rollupDistributions: rollups.map((row) => ({
        latency: {
          count: Number(row.requests),
          sum: Number(row.latency_ms_avg) * Number(row.requests),
          min: 1,
          max: Number(row.latency_ms_max),
          values: [Number(row.latency_ms_p50)],
          counts: [Number(row.requests)],
        },
        ttft: null,
      })),
      scoreRollups,
      anomalies,
    });
  }
  return windows;
}

/** Rows of all windows, by table, as the sinks write them. */
export function windowRows(windows: readonly WindowResults[]): {
  rollups_1m: LakeRow[];
  score_rollups_1m: LakeRow[];
  anomalies: LakeRow[];
} {
  return {
    rollups_1m: windows.flatMap((w) => w.rollups),
    score_rollups_1m: windows.flatMap((w) => w.scoreRollups),
    anomalies: windows.flatMap((w) => w.anomalies),
  };
}
