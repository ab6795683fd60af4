/**
 * The InfluxDB sink end to end: the v1 `/write` path against a real influxd 1.6 (read back with
 * InfluxQL), the v2 `/api/v2/write` path (Timestream for InfluxDB) against the protocol-level endpoint
 * of test/support/influx.
 */
import type { LakeRow } from '@genai-pipeline/schemas';
import {
  InfluxSink,
  type InfluxSinkConfigInput,
  type SinkLogger,
  type WindowResults,
} from '@genai-pipeline/sinks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type InfluxV1, influxQuery, influxV1Source, startInfluxV1 } from '../support/influx/influxd.js';
import { InfluxV2TestEndpoint, type StoredPoint } from '../support/influx/v2-endpoint.js';
import { syntheticWindows, windowRows } from '../support/influx/windows.js';
import { SERIES_KEYS } from '../support/series-keys.js';

const NOW = Date.UTC(2025, 5, 2, 12, 0, 0);
const fastRetries = { initialDelayMs: 5, maxDelayMs: 40, maxAttempts: 4, breakerThreshold: 1_000 };
const quietLogger: SinkLogger = { warn: () => {} };

/** A row as InfluxDB holds it: tags (absent ones missing) and fields (null ones missing), time = window_start. */
function expectedPoint(table: string, row: LakeRow) {
  const tagColumns = SERIES_KEYS[table] ?? [];
  const tags: Record<string, string> = {};
  for (const [column, tag] of tagColumns) if (row[column] !== null) tags[tag] = String(row[column]);
  const fields: Record<string, string | number> = {};
  for (const [column, value] of Object.entries(row)) {
    if (value === null || column === 'window_start' || column === 'window_end') continue;
    if (!tagColumns.some(([c]) => c === column)) fields[column] = value;
  }
  return { measurement: table, time: Number(row.window_start), tags, fields };
}

type ExpectedPoint = ReturnType<typeof expectedPoint>;

function expectedPoints(windows: readonly WindowResults[]): ExpectedPoint[] {
  return Object.entries(windowRows(windows))
    .flatMap(([table, rows]) => rows.map((row) => expectedPoint(table, row)))
    .sort(byKey);
}

const sortKey = (p: { measurement: string; time: number; tags: Record<string, string> }) =>
  JSON.stringify([p.measurement, p.time, Object.entries(p.tags).sort(([x], [y]) => (x < y ? -1 : 1))]);
const byKey = (a: { measurement: string; time: number; tags: Record<string, string> }, b: typeof a) =>
  sortKey(a).localeCompare(sortKey(b));

// ---------------------------------------------------------------- v1: a real influxd

const source = influxV1Source();
const ci = process.env.CI === 'true';
if (source.kind === 'none' && !ci) console.warn(`skipping the influxd tests: ${source.reason}`);

/** Every point of the measurements, via InfluxQL, in the shape of expectedPoint. */
async function queryPoints(url: string, db: string): Promise<ExpectedPoint[]> {
  const points: ExpectedPoint[] = [];
  for (const measurement of Object.keys(SERIES_KEYS)) {
    const tagNames = new Set((SERIES_KEYS[measurement] ?? []).map(([, tag]) => tag));
    for (const series of await influxQuery(url, `SELECT * FROM "${measurement}"`, db)) {
      for (const values of series.values) {
        const point: ExpectedPoint = { measurement, time: 0, tags: {}, fields: {} };
        series.columns.forEach((column, i) => {
          const value = values[i];
          if (column === 'time') point.time = Number(value);
          else if (value === null || value === '') return;
          else if (tagNames.has(column)) point.tags[column] = String(value);
          else point.fields[column] = value as string | number;
        });
        points.push(point);
      }
    }
  }
  return points.sort(byKey);
}

