/**
 * A local Timestream for LiveAnalytics write endpoint for the real `@aws-sdk/client-timestream-write`
 * (no emulator exists). It speaks what the installed client sends: AWS JSON 1.0 (`POST /`,
 * `Content-Type: application/x-amz-json-1.0`, `X-Amz-Target: Timestream_20181101.<Operation>`), with
 * errors as `{"__type": "...#<Name>", "Message": ...}` and the HTTP statuses of the service model
 * (ThrottlingException 429, RejectedRecordsException 419, InvalidEndpointException 421,
 * ValidationException 400, ResourceNotFoundException 404, InternalServerException 500).
 *
 * Endpoint discovery: the SDK asks DescribeEndpoints at the configured endpoint and sends writes to
 * the returned Address (a hostname; the port stays the configured one). The endpoint therefore listens
 * twice on one port: on 127.0.0.1 (the configured "control" address, which answers DescribeEndpoints
 * only) and on 127.0.0.2 (the "ingest cell" it hands out). A write on the control address is a
 * violation: the client skipped discovery.
 *
 * Documented limits are enforced, and breaking them is recorded in `violations` so a test fails:
 * <= 100 records per request, <= 256 measures per record, record <= 2 KB (counted, more strictly than
 * AWS, as the UTF-8 JSON of the record as sent), dimension values <= 2 KB, unique names, well-formed
 * values. The version rule is the service's: a record with the same dimensions, time and measure name
 * but different values needs a higher Version, else it is rejected with ExistingVersion; identical
 * values are accepted (the version rises if higher). Records older than the memory store retention are
 * rejected (a rejection, not a violation: the sink may race the horizon).
 * Faults are injected per WriteRecords request, in order: throttling, 5xx, slow answers, partial rejects.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const CONTROL_ADDRESS = '127.0.0.1';
/** The address DescribeEndpoints hands out: another loopback address, so its use is observable. */
export const INGEST_ADDRESS = '127.0.0.2';

const LIMITS = {
  recordsPerRequest: 100,
  measuresPerRecord: 256,
  recordBytes: 2_048,
  dimensionValueBytes: 2_048,
};
const DAY_MS = 86_400_000;

export type TimestreamFault =
  | { kind: 'throttle' }
  | { kind: 'server-error'; status?: 500 | 503 }
  /** Answers normally after the delay. */
  | { kind: 'slow'; delayMs: number }
  /** Rejects the records at these indexes of the request with `reason`; the others are ingested. */
  | { kind: 'reject'; recordIndexes: number[]; reason: string };

export interface StoredRecord {
  database: string;
  table: string;
  dimensions: Record<string, string>;
  measureName: string;
  /** Epoch milliseconds. */
  time: number;
  version: number;
  measures: Record<string, { type: string; value: string }>;
}

export interface RejectedRecordLog {
  recordIndex: number;
  reason: string;
  existingVersion?: number;
}

export interface EndpointRequestLog {
  operation: string;
  /** The local address the request arrived on (CONTROL_ADDRESS or INGEST_ADDRESS). */
  address: string;
  status: number;
  records: number;
  fault?: TimestreamFault['kind'];
  rejected: RejectedRecordLog[];
}

export interface TimestreamEndpointOptions {
  /** Memory store retention; default 24 h. */
  memoryStoreRetentionMs?: number;
  magneticStoreWrites?: boolean;
  now?: () => number;
}

interface ApiError {
  status: number;
  type: string;
  message: string;
  extra?: Record<string, unknown>;
}

class RequestFailure extends Error {
  constructor(readonly apiError: ApiError) {
    super(apiError.message);
  }
}

type Json = Record<string, unknown>;

const TIME_UNIT_MS: Record<string, number> = {
  MILLISECONDS: 1,
  SECONDS: 1_000,
  MICROSECONDS: 1e-3,
  NANOSECONDS: 1e-6,
};

export class TimestreamTestEndpoint {
  readonly requests: EndpointRequestLog[] = [];
  /** Requests the sink must never send; a test asserts this stays empty. */
  readonly violations: string[] = [];
  private readonly faults: TimestreamFault[] = [];
  private readonly tables = new Set<string>();
  private readonly store = new Map<string, StoredRecord>();
  private readonly retentionMs: number;
  private readonly magnetic: boolean;
  private readonly now: () => number;

