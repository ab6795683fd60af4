/**
 * The HTTP collector of contract §6 (node:http, no framework).
 *
 * `POST /v1/events` takes JSON lines (`application/x-ndjson`, blank lines skipped and not counted)
 * or an Avro object container file (`application/avro`). Every record is validated with the
 * schemas' functions, then the whole request goes to the durable log in ONE append, and the answer
 * is sent only after that append is durable:
 * - 202 `{"accepted": n}` when every record is valid;
 * - 400 `{"accepted": n, "errors": [{"index": i, "error": "..."}]}` when some are invalid (index =
 *   0-based position among the non-blank lines, or the records of the container). The valid ones
 *   are kept. The invalid ones are ALSO appended, as they came (the raw line; for Avro the decoded
 *   record as a JSON line with its `kind`), so the processor reading the log dead-letters them
 *   (contract §6: "the invalid ones also go to dead_letters") with the same validation functions,
 *   and the log stays the one input of the processor;
 * - 400 `{"error": "..."}` for a body that cannot be read as a whole (a broken Avro container):
 *   nothing is stored, and this shape tells the producer SDK the whole request was rejected;
 * - 413 for a body over `maxBodyBytes` (judged on Content-Length before reading, else while
 *   reading: it stops reading and closes the connection);
 * - 415 for another content type; 404/405 for other paths and methods;
 * - 503 + `Retry-After` when the bytes of the requests in flight would pass `maxInFlightBytes`
 *   (load shedding; a request is always let in when nothing else is in flight, so a body under
 *   `maxBodyBytes` can never be refused for good), when `shedReason` gives one (the processor too far
 *   behind the log: backpressure to the producers instead of an ever-growing log), or when the
 *   durable append fails (retriable).
 *
 * Records are stored in the log as JSON text lines, which is what the replay/processor side reads:
 * a valid record as its normalised event (unknown fields dropped, as the contract wants) with
 * `"kind":"score"` for scores.
 *
 * `GET /healthz` -> 200 `{"status":"ok"}`; `GET /metrics` -> Prometheus text from a registry of
 * the collector's own (returned, so the pipeline can merge it with its other registries).
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  jsonLineFields,
  parseJsonLine,
  readAvroContainer,
  type TelemetryEvent,
  validateEvent,
} from '@genai-pipeline/schemas';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DurableLog } from './durable-log.js';

export interface CollectorOptions {
  host?: string;
  /** 0 picks a free port (tests). */
  port?: number;
  log: DurableLog;
  /** Largest request body; default 5 MiB. */
  maxBodyBytes?: number;
  /** Body bytes of all requests being handled at once before new ones get 503; default 64 MiB. */
  maxInFlightBytes?: number;
  /** Processing clock (epoch ms) for validation's "not more than 1 hour ahead" rule. */
  clock?: () => number;
  /** Seconds in the Retry-After header of a 503; default 1. */
  retryAfterSeconds?: number;
  /** Other metrics served on /metrics beside the collector's own (the pipeline's health). */
  registries?: readonly Registry[];
  /** What /healthz answers beyond "the collector is up": 503 with the reason when it returns one. */
  unhealthyReason?: () => string | undefined;
  /**
   * Load shedding beyond bytes in flight: a reason to answer 503 + Retry-After (for example the
   * processor being too far behind the log), or undefined to take the request.
   */
  shedReason?: () => string | undefined;
}

export interface Collector {
  /** Base URL, e.g. `http://127.0.0.1:7070`. */
  url: string;
  registry: Registry;
  /** Stops taking connections and waits for the requests in progress. */
  close(): Promise<void>;
}

export const EVENTS_PATH = '/v1/events';
const MiB = 1024 * 1024;
const NDJSON = 'application/x-ndjson';
/** How far past the limit a declared body is still read (and dropped) so the client gets its 413. */
const MAX_DISCARDED_BYTES = 64 * MiB;
const AVRO = 'application/avro';

interface RecordError {
  index: number;
  error: string;
}

