import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LakeRow } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import type { Incident } from './dataset.js';
import { computeExpected, DEFAULT_MAX_OUT_OF_ORDERNESS_MS, WINDOW_MS } from './expected.js';
import {
  closedWindowsOnly,
  diffDeadLettersByReason,
  incidentsInClosedWindows,
  type LakeTables,
  metricByPartition,
  rowsInFiles,
} from './run-lake.js';

const T = Date.UTC(2025, 0, 1, 0, 0); // a window start
const NOW = Date.UTC(2025, 0, 2);

/** A JSON line of one event of service `svc` and model `m` at `T + at`; `fields` make it an invocation or a score. */
const line = (id: string, at: number, fields: Record<string, unknown>) =>
  JSON.stringify({ event_id: id, event_time: T + at, service: 'svc', model_id: 'm', ...fields });
const CALL = {
  provider: 'p',
  operation: 'chat',
  input_tokens: 9,
  output_tokens: 1,
  latency_ms: 5,
  status: 'OK',
};
const invocation = (id: string, at: number) => line(id, at, CALL);
const score = (id: string, at: number) => line(id, at, { kind: 'score', name: 'q', value: 1 });

/** One invocation and one score in each of windows 0..3, then one more event at `lastAt`. */
const oracleUpTo = (lastAt: number) =>
  computeExpected(
    [
      ...[0, 1, 2, 3].flatMap((w) => [
        invocation(`i${w}`, w * WINDOW_MS + 1_000),
        score(`s${w}`, w * WINDOW_MS + 2_000),
      ]),
      invocation('last', lastAt),
    ],
    { nowMs: NOW },
  );

const windowStarts = (rows: Map<string, { window_start: number }>) =>
  [...rows.values()].map((row) => row.window_start - T).sort((a, b) => a - b);

describe('closedWindowsOnly', () => {
  it('keeps the rollups of windows the watermark (largest event time - out-of-orderness) has passed', () => {
    const all = oracleUpTo(3 * WINDOW_MS + 10_000);
    expect(windowStarts(all.rollups)).toEqual([0, 1, 2, 3].map((w) => w * WINDOW_MS));
    const { expected, closedThrough } = closedWindowsOnly(all);
    // Watermark 3 min 10 s - 30 s = 2 min 40 s: windows 0 and 1 have ended, window 2 has not.
    expect(closedThrough).toBe(T + 2 * WINDOW_MS);
    expect(windowStarts(expected.rollups)).toEqual([0, WINDOW_MS]);
    expect(windowStarts(expected.scoreRollups)).toEqual([0, WINDOW_MS]);
    // Events and dead letters are the oracle's, whole.
    expect(expected.invocations).toEqual(all.invocations);
    expect(expected.scores).toEqual(all.scores);
    expect(expected.deadLetters).toEqual(all.deadLetters);
  });

  it('closes a window once the watermark reaches its end exactly', () => {
    const { expected, closedThrough } = closedWindowsOnly(
      oracleUpTo(3 * WINDOW_MS + DEFAULT_MAX_OUT_OF_ORDERNESS_MS),
    );
    expect(closedThrough).toBe(T + 3 * WINDOW_MS);
    expect(windowStarts(expected.rollups)).toEqual([0, WINDOW_MS, 2 * WINDOW_MS]);
  });
});

describe('incidentsInClosedWindows', () => {
  const incident = (starts: number[]): Incident => ({
    kind: 'latency',
    service: 'svc',
    provider: 'p',
    model_id: 'm',
    tenant_id: null,
    score_name: null,
    windowStarts: starts.map((start) => T + start),
  });

  it('cuts each incident to its closed windows and drops those left with none', () => {
    const closedThrough = T + 2 * WINDOW_MS;
    expect(
      incidentsInClosedWindows(
        [incident([0, WINDOW_MS, 2 * WINDOW_MS]), incident([2 * WINDOW_MS, 3 * WINDOW_MS])],
        closedThrough,
      ),
    ).toEqual([incident([0, WINDOW_MS])]);
  });
});

describe('diffDeadLettersByReason', () => {
  const expected = computeExpected(['garbage', invocation('a', 200_000), invocation('b', 5_000)], {
    nowMs: NOW,
  }).deadLetters;
  const row = (reason: string, payload: string): LakeRow => ({ received_at: T, reason, error: 'x', payload });

  it('compares the payloads of invalid lines, and only counts late events', () => {
    expect(expected.map((e) => e.reason)).toEqual(['invalid', 'late']);
    // A late event's payload is the source's form of it (normalised JSON, Avro): not the input line.
    expect(
      diffDeadLettersByReason([row('invalid', 'garbage'), row('late', 'another form')], expected),
    ).toEqual([]);
    expect(diffDeadLettersByReason([row('invalid', 'other'), row('late', 'x')], expected)).toHaveLength(2);
    expect(diffDeadLettersByReason([row('invalid', 'garbage')], expected)).toHaveLength(1);
  });

  it('reports a dead letter of an unknown reason', () => {
    const mismatches = diffDeadLettersByReason(
      [row('invalid', 'garbage'), row('late', 'x'), row('lost', 'y')],
      expected,
    );
    expect(mismatches).toEqual(['dead_letters: unknown reason lost']);
  });
});

describe('rowsInFiles', () => {
  it('keeps the rows of every table whose file is accepted', () => {
    const tables = {
      invocations: [
        { __file: 'invocations/dt=2025-01-01/hour=00/a-t.0-1-2.parquet', event_id: 'x' },
        { __file: 'invocations/dt=2025-01-01/hour=00/a-t.1-1-2.parquet', event_id: 'y' },
      ],
      scores: [],
      rollups_1m: [{ __file: 'rollups_1m/dt=2025-01-01/hour=00/a-t.1-3-4.parquet', requests: 1 }],
      score_rollups_1m: [],
      anomalies: [],
      dead_letters: [],
    } as unknown as LakeTables;
    const mine = rowsInFiles(tables, (file) => file.includes('-t.1-'));
    expect(mine.invocations.map((r) => r.event_id)).toEqual(['y']);
    expect(mine.rollups_1m).toEqual(tables.rollups_1m);
    expect(Object.keys(mine).sort()).toEqual(Object.keys(tables).sort());
  });
});

describe('metricByPartition', () => {
  it('reads one per-partition series of a /metrics page, ignoring other series and labels', async () => {
    const page = [
      '# HELP genai_pipeline_events_in_total Records read from the source, by partition',
      '# TYPE genai_pipeline_events_in_total counter',
      'genai_pipeline_events_in_total{partition="shardId-000000000000"} 120',
      'genai_pipeline_events_in_total{partition="t.2"} 7',
      'genai_pipeline_events_in_total_created{partition="t.2"} 1700000000',
      'genai_pipeline_consumer_lag_records{partition="t.2"} 3',
      'genai_pipeline_dead_letters_total{reason="late"} 4',
    ].join('\n');
    const server = createServer((request, response) => {
      response.statusCode = request.url === '/metrics' ? 200 : 404;
      response.end(request.url === '/metrics' ? page : '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect(await metricByPartition(url, 'genai_pipeline_events_in_total')).toEqual(
        new Map([
          ['shardId-000000000000', 120],
          ['t.2', 7],
        ]),
      );
      expect(await metricByPartition(url, 'genai_pipeline_consumer_lag_records')).toEqual(
        new Map([['t.2', 3]]),
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
