/**
 * The collector transport (CONTRACT.md §6): POST /v1/events with JSON lines (default) or an Avro
 * object container body. 202 = stored; 400 = some records invalid, the rest stored, body
 * `{ "accepted": n, "errors": [{ "index": i, "error": "..." }] }` with 0-based record indices of
 * the request body; 413 = body too large (split in halves and resent); 429/503/5xx = shed load or
 * failed, retried after `Retry-After`. Uses node:http directly so request timers are the runtime's
 * own (tests may fake the global ones).
 */

import http from 'node:http';
import https from 'node:https';
import {
  AVRO_TYPES,
  type EventKind,
  type EventOfKind,
  jsonLineFields,
  type TelemetryEvent,
  writeAvroContainer,
} from '@genai-pipeline/schemas';
import {
  describeError,
  isRetriable,
  type OutgoingRecord,
  type RecordFailure,
  type SendResult,
  type Transport,
  type TransportLimits,
} from './transport.js';

export type HttpBodyFormat = 'ndjson' | 'avro';

export interface HttpTransportOptions {
  /** The collector endpoint, e.g. `http://127.0.0.1:7070/v1/events`. */
  url: string | URL;
  /** `ndjson` (default, `application/x-ndjson`) or `avro` (an object container, `application/avro`). */
  format?: HttpBodyFormat;
  /** The collector's body limit; default 5 MB (contract §6). Batches stay below it. */
  maxBodyBytes?: number;
  /** Abort a request with no response for this long (a retriable timeout). Default 10 s. */
  requestTimeoutMs?: number;
  /** Extra request headers (authentication, tenancy). */
  headers?: Record<string, string>;
}

export interface HttpRecord extends OutgoingRecord {
  readonly event: TelemetryEvent;
  /** The JSON line, newline included (ndjson only). */
  readonly line: string | undefined;
}

/** The 400 body the collector returns for per-record errors. */
export interface CollectorRejection {
  accepted: number;
  errors: { index: number; error: string }[];
}

interface HttpResponse {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/** Room for the container header (the schema JSON) and block framing inside the body limit. */
const AVRO_CONTAINER_OVERHEAD_BYTES = 64 * 1024;
const MAX_RESPONSE_BODY_CHARS = 1024 * 1024;
const MAX_ERROR_EXCERPT_CHARS = 200;

/** `Retry-After` as delay-seconds or an HTTP-date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function post(
  url: URL,
  body: Buffer,
  headers: Record<string, string>,
  timeoutMs: number,
  agent: http.Agent,
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(body.length) },
      agent,
      timeout: timeoutMs,
    });
    request.on('timeout', () => {
      request.destroy(
        Object.assign(new Error(`no response from ${url.host} within ${timeoutMs} ms`), {
          code: 'ETIMEDOUT',
        }),
      );
    });
    request.on('error', reject);
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (text.length < MAX_RESPONSE_BODY_CHARS) text += chunk;
      });
      response.on('error', reject);
      response.on('end', () => {
        const retryAfter = response.headers['retry-after'];
        resolve({ status: response.statusCode ?? 0, retryAfter, body: text });
      });
    });
    request.end(body);
  });
}

/** The per-record errors of a 400 body, or undefined when it is not the agreed shape. */
export function parseRejection(body: string): CollectorRejection | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  if (!errors.every((e: unknown) => Number.isInteger((e as { index?: unknown } | null)?.index))) {
    return undefined;
  }
  return {
    accepted: Number((parsed as { accepted?: unknown }).accepted ?? 0),
    errors: errors.map((e: { index: number; error?: unknown }) => ({
      index: e.index,
      error: typeof e.error === 'string' ? e.error : 'invalid record',
    })),
  };
}

const excerpt = (text: string): string =>
  text.length > MAX_ERROR_EXCERPT_CHARS ? `${text.slice(0, MAX_ERROR_EXCERPT_CHARS)}...` : text;

export class HttpTransport implements Transport<HttpRecord> {
  readonly name = 'http';
  readonly limits: TransportLimits;
  private readonly url: URL;
  private readonly format: HttpBodyFormat;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly agent: http.Agent;