/** What one body turned into: log lines (valid and invalid, in body order) and the errors. */
interface ParsedBody {
  lines: string[];
  accepted: number;
  errors: RecordError[];
}

/** A whole-body failure with its status (413 while reading, 400 for a broken container). */
class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The log line of a valid event: its normalised fields in the JSON-lines shape. */
function logLine(event: TelemetryEvent): string {
  return JSON.stringify(jsonLineFields(event));
}

function parseJsonLines(body: Buffer, nowMs: number): ParsedBody {
  const parsed: ParsedBody = { lines: [], accepted: 0, errors: [] };
  const text = body.toString('utf8').replace(/^\uFEFF/, '');
  let index = 0;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') continue;
    const result = parseJsonLine(line, nowMs);
    if (result.ok) {
      parsed.lines.push(logLine(result.value));
      parsed.accepted++;
    } else {
      parsed.lines.push(line);
      parsed.errors.push({ index, error: result.error });
    }
    index++;
  }
  return parsed;
}

async function parseAvroContainer(body: Buffer, nowMs: number): Promise<ParsedBody> {
  const parsed: ParsedBody = { lines: [], accepted: 0, errors: [] };
  let index = 0;
  try {
    for await (const { kind, record } of readAvroContainer(body)) {
      const result = validateEvent(record, kind, nowMs);
      if (result.ok) {
        parsed.lines.push(logLine(result.value));
        parsed.accepted++;
      } else {
        parsed.lines.push(JSON.stringify({ kind, ...(record as object) }));
        parsed.errors.push({ index, error: result.error });
      }
      index++;
    }
  } catch (error) {
    throw new BodyError(400, (error as Error).message);
  }
  return parsed;
}

