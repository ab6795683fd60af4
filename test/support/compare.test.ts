import type { LakeRow } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import {
  diffDeadLetters,
  diffInvocations,
  diffLakeFiles,
  diffPartitionPaths,
  diffRollups,
  diffSchema,
  judgeAnomalies,
} from './compare.js';
import type { Incident } from './dataset.js';
import { computeExpected, type RollupExpectation } from './expected.js';
import type { ParquetColumn } from './lake.js';

const T = Date.UTC(2025, 0, 1, 0, 0);
const line = (id: string, at: number, latency: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    event_id: id,
    event_time: T + at,
    service: 's',
    provider: 'p',
    model_id: 'm',
    operation: 'chat',
    input_tokens: 10,
    output_tokens: 1,
    latency_ms: latency,
    status: 'OK',
    cost_usd: 0.1,
    ...extra,
  });
const expected = computeExpected(
  [
    line('a', 1000, 10),
    line('b', 2000, 20, { ttft_ms: 5 }),
    line('c', 3000, 40),
    'garbage',
    line('d', 200_000, 1),
    line('e', 5000, 7), // window 0 closed once W = 170 s: late
  ],
  { nowMs: T + 86_400_000 },
);

/** A rollup row as a correct writer would produce it (nearest-rank percentiles). */
function rollupRow(r: RollupExpectation): LakeRow {
  const { latencies, ttfts, latency_ms_sum, ...rest } = r;
  const at = (sorted: number[], q: number) => sorted[Math.round(q * (sorted.length - 1))] ?? null;
  return {
    ...rest,
    error_rate: r.errors / r.requests,
    latency_ms_avg: latency_ms_sum / r.requests,
    latency_ms_p50: at(latencies, 0.5),
    latency_ms_p95: at(latencies, 0.95),
    latency_ms_p99: at(latencies, 0.99),
    ttft_ms_p50: at(ttfts, 0.5),
    ttft_ms_p95: at(ttfts, 0.95),
  };
}

describe('diff functions', () => {
  it('accept a correct table and name each wrong value', () => {
    const rows = [...expected.rollups.values()].map(rollupRow);
    expect(diffRollups(rows, expected.rollups)).toEqual([]);
    const first = rows[0] as LakeRow;
    const wrong = [
      { ...first, requests: 4, latency_ms_p50: 30, cost_usd: (first.cost_usd as number) * (1 + 1e-6) },
      ...rows.slice(1),
    ];
    const mismatches = diffRollups(wrong, expected.rollups);
    expect(mismatches).toHaveLength(3);
    expect(mismatches.join('\n')).toMatch(/requests expected 3, got 4/);
    expect(mismatches.join('\n')).toMatch(/latency_ms_p50 expected "p50 within 1% of \[20, 20\]/);
    expect(diffRollups([...rows, first], expected.rollups).join()).toMatch(/more than one row/);
    expect(diffRollups(rows.slice(1), expected.rollups).join()).toMatch(/row missing/);
  });

  it('treat a missing ttft percentile as null and absent optional strings as null', () => {
    const rows = expected.invocations.map((e) => ({ ...e }) as LakeRow);
    expect(diffInvocations(rows, expected.invocations)).toEqual([]);
    expect(
      diffInvocations([{ ...rows[0], tenant_id: '' } as LakeRow, ...rows.slice(1)], expected.invocations),
    ).toHaveLength(1);
    const withoutTtft = [...expected.rollups.values()].find((r) => r.ttfts.length === 0);
    expect(withoutTtft).toBeDefined();
  });

  it('match dead-letter payloads as text or base64, once each', () => {
    const [invalid, late] = expected.deadLetters;
    expect(invalid?.payload).toBe('garbage');
    const ok = [
      { received_at: T, reason: 'invalid', error: 'not JSON', payload: 'garbage' },
      {
        received_at: T,
        reason: 'late',
        error: 'window closed',
        payload: Buffer.from(late?.payload ?? '').toString('base64'),
      },
    ];
    expect(diffDeadLetters(ok, expected.deadLetters, true)).toEqual([]);
    expect(
      diffDeadLetters([ok[0] as LakeRow, ok[0] as LakeRow], expected.deadLetters, true).length,
    ).toBeGreaterThan(0);
  });

  it('check the lake layout, partitions and Parquet types', () => {
    expect(diffLakeFiles(['rollups_1m/dt=2025-01-01/hour=00/x.parquet'])).toEqual([]);
    expect(
      diffLakeFiles(['rollups_1m/dt=2025-01-01/hour=00/.x.parquet.tmp', 'rollups_1m/x.parquet']),
    ).toHaveLength(2);
    const row = {
      received_at: Date.UTC(2025, 0, 1, 23, 59),
      __file: 'dead_letters/dt=2025-01-01/hour=23/a.parquet',
    };
    expect(diffPartitionPaths('dead_letters', [row])).toEqual([]);
    expect(diffPartitionPaths('dead_letters', [{ ...row, received_at: Date.UTC(2025, 0, 2) }])).toHaveLength(
      1,
    );
    const column = (
      name: string,
      type: string,
      converted: string | null,
      logical: string | null,
    ): ParquetColumn => ({
      file: 'f',
      name,
      type,
      converted_type: converted,
      logical_type: logical,
    });
    const utcMillis =
      'TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=MilliSeconds(), MICROS=<null>, NANOS=<null>))';
    const good = [
      column('received_at', 'INT64', 'TIMESTAMP_MILLIS', utcMillis),
      column('reason', 'BYTE_ARRAY', 'UTF8', null),
      column('error', 'BYTE_ARRAY', 'UTF8', null),
      column('payload', 'BYTE_ARRAY', 'UTF8', null),
    ];
    expect(diffSchema('dead_letters', good)).toEqual([]);
    const local = [
      column('received_at', 'INT64', 'TIMESTAMP_MILLIS', utcMillis.replace('=1', '=0')),
      ...good.slice(1),
    ];
    expect(diffSchema('dead_letters', local)).toHaveLength(1);
    expect(diffSchema('dead_letters', [...good, column('extra', 'DOUBLE', null, null)])).toHaveLength(1);
  });
});

describe('judgeAnomalies', () => {
  const w = (i: number) => T + i * 60_000;
  const incident: Incident = {
    kind: 'latency',
    service: 's',
    provider: 'p',
    model_id: 'm',
    tenant_id: null,
    score_name: null,
    windowStarts: [w(20), w(21)],
  };
  const anomaly = (window: number, kind = 'latency', extra: Partial<LakeRow> = {}): LakeRow => ({
    window_start: w(window),
    service: 's',
    provider: 'p',
    model_id: 'm',
    tenant_id: null,
    kind,
    score_name: null,
    observed: 600,
    baseline: 100,
    score: 9,
    severity: 'critical',
    ...extra,
  });

  it('requires the first incident window, explains the span, and reports the rest', () => {
    const ok = judgeAnomalies([anomaly(20), anomaly(21, 'cost_spike'), anomaly(5, 'error_rate')], [incident]);
    expect(ok.problems).toEqual([]);
    expect(ok.unexplained).toEqual([anomaly(5, 'error_rate')]);
    expect(judgeAnomalies([anomaly(21)], [incident]).problems.join()).toMatch(
      /not detected in its first window/,
    );
    expect(judgeAnomalies([anomaly(20), anomaly(30)], [incident]).problems.join()).toMatch(/fired outside/);
    expect(
      judgeAnomalies([anomaly(20, 'latency', { provider: null })], [incident]).problems.length,
    ).toBeGreaterThan(0);
  });
});
