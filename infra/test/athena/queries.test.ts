/**
 * Each named query's logic, run by DuckDB (the Athena text through `toDuckDbDialect`) on a lake
 * written by the real `genai-pipeline replay`, checked against values computed from the generated
 * events. Also checks that the lake's files have exactly the Glue tables' columns.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { LAKE_TABLES, type LakeTableName } from '@genai-pipeline/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAMED_QUERIES, toDuckDbDialect } from '../../src/athena/queries.js';
import { GLUE_TYPES, PARTITION_KEYS } from '../../src/lake/glue-tables.js';
import { openLake, query, type Row, replay } from '../support/lake.js';
import { generateTelemetry, type Invocation, type Telemetry, writeTelemetry } from '../support/telemetry.js';

const DAY = 86_400_000;
const MINUTE = 60_000;
const SEGMENT_MINUTES = 16;
const SPIKE_MINUTE = 13;

let work: string;
let connection: DuckDBConnection;
let telemetry: Telemetry;
let now: number;

const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;
const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const sqlOf = (name: string): string => {
  const spec = NAMED_QUERIES.find((query) => query.name === name);
  if (spec === undefined) throw new Error(`no named query ${name}`);
  return toDuckDbDialect(spec.sql);
};
/** Invocations of the rolling last 7 days (what the 7-day queries keep). */
const lastWeek = (): Invocation[] => telemetry.invocations.filter((i) => i.event_time >= now - 7 * DAY);
const groupBy = <T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> => {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
};
const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
/** Linear interpolation between the ranks around q(n-1), as DuckDB's quantile_cont. */
const quantile = (values: readonly number[], q: number): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = q * (sorted.length - 1);
  const low = sorted[Math.floor(rank)] as number;
  const high = sorted[Math.ceil(rank)] as number;
  return low + (high - low) * (rank - Math.floor(rank));
};
const closeTo = (actual: unknown, expected: number | null) => {
  if (expected === null) return expect(actual).toBeNull();
  expect(typeof actual).toBe('number');
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(Math.abs(expected) * 1e-9 + 1e-12);
};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'genai-infra-queries-'));
  now = Date.now();
  // Three segments: 40 days ago (outside every query), 10 days ago (inside only the 30-day one),
  // and three hours ago (inside all).
  const segments = [40 * DAY, 10 * DAY, 3 * 3_600_000].map((ago) => ({
    startMs: floorTo(now - ago, MINUTE),
    minutes: SEGMENT_MINUTES,
    spikeMinute: SPIKE_MINUTE,
  }));
  telemetry = generateTelemetry(7, segments);
  const input = join(work, 'events.jsonl');
  writeTelemetry(input, telemetry);
  const summary = await replay(input, join(work, 'lake'));
  const events = telemetry.invocations.length + telemetry.scores.length;
  expect(summary).toEqual({ events, accepted: events, duplicates: 0, late: 0, invalid: 0 });
  connection = await openLake(join(work, 'lake'));
}, 120_000);

afterAll(() => {
  connection?.closeSync();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the lake as the Glue tables describe it', () => {
  const duckTypes: Record<string, string> = {
    timestamp: 'TIMESTAMP WITH TIME ZONE',
    bigint: 'BIGINT',
    double: 'DOUBLE',
    string: 'VARCHAR',
  };
  it.each(['invocations', 'scores', 'rollups_1m', 'anomalies'] as LakeTableName[])(
    '%s files hold exactly the Glue columns, in order, then dt and hour',
    async (table) => {
      const columns = await query(connection, `DESCRIBE ${table}`);
      const glue = [
        ...LAKE_TABLES[table].columns.map((column) => [column.name, GLUE_TYPES[column.type]]),
        ...PARTITION_KEYS.map((key) => [key.name, key.type]),
      ];
      expect(columns.map((column) => [column.column_name, column.column_type])).toEqual(
        glue.map(([name, type]) => [name, duckTypes[type as string]]),
      );
    },
  );
});

