import { isBrokenCircuitError } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { SinkResilience } from '../../src/util/resilience.js';
import { SinkRequestError } from '../../src/util/retriable.js';

const fast = { initialDelayMs: 1, maxDelayMs: 2, halfOpenAfterMs: 50 };

describe('SinkResilience', () => {
  it('retries retriable failures with backoff until the request succeeds', async () => {
    const resilience = new SinkResilience({ ...fast, maxAttempts: 5 });
    const attempts: number[] = [];
    const result = await resilience.execute(async (attempt) => {
      attempts.push(attempt);
      if (attempt < 2) throw new SinkRequestError('throttled', true);
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(attempts).toEqual([0, 1, 2]);
    expect(resilience.health()).toMatchObject({ sent: 1, failed: 0, retried: 2, breakerState: 'closed' });
  });

  it('does not retry a non-retriable failure', async () => {
    const resilience = new SinkResilience({ ...fast, maxAttempts: 5 });
    let calls = 0;
    await expect(
      resilience.execute(async () => {
        calls++;
        throw new SinkRequestError('bad request', false);
      }),
    ).rejects.toThrow(/bad request \(not retriable\)/);
    expect(calls).toBe(1);
    expect(resilience.health()).toMatchObject({ failed: 1, retried: 0 });
  });

  it('gives up after maxAttempts', async () => {
    const resilience = new SinkResilience({ ...fast, maxAttempts: 3 });
    let calls = 0;
    await expect(
      resilience.execute(async () => {
        calls++;
        throw new SinkRequestError('down', true);
      }),
    ).rejects.toThrow(/down/);
    expect(calls).toBe(3);
  });

  it('opens the breaker after consecutive failed requests, rejects while open, and closes after a success', async () => {
    const resilience = new SinkResilience({ ...fast, maxAttempts: 1, breakerThreshold: 2 });
    const failing = async () => {
      throw new SinkRequestError('down', true);
    };
    await expect(resilience.execute(failing)).rejects.toThrow();
    await expect(resilience.execute(failing)).rejects.toThrow();
    expect(resilience.health()).toMatchObject({ breakerState: 'open', breakerTrips: 1 });
    let called = false;
    await expect(
      resilience.execute(async () => {
        called = true;
      }),
    ).rejects.toSatisfy(isBrokenCircuitError);
    expect(called).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await resilience.execute(async () => 'recovered');
    expect(resilience.health().breakerState).toBe('closed');
  });

  it('retries only what failed of a partially failed request', async () => {
    const resilience = new SinkResilience({ ...fast, maxAttempts: 4 });
    let pending = ['a', 'b', 'c', 'd'];
    const sentInAttempt: string[][] = [];
    await resilience.execute(async () => {
      sentInAttempt.push(pending);
      // The endpoint accepts every other item each time.
      pending = pending.filter((_, i) => i % 2 === 1);
      if (pending.length > 0) throw new SinkRequestError(`${pending.length} records rejected`, true);
    });
    expect(sentInAttempt).toEqual([['a', 'b', 'c', 'd'], ['b', 'd'], ['d']]);
  });
});