describe.skipIf(source.kind === 'none' && !ci)('InfluxSink v1 /write against a real influxd', () => {
  let influx: InfluxV1;
  let db: string;
  let dbCounter = 0;
  // In CI without influxd every test fails with the reason (counted as failures, never skipped).
  let startError: unknown;

  beforeAll(async () => {
    try {
      influx = await startInfluxV1(source);
    } catch (error) {
      startError = error;
    }
  }, 60_000);

  afterAll(async () => {
    await influx?.stop();
  });

  beforeEach(async () => {
    if (startError) throw startError;
    db = `genai_${process.pid}_${++dbCounter}`;
    await influxQuery(influx.url, `CREATE DATABASE "${db}"`);
  });

  afterEach(async () => {
    if (!startError) await influxQuery(influx.url, `DROP DATABASE "${db}"`);
  });

  const sink = (config: Partial<InfluxSinkConfigInput> = {}) =>
    new InfluxSink({ url: influx.url, db, resilience: fastRetries, ...config }, { logger: quietLogger });

  it('stores every row with exact values, escaped names and typed fields, read back with InfluxQL', async () => {
    const windows = syntheticWindows({ start: NOW - 20 * 60_000, count: 20 });
    const s = sink({ maxLinesPerRequest: 50 });
    await s.write(windows.slice(0, 7));
    await s.write(windows.slice(7));
    await s.close();
    const expected = expectedPoints(windows);
    expect(await queryPoints(influx.url, db)).toEqual(expected);
    expect(s.health()).toMatchObject({
      linesSent: expected.length,
      deadLettered: 0,
      failed: 0,
      pendingLines: 0,
    });

    // Integer columns are InfluxDB integers, double columns floats (a later write of the other type would conflict).
    const keys = await influxQuery(influx.url, 'SHOW FIELD KEYS FROM "rollups_1m"', db);
    const types = Object.fromEntries((keys[0]?.values ?? []).map(([name, type]) => [name, type]));
    expect(types).toMatchObject({
      requests: 'integer',
      input_tokens: 'integer',
      cost_usd: 'float',
      error_rate: 'float',
    });
  });

  it('is idempotent: a restart re-sending a window overwrites the same points, new values replace old', async () => {
    const windows = syntheticWindows({ start: NOW - 5 * 60_000, count: 3 });
    for (let run = 0; run < 2; run++) {
      const s = sink();
      await s.write(windows);
      await s.close();
    }
    const count = await influxQuery(influx.url, 'SELECT COUNT("requests") FROM "rollups_1m"', db);
    expect(count[0]?.values[0]?.[1]).toBe(3 * 4);
    expect(await queryPoints(influx.url, db)).toEqual(expectedPoints(windows));

    const recomputed = syntheticWindows({ start: NOW - 5 * 60_000, count: 3, seed: 42 });
    const s = sink();
    await s.write(recomputed);
    await s.close();
    expect(await queryPoints(influx.url, db)).toEqual(expectedPoints(recomputed));
  });

  it('keeps a literal backslash in a tag and dead-letters a name line protocol cannot carry', async () => {
    const [window] = syntheticWindows({ start: NOW - 60_000, count: 1 });
    if (!window) throw new Error('no window');
    const [first, second] = window.rollups;
    const rollups = [
      { ...first, tenant_id: 'corp\\alice' },
      { ...second, tenant_id: 'ends-with\\' },
    ];
    const s = sink();
    await s.write([{ ...window, rollups, scoreRollups: [], anomalies: [] }]);
    await s.close();
    const stored = await influxQuery(influx.url, 'SELECT "requests", "tenant_id" FROM "rollups_1m"', db);
    expect(stored[0]?.values.map((v) => v[2])).toEqual(['corp\\alice']);
    expect(s.health().deadLettered).toBe(1);
    expect(s.deadLetters()[0]?.reason).toContain('ends with a backslash');
  });

  it('dead-letters a batch the server refuses for good (unknown database) with its reason, without retrying', async () => {
    const s = sink({ db: 'no_such_db' });
    await s.write(syntheticWindows({ start: NOW - 60_000, count: 1 }));
    await s.close();
    expect(s.health()).toMatchObject({ deadLettered: 8, retried: 0, failed: 1, pendingLines: 0 });
    expect(s.deadLetters()[0]?.reason).toMatch(/HTTP 404: database not found/);
  });
});

// ---------------------------------------------------------------- v2: protocol-level endpoint