  private constructor(
    private readonly servers: Server[],
    readonly port: number,
    options: TimestreamEndpointOptions,
  ) {
    this.retentionMs = options.memoryStoreRetentionMs ?? DAY_MS;
    this.magnetic = options.magneticStoreWrites ?? false;
    this.now = options.now ?? Date.now;
  }

  static async start(options: TimestreamEndpointOptions = {}): Promise<TimestreamTestEndpoint> {
    // Both listeners must share a port; retry when the ephemeral port is taken on the second address.
    for (let tries = 0; tries < 20; tries++) {
      const handlers: Array<(req: IncomingMessage, res: ServerResponse) => void> = [];
      const dispatch = (req: IncomingMessage, res: ServerResponse) => handlers[0]?.(req, res);
      const control = createServer(dispatch);
      await listen(control, 0, CONTROL_ADDRESS);
      const port = (control.address() as AddressInfo).port;
      const ingest = createServer(dispatch);
      try {
        await listen(ingest, port, INGEST_ADDRESS);
      } catch {
        await closeServer(control);
        continue;
      }
      const endpoint = new TimestreamTestEndpoint([control, ingest], port, options);
      handlers.push((req, res) => void endpoint.handle(req, res));
      return endpoint;
    }
    throw new Error(`could not listen on ${CONTROL_ADDRESS} and ${INGEST_ADDRESS} on one port`);
  }

  /** The endpoint to configure the SDK with (the control address). */
  get url(): string {
    return `http://${CONTROL_ADDRESS}:${this.port}`;
  }

  createTable(database: string, table: string): void {
    this.tables.add(`${database}/${table}`);
  }

  /** Queues faults for the next WriteRecords requests, one per request, in order. */
  inject(...faults: TimestreamFault[]): void {
    this.faults.push(...faults);
  }

  records(database: string, table: string): StoredRecord[] {
    return [...this.store.values()].filter((r) => r.database === database && r.table === table);
  }

