import {
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  wrap,
} from 'cockatiel';
import { isRetriable } from './retriable.js';

export interface ResilienceOptions {
  /** Attempts per request, the first included. Default 8. */
  maxAttempts: number;
  /** First retry delay; later ones grow exponentially with decorrelated jitter. Default 200 ms. */
  initialDelayMs: number;
  /** Longest delay between attempts. Default 30 s. */
  maxDelayMs: number;
  /** Consecutive failed requests (after their retries) that open the breaker. Default 5. */
  breakerThreshold: number;
  /** How long an open breaker rejects requests before letting one through. Default 30 s. */
  halfOpenAfterMs: number;
}

export const DEFAULT_RESILIENCE: ResilienceOptions = Object.freeze({
  maxAttempts: 8,
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  breakerThreshold: 5,
  halfOpenAfterMs: 30_000,
});

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/** A sink's own health, for `/metrics` and the pipeline's CloudWatch metrics. */
export interface SinkHealth {
  /** Requests that succeeded. */
  sent: number;
  /** Requests that failed for good (retries exhausted, not retriable, or rejected by the open breaker). */
  failed: number;
  retried: number;
  breakerTrips: number;
  breakerState: BreakerState;
}

const BREAKER_STATES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/**
 * Retries with exponential backoff and jitter on retriable errors only, inside a circuit breaker per
 * sink (shared once for all sinks, like Vector's `sinks/util`). A request that keeps failing opens the
 * breaker, so a dead endpoint is not hammered while the pipeline holds its data and backs off.
 * Partial failures: the request function retries just what failed by throwing a retriable error after
 * narrowing its own pending set (see the sinks' services).
 */
export class SinkResilience {
  private readonly policy;
  private readonly breaker;
  private readonly counters = { sent: 0, failed: 0, retried: 0, breakerTrips: 0 };

  constructor(options: Partial<ResilienceOptions> = {}) {
    const o = { ...DEFAULT_RESILIENCE, ...options };
    const retries = retry(handleWhen(isRetriable), {
      maxAttempts: o.maxAttempts - 1,
      backoff: new ExponentialBackoff({ initialDelay: o.initialDelayMs, maxDelay: o.maxDelayMs }),
    });
    this.breaker = circuitBreaker(handleWhen(isRetriable), {
      halfOpenAfter: o.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(o.breakerThreshold),
    });
    retries.onRetry(() => {
      this.counters.retried++;
    });
    this.breaker.onBreak(() => {
      this.counters.breakerTrips++;
    });
    this.policy = wrap(this.breaker, retries);
  }

  /** Runs one request under the policy; `attempt` counts from 0. No attempt starts after `signal` aborts. */
  async execute<T>(request: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      const result = await this.policy.execute(({ attempt }) => {
        signal?.throwIfAborted();
        return request(attempt);
      }, signal);
      this.counters.sent++;
      return result;
    } catch (error) {
      this.counters.failed++;
      throw error;
    }
  }

  health(): SinkHealth {
    return { ...this.counters, breakerState: BREAKER_STATES[this.breaker.state] };
  }
}
