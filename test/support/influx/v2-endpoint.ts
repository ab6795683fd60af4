/**
 * A protocol-level InfluxDB 2.x write endpoint (what Timestream for InfluxDB serves), for the v2 path of
 * the InfluxDB sink; the v1 path is tested against a real influxd 1.6, which predates `/api/v2/write`.
 *
 * `POST /api/v2/write?org=&bucket=&precision=` as InfluxDB 2.x answers it: 204 on success;
 * 401 `{"code":"unauthorized"}` without `Authorization: Token <token>`; 404 for an unknown org or
 * bucket; 400 `{"code":"invalid"}` for a bad precision or a line that does not parse (nothing of that
 * request is written); 422 for a field type conflict. Points are stored as InfluxDB does: the same
 * measurement, tag set and timestamp is one point, a later write overwrites its fields.
 * The line parser follows InfluxDB's `models` package: `\` escapes `,`, `=` and space in names and tags
 * (other backslashes stay literal), `"` and `\` in string fields; integers end in `i`.
 *
 * `violations` records what this sink must never send, so a test fails on it: lines that do not parse,
 * tags not sorted by key, lines without a timestamp, timestamps that are not milliseconds, requests
 * over 5,000 lines, field type conflicts, missing or wrong auth/org/bucket/precision.
 * Faults are injected per write request, in order: an HTTP status (optionally with Retry-After), a
 * slow answer, or a dropped connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type InfluxFault =
  | { kind: 'status'; status: number; retryAfter?: string }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'drop-connection' };

export type FieldValue = number | string | boolean | bigint;

export interface ParsedLine {
  measurement: string;
  /** In the order written. */
  tags: Array<[string, string]>;
  fields: Record<
    string,
    { type: 'float' | 'integer' | 'unsigned' | 'string' | 'boolean'; value: FieldValue }
  >;
  timestamp: bigint | undefined;
}

export interface StoredPoint {
  bucket: string;
  measurement: string;
  tags: Record<string, string>;
  fields: ParsedLine['fields'];
  /** Epoch milliseconds. */
  time: number;
}

export interface WriteRequestLog {
  query: Record<string, string>;
  authorization: string | undefined;
  lines: number;
  status: number;
  fault?: InfluxFault['kind'];
}

export interface InfluxV2EndpointOptions {
  token: string;
  org: string;
  buckets: string[];
}

const MAX_LINES_PER_REQUEST = 5_000;
const PRECISION_TO_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1_000 };
/** Epoch ms beyond year 2300 means the timestamps were not milliseconds. */
const MAX_PLAUSIBLE_MS = 10_413_792_000_000;

export class LineSyntaxError extends Error {}

export class InfluxV2TestEndpoint {
  readonly requests: WriteRequestLog[] = [];
  readonly violations: string[] = [];
  private readonly faults: InfluxFault[] = [];
  private readonly points = new Map<string, StoredPoint>();
  /** measurement/field -> type, as InfluxDB fixes a field's type per shard. */
  private readonly fieldTypes = new Map<string, string>();

  private constructor(
    private readonly server: Server,
    private readonly options: InfluxV2EndpointOptions,
  ) {}

