import { randomBytes } from 'node:crypto';
import { CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudWatchEndpoint } from './cloudwatch-endpoint.js';

const NOW = Date.UTC(2025, 0, 15, 9, 0, 0);

let endpoint: CloudWatchEndpoint;
let client: CloudWatchClient;

beforeEach(async () => {
  endpoint = await CloudWatchEndpoint.start({ clock: () => NOW });
  client = new CloudWatchClient({
    region: 'us-east-1',
    endpoint: endpoint.url,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
});

afterEach(async () => {
  client.destroy();
  await endpoint.close();
});

const put = (datums: MetricDatum[]) =>
  client.send(new PutMetricDataCommand({ Namespace: 'Test/Ns', MetricData: datums }));

const datum = (overrides: Partial<MetricDatum> = {}): MetricDatum => ({
  MetricName: 'Requests',
  Dimensions: [{ Name: 'Service', Value: 'svc' }],
  Timestamp: new Date(NOW - 60_000),
  Unit: 'Count',
  Value: 1,
  ...overrides,
});

async function rejection(datums: MetricDatum[]): Promise<{ name: string; message: string; status?: number }> {
  try {
    await put(datums);
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('the request was accepted');
}

describe('CloudWatchEndpoint through the real SDK client (AWS JSON 1.0)', () => {
  it('records the three datum kinds with their dimensions and millisecond timestamps', async () => {
    await put([
      datum(),
      datum({
        MetricName: 'Score_x',
        Value: undefined,
        StatisticValues: { SampleCount: 2, Sum: 3, Minimum: 1, Maximum: 2 },
      }),
      datum({
        MetricName: 'Latency',
        Unit: 'Milliseconds',
        Value: undefined,
        Values: [1.5, 20],
        Counts: [3, 4],
      }),
    ]);
    expect(endpoint.violations).toEqual([]);
    expect(endpoint.requests).toMatchObject([
      { target: 'GraniteServiceVersion20100801.PutMetricData', gzip: false, datums: 3, outcome: 'accepted' },
    ]);
    expect(endpoint.datums).toEqual([
      {
        namespace: 'Test/Ns',
        metricName: 'Requests',
        dimensions: { Service: 'svc' },
        timestamp: NOW - 60_000,
        unit: 'Count',
        value: 1,
      },
      {
        namespace: 'Test/Ns',
        metricName: 'Score_x',
        dimensions: { Service: 'svc' },
        timestamp: NOW - 60_000,
        unit: 'Count',
        statisticValues: { SampleCount: 2, Sum: 3, Minimum: 1, Maximum: 2 },
      },
      {
        namespace: 'Test/Ns',
        metricName: 'Latency',
        dimensions: { Service: 'svc' },
        timestamp: NOW - 60_000,
        unit: 'Milliseconds',
        values: [1.5, 20],
        counts: [3, 4],
      },
    ]);
  });

  it('decodes the gzip bodies the SDK sends for large requests', async () => {
    const datums = Array.from({ length: 1000 }, (_, i) => datum({ Value: i }));
    await put(datums);
    expect(endpoint.violations).toEqual([]);
    expect(endpoint.requests[0]).toMatchObject({ gzip: true, datums: 1000 });
    expect(endpoint.datums.reduce((sum, d) => sum + (d.value ?? 0), 0)).toBe((999 * 1000) / 2);
  });

  it.each<[string, MetricDatum[], RegExp]>([
    ['more than 1000 datums', Array.from({ length: 1001 }, () => datum()), /size greater than 1000/],
    ['Value mixed with Values', [datum({ Values: [1], Counts: [1] })], /exactly one of/],
    [
      'Value mixed with StatisticValues',
      [datum({ StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 } })],
      /exactly one of/,
    ],
    ['no value at all', [datum({ Value: undefined })], /exactly one of/],
    [
      '151 values',
      [datum({ Value: undefined, Values: Array.from({ length: 151 }, (_, i) => i) })],
      /more than 150/,
    ],
    ['NaN', [datum({ Value: Number.NaN })], /not a finite number/],
    [
      'Infinity in Values',
      [datum({ Value: undefined, Values: [1, Number.POSITIVE_INFINITY] })],
      /finite numbers/,
    ],
    [
      'Counts of another length',
      [datum({ Value: undefined, Values: [1, 2], Counts: [1] })],
      /as many members/,
    ],
    [
      'a dimension value over 1024 chars',
      [datum({ Dimensions: [{ Name: 'Service', Value: 'x'.repeat(1025) }] })],
      /1-1024/,
    ],
    [
      '31 dimensions',
      [datum({ Dimensions: Array.from({ length: 31 }, (_, i) => ({ Name: `D${i}`, Value: 'v' })) })],
      /more than 30/,
    ],
    [
      'a timestamp older than 14 days',
      [datum({ Timestamp: new Date(NOW - 15 * 86_400_000) })],
      /older than two weeks/,
    ],
  ])('rejects %s with InvalidParameterValue and records the violation', async (_case, datums, message) => {
    const error = await rejection(datums);
    expect(error).toMatchObject({ name: 'InvalidParameterValueException', status: 400 });
    expect(error.message).toMatch(message);
    expect(endpoint.violations).toHaveLength(1);
    expect(endpoint.violations[0]).toMatch(message);
    expect(endpoint.datums).toEqual([]);
  });

  it('rejects a payload over 1 MB', async () => {
    // Random dimension values do not compress: the gzip body stays over the limit.
    const noise = () => randomBytes(700).toString('base64');
    const datums = Array.from({ length: 1000 }, () =>
      datum({
        Dimensions: [
          { Name: 'A', Value: noise() },
          { Name: 'B', Value: noise() },
        ],
      }),
    );
    const error = await rejection(datums);
    expect(error.name).toBe('InvalidParameterValueException');
    expect(endpoint.violations[0]).toMatch(/exceeds 1000000/);
  });

  it('injects throttling, 5xx, resets and outages as the SDK sees them from CloudWatch', async () => {
    endpoint.inject({ kind: 'throttle' });
    endpoint.inject({ kind: 'server-error', status: 500 });
    endpoint.inject({ kind: 'server-error', status: 503 });
    endpoint.inject({ kind: 'reset' });
    expect(await rejection([datum()])).toMatchObject({ name: 'Throttling', status: 400 });
    expect(await rejection([datum()])).toMatchObject({ name: 'InternalServiceFault', status: 500 });
    expect(await rejection([datum()])).toMatchObject({ name: 'ServiceUnavailable', status: 503 });
    const reset = await put([datum()]).then(
      () => null,
      (error: { code?: string }) => error.code,
    );
    expect(reset).toBe('ECONNRESET');
    endpoint.setOutage(true);
    expect(await rejection([datum()])).toMatchObject({ name: 'ServiceUnavailable', status: 503 });
    endpoint.setOutage(false);
    endpoint.inject({ kind: 'slow', delayMs: 20 });
    await put([datum()]);
    expect(endpoint.requests.map((r) => r.outcome)).toEqual([
      'throttle',
      'server-error',
      'server-error',
      'reset',
      'outage',
      'accepted',
    ]);
    expect(endpoint.datums).toHaveLength(1);
    expect(endpoint.violations).toEqual([]);
  });
});
