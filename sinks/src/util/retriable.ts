import { isRetriableError, OperationalError } from '@genai-pipeline/schemas';
import { isBrokenCircuitError } from 'cockatiel';

/**
 * Every sink error says whether the same request may succeed later (kafkajs' rule): retries act only
 * on retriable errors; the rest are rejected at once and dead-lettered or reported by the caller.
 */
export class SinkRequestError extends OperationalError {}

/** Everything the shared classification retries, and an open circuit breaker ("the endpoint is down, try later"). */
export function isRetriable(error: unknown): boolean {
  return isBrokenCircuitError(error) || isRetriableError(error);
}
