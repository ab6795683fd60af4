/**
 * The outcome of a call that threw. Shapes relied on: AWS SDK v3 errors carry the exception name
 * in `name` (`ThrottlingException`, `ModelTimeoutException`, `ValidationException`, ...) and the
 * status in `$metadata.httpStatusCode`; OpenAI and Anthropic SDK errors carry `status` and a
 * `code` or `error.type` (`rate_limit_exceeded`, `rate_limit_error`, `content_filter`, ...);
 * fetch/AbortController give `AbortError` / `TimeoutError`; Node sockets a `code` like ETIMEDOUT.
 */

import type { InvocationEvent } from '@genai-pipeline/schemas';
import { type CallContext, type CallOutcome, type CallTiming, invocationEvent, NO_TOKENS } from './call.js';

const THROTTLE_NAMES = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceQuotaExceededException',
  'RateLimitError',
]);
const THROTTLE_CODES = new Set(['rate_limit_exceeded', 'rate_limit_error', 'ThrottlingException']);
const TIMEOUT_NAMES = new Set([
  'AbortError',
  'TimeoutError',
  'ModelTimeoutException',
  'RequestTimeout',
  'RequestTimeoutException',
  'APIConnectionTimeoutError',
]);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ABORT_ERR',
]);
const FILTER_CODES = new Set(['content_filter', 'content_policy_violation']);

interface ErrorFields {
  name?: unknown;
  code?: unknown;
  status?: unknown;
  statusCode?: unknown;
  type?: unknown;
  error?: { type?: unknown; code?: unknown; error?: { type?: unknown } } | null;
  $metadata?: { httpStatusCode?: unknown } | null;
}

const asString = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value : undefined;

/** Reads the fields defensively: a hostile error object must not make telemetry throw. */
function fieldsOf(error: unknown): { name?: string; code?: string; status?: number } {
  if (typeof error !== 'object' || error === null) return {};
  try {
    const e = error as ErrorFields;
    const status = [e.status, e.statusCode, e.$metadata?.httpStatusCode].find((s) => typeof s === 'number');
    const name = asString(e.name);
    return {
      name: name === 'Error' ? undefined : name,
      code:
        asString(e.code) ??
        asString(e.error?.code) ??
        asString(e.error?.error?.type) ??
        asString(e.error?.type) ??
        asString(e.type),
      status: status as number | undefined,
    };
  } catch {
    return {};
  }
}

export function errorOutcome(error: unknown): CallOutcome {
  const { name, code, status } = fieldsOf(error);
  const has = (set: Set<string>, value: string | undefined) => value !== undefined && set.has(value);
  const status_ =
    has(THROTTLE_NAMES, name) || has(THROTTLE_CODES, code) || status === 429
      ? 'THROTTLED'
      : has(TIMEOUT_NAMES, name) || has(TIMEOUT_CODES, code) || status === 408 || status === 504
        ? 'TIMEOUT'
        : has(FILTER_CODES, code)
          ? 'FILTERED'
          : 'ERROR';
  // AWS exception names are the most specific; then provider codes; then the HTTP status.
  const errorCode =
    (name?.endsWith('Exception') ? name : undefined) ??
    code ??
    name ??
    (status === undefined ? undefined : `http_${status}`);
  return { ...NO_TOKENS, status: status_, error_code: errorCode };
}

export function fromError(error: unknown, context: CallContext, timing: CallTiming): InvocationEvent {
  return invocationEvent(context, errorOutcome(error), timing);
}
