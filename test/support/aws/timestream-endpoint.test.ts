import { SinkRequestError, sdkTimestreamWriter, type TimestreamWriter } from '@genai-pipeline/sinks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INGEST_ADDRESS, TimestreamTestEndpoint } from './timestream-endpoint.js';

// The SDK's request types, through the sink's writer (the test package does not depend on the SDK).
type WriteRecordsRequest = Parameters<TimestreamWriter['writeRecords']>[0];
type _Record = NonNullable<WriteRecordsRequest['Records']>[number];

const NOW = Date.UTC(2025, 5, 2, 12, 0, 0);
const DB = 'genai';
const TABLE = 'rollups';

function record(overrides: Partial<_Record> = {}, measures = 2): _Record {
  return {
    Dimensions: [{ Name: 'service', Value: 'support-bot', DimensionValueType: 'VARCHAR' }],
    MeasureName: 'rollups_1m',
    MeasureValueType: 'MULTI',
    MeasureValues: Array.from({ length: measures }, (_, i) => ({
      Name: `m${i}`,
      Value: String(i),
      Type: 'BIGINT',
    })),
    Time: String(NOW - 60_000),
    TimeUnit: 'MILLISECONDS',
    Version: 1,
    ...overrides,
  };
}

const request = (records: _Record[]): WriteRecordsRequest => ({
  DatabaseName: DB,
  TableName: TABLE,
  Records: records,
});

describe('TimestreamTestEndpoint through the real SDK', () => {
  let endpoint: TimestreamTestEndpoint;
  let writer: TimestreamWriter;

  beforeEach(async () => {
    endpoint = await TimestreamTestEndpoint.start({ now: () => NOW });
    endpoint.createTable(DB, TABLE);
    writer = sdkTimestreamWriter({
      region: 'us-east-1',
      endpoint: endpoint.url,
      requestTimeoutMs: 5_000,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  });

  afterEach(async () => {
    writer.close();
    await endpoint.close();
  });

  it('answers DescribeEndpoints with its ingest address, where the SDK then sends the writes', async () => {
    await writer.writeRecords(request([record()]));
    await writer.writeRecords(request([record({ Time: String(NOW) })]));
    expect(endpoint.requests.map((r) => [r.operation, r.address])).toEqual([
      ['DescribeEndpoints', '127.0.0.1'],
      ['WriteRecords', INGEST_ADDRESS],
      ['WriteRecords', INGEST_ADDRESS],
    ]);
    expect(endpoint.records(DB, TABLE)).toHaveLength(2);
    expect(endpoint.violations).toEqual([]);
  });

  it('refuses and records a write that skipped endpoint discovery', async () => {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.0',
        'X-Amz-Target': 'Timestream_20181101.WriteRecords',
        Authorization: 'AWS4-HMAC-SHA256 Credential=test',
      },
      body: JSON.stringify(request([record()])),
    });
    expect(response.status).toBe(421);
    // fetch (undici) re-sends once on 421 Misdirected Request, so there may be two.
    expect(endpoint.violations.length).toBeGreaterThan(0);
    for (const violation of endpoint.violations) expect(violation).toContain('without endpoint discovery');
  });

  it('rejects and records more than 100 records in one request', async () => {
    const records = Array.from({ length: 101 }, (_, i) => record({ Time: String(NOW - i) }));
    const error = await writer.writeRecords(request(records)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkRequestError);
    expect((error as SinkRequestError).retriable).toBe(false);
    expect((error as Error).message).toContain('ValidationException');
    expect(endpoint.violations).toEqual([expect.stringContaining('101 records')]);
    expect(endpoint.records(DB, TABLE)).toEqual([]);
  });

  it('rejects records over 256 measures or 2 KB, ingests the rest, and records the violations', async () => {
    const tooManyMeasures = record({ Time: String(NOW - 1) }, 257);
    const tooLarge = record({
      Time: String(NOW - 2),
      Dimensions: [{ Name: 'service', Value: 'x'.repeat(2_000), DimensionValueType: 'VARCHAR' }],
    });
    const { rejected } = await writer.writeRecords(request([record(), tooManyMeasures, tooLarge]));
    expect(rejected.map((r) => r.RecordIndex)).toEqual([1, 2]);
    expect(rejected[0]?.Reason).toContain('257 measures');
    expect(rejected[1]?.Reason).toContain('bytes exceeds 2048');
    expect(endpoint.violations).toHaveLength(2);
    expect(endpoint.records(DB, TABLE)).toHaveLength(1);
  });

  it('applies the version rule: a different value needs a higher Version; identical values are accepted', async () => {
    await writer.writeRecords(request([record({ Version: 5 })]));
    const changed = record({ Version: 5, MeasureValues: [{ Name: 'm0', Value: '9', Type: 'BIGINT' }] });
    const conflict = await writer.writeRecords(request([changed]));
    expect(conflict.rejected).toEqual([
      { RecordIndex: 0, Reason: expect.stringContaining('higher version'), ExistingVersion: 5 },
    ]);
    expect((await writer.writeRecords(request([record({ Version: 3 })]))).rejected).toEqual([]);
    expect((await writer.writeRecords(request([{ ...changed, Version: 6 }]))).rejected).toEqual([]);
    const [stored] = endpoint.records(DB, TABLE);
    expect(stored?.version).toBe(6);
    expect(stored?.measures).toEqual({ m0: { type: 'BIGINT', value: '9' } });
    expect(endpoint.violations).toEqual([]);
  });

  it('rejects records older than the memory store retention without calling it a violation', async () => {
    const { rejected } = await writer.writeRecords(request([record({ Time: String(NOW - 25 * 3_600_000) })]));
    expect(rejected[0]?.Reason).toContain('outside the time range');
    expect(endpoint.violations).toEqual([]);
  });

  it('injects throttling, 5xx, slow answers and partial rejects, one per request, in order', async () => {
    endpoint.inject(
      { kind: 'throttle' },
      { kind: 'server-error', status: 503 },
      { kind: 'slow', delayMs: 50 },
      { kind: 'reject', recordIndexes: [1], reason: 'Internal error, please retry' },
    );
    const attempt = () => writer.writeRecords(request([record(), record({ Time: String(NOW - 5) })]));
    const throttled = await attempt().catch((e: unknown) => e);
    expect(throttled).toMatchObject({
      retriable: true,
      message: expect.stringContaining('ThrottlingException'),
    });
    const unavailable = await attempt().catch((e: unknown) => e);
    expect(unavailable).toMatchObject({ retriable: true });
    expect((await attempt()).rejected).toEqual([]);
    expect((await attempt()).rejected).toEqual([{ RecordIndex: 1, Reason: 'Internal error, please retry' }]);
    expect(endpoint.writeRequests().map((r) => [r.fault, r.status])).toEqual([
      ['throttle', 429],
      ['server-error', 503],
      ['slow', 200],
      ['reject', 419],
    ]);
  });

  it('answers ResourceNotFoundException (not retriable) for an unknown table', async () => {
    const error = await writer
      .writeRecords({ DatabaseName: DB, TableName: 'missing', Records: [record()] })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      retriable: false,
      message: expect.stringContaining('ResourceNotFoundException'),
    });
  });
});
