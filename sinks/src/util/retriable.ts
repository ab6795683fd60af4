import { isBrokenCircuitError } from 'cockatiel';

/**
 * Every sink error says whether the same request may succeed later (kafkajs' rule): retries act only
 * on retriable errors; the rest are rejected at once and dead-lettered or reported by the caller.
 */
export class SinkRequestError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${message} (${retriable ? 'retriable' : 'not retriable'})`, options);
    this.name = 'SinkRequestError';
  }
}

/** AWS error names that mean "slow down" or "try again" (the SDK also marks some `$retryable`). */
const RETRIABLE_AWS_ERRORS = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalServerError',
  'InternalServiceError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const RETRIABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface ErrorShape {
  retriable?: unknown;
  name?: unknown;
  code?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** Throttling, 5xx, timeouts and network failures are retriable; validation and auth errors are not. */
export function isRetriable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as ErrorShape;
  if (typeof shape.retriable === 'boolean') return shape.retriable;
  if (shape.$retryable !== undefined) return true;
  if (typeof shape.name === 'string' && RETRIABLE_AWS_ERRORS.has(shape.name)) return true;
  // An open circuit breaker means "the endpoint is down, try later".
  if (isBrokenCircuitError(error)) return true;
  if (typeof shape.code === 'string' && RETRIABLE_NETWORK_CODES.has(shape.code)) return true;
  const status = shape.$metadata?.httpStatusCode;
  return typeof status === 'number' && (status === 429 || status >= 500);
}