function createMetrics(log: DurableLog) {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({
      name: 'collector_http_requests_total',
      help: 'HTTP requests answered, by status code',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    accepted: new Counter({
      name: 'collector_records_accepted_total',
      help: 'Valid records durably appended to the log',
      registers: [registry],
    }),
    invalid: new Counter({
      name: 'collector_records_invalid_total',
      help: 'Invalid records (answered in a 400, appended for dead-lettering)',
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'collector_request_bytes_total',
      help: 'Body bytes read from POST requests',
      registers: [registry],
    }),
    appendSeconds: new Histogram({
      name: 'collector_append_duration_seconds',
      help: 'Time for a request batch to become durable in the log',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    inFlightBytes: new Gauge({
      name: 'collector_in_flight_bytes',
      help: 'Body bytes of the requests being handled',
      registers: [registry],
    }),
    nextOffset: new Gauge({
      name: 'collector_log_next_offset',
      help: 'Offset the next record appended to the durable log gets',
      registers: [registry],
      collect() {
        this.set(log.nextOffset);
      },
    }),
  };
}

export async function startCollector(options: CollectorOptions): Promise<Collector> {
  const {
    host = '127.0.0.1',
    port = 7070,
    log,
    maxBodyBytes = 5 * MiB,
    maxInFlightBytes = 64 * MiB,
    clock = Date.now,
    retryAfterSeconds = 1,
    registries = [],
    unhealthyReason = () => undefined,
    shedReason = () => undefined,
  } = options;
  const metrics = createMetrics(log);
  let inFlightBytes = 0;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    metrics.requests.inc({ status: String(status) });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      ...headers,
    });
    res.end(text);
  };
  const shed = (res: ServerResponse, reason: string) =>
    send(res, 503, { error: `${reason} (retriable)` }, { 'retry-after': String(retryAfterSeconds) });

  /** Takes `bytes` more of the in-flight budget; false when that would pass it (and something else is in flight). */
  const reserve = (bytes: number, alreadyHeld: number): boolean => {
    if (inFlightBytes - alreadyHeld > 0 && inFlightBytes + bytes > maxInFlightBytes) return false;
    inFlightBytes += bytes;
    metrics.inFlightBytes.set(inFlightBytes);
    return true;
  };
  const release = (bytes: number) => {
    inFlightBytes -= bytes;
    metrics.inFlightBytes.set(inFlightBytes);
  };

  /** Reads the body within the limits; `held` tracks the in-flight bytes reserved for it. */
  const readBody = (req: IncomingMessage, held: { bytes: number }): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const fail = (error: BodyError) => {
        req.removeAllListeners('data');
        req.pause();
        reject(error);
      };
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes)
          return fail(new BodyError(413, `body exceeds the limit of ${maxBodyBytes} bytes`));
        if (size > held.bytes) {
          if (!reserve(size - held.bytes, held.bytes))
            return fail(new BodyError(503, 'collector is shedding load: too many bytes in flight'));
          held.bytes = size;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks, size)));
      req.on('error', reject);
    });

  const postEvents = async (req: IncomingMessage, res: ServerResponse) => {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (contentType !== NDJSON && contentType !== AVRO) {
      return send(res, 415, {
        error: `Content-Type must be ${NDJSON} or ${AVRO} (got ${contentType || 'none'})`,
      });
    }
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > maxBodyBytes) {
      const refuse = () =>
        send(res, 413, { error: `body exceeds the limit of ${maxBodyBytes} bytes` }, { connection: 'close' });
      // A client still sending when the connection closes sees a reset, not the 413 (fetch does):
      // read a moderately oversized body to its end, unstored, before answering.
      if (declared > maxBodyBytes + MAX_DISCARDED_BYTES) return refuse();
      req.on('end', refuse);
      req.resume();
      return;
    }
    const overloaded = shedReason();
    if (overloaded !== undefined) return shed(res, `collector is shedding load: ${overloaded}`);
    const held = { bytes: 0 };
    if (Number.isFinite(declared)) {
      if (!reserve(declared, 0)) return shed(res, 'collector is shedding load: too many bytes in flight');
      held.bytes = declared;
    }
    try {
      const body = await readBody(req, held);
      metrics.bytes.inc(body.length);
      const nowMs = clock();
      const parsed =
        contentType === AVRO ? await parseAvroContainer(body, nowMs) : parseJsonLines(body, nowMs);
      const stopTimer = metrics.appendSeconds.startTimer();
      try {
        await log.append(parsed.lines, nowMs);
      } catch (error) {
        return shed(res, `storing the batch failed: ${(error as Error).message}`);
      } finally {
        stopTimer();
      }
      metrics.accepted.inc(parsed.accepted);
      metrics.invalid.inc(parsed.errors.length);
      if (parsed.errors.length === 0) return send(res, 202, { accepted: parsed.accepted });
      return send(res, 400, { accepted: parsed.accepted, errors: parsed.errors });
    } catch (error) {
      if (!(error instanceof BodyError)) throw error;
      if (error.status === 503) return shed(res, error.message);
      // The rest of an oversized body is not read: answer, then drop the connection.
      const headers: Record<string, string> = error.status === 413 ? { connection: 'close' } : {};
      send(res, error.status, { error: error.message }, headers);
    } finally {
      release(held.bytes);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === EVENTS_PATH) {
      if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return postEvents(req, res);
    }
    if (path === '/healthz' && req.method === 'GET') {
      const reason = unhealthyReason();
      return reason === undefined
        ? send(res, 200, { status: 'ok' })
        : send(res, 503, { status: 'unhealthy', reason });
    }
    if (path === '/metrics' && req.method === 'GET') {
      const served =
        registries.length === 0 ? metrics.registry : Registry.merge([metrics.registry, ...registries]);
      const text = await served.metrics();
      metrics.requests.inc({ status: '200' });
      res.writeHead(200, { 'content-type': served.contentType });
      return res.end(text);
    }
    send(res, 404, { error: `no route ${req.method} ${path}` });
  };

  const server = createServer((req, res) => {
    res.on('close', () => {
      // A request whose body was left unread cannot share the connection with the next one.
      if (!req.complete) req.socket.destroy();
    });
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: `internal error: ${(error as Error).message}` });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${urlHost}:${address.port}`,
    registry: metrics.registry,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