  static async start(options: InfluxV2EndpointOptions): Promise<InfluxV2TestEndpoint> {
    let endpoint: InfluxV2TestEndpoint | undefined;
    const server = createServer((req, res) => void endpoint?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = new InfluxV2TestEndpoint(server, options);
    return endpoint;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  inject(...faults: InfluxFault[]): void {
    this.faults.push(...faults);
  }

  stored(bucket: string): StoredPoint[] {
    return [...this.points.values()].filter((p) => p.bucket === bucket);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/ping' || url.pathname === '/health') return answer(res, 204);
    const log: WriteRequestLog = {
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
      lines: 0,
      status: 204,
    };
    this.requests.push(log);
    const fail = (status: number, code: string, message: string, violation = true) => {
      if (violation) this.violations.push(`${status} ${message}`);
      log.status = status;
      answer(res, status, { code, message });
    };
    if (req.method !== 'POST' || url.pathname !== '/api/v2/write') {
      return fail(404, 'not found', `${req.method} ${url.pathname}: not an InfluxDB 2.x write`);
    }
    if (req.headers.authorization !== `Token ${this.options.token}`) {
      return fail(401, 'unauthorized', 'unauthorized access');
    }
    const org = url.searchParams.get('org');
    if (org !== this.options.org) return fail(404, 'not found', `organization name "${org}" not found`);
    const bucket = url.searchParams.get('bucket') ?? '';
    if (!this.options.buckets.includes(bucket)) return fail(404, 'not found', `bucket "${bucket}" not found`);
    const precision = url.searchParams.get('precision') ?? 'ns';
    const unitMs = PRECISION_TO_MS[precision];
    if (unitMs === undefined) return fail(400, 'invalid', `invalid precision "${precision}"`);
    if (precision !== 'ms') this.violations.push(`precision ${precision}: the sink writes milliseconds`);

    const fault = this.faults.shift();
    if (fault) log.fault = fault.kind;
    if (fault?.kind === 'drop-connection') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.kind === 'status') {
      log.status = fault.status;
      if (fault.retryAfter !== undefined) res.setHeader('Retry-After', fault.retryAfter);
      return answer(res, fault.status, { code: 'injected', message: `injected HTTP ${fault.status}` });
    }

    const lines = body.split('\n').filter((line) => line.trim() !== '');
    log.lines = lines.length;
    if (lines.length > MAX_LINES_PER_REQUEST) {
      this.violations.push(
        `${lines.length} lines in one request; the sink batches at most ${MAX_LINES_PER_REQUEST}`,
      );
    }
    const parsed: ParsedLine[] = [];
    for (const line of lines) {
      try {
        parsed.push(parseLine(line));
      } catch (error) {
        return fail(400, 'invalid', `unable to parse '${line}': ${(error as Error).message}`);
      }
    }
    for (const line of parsed) {
      const keys = line.tags.map(([k]) => k);
      const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      if (keys.join('\u0000') !== sorted.join('\u0000'))
        this.violations.push(`tags not sorted: ${keys.join(',')}`);
      if (line.timestamp === undefined)
        this.violations.push(`line of ${line.measurement} without a timestamp`);
      for (const [field, { type }] of Object.entries(line.fields)) {
        const key = `${line.measurement}/${field}`;
        const known = this.fieldTypes.get(key);
        if (known !== undefined && known !== type) {
          return fail(
            422,
            'unprocessable entity',
            `field type conflict: input field "${field}" on measurement "${line.measurement}" is type ${type}, already exists as type ${known}`,
          );
        }
      }
    }
    for (const line of parsed) {
      const time = Number(line.timestamp ?? 0n) * unitMs;
      if (time > MAX_PLAUSIBLE_MS) this.violations.push(`timestamp ${line.timestamp} is not in milliseconds`);
      for (const [field, { type }] of Object.entries(line.fields))
        this.fieldTypes.set(`${line.measurement}/${field}`, type);
      const tags = Object.fromEntries([...line.tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      const key = JSON.stringify([bucket, line.measurement, tags, time]);
      const existing = this.points.get(key);
      this.points.set(key, {
        bucket,
        measurement: line.measurement,
        tags,
        time,
        fields: { ...existing?.fields, ...line.fields },
      });
    }
    answer(res, 204);
  }
}

/**
 * Reads up to an unescaped stop character. Like InfluxDB's scanner, a backslash always takes the next
 * character along (so `\,` does not stop), and unescaping then turns only `\` + one of `escapable`
 * into that character: other backslashes stay literal.
 */
function scan(text: string, start: number, stops: string, escapable: string): [string, number] {
  let i = start;
  while (i < text.length && !stops.includes(text.charAt(i))) i += text.charAt(i) === '\\' ? 2 : 1;
  const raw = text.slice(start, Math.min(i, text.length));
  let out = '';
  for (let j = 0; j < raw.length; j++) {
    const next = raw.charAt(j + 1);
    if (raw.charAt(j) === '\\' && next !== '' && escapable.includes(next)) {
      out += next;
      j++;
    } else out += raw.charAt(j);
  }
  return [out, i];
}

export function parseLine(line: string): ParsedLine {
  if (line.includes('\r')) throw new LineSyntaxError('carriage return in line');
  let [measurement, i] = scan(line, 0, ', ', ', ');
  if (measurement === '') throw new LineSyntaxError('missing measurement');
  const tags: Array<[string, string]> = [];
  while (line.charAt(i) === ',') {
    const [key, afterKey] = scan(line, i + 1, '=, ', ',= ');
    if (line.charAt(afterKey) !== '=' || key === '') throw new LineSyntaxError('missing tag key');
    const [value, afterValue] = scan(line, afterKey + 1, ', =', ',= ');
    if (value === '' || line.charAt(afterValue) === '=')
      throw new LineSyntaxError(`invalid tag value for ${key}`);
    tags.push([key, value]);
    i = afterValue;
  }
  if (line.charAt(i) !== ' ') throw new LineSyntaxError('missing fields');
  i++;
  const fields: ParsedLine['fields'] = {};
  for (;;) {
    const [key, afterKey] = scan(line, i, '=, ', ',= ');
    if (key === '' || line.charAt(afterKey) !== '=') throw new LineSyntaxError('missing field key or "="');
    i = afterKey + 1;
    if (line.charAt(i) === '"') {
      let value = '';
      i++;
      while (i < line.length && line.charAt(i) !== '"') {
        const c = line.charAt(i);
        const next = line.charAt(i + 1);
        if (c === '\\' && (next === '"' || next === '\\')) {
          value += next;
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      if (line.charAt(i) !== '"') throw new LineSyntaxError(`unterminated string field ${key}`);
      i++;
      fields[key] = { type: 'string', value };
    } else {
      const end = scanPlain(line, i);
      fields[key] = parseScalar(key, line.slice(i, end));
      i = end;
    }
    if (line.charAt(i) === ',') {
      i++;
      continue;
    }
    break;
  }
  let timestamp: bigint | undefined;
  if (line.charAt(i) === ' ') {
    const text = line.slice(i + 1);
    if (!/^-?\d+$/.test(text)) throw new LineSyntaxError(`invalid timestamp "${text}"`);
    timestamp = BigInt(text);
  } else if (i !== line.length) throw new LineSyntaxError(`unexpected "${line.charAt(i)}"`);
  return { measurement, tags, fields, timestamp };
}

function scanPlain(line: string, start: number): number {
  let i = start;
  while (i < line.length && line.charAt(i) !== ',' && line.charAt(i) !== ' ') i++;
  return i;
}

function parseScalar(key: string, text: string): ParsedLine['fields'][string] {
  if (/^-?\d+i$/.test(text)) return { type: 'integer', value: BigInt(text.slice(0, -1)) };
  if (/^\d+u$/.test(text)) return { type: 'unsigned', value: BigInt(text.slice(0, -1)) };
  if (/^(t|T|true|True|TRUE)$/.test(text)) return { type: 'boolean', value: true };
  if (/^(f|F|false|False|FALSE)$/.test(text)) return { type: 'boolean', value: false };
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return { type: 'float', value: Number(text) };
  throw new LineSyntaxError(`invalid field value "${text}" for ${key}`);
}

function answer(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
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
