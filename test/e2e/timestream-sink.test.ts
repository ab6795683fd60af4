/**
 * The Timestream for LiveAnalytics sink through the real AWS SDK (endpoint discovery included) against
 * the local endpoint of test/support/aws, which enforces the WriteRecords limits and injects faults.
 */
import type { LakeRow } from '@genai-pipeline/schemas';
import {
  type SinkLogger,
  TimestreamSink,
  type TimestreamSinkConfigInput,
  type WindowResults,
} from '@genai-pipeline/sinks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  INGEST_ADDRESS,
  type StoredRecord,
  TimestreamTestEndpoint,
} from '../support/aws/timestream-endpoint.js';
import { syntheticWindows, windowRows } from '../support/influx/windows.js';
import { SERIES_KEYS } from '../support/series-keys.js';

const HOUR_MS = 3_600_000;
const NOW = Date.UTC(2025, 5, 2, 12, 0, 0);
const DB = 'genai_pipeline';
const TABLE = 'metrics_1m';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const fastRetries = { initialDelayMs: 5, maxDelayMs: 40, maxAttempts: 5, breakerThreshold: 1_000 };

/** What the endpoint must hold for a row: dimensions, time and every non-null measure, typed. */
function expectedRecord(table: string, row: LakeRow) {
  const pairs = SERIES_KEYS[table] ?? [];
  const dimensions: Record<string, string> = {};
  for (const [column, name] of pairs) if (row[column] !== null) dimensions[name] = String(row[column]);
  const measures: Record<string, { type: string; value: string }> = {};
  for (const [column, value] of Object.entries(row)) {
    if (value === null || column === 'window_start' || column === 'window_end') continue;
    if (pairs.some(([c]) => c === column)) continue;
    const type = typeof value === 'string' ? 'VARCHAR' : INT_COLUMNS.has(column) ? 'BIGINT' : 'DOUBLE';
    measures[column] = { type, value: String(value) };
  }
  return { measureName: table, time: row.window_start, dimensions, measures };
}

const INT_COLUMNS = new Set([
  'requests',
  'errors',
  'throttled',
  'timeouts',
  'filtered',
  'input_tokens',
  'output_tokens',
  'cache_read_input_tokens',
  'cache_write_input_tokens',
  'unpriced_requests',
  'count',
]);

function expectedRecords(windows: readonly WindowResults[]) {
  return Object.entries(windowRows(windows)).flatMap(([table, rows]) =>
    rows.map((row) => expectedRecord(table, row)),
  );
}

const comparable = (r: StoredRecord) => ({
  measureName: r.measureName,
  time: r.time,
  dimensions: r.dimensions,
  measures: r.measures,
});
const order = (a: { time: unknown; measureName: string; dimensions: object }, b: typeof a) =>
  JSON.stringify([a.time, a.measureName, a.dimensions]).localeCompare(
    JSON.stringify([b.time, b.measureName, b.dimensions]),
  );

