import { SinkRequestError } from '../util/retriable.js';

/** One write request, so tests and other transports can stand in for HTTP. */
export interface InfluxWriter {
  /** Resolves when the server accepted the lines (2xx); rejects with an InfluxWriteError. */
  write(body: string): Promise<void>;
}

export class InfluxWriteError extends SinkRequestError {
  constructor(
    message: string,
    retriable: boolean,
    /** HTTP status; undefined for network failures and timeouts. */
    readonly status?: number,
    /** The server's `Retry-After`, in ms from when the response arrived. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, retriable, options);
    this.name = 'InfluxWriteError';
  }
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** InfluxDB 1.x answers `{"error": ...}`, 2.x `{"code": ..., "message": ...}`; anything else as text. */
function serverMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: the raw text says it
  }
  return body.trim().slice(0, 500) || '(empty body)';
}

/**
 * Throttling (429), request timeouts (408) and server errors (5xx) are worth retrying; everything else
 * (400 bad lines or a field type conflict, 401/403 auth, 404 unknown bucket or database, 413 too
 * large) will fail again the same way.
 */
export function responseError(
  status: number,
  body: string,
  retryAfter: string | null,
  now: number,
): InfluxWriteError {
  const retriable = status === 408 || status === 429 || status >= 500;
  return new InfluxWriteError(
    `InfluxDB write answered HTTP ${status}: ${serverMessage(body)}`,
    retriable,
    status,
    parseRetryAfter(retryAfter, now),
  );
}

export interface HttpInfluxWriterOptions {
  url: URL;
  token?: string | undefined;
  requestTimeoutMs: number;
}

/** Line protocol over HTTP (Node's fetch): v2 `/api/v2/write` or v1 `/write`, whichever `url` names. */
export function httpInfluxWriter(options: HttpInfluxWriterOptions): InfluxWriter {
  const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' };
  if (options.token !== undefined) headers.Authorization = `Token ${options.token}`;
  return {
    async write(body) {
      let response: Response;
      let text: string;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(options.requestTimeoutMs),
        });
        text = await response.text();
      } catch (error) {
        // Refused or reset connections, DNS failures and timeouts: the server may be back later.
        const cause = (error as { cause?: { code?: unknown } }).cause;
        const detail = typeof cause?.code === 'string' ? cause.code : (error as Error).message;
        throw new InfluxWriteError(
          `InfluxDB write to ${options.url.origin} failed: ${detail}`,
          true,
          undefined,
          undefined,
          {
            cause: error,
          },
        );
      }
      if (response.ok) return;
      throw responseError(response.status, text, response.headers.get('retry-after'), Date.now());
    },
  };
}