  constructor(options: HttpTransportOptions) {
    this.url = new URL(options.url);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') {
      throw new TypeError(`url must be http: or https: (got ${this.url.protocol})`);
    }
    this.format = options.format ?? 'ndjson';
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    const maxBody = options.maxBodyBytes ?? 5 * 1024 * 1024;
    const maxBatchBytes = this.format === 'avro' ? maxBody - AVRO_CONTAINER_OVERHEAD_BYTES : maxBody;
    this.limits = { maxBatchEvents: 100_000, maxBatchBytes, maxRecordBytes: maxBatchBytes };
    this.headers = {
      ...options.headers,
      'content-type': this.format === 'avro' ? 'application/avro' : 'application/x-ndjson',
    };
    this.agent =
      this.url.protocol === 'https:'
        ? new https.Agent({ keepAlive: true })
        : new http.Agent({ keepAlive: true });
  }

  encode(event: TelemetryEvent): HttpRecord {
    if (this.format === 'avro') {
      // The record's body size in the container (its 10-byte single-object header is not written there).
      return { event, line: undefined, bytes: AVRO_TYPES[event.kind].toBuffer(event.event).length };
    }
    const line = `${JSON.stringify(jsonLineFields(event))}\n`;
    return { event, line, bytes: Buffer.byteLength(line) };
  }

  async send(batch: readonly HttpRecord[]): Promise<SendResult> {
    const result: SendResult = { failures: [] };
    const all = batch.map((_, i) => i);
    if (this.format === 'ndjson') {
      await this.postRecords(batch, all, result);
      return result;
    }
    // A container holds one schema: one request per event kind.
    for (const kind of ['invocation', 'score'] as const) {
      const indices = all.filter((i) => (batch[i] as HttpRecord).event.kind === kind);
      if (indices.length > 0) await this.postRecords(batch, indices, result);
    }
    return result;
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private body(batch: readonly HttpRecord[], indices: number[]): Buffer {
    if (this.format === 'ndjson')
      return Buffer.from(indices.map((i) => (batch[i] as HttpRecord).line).join(''));
    const kind: EventKind = (batch[indices[0] as number] as HttpRecord).event.kind;
    const events: EventOfKind<EventKind>[] = indices.map((i) => (batch[i] as HttpRecord).event.event);
    return writeAvroContainer(events, kind);
  }

  /** Posts `indices` of `batch` as one body; adds their failures to `result`. Never throws. */
  private async postRecords(
    batch: readonly HttpRecord[],
    indices: number[],
    result: SendResult,
  ): Promise<void> {
    const fail = (subset: number[], failure: Omit<RecordFailure, 'index'>) => {
      for (const index of subset) result.failures.push({ index, ...failure });
    };
    let response: HttpResponse;
    try {
      response = await post(this.url, this.body(batch, indices), this.headers, this.timeoutMs, this.agent);
    } catch (error) {
      fail(indices, { error: describeError(error), retriable: isRetriable(error) });
      return;
    }
    const { status } = response;
    if (status >= 200 && status < 300) return;
    if (status === 400) {
      const rejection = parseRejection(response.body);
      if (rejection === undefined) {
        fail(indices, { error: `HTTP 400: ${excerpt(response.body)}`, retriable: false, reason: 'rejected' });
        return;
      }
      for (const { index, error } of rejection.errors) {
        const original = indices[index];
        if (original !== undefined)
          result.failures.push({ index: original, error, retriable: false, reason: 'invalid' });
      }
      return;
    }
    if (status === 413) {
      if (indices.length === 1) {
        fail(indices, {
          error: 'HTTP 413: one record is over the body limit',
          retriable: false,
          reason: 'too_large',
        });
        return;
      }
      const half = Math.ceil(indices.length / 2);
      await this.postRecords(batch, indices.slice(0, half), result);
      await this.postRecords(batch, indices.slice(half), result);
      return;
    }
    const retriable = status === 408 || status === 429 || status >= 500;
    fail(indices, { error: `HTTP ${status}: ${excerpt(response.body)}`, retriable, reason: 'rejected' });
    if (retriable) {
      const retryAfterMs = parseRetryAfter(response.retryAfter);
      if (retryAfterMs !== undefined) result.retryAfterMs = Math.max(result.retryAfterMs ?? 0, retryAfterMs);
    }
  }
}

export function httpTransport(options: HttpTransportOptions): HttpTransport {
  return new HttpTransport(options);
}