describe('TimestreamSink against the Timestream test endpoint', () => {
  let endpoint: TimestreamTestEndpoint;
  let clock: number;
  const warnings: string[] = [];
  const logger: SinkLogger = { warn: (details) => warnings.push(String(details.reason)) };

  beforeEach(async () => {
    clock = NOW;
    warnings.length = 0;
    endpoint = await TimestreamTestEndpoint.start({ now: () => clock });
    endpoint.createTable(DB, TABLE);
  });

  afterEach(async () => {
    expect(endpoint.violations).toEqual([]);
    await endpoint.close();
  });

  const sink = (config: Partial<TimestreamSinkConfigInput> = {}, options: { clockOffsetMs?: number } = {}) =>
    new TimestreamSink(
      {
        database: DB,
        table: TABLE,
        region: 'us-east-1',
        endpoint: endpoint.url,
        resilience: fastRetries,
        ...config,
      },
      { credentials, clock: () => clock + (options.clockOffsetMs ?? 0), logger },
    );

  const stored = () => endpoint.records(DB, TABLE).map(comparable).sort(order);

  it('delivers every window through endpoint discovery, in requests of at most 100 records', async () => {
    const windows = syntheticWindows({ start: NOW - 30 * 60_000, count: 30 });
    const s = sink();
    await s.write(windows.slice(0, 10));
    await s.write(windows.slice(10));
    await s.flush();
    await s.close();

    const expected = expectedRecords(windows);
    expect(expected.length).toBe(30 * 4 + 30 * 2 + 15 * 2);
    expect(stored()).toEqual([...expected].sort(order));
    const writes = endpoint.writeRequests();
    expect(writes.every((r) => r.address === INGEST_ADDRESS && r.records <= 100)).toBe(true);
    expect(writes.length).toBe(Math.ceil(expected.length / 100));
    expect(endpoint.requests.filter((r) => r.operation === 'DescribeEndpoints')).toHaveLength(1);
    expect(s.health()).toMatchObject({
      recordsSent: expected.length,
      deadLettered: 0,
      outOfHorizon: 0,
      pendingRecords: 0,
    });
  });

  it('uses AWS_ENDPOINT_URL_TIMESTREAM_WRITE and the default credential chain, discovery still on', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_TIMESTREAM_WRITE: endpoint.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    try {
      const s = new TimestreamSink({ database: DB, table: TABLE }, { clock: () => clock, logger });
      await s.write(syntheticWindows({ start: NOW - 5 * 60_000, count: 2 }));
      await s.close();
    } finally {
      process.env = saved;
    }
    expect(endpoint.requests.map((r) => [r.operation, r.address])).toEqual([
      ['DescribeEndpoints', '127.0.0.1'],
      ['WriteRecords', INGEST_ADDRESS],
    ]);
    expect(stored()).toHaveLength(2 * 4 + 2 * 2 + 2);
  });

  it('retries throttling and 5xx, and keeps data queued across an outage longer than its retries', async () => {
    const windows = syntheticWindows({ start: NOW - 10 * 60_000, count: 3 });
    const s = sink();
    endpoint.inject(
      { kind: 'throttle' },
      { kind: 'server-error', status: 500 },
      { kind: 'slow', delayMs: 30 },
    );
    await s.write(windows.slice(0, 1));
    await s.flush();
    expect(s.health()).toMatchObject({ retried: 2, failed: 0 });

    // An outage outlasting the 5 attempts: flush rejects (retriable) and nothing is dropped.
    endpoint.inject(
      ...Array.from({ length: 5 }, () => ({ kind: 'server-error' as const, status: 503 as const })),
    );
    await s.write(windows.slice(1));
    await expect(s.flush()).rejects.toMatchObject({ retriable: true });
    // Two windows: 8 rollups, 4 score rollups, 2 anomalies.
    expect(s.health()).toMatchObject({ failed: 1, pendingRecords: 14 });
    await s.flush();
    await s.close();
    expect(stored()).toEqual(expectedRecords(windows).sort(order));
    expect(s.health()).toMatchObject({ deadLettered: 0, pendingRecords: 0 });
  });

  it('re-sends only the records rejected for a retriable reason', async () => {
    const windows = syntheticWindows({ start: NOW - 5 * 60_000, count: 1 });
    endpoint.inject({ kind: 'reject', recordIndexes: [1, 3], reason: 'Internal error, please retry' });
    const s = sink();
    await s.write(windows);
    await s.close();
    const writes = endpoint.writeRequests();
    expect(writes.map((r) => r.records)).toEqual([8, 2]);
    expect(writes[0]?.rejected.map((r) => r.recordIndex)).toEqual([1, 3]);
    expect(stored()).toEqual(expectedRecords(windows).sort(order));
    expect(s.health()).toMatchObject({ recordsSent: 8, retried: 1, deadLettered: 0 });
  });

  it('dead-letters records rejected for good, with the reason, and sends them only once', async () => {
    const windows = syntheticWindows({ start: NOW - 5 * 60_000, count: 1 });
    const reason = 'Measure value of measure cost_usd exceeds the limit';
    endpoint.inject({ kind: 'reject', recordIndexes: [2], reason });
    const s = sink();
    await s.write(windows);
    await s.close();
    expect(endpoint.writeRequests()).toHaveLength(1);
    expect(stored()).toHaveLength(7);
    expect(s.health()).toMatchObject({ deadLettered: 1, recordsSent: 7 });
    const [letter] = s.deadLetters();
    expect(letter?.reason).toBe(reason);
    expect(JSON.parse(letter?.payload ?? '{}')).toMatchObject({
      MeasureName: 'rollups_1m',
      Time: String(windows[0]?.windowStart),
    });
    expect(warnings).toEqual([reason]);
  });

  it('dead-letters a whole request refused for good (unknown table) with the service reason', async () => {
    const s = sink({ table: 'no_such_table' });
    await s.write(syntheticWindows({ start: NOW - 5 * 60_000, count: 1 }));
    await s.close();
    expect(s.health()).toMatchObject({ deadLettered: 8, failed: 1, retried: 0, pendingRecords: 0 });
    expect(s.deadLetters()[0]?.reason).toContain('ResourceNotFoundException');
  });

  it('upserts a re-written window (a restart with new values) instead of conflicting', async () => {
    const windows = syntheticWindows({ start: NOW - 5 * 60_000, count: 2 });
    const first = sink();
    await first.write(windows);
    await first.close();

    // Restarted later with recomputed rows for the same windows and keys.
    clock += 1_000;
    const changed = syntheticWindows({ start: NOW - 5 * 60_000, count: 2, seed: 99 });
    const second = sink();
    await second.write(changed);
    await second.close();
    expect(endpoint.writeRequests().every((r) => r.rejected.length === 0)).toBe(true);
    expect(stored()).toEqual(expectedRecords(changed).sort(order));
    expect(new Set(endpoint.records(DB, TABLE).map((r) => r.version))).toEqual(new Set([NOW + 1_000]));

    // The identical window again is accepted too.
    const third = sink();
    await third.write(changed);
    await third.close();
    expect(second.health().deadLettered + third.health().deadLettered).toBe(0);
  });

  it('wins a version conflict with a writer whose clock ran ahead by writing above ExistingVersion', async () => {
    const windows = syntheticWindows({ start: NOW - 5 * 60_000, count: 1 });
    const ahead = sink({}, { clockOffsetMs: 60_000 });
    await ahead.write(windows);
    await ahead.close();
    const changed = syntheticWindows({ start: NOW - 5 * 60_000, count: 1, seed: 5 });
    const behind = sink();
    await behind.write(changed);
    await behind.close();
    const [, conflicted, retry] = endpoint.writeRequests();
    // The 4 rollups and 2 score rollups changed; the 2 anomalies are identical, so they are accepted.
    expect(conflicted?.rejected).toHaveLength(6);
    expect(conflicted?.rejected.every((r) => r.existingVersion === NOW + 60_000)).toBe(true);
    expect(retry?.records).toBe(6);
    expect(stored()).toEqual(expectedRecords(changed).sort(order));
    expect(behind.health()).toMatchObject({ deadLettered: 0, retried: 1 });
  });

  it('skips and counts windows older than the memory store retention', async () => {
    const old = syntheticWindows({ start: NOW - 30 * HOUR_MS, count: 2 });
    const recent = syntheticWindows({ start: NOW - 10 * 60_000, count: 1 });
    const s = sink({ memoryStoreRetentionHours: 24 });
    await s.write([...old, ...recent]);
    await s.close();
    expect(s.health()).toMatchObject({ outOfHorizon: 2 * 4 + 2 * 2 + 2, recordsSent: 8, deadLettered: 0 });
    expect(stored()).toEqual(expectedRecords(recent).sort(order));
    expect(endpoint.writeRequests().every((r) => r.rejected.length === 0)).toBe(true);
  });
});