describe('InfluxSink v2 /api/v2/write against the InfluxDB 2.x protocol endpoint', () => {
  const token = 'test-token==';
  const org = 'acme org';
  const bucket = 'genai/metrics';
  let endpoint: InfluxV2TestEndpoint;

  beforeEach(async () => {
    endpoint = await InfluxV2TestEndpoint.start({ token, org, buckets: [bucket] });
  });

  afterEach(async () => {
    expect(endpoint.violations).toEqual([]);
    await endpoint.close();
  });

  const sink = (config: Partial<InfluxSinkConfigInput> = {}, sleep?: (ms: number) => Promise<void>) =>
    new InfluxSink(
      { url: endpoint.url, token, org, bucket, resilience: fastRetries, ...config },
      { logger: quietLogger, ...(sleep && { sleep }) },
    );

  /** Stored points in the shape of expectedPoint (integers back to numbers). */
  const stored = () =>
    endpoint
      .stored(bucket)
      .map((p: StoredPoint) => ({
        measurement: p.measurement,
        time: p.time,
        tags: p.tags,
        fields: Object.fromEntries(
          Object.entries(p.fields).map(([k, f]) => [
            k,
            typeof f.value === 'bigint' ? Number(f.value) : f.value,
          ]),
        ),
      }))
      .sort(byKey);

  it('writes every window with token auth, org, bucket and precision=ms, in batches', async () => {
    const windows = syntheticWindows({ start: NOW - 10 * 60_000, count: 10 });
    const s = sink({ maxLinesPerRequest: 25 });
    await s.write(windows);
    await s.close();
    const expected = expectedPoints(windows);
    expect(stored()).toEqual(expected);
    expect(expected).toHaveLength(10 * 4 + 10 * 2 + 5 * 2);
    expect(endpoint.requests.map((r) => r.lines)).toEqual([25, 25, 20]);
    expect(endpoint.requests[0]).toMatchObject({
      authorization: `Token ${token}`,
      query: { org, bucket, precision: 'ms' },
      status: 204,
    });
    const integerFields = endpoint.stored(bucket).filter((p) => p.measurement === 'rollups_1m')[0]?.fields;
    expect(integerFields?.requests?.type).toBe('integer');
    expect(integerFields?.cost_usd?.type).toBe('float');
  });

  it('retries 429 (honouring Retry-After), 503 and a dropped connection; delivers everything once', async () => {
    const waits: number[] = [];
    const sleep = (ms: number) => {
      waits.push(ms);
      return new Promise<void>((resolve) => setTimeout(resolve, ms));
    };
    endpoint.inject(
      { kind: 'status', status: 429, retryAfter: '1' },
      { kind: 'status', status: 503 },
      { kind: 'drop-connection' },
    );
    const windows = syntheticWindows({ start: NOW - 3 * 60_000, count: 3 });
    const s = sink({}, sleep);
    await s.write(windows);
    await s.close();
    expect(stored()).toEqual(expectedPoints(windows));
    expect(endpoint.requests.map((r) => r.fault ?? r.status)).toEqual([
      'status',
      'status',
      'drop-connection',
      204,
    ]);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(0);
    expect(waits[0]).toBeLessThanOrEqual(1_000);
    expect(s.health()).toMatchObject({ retried: 3, failed: 0, deadLettered: 0 });
  });

  it('keeps lines queued through an outage longer than its retries, then delivers them', async () => {
    endpoint.inject(...Array.from({ length: 4 }, () => ({ kind: 'status' as const, status: 500 })));
    const windows = syntheticWindows({ start: NOW - 2 * 60_000, count: 2 });
    const s = sink();
    await s.write(windows);
    await expect(s.flush()).rejects.toMatchObject({ retriable: true, status: 500 });
    expect(s.health()).toMatchObject({ pendingLines: 14, failed: 1 });
    await s.close();
    expect(stored()).toEqual(expectedPoints(windows));
  });

  it('does not retry a refused token: the lines are dead-lettered with the 401 reason', async () => {
    const s = new InfluxSink(
      { url: endpoint.url, token: 'wrong', org, bucket, resilience: fastRetries },
      { logger: quietLogger },
    );
    await s.write(syntheticWindows({ start: NOW - 60_000, count: 1 }));
    await s.close();
    expect(endpoint.requests).toHaveLength(1);
    expect(s.health()).toMatchObject({ deadLettered: 8, retried: 0 });
    expect(s.deadLetters()[0]?.reason).toContain('HTTP 401: unauthorized access');
    endpoint.violations.length = 0; // the wrong token was the point of this test
  });

  it('is idempotent: the same window sent twice leaves one point per series and time', async () => {
    const windows = syntheticWindows({ start: NOW - 60_000, count: 2 });
    for (let run = 0; run < 2; run++) {
      const s = sink();
      await s.write(windows);
      await s.close();
    }
    expect(endpoint.requests).toHaveLength(2);
    expect(stored()).toEqual(expectedPoints(windows));
  });
});
