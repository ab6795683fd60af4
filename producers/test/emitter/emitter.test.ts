import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEmitter, type Emitter, type EmitterOptions } from '../../src/emitter/emitter.js';
import { DELIVERED, type DropReason, TransportError } from '../../src/transport/transport.js';
import { asInput, deferred, type FakeRecord, FakeTransport, invocation, score } from '../support/fixtures.js';

/** Every emitted event is accounted for exactly once. */
function expectAccounted(emitter: Emitter): void {
  const s = emitter.stats();
  const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
  expect(s.sent + dropped + s.buffered + s.inFlight).toBe(s.emitted);
}

function setup(options: Partial<EmitterOptions<FakeRecord>> = {}, transport = new FakeTransport()) {
  const drops: [DropReason, number][] = [];
  const emitter = createEmitter({
    transport,
    maxBatchAgeMs: 1000,
    onDrop: (reason, count) => drops.push([reason, count]),
    ...options,
  });
  return { emitter, transport, drops };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('emit() never throws, never blocks', () => {
  it('counts hostile inputs as invalid without throwing', () => {
    const invalid: unknown[] = [];
    const { emitter } = setup({ onInvalid: (error) => invalid.push(error) });
    const cyclic: Record<string, unknown> = invocation();
    cyclic.self = cyclic;
    const throwingGetter = { ...invocation() };
    Object.defineProperty(throwingGetter, 'service', {
      get() {
        throw new Error('boom');
      },
      enumerable: true,
    });
    const throwingProxy = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const hostile = [
      null,
      undefined,
      42,
      'a string',
      [],
      Symbol('s'),
      () => 1,
      throwingGetter,
      throwingProxy,
      revoked.proxy,
    ];
    for (const value of hostile) expect(() => emitter.emit(asInput(value))).not.toThrow();
    expect(() => emitter.emit(cyclic as never)).not.toThrow(); // cyclic but valid: unknown field dropped
    expect(emitter.stats().dropped.invalid).toBe(hostile.length);
    expect(invalid).toHaveLength(hostile.length);
    expect(invalid.join('\n')).toMatch(/reading the event threw Error: boom/);
    expect(emitter.stats().buffered).toBe(1);
    expectAccounted(emitter);
  });

  it('drops an event over the record limit as too_large', () => {
    const { emitter } = setup({}, new FakeTransport(2_000_000));
    emitter.emit(invocation({ service: 'x'.repeat(2_000_000) }));
    expect(emitter.stats().dropped.too_large).toBe(1);
  });

  it('counts bugs inside (a throwing encode, a throwing send, a throwing callback) as drops', async () => {
    const transport = new FakeTransport();
    transport.encode = () => {
      throw new Error('encoder bug');
    };
    const { emitter } = setup(
      {
        onDrop: () => {
          throw new Error('callback bug');
        },
      },
      transport,
    );
    expect(() => emitter.emit(invocation())).not.toThrow();
    expect(emitter.stats().dropped.internal).toBe(1);

    const throwing = new FakeTransport();
    throwing.send = () => {
      throw new TransportError('synchronous failure', false);
    };
    const second = setup({}, throwing).emitter;
    second.emit(invocation());
    await second.flush();
    expect(second.stats().dropped.rejected).toBe(1);
    expectAccounted(second);
  });

  it('returns before anything is sent: sending happens on a microtask', async () => {
    const { emitter, transport } = setup({ maxBatchEvents: 2 });
    expect(emitter.emit(invocation())).toBeUndefined();
    emitter.emit(invocation());
    expect(transport.batches).toHaveLength(0);
    await Promise.resolve();
    expect(transport.batches).toHaveLength(1);
  });

  it('validates with the contract rules and sends the normalised event (unknown fields dropped)', async () => {
    const { emitter, transport } = setup();
    emitter.emit({ ...invocation(), prompt: 'secret text' } as never);
    emitter.emit(invocation({ input_tokens: 10, cache_read_input_tokens: 11 }));
    emitter.emit(asInput({ ...invocation(), kind: 'bogus' }));
    emitter.emit(score());
    await emitter.flush();
    const sent = transport.batches.flat().map((r) => r.event);
    expect(sent.map((e) => e.kind)).toEqual(['invocation', 'score']);
    expect(sent[0]?.event).not.toHaveProperty('prompt');
    expect(emitter.stats().dropped.invalid).toBe(2);
  });

  it('does not keep the process alive while idle (timers are unref’d)', () => {
    const refTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = refTimers();
    const { emitter } = setup({ maxBatchAgeMs: 60_000 });
    emitter.emit(invocation()); // arms the age timer
    expect(refTimers()).toBe(before);
  });
});

describe('bounded buffer', () => {
  it('drops past maxBufferedEvents, in-flight events included, and only past it', async () => {
    const hanging = deferred<typeof DELIVERED>();
    const transport = new FakeTransport();
    transport.responders.push(() => hanging.promise);
    const { emitter, drops } = setup({ maxBufferedEvents: 10, maxBatchEvents: 4 }, transport);
    for (let i = 0; i < 4; i++) emitter.emit(invocation());
    await Promise.resolve(); // the first 4 are now in flight
    expect(emitter.stats().inFlight).toBe(4);
    for (let i = 0; i < 6; i++) emitter.emit(invocation());
    expect(emitter.stats().dropped.buffer_full).toBe(0);
    for (let i = 0; i < 3; i++) emitter.emit(invocation());
    expect(emitter.stats().dropped.buffer_full).toBe(3);
    expect(drops).toEqual([
      ['buffer_full', 1],
      ['buffer_full', 1],
      ['buffer_full', 1],
    ]);
    expectAccounted(emitter);
    hanging.resolve(DELIVERED);
    await emitter.flush();
    expect(emitter.stats().sent).toBe(10);
  });

  it('drops past maxBufferedBytes', () => {
    const { emitter } = setup({ maxBufferedBytes: 250 }, new FakeTransport(100));
    for (let i = 0; i < 3; i++) emitter.emit(invocation());
    expect(emitter.stats().buffered).toBe(2);
    expect(emitter.stats().dropped.buffer_full).toBe(1);
  });
});

describe('batching', () => {
  it('cuts batches by count; a partial batch leaves after maxBatchAgeMs', async () => {
    vi.useFakeTimers();
    const { emitter, transport } = setup({ maxBatchEvents: 3, maxBatchAgeMs: 500 });
    for (let i = 0; i < 7; i++) emitter.emit(invocation());
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.batches.map((b) => b.length)).toEqual([3, 3]);
    await vi.advanceTimersByTimeAsync(499);
    expect(transport.batches).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.batches.map((b) => b.length)).toEqual([3, 3, 1]);
  });

  it('cuts batches by bytes', async () => {
    const { emitter, transport } = setup({ maxBatchBytes: 250 }, new FakeTransport(100));
    for (let i = 0; i < 5; i++) emitter.emit(invocation());
    await emitter.flush();
    expect(transport.batches.map((b) => b.length)).toEqual([2, 2, 1]);
  });

  it('clamps batch limits to the transport’s', async () => {
    const transport = new FakeTransport(100, { maxBatchEvents: 2 });
    const { emitter } = setup({ maxBatchEvents: 500 }, transport);
    for (let i = 0; i < 5; i++) emitter.emit(invocation());
    await emitter.flush();
    expect(transport.batches.map((b) => b.length)).toEqual([2, 2, 1]);
  });

  it('keeps emit order across batches', async () => {
    const { emitter, transport } = setup({ maxBatchEvents: 2 });
    const ids = Array.from({ length: 5 }, () => invocation());
    for (const e of ids) emitter.emit(e);
    await emitter.flush();
    expect(transport.ids().flat()).toEqual(ids.map((e) => e.event_id));
  });
});

