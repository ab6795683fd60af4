/**
 * Whether an operation that failed with `error` may succeed when tried again: the one classification
 * the producer transports, the sinks and the stream sources share (kafkajs' rule: every error says).
 */

/**
 * An operational failure that says whether the same operation may succeed later; its message ends
 * with "(retriable)" or "(not retriable)". Each component names its own subclass.
 */
export class OperationalError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${message} (${retriable ? 'retriable' : 'not retriable'})`, options);
    this.name = new.target.name;
  }
}

/** AWS and HTTP-API error names that mean "slow down" or "try again later". */
const RETRIABLE_ERROR_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'KMSThrottlingException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalFailureException',
  'InternalServerError',
  'InternalServiceError',
  'RequestTimeout',
  'RequestTimeoutException',
  // The SDK's HTTP handler names its connect and idle-socket timeouts so, without a code.
  'TimeoutError',
]);

const RETRIABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface ErrorShape {
  retriable?: unknown;
  name?: unknown;
  code?: unknown;
  cause?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/**
 * Network failures, throttling, timeouts and 5xx/429 may succeed later; validation, auth and
 * not-found errors will not. An explicit `retriable` flag (kafkajs, our own errors) wins, except
 * that kafkajs wraps an exhausted retriable error in a non-retriable KafkaJSNumberOfRetriesExceeded:
 * the broker may well come back, so its cause decides.
 */
export function isRetriableError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as ErrorShape;
  if (shape.name === 'KafkaJSNumberOfRetriesExceeded') return isRetriableError(shape.cause);
  if (typeof shape.retriable === 'boolean') return shape.retriable;
  if (shape.$retryable !== undefined) return true;
  if (typeof shape.name === 'string' && RETRIABLE_ERROR_NAMES.has(shape.name)) return true;
  if (typeof shape.code === 'string' && RETRIABLE_NETWORK_CODES.has(shape.code)) return true;
  const status = shape.$metadata?.httpStatusCode;
  return typeof status === 'number' && (status === 429 || status >= 500);
}