describe('named queries on a replayed lake', () => {
  it('covers every named query in this file', () => {
    expect(NAMED_QUERIES.map((query) => query.name).sort()).toEqual([
      'cost_per_resolved_conversation',
      'cost_per_tenant_per_day',
      'error_rate_by_error_code',
      'p95_latency_per_model',
      'top_anomalies_this_week',
    ]);
  });

  it('reads only the lake tables each query declares, filtering on dt first', () => {
    for (const spec of NAMED_QUERIES) {
      const read = new Set([...spec.sql.matchAll(/\b(?:FROM|JOIN)\s+(\w+)/g)].map((match) => match[1]));
      const ctes = new Set([...spec.sql.matchAll(/\b(\w+) AS \(/g)].map((match) => match[1]));
      expect([...read].filter((name) => !ctes.has(name)).sort(), spec.name).toEqual([...spec.tables].sort());
      for (const table of spec.tables) expect(Object.keys(LAKE_TABLES)).toContain(table);
      expect(spec.sql, spec.name).toMatch(/WHERE (\w+\.)?dt >= /);
    }
  });

  it('cost_per_tenant_per_day: sums per UTC day and tenant, last 30 days only', async () => {
    const rows = await query(connection, sqlOf('cost_per_tenant_per_day'));
    const kept = telemetry.invocations.filter((i) => utcDate(i.event_time) >= utcDate(now - 30 * DAY));
    const expected = [...groupBy(kept, (i) => `${utcDate(i.event_time)}|${i.tenant_id ?? '(no tenant)'}`)]
      .map(([key, calls]) => {
        const [usage_date, tenant] = key.split('|');
        return {
          usage_date,
          tenant,
          cost_usd: sum(calls.map((c) => c.cost_usd)),
          requests: calls.length,
          tokens: sum(calls.map((c) => c.input_tokens + c.output_tokens)),
        };
      })
      .sort(
        (a, b) =>
          (b.usage_date as string).localeCompare(a.usage_date as string) ||
          b.cost_usd - a.cost_usd ||
          (a.tenant as string).localeCompare(b.tenant as string),
      );
    // Segment days 10 days ago and 3 hours ago: present; 40 days ago: filtered out.
    expect(new Set(rows.map((row) => row.usage_date))).toEqual(
      new Set(expected.map((row) => row.usage_date)),
    );
    expect(rows.some((row) => row.usage_date === utcDate(now - 40 * DAY))).toBe(false);
    expect(rows.map((row) => [row.usage_date, row.tenant, row.requests, row.tokens])).toEqual(
      expected.map((row) => [row.usage_date, row.tenant, row.requests, row.tokens]),
    );
    rows.forEach((row, i) => {
      closeTo(row.cost_usd, expected[i]?.cost_usd ?? Number.NaN);
    });
  });

  it('p95_latency_per_model: percentiles of the last 7 days per provider and model', async () => {
    const rows = await query(connection, sqlOf('p95_latency_per_model'));
    const groups = groupBy(lastWeek(), (i) => `${i.provider}|${i.model_id}`);
    expect(rows.map((row) => `${row.provider}|${row.model_id}`).sort()).toEqual([...groups.keys()].sort());
    for (const row of rows) {
      const calls = groups.get(`${row.provider}|${row.model_id}`) ?? [];
      expect(row.requests).toBe(calls.length);
      closeTo(
        row.latency_ms_p50,
        quantile(
          calls.map((c) => c.latency_ms),
          0.5,
        ),
      );
      closeTo(
        row.latency_ms_p95,
        quantile(
          calls.map((c) => c.latency_ms),
          0.95,
        ),
      );
      closeTo(
        row.ttft_ms_p95,
        quantile(
          calls.flatMap((c) => (c.ttft_ms === undefined ? [] : [c.ttft_ms])),
          0.95,
        ),
      );
    }
    const p95s = rows.map((row) => row.latency_ms_p95 as number);
    expect(p95s).toEqual([...p95s].sort((a, b) => b - a));
  });

  it('error_rate_by_error_code: failed calls per service, status and code over the service total', async () => {
    const rows = await query(connection, sqlOf('error_rate_by_error_code'));
    const recent = lastWeek();
    const totals = new Map(
      [...groupBy(recent, (i) => i.service)].map(([service, calls]) => [service, calls.length]),
    );
    const failed = groupBy(
      recent.filter((i) => i.status !== 'OK'),
      (i) => `${i.service}|${i.status}|${i.error_code ?? '(none)'}`,
    );
    expect(rows).toHaveLength(failed.size);
    for (const row of rows) {
      const calls = failed.get(`${row.service}|${row.status}|${row.error_code}`);
      expect(calls, `${row.service} ${row.status} ${row.error_code}`).toBeDefined();
      const requests = totals.get(row.service as string) as number;
      expect(row.errors).toBe(calls?.length);
      expect(row.requests).toBe(requests);
      closeTo(row.error_rate, (calls?.length ?? 0) / requests);
    }
    expect(new Set(rows.map((row) => row.status))).toEqual(
      new Set(['THROTTLED', 'TIMEOUT', 'ERROR', 'FILTERED']),
    );
  });

  it('top_anomalies_this_week: the rolling week of the anomalies table, critical first, strongest first', async () => {
    const rows = await query(connection, sqlOf('top_anomalies_this_week'));
    const all = await query(connection, 'SELECT * FROM anomalies');
    const rank = (row: Row) => (row.severity === 'critical' ? 0 : 1);
    const text = (value: unknown) => String(value ?? '');
    const expected = all
      .filter((row) => (row.window_start as number) >= now - 7 * DAY)
      .sort(
        (a, b) =>
          rank(a) - rank(b) ||
          (b.score as number) - (a.score as number) ||
          (b.window_start as number) - (a.window_start as number) ||
          text(a.kind).localeCompare(text(b.kind)) ||
          text(a.service).localeCompare(text(b.service)) ||
          text(a.model_id).localeCompare(text(b.model_id)),
      )
      .slice(0, 50);
    const columns = (row: Row) => [row.window_start, row.severity, row.kind, row.service, row.score];
    expect(rows.map(columns)).toEqual(expected.map(columns));
    // The injected cost spike of the recent segment is there; the older segments' spikes are in
    // the table but not in this week's list.
    const spikeWindow = floorTo(now - 3 * 3_600_000, MINUTE) + SPIKE_MINUTE * MINUTE;
    expect(rows.some((row) => row.kind === 'cost_spike' && row.window_start === spikeWindow)).toBe(true);
    const olderSpike = floorTo(now - 10 * DAY, MINUTE) + SPIKE_MINUTE * MINUTE;
    expect(all.some((row) => row.kind === 'cost_spike' && row.window_start === olderSpike)).toBe(true);
    expect(rows.some((row) => (row.window_start as number) < now - 7 * DAY)).toBe(false);
  });

  it('cost_per_resolved_conversation: all conversation cost over resolved conversations, per service', async () => {
    const rows = await query(connection, sqlOf('cost_per_resolved_conversation'));
    const recent = lastWeek().filter((i) => i.session_id !== undefined);
    const sessionOf = new Map(recent.map((i) => [i.event_id, i.session_id as string]));
    const resolvedSessions = new Set(
      telemetry.scores
        .filter((s) => s.name === 'resolved' && s.value >= 1 && sessionOf.has(s.invocation_id))
        .map((s) => sessionOf.get(s.invocation_id)),
    );
    const byService = groupBy(recent, (i) => i.service);
    expect(rows.map((row) => row.service).sort()).toEqual([...byService.keys()].sort());
    for (const row of rows) {
      const calls = byService.get(row.service as string) ?? [];
      const sessions = groupBy(calls, (i) => i.session_id as string);
      const resolved = [...sessions.keys()].filter((id) => resolvedSessions.has(id));
      const cost = sum(calls.map((c) => c.cost_usd));
      const resolvedCost = sum(resolved.flatMap((id) => (sessions.get(id) ?? []).map((c) => c.cost_usd)));
      expect(row.conversations).toBe(sessions.size);
      expect(row.resolved_conversations).toBe(resolved.length);
      expect(resolved.length).toBeGreaterThan(0);
      closeTo(row.resolution_rate, resolved.length / sessions.size);
      closeTo(row.cost_usd, cost);
      closeTo(row.cost_per_resolved_conversation, cost / resolved.length);
      closeTo(row.avg_cost_of_resolved_conversation, resolvedCost / resolved.length);
    }
  });
});