describe('retries', () => {
  it('retries a retriable whole-batch failure after a backoff, not before', async () => {
    vi.useFakeTimers();
    const transport = new FakeTransport();
    transport.responders.push(() => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    });
    const { emitter } = setup({ retry: { initialDelayMs: 100, maxDelayMs: 1000 } }, transport);
    emitter.emit(invocation());
    const flushed = emitter.flush();
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.batches).toHaveLength(1);
    expect(emitter.stats()).toMatchObject({ retried: 1, inFlight: 1 });
    await vi.advanceTimersByTimeAsync(1000);
    await flushed;
    expect(transport.batches).toHaveLength(2);
    expect(emitter.stats()).toMatchObject({ sent: 1, retried: 1, inFlight: 0 });
  });

  it('does not retry non-retriable failures', async () => {
    const transport = new FakeTransport();
    transport.responders.push(() => Promise.reject(new TransportError('HTTP 403', false)));
    const { emitter } = setup({}, transport);
    emitter.emit(invocation());
    emitter.emit(invocation());
    await emitter.flush();
    expect(transport.batches).toHaveLength(1);
    expect(emitter.stats().dropped.rejected).toBe(2);
    expect(emitter.stats().lastError).toMatch(/HTTP 403 \(not retriable\)/);
  });

  it('on a partial failure retries only the retriable failed records, in emit order', async () => {
    vi.useFakeTimers();
    const transport = new FakeTransport();
    transport.responders.push(() => ({
      failures: [
        { index: 3, error: 'InternalFailure', retriable: true },
        { index: 1, error: 'ProvisionedThroughputExceededException', retriable: true },
        { index: 2, error: 'bad record', retriable: false, reason: 'invalid' },
      ],
    }));
    const { emitter } = setup({ retry: { maxDelayMs: 100 } }, transport);
    const events = Array.from({ length: 5 }, () => invocation());
    for (const e of events) emitter.emit(e);
    const flushed = emitter.flush();
    await vi.advanceTimersByTimeAsync(100);
    await flushed;
    expect(transport.ids()[1]).toEqual([events[1]?.event_id, events[3]?.event_id]);
    expect(emitter.stats()).toMatchObject({
      sent: 4,
      retried: 2,
      dropped: expect.objectContaining({ invalid: 1 }),
    });
    expectAccounted(emitter);
  });

  it('honours Retry-After even when longer than the backoff', async () => {
    vi.useFakeTimers();
    const transport = new FakeTransport();
    transport.responders.push(() => ({
      failures: [{ index: 0, error: 'HTTP 503', retriable: true }],
      retryAfterMs: 5000,
    }));
    const { emitter } = setup({ retry: { maxDelayMs: 100 } }, transport);
    emitter.emit(invocation());
    void emitter.flush();
    await vi.advanceTimersByTimeAsync(4999);
    expect(transport.batches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.batches).toHaveLength(2);
  });

  it('drops a batch as retries_exhausted after maxAttempts', async () => {
    vi.useFakeTimers();
    const transport = new FakeTransport();
    const fail = () => Promise.reject(new TransportError('HTTP 500', true));
    transport.responders.push(fail, fail, fail);
    const { emitter } = setup({ retry: { maxAttempts: 3, maxDelayMs: 10 } }, transport);
    emitter.emit(invocation());
    const flushed = emitter.flush();
    await vi.advanceTimersByTimeAsync(100);
    await flushed;
    expect(transport.batches).toHaveLength(3);
    expect(emitter.stats().dropped.retries_exhausted).toBe(1);
  });
});