  writeRequests(): EndpointRequestLog[] {
    return this.requests.filter((r) => r.operation === 'WriteRecords');
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map(closeServer));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const address = req.socket.localAddress ?? '';
    const log: EndpointRequestLog = { operation: '?', address, status: 200, records: 0, rejected: [] };
    this.requests.push(log);
    try {
      const target = String(req.headers['x-amz-target'] ?? '');
      const [service, operation = ''] = target.split('.');
      log.operation = operation;
      if (req.method !== 'POST' || service !== 'Timestream_20181101') {
        throw this.violation(
          400,
          'UnknownOperationException',
          `unexpected ${req.method} with X-Amz-Target "${target}"`,
        );
      }
      if (req.headers['content-type'] !== 'application/x-amz-json-1.0') {
        throw this.violation(400, 'SerializationException', `Content-Type ${req.headers['content-type']}`);
      }
      if (
        typeof req.headers.authorization !== 'string' ||
        !req.headers.authorization.startsWith('AWS4-HMAC-SHA256')
      ) {
        throw this.violation(403, 'MissingAuthenticationTokenException', 'request is not SigV4-signed');
      }
      const input = parseJson(body);
      if (operation === 'DescribeEndpoints') {
        return send(res, 200, { Endpoints: [{ Address: INGEST_ADDRESS, CachePeriodInMinutes: 1440 }] });
      }
      if (operation !== 'WriteRecords') {
        throw new RequestFailure({ status: 400, type: 'UnknownOperationException', message: operation });
      }
      if (address !== INGEST_ADDRESS) {
        throw this.violation(
          421,
          'InvalidEndpointException',
          'WriteRecords sent to the endpoint without endpoint discovery',
        );
      }
      const fault = this.faults.shift();
      if (fault) log.fault = fault.kind;
      if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (fault?.kind === 'throttle') {
        throw new RequestFailure({
          status: 429,
          type: 'ThrottlingException',
          message: 'Rate exceeded (injected)',
        });
      }
      if (fault?.kind === 'server-error') {
        const status = fault.status ?? 500;
        const type = status === 503 ? 'ServiceUnavailable' : 'InternalServerException';
        throw new RequestFailure({ status, type, message: 'injected server error' });
      }
      const injected = fault?.kind === 'reject' ? fault : undefined;
      const result = this.writeRecords(input, injected, log);
      log.rejected = result.rejected;
      if (result.rejected.length > 0) {
        throw new RequestFailure({
          status: 419,
          type: 'RejectedRecordsException',
          message: `One or more records have been rejected. See RejectedRecords for details.`,
          extra: {
            RejectedRecords: result.rejected.map((r) => ({
              RecordIndex: r.recordIndex,
              Reason: r.reason,
              ...(r.existingVersion !== undefined && { ExistingVersion: r.existingVersion }),
            })),
          },
        });
      }
      send(res, 200, {
        RecordsIngested: { Total: result.ingested, MemoryStore: result.ingested, MagneticStore: 0 },
      });
    } catch (error) {
      const apiError =
        error instanceof RequestFailure
          ? error.apiError
          : { status: 500, type: 'InternalServerException', message: String(error) };
      log.status = apiError.status;
      res.setHeader('x-amzn-errortype', apiError.type);
      send(res, apiError.status, {
        __type: `com.amazonaws.timestreamwrite#${apiError.type}`,
        Message: apiError.message,
        ...apiError.extra,
      });
    }
  }

  private violation(status: number, type: string, message: string): RequestFailure {
    this.violations.push(`${type}: ${message}`);
    return new RequestFailure({ status, type, message });
  }

  private writeRecords(
    input: Json,
    injected: Extract<TimestreamFault, { kind: 'reject' }> | undefined,
    log: EndpointRequestLog,
  ): { ingested: number; rejected: RejectedRecordLog[] } {
    const database = input.DatabaseName;
    const table = input.TableName;
    if (typeof database !== 'string' || typeof table !== 'string') {
      throw this.violation(400, 'ValidationException', 'DatabaseName and TableName are required');
    }
    if (!this.tables.has(`${database}/${table}`)) {
      throw new RequestFailure({
        status: 404,
        type: 'ResourceNotFoundException',
        message: `The table ${table} does not exist in database ${database}.`,
      });
    }
    const records = input.Records;
    if (!Array.isArray(records) || records.length === 0) {
      throw this.violation(400, 'ValidationException', 'Records must hold at least one record');
    }
    log.records = records.length;
    if (records.length > LIMITS.recordsPerRequest) {
      throw this.violation(
        400,
        'ValidationException',
        `${records.length} records in one request; at most ${LIMITS.recordsPerRequest} are allowed`,
      );
    }
    const common = (input.CommonAttributes ?? {}) as Json;
    const rejected: RejectedRecordLog[] = [];
    let ingested = 0;
    for (const [recordIndex, raw] of records.entries()) {
      const rejection = injected?.recordIndexes.includes(recordIndex)
        ? { reason: injected.reason }
        : this.writeRecord(database, table, merge(common, raw as Json), recordIndex);
      if (rejection) rejected.push({ recordIndex, ...rejection });
      else ingested++;
    }
    return { ingested, rejected };
  }

  /** Stores one record, or says why it is rejected. */
  private writeRecord(
    database: string,
    table: string,
    record: Json,
    recordIndex: number,
  ): Omit<RejectedRecordLog, 'recordIndex'> | undefined {
    const problem = this.recordProblem(record);
    if (problem) {
      this.violations.push(`record ${recordIndex}: ${problem}`);
      return { reason: problem };
    }
    const stored = toStored(database, table, record);
    if (!this.magnetic && stored.time < this.now() - this.retentionMs) {
      return {
        reason: `The record timestamp ${stored.time} is outside the time range of the data ingestion window (memory store retention ${this.retentionMs} ms).`,
      };
    }
    const key = JSON.stringify([
      database,
      table,
      sortedEntries(stored.dimensions),
      stored.measureName,
      stored.time,
    ]);
    const existing = this.store.get(key);
    if (existing && !sameMeasures(existing, stored) && stored.version <= existing.version) {
      return {
        reason:
          'A record with the same dimensions, timestamp and measure name already exists with a different value and an equal or higher version.',
        existingVersion: existing.version,
      };
    }
    if (!existing || stored.version > existing.version) this.store.set(key, stored);
    return undefined;
  }

  /** A rule of the WriteRecords contract the record breaks, or undefined. */
  private recordProblem(record: Json): string | undefined {
    const dimensions = (record.Dimensions ?? []) as Json[];
    const names = new Set<string>();
    for (const d of dimensions) {
      if (typeof d.Name !== 'string' || d.Name === '' || typeof d.Value !== 'string' || d.Value === '') {
        return `dimension ${JSON.stringify(d)} needs a non-empty Name and Value`;
      }
      if (Buffer.byteLength(d.Value) > LIMITS.dimensionValueBytes)
        return `dimension ${d.Name} value over 2 KB`;
      if (names.has(d.Name)) return `duplicate dimension ${d.Name}`;
      names.add(d.Name);
    }
    if (typeof record.MeasureName !== 'string' || record.MeasureName === '') return 'MeasureName is required';
    const unit = record.TimeUnit ?? 'MILLISECONDS';
    if (typeof unit !== 'string' || !(unit in TIME_UNIT_MS))
      return `TimeUnit ${String(unit)} is not supported`;
    if (typeof record.Time !== 'string' || !/^\d+$/.test(record.Time))
      return `Time ${String(record.Time)} is not an integer`;
    const version = record.Version ?? 1;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
      return `Version ${version} < 1`;
    if (record.MeasureValueType !== 'MULTI')
      return `MeasureValueType ${String(record.MeasureValueType)} (this sink writes MULTI)`;
    if (record.MeasureValue !== undefined) return 'a MULTI record carries MeasureValues, not MeasureValue';
    const measures = record.MeasureValues;
    if (!Array.isArray(measures) || measures.length === 0) return 'MeasureValues must not be empty';
    if (measures.length > LIMITS.measuresPerRecord) {
      return `${measures.length} measures in one record; at most ${LIMITS.measuresPerRecord}`;
    }
    const bytes = Buffer.byteLength(JSON.stringify(record), 'utf8');
    if (bytes > LIMITS.recordBytes) return `record of ${bytes} bytes exceeds ${LIMITS.recordBytes}`;
    const measureNames = new Set<string>();
    for (const m of measures as Json[]) {
      if (typeof m.Name !== 'string' || m.Name === '') return 'a measure without a Name';
      if (measureNames.has(m.Name) || names.has(m.Name)) return `measure name ${m.Name} is not unique`;
      measureNames.add(m.Name);
      const problem = valueProblem(String(m.Type), m.Value);
      if (problem) return `measure ${m.Name}: ${problem}`;
    }
    return undefined;
  }
}

