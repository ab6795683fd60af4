/**
 * A local CloudWatch PutMetricData endpoint the real SDK client talks to. The installed
 * @aws-sdk/client-cloudwatch speaks AWS JSON 1.0 (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`,
 * `Content-Type: application/x-amz-json-1.0`, query-compatible errors through `x-amzn-query-error`),
 * gzips PutMetricData bodies of 10 KB and more (`Content-Encoding: gzip`) and sends timestamps as epoch
 * seconds. This endpoint speaks exactly that, ENFORCES the documented PutMetricData limits (a violation
 * fails the request with CloudWatch's error and is recorded, so the test that caused it fails), records
 * the accepted datums, and injects throttling, 5xx, connection resets, slow responses and outages.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export const SERVICE_TARGET = 'GraniteServiceVersion20100801';

/** PutMetricData limits from the AWS docs (DESIGN.md). */
export const PUT_METRIC_DATA_LIMITS = Object.freeze({
  maxDatums: 1000,
  maxPayloadBytes: 1_000_000,
  maxDimensions: 30,
  maxDimensionValueLength: 1024,
  maxNameLength: 255,
  maxValues: 150,
  maxAgeMs: 14 * 24 * 3_600_000,
  maxFutureMs: 2 * 3_600_000,
});

const UNITS = new Set([
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
]);

/** A datum as accepted, timestamps in epoch milliseconds. */
export interface RecordedDatum {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  timestamp: number;
  unit: string | undefined;
  value?: number;
  statisticValues?: { SampleCount: number; Sum: number; Minimum: number; Maximum: number };
  values?: number[];
  counts?: number[];
}

export type Fault =
  /** Answer normally: lets a test aim a fault at a later request. */
  | { kind: 'pass' }
  | { kind: 'throttle' }
  | { kind: 'server-error'; status: 500 | 503 }
  | { kind: 'reset' }
  | { kind: 'slow'; delayMs: number };

export interface RequestLog {
  target: string;
  gzip: boolean;
  /** Bytes on the wire (compressed when gzip). */
  payloadBytes: number;
  datums: number;
  outcome: 'accepted' | 'rejected' | Fault['kind'] | 'outage';
}

class Violation extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Violation(message);
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