describe('flush and close', () => {
  it('flush() waits for delivery of what was emitted before it, not after it', async () => {
    const first = deferred<typeof DELIVERED>();
    const second = deferred<typeof DELIVERED>();
    const transport = new FakeTransport();
    transport.responders.push(
      () => first.promise,
      () => second.promise,
    );
    const { emitter } = setup({}, transport);
    emitter.emit(invocation());
    let flushed = false;
    const flushing = emitter.flush().then(() => {
      flushed = true;
    });
    await Promise.resolve();
    emitter.emit(invocation()); // after the flush mark
    await Promise.resolve();
    expect(flushed).toBe(false);
    first.resolve(DELIVERED);
    await flushing;
    expect(emitter.stats()).toMatchObject({ sent: 1, buffered: 1 });
    const later = emitter.flush();
    await Promise.resolve();
    second.resolve(DELIVERED);
    await later;
    expect(emitter.stats().sent).toBe(2);
  });

  it('flush() resolves at once when nothing is held', async () => {
    const { emitter } = setup();
    await expect(emitter.flush()).resolves.toBeUndefined();
  });

  it('close() flushes, closes the transport, and drops later emits as closed', async () => {
    const { emitter, transport } = setup();
    emitter.emit(invocation());
    await emitter.close();
    expect(emitter.stats().sent).toBe(1);
    expect(transport.closed).toBe(1);
    emitter.emit(invocation());
    expect(emitter.stats().dropped.closed).toBe(1);
    await emitter.close(); // idempotent
    expect(transport.closed).toBe(1);
  });

  it('close({ timeoutMs }) gives up on a dead destination and counts what it held', async () => {
    vi.useFakeTimers();
    const transport = new FakeTransport();
    transport.send = () => new Promise(() => {});
    const { emitter } = setup({ maxBatchEvents: 2 }, transport);
    for (let i = 0; i < 5; i++) emitter.emit(invocation());
    const closing = emitter.close({ timeoutMs: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    await closing;
    expect(emitter.stats()).toMatchObject({ sent: 0, buffered: 0, inFlight: 0 });
    expect(emitter.stats().dropped.closed).toBe(5);
    expectAccounted(emitter);
  });

  it('while close() is awaited, a pending retry keeps the process alive', async () => {
    const transport = new FakeTransport();
    transport.responders.push(() => Promise.reject(new TransportError('HTTP 503', true)));
    const { emitter } = setup({ retry: { initialDelayMs: 5, maxDelayMs: 20 } }, transport);
    const refTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    emitter.emit(invocation());
    void emitter.flush();
    await new Promise((resolve) => setImmediate(resolve)); // the failure is in, the retry timer armed
    expect(emitter.stats().inFlight).toBe(1);
    const before = refTimers();
    const closing = emitter.close();
    expect(refTimers()).toBe(before + 1);
    await closing;
    expect(emitter.stats().sent).toBe(1);
  });

  it('rejects invalid options at creation', () => {
    expect(() => setup({ maxBufferedEvents: 0 })).toThrow(/maxBufferedEvents must be a positive integer/);
    expect(() => setup({ retry: { maxAttempts: 0 } })).toThrow(/retry.maxAttempts/);
  });
});