function valueProblem(type: string, value: unknown): string | undefined {
  if (typeof value !== 'string') return 'Value must be a string';
  switch (type) {
    case 'BIGINT':
      return /^-?\d+$/.test(value) ? undefined : `BIGINT value "${value}" is not an integer`;
    case 'DOUBLE':
      return value.trim() !== '' && Number.isFinite(Number(value))
        ? undefined
        : `DOUBLE value "${value}" is not finite`;
    case 'VARCHAR':
      return undefined;
    case 'BOOLEAN':
      return /^(true|false)$/i.test(value) ? undefined : `BOOLEAN value "${value}"`;
    case 'TIMESTAMP':
      return /^\d+$/.test(value) ? undefined : `TIMESTAMP value "${value}"`;
    default:
      return `unknown measure Type ${type}`;
  }
}

/** The record with CommonAttributes applied: dimensions add up, the record's own fields win. */
function merge(common: Json, record: Json): Json {
  const dimensions = [...((common.Dimensions ?? []) as Json[]), ...((record.Dimensions ?? []) as Json[])];
  return { ...common, ...record, Dimensions: dimensions };
}

function toStored(database: string, table: string, record: Json): StoredRecord {
  const unitMs = TIME_UNIT_MS[String(record.TimeUnit ?? 'MILLISECONDS')] ?? 1;
  const dimensions: Record<string, string> = {};
  for (const d of record.Dimensions as Json[]) dimensions[String(d.Name)] = String(d.Value);
  const measures: StoredRecord['measures'] = {};
  for (const m of record.MeasureValues as Json[])
    measures[String(m.Name)] = { type: String(m.Type), value: String(m.Value) };
  return {
    database,
    table,
    dimensions,
    measureName: String(record.MeasureName),
    time: Math.floor(Number(record.Time) * unitMs),
    version: Number(record.Version ?? 1),
    measures,
  };
}

function sameMeasures(a: StoredRecord, b: StoredRecord): boolean {
  return JSON.stringify(sortedEntries(a.measures)) === JSON.stringify(sortedEntries(b.measures));
}

function sortedEntries<T>(o: Record<string, T>): Array<[string, T]> {
  return Object.entries(o).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}

function parseJson(body: string): Json {
  try {
    const value = JSON.parse(body || '{}') as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  } catch {
    // answered below
  }
  throw new RequestFailure({
    status: 400,
    type: 'SerializationException',
    message: 'body is not a JSON object',
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.0',
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': `test-${Math.random().toString(16).slice(2)}`,
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