export class CloudWatchEndpoint {
  readonly datums: RecordedDatum[] = [];
  /** Limit violations seen: a correct sink never causes one. */
  readonly violations: string[] = [];
  readonly requests: RequestLog[] = [];
  private readonly faults: Fault[] = [];
  private outage = false;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly clock: () => number,
  ) {}

  static async start(options: { clock?: () => number } = {}): Promise<CloudWatchEndpoint> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const endpoint = new CloudWatchEndpoint(server, `http://127.0.0.1:${port}`, options.clock ?? Date.now);
    server.on('request', (req, res) => {
      endpoint.handle(req, res).catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
    return endpoint;
  }

  /** The next `times` requests meet `fault` (in order with faults injected earlier). */
  inject(fault: Fault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  /** While on, every request fails (503 ServiceUnavailable): CloudWatch unreachable for as long as a test wants. */
  setOutage(on: boolean): void {
    this.outage = on;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const wire = Buffer.concat(chunks);
    const gzip = req.headers['content-encoding'] === 'gzip';
    const target = String(req.headers['x-amz-target'] ?? '');
    const log: RequestLog = { target, gzip, payloadBytes: wire.length, datums: 0, outcome: 'accepted' };
    this.requests.push(log);

    if (this.outage) {
      log.outcome = 'outage';
      return this.error(res, 503, 'ServiceUnavailable', 'Receiver', 'Service is unavailable');
    }
    const fault = this.faults.shift();
    if (fault?.kind === 'reset') {
      log.outcome = 'reset';
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.kind === 'throttle') {
      log.outcome = 'throttle';
      return this.error(
        res,
        400,
        'Throttling',
        'Sender',
        'Rate exceeded',
        'com.amazon.coral.availability#ThrottlingException',
      );
    }
    if (fault?.kind === 'server-error') {
      log.outcome = 'server-error';
      return fault.status === 500
        ? this.error(
            res,
            500,
            'InternalServiceError',
            'Receiver',
            'Internal failure',
            'com.amazonaws.cloudwatch#InternalServiceFault',
          )
        : this.error(res, 503, 'ServiceUnavailable', 'Receiver', 'Service is unavailable');
    }

    try {
      check(req.method === 'POST', `method ${req.method} is not POST`);
      check(
        req.headers['content-type'] === 'application/x-amz-json-1.0',
        `content-type ${req.headers['content-type']} is not application/x-amz-json-1.0`,
      );
      check(target === `${SERVICE_TARGET}.PutMetricData`, `unsupported X-Amz-Target ${target}`);
      check(
        String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 '),
        'request is not signed with SigV4',
      );
      check(
        wire.length <= PUT_METRIC_DATA_LIMITS.maxPayloadBytes,
        `request payload of ${wire.length} bytes exceeds ${PUT_METRIC_DATA_LIMITS.maxPayloadBytes}`,
      );
      const body = JSON.parse((gzip ? gunzipSync(wire) : wire).toString('utf8')) as Record<string, unknown>;
      const accepted = this.validate(body);
      log.datums = accepted.length;
      this.datums.push(...accepted);
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'local' });
      res.end('{}');
    } catch (error) {
      if (!(error instanceof Violation)) throw error;
      log.outcome = 'rejected';
      this.violations.push(error.message);
      this.error(
        res,
        400,
        'InvalidParameterValue',
        'Sender',
        error.message,
        'com.amazonaws.cloudwatch#InvalidParameterValueException',
      );
    }
  }

  private validate(body: Record<string, unknown>): RecordedDatum[] {
    const namespace = body.Namespace;
    check(
      typeof namespace === 'string' && namespace.length >= 1 && namespace.length <= 255,
      'Namespace must be 1-255 chars',
    );
    check(!namespace.startsWith('AWS/'), 'Namespace must not start with AWS/');
    const data = body.MetricData;
    check(Array.isArray(data) && data.length >= 1, 'MetricData is required');
    check(
      data.length <= PUT_METRIC_DATA_LIMITS.maxDatums,
      `The collection MetricData must not have a size greater than ${PUT_METRIC_DATA_LIMITS.maxDatums} (got ${data.length})`,
    );
    return data.map((raw, i) =>
      this.validateDatum(namespace, raw as Record<string, unknown>, `MetricData.member.${i + 1}`),
    );
  }

  private validateDatum(namespace: string, datum: Record<string, unknown>, at: string): RecordedDatum {
    const name = datum.MetricName;
    check(
      typeof name === 'string' && name.length >= 1 && name.length <= PUT_METRIC_DATA_LIMITS.maxNameLength,
      `${at}.MetricName must be 1-255 chars`,
    );
    const dimensions: Record<string, string> = {};
    const rawDimensions = (datum.Dimensions ?? []) as { Name?: unknown; Value?: unknown }[];
    check(
      rawDimensions.length <= PUT_METRIC_DATA_LIMITS.maxDimensions,
      `${at}.Dimensions must not have more than ${PUT_METRIC_DATA_LIMITS.maxDimensions} members`,
    );
    for (const d of rawDimensions) {
      check(
        typeof d.Name === 'string' && d.Name.length >= 1 && d.Name.length <= 255,
        `${at}: dimension name must be 1-255 chars`,
      );
      check(
        typeof d.Value === 'string' &&
          d.Value.trim().length >= 1 &&
          d.Value.length <= PUT_METRIC_DATA_LIMITS.maxDimensionValueLength,
        `${at}: dimension ${d.Name} value must be 1-1024 chars with a non-blank one`,
      );
      check(!(d.Name in dimensions), `${at}: dimension ${d.Name} appears twice`);
      dimensions[d.Name] = d.Value;
    }
    const kinds = ['Value', 'StatisticValues', 'Values'].filter((k) => datum[k] !== undefined);
    check(
      kinds.length === 1,
      `${at}: exactly one of Value, StatisticValues and Values must be given (got ${kinds.join(', ') || 'none'})`,
    );
    check(datum.Counts === undefined || datum.Values !== undefined, `${at}: Counts given without Values`);
    const unit = datum.Unit as string | undefined;
    check(unit === undefined || UNITS.has(unit), `${at}.Unit ${unit} is not a CloudWatch unit`);
    const timestampSeconds = datum.Timestamp;
    const now = this.clock();
    const timestamp = timestampSeconds === undefined ? now : (timestampSeconds as number) * 1000;
    check(isNumber(timestamp), `${at}.Timestamp must be epoch seconds`);
    check(
      timestamp >= now - PUT_METRIC_DATA_LIMITS.maxAgeMs,
      `${at}.Timestamp ${new Date(timestamp).toISOString()} is older than two weeks`,
    );
    check(
      timestamp <= now + PUT_METRIC_DATA_LIMITS.maxFutureMs,
      `${at}.Timestamp ${new Date(timestamp).toISOString()} is more than two hours in the future`,
    );
    const recorded: RecordedDatum = { namespace, metricName: name, dimensions, timestamp, unit };
    if (datum.Value !== undefined) {
      // The SDK sends NaN and ±Infinity as strings: CloudWatch rejects them.
      check(isNumber(datum.Value), `${at}.Value ${String(datum.Value)} is not a finite number`);
      recorded.value = datum.Value;
    } else if (datum.StatisticValues !== undefined) {
      const set = datum.StatisticValues as Record<string, unknown>;
      for (const field of ['SampleCount', 'Sum', 'Minimum', 'Maximum']) {
        check(isNumber(set[field]), `${at}.StatisticValues.${field} must be a finite number`);
      }
      const stats = set as RecordedDatum['statisticValues'] & object;
      check(stats.SampleCount > 0, `${at}.StatisticValues.SampleCount must be positive`);
      check(stats.Minimum <= stats.Maximum, `${at}.StatisticValues.Minimum exceeds Maximum`);
      recorded.statisticValues = stats;
    } else {
      const values = datum.Values as unknown[];
      check(Array.isArray(values) && values.length >= 1, `${at}.Values must be a non-empty list`);
      check(
        values.length <= PUT_METRIC_DATA_LIMITS.maxValues,
        `${at}.Values must not have more than ${PUT_METRIC_DATA_LIMITS.maxValues} members (got ${values.length})`,
      );
      check(values.every(isNumber), `${at}.Values must be finite numbers`);
      recorded.values = values as number[];
      if (datum.Counts !== undefined) {
        const counts = datum.Counts as unknown[];
        check(
          Array.isArray(counts) && counts.length === values.length,
          `${at}.Counts must have as many members as Values`,
        );
        check(
          counts.every((c) => isNumber(c) && c >= 0),
          `${at}.Counts must be finite non-negative numbers`,
        );
        recorded.counts = counts as number[];
      }
    }
    return recorded;
  }

  private error(
    res: ServerResponse,
    status: number,
    code: string,
    type: 'Sender' | 'Receiver',
    message: string,
    shapeId = `com.amazonaws.cloudwatch#${code}`,
  ): void {
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-query-error': `${code};${type}`,
      'x-amzn-requestid': 'local',
    });
    res.end(JSON.stringify({ __type: shapeId, message }));
  }
}
