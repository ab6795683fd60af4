import { readAvroContainer } from '@genai-pipeline/schemas';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEmitter } from '../../src/emitter/emitter.js';
import { HttpTransport, parseRejection, parseRetryAfter } from '../../src/transport/http.js';
import { StandInCollector } from '../support/collector.js';
import { invocation, score } from '../support/fixtures.js';

let collector: StandInCollector;

beforeEach(async () => {
  collector = new StandInCollector();
  await collector.start(0);
});

afterEach(async () => {
  vi.useRealTimers();
  await collector.stop();
});

describe('HttpTransport request shape', () => {
  it('POSTs JSON lines, scores marked with kind', async () => {
    const emitter = createEmitter({ transport: new HttpTransport({ url: collector.url }) });
    const inv = invocation({ tenant_id: 'acme' });
    const sc = score({ value: -1 });
    emitter.emit(inv);
    emitter.emit(sc);
    await emitter.close();
    expect(collector.requests).toHaveLength(1);
    const [request] = collector.requests;
    expect(request).toMatchObject({ method: 'POST', url: '/v1/events', contentType: 'application/x-ndjson' });
    const lines = collector.lines();
    expect(lines[0]).toMatchObject({
      event_id: inv.event_id,
      input_tokens: 1200,
      cache_read_input_tokens: 1000,
    });
    expect(lines[0]).not.toHaveProperty('kind');
    expect(lines[1]).toMatchObject({ kind: 'score', event_id: sc.event_id, value: -1 });
    expect(emitter.stats().sent).toBe(2);
  });

  it('POSTs an Avro object container per event kind', async () => {
    const emitter = createEmitter({ transport: new HttpTransport({ url: collector.url, format: 'avro' }) });
    const inv = invocation();
    const sc = score();
    emitter.emit(inv);
    emitter.emit(sc);
    await emitter.close();
    expect(collector.requests.map((r) => r.contentType)).toEqual(['application/avro', 'application/avro']);
    const decoded = [];
    for (const request of collector.requests) {
      for await (const record of readAvroContainer(request.body)) decoded.push(record);
    }
    expect(decoded.map((d) => [d.kind, (d.record as { event_id: string }).event_id])).toEqual([
      ['invocation', inv.event_id],
      ['score', sc.event_id],
    ]);
  });
});

describe('HttpTransport responses', () => {
  const send = async (count: number, transport = new HttpTransport({ url: collector.url })) => {
    const batch = Array.from({ length: count }, () =>
      transport.encode({ kind: 'invocation', event: { ...invocation(), ...NULLS } as never }),
    );
    return transport.send(batch);
  };
  const NULLS = { ttft_ms: null, error_code: null, finish_reason: null, cost_usd: null };

  it('202: every record delivered', async () => {
    expect(await send(3)).toEqual({ failures: [] });
  });

  it('400 with per-record errors: those records are invalid, the rest delivered', async () => {
    collector.reply = () => ({
      status: 400,
      body: JSON.stringify({
        accepted: 2,
        errors: [{ index: 1, error: 'input_tokens: must be an integer >= 0' }],
      }),
    });
    expect(await send(3)).toEqual({
      failures: [
        { index: 1, error: 'input_tokens: must be an integer >= 0', retriable: false, reason: 'invalid' },
      ],
    });
  });

  it('400 without the agreed body: the whole body was rejected', async () => {
    collector.reply = () => ({ status: 400, body: 'unsupported content type' });
    const result = await send(2);
    expect(result.failures.map((f) => [f.index, f.retriable, f.reason])).toEqual([
      [0, false, 'rejected'],
      [1, false, 'rejected'],
    ]);
  });

  it('413: splits the body in halves until it fits; a single record over the limit is too_large', async () => {
    collector.reply = (r) => {
      const lines = r.body.toString().trim().split('\n');
      if (lines.length > 2) return { status: 413 };
      if (lines.some((l) => l.includes('"huge"'))) return { status: 413 };
      return { status: 202 };
    };
    const transport = new HttpTransport({ url: collector.url });
    const batch = [
      invocation(),
      invocation(),
      invocation({ environment: 'huge' }),
      invocation(),
      invocation(),
    ].map((e) => transport.encode({ kind: 'invocation', event: { ...e, ...NULLS } as never }));
    const result = await transport.send(batch);
    expect(result.failures).toEqual([
      {
        index: 2,
        error: 'HTTP 413: one record is over the body limit',
        retriable: false,
        reason: 'too_large',
      },
    ]);
    // 5 -> 413; [0,1,2] -> 413; [0,1] ok; [2] 413; [3,4] ok
    expect(collector.requests.map((r) => r.body.toString().trim().split('\n').length)).toEqual([
      5, 3, 2, 1, 2,
    ]);
  });

  it('503 with Retry-After: retriable, with the delay', async () => {
    collector.reply = () => ({ status: 503, headers: { 'retry-after': '7' }, body: 'shedding load' });
    const result = await send(2);
    expect(result.retryAfterMs).toBe(7000);
    expect(result.failures.every((f) => f.retriable)).toBe(true);
  });

  it('other 4xx are not retriable; 429 and 5xx are', async () => {
    collector.reply = () => ({ status: 401 });
    expect((await send(1)).failures[0]?.retriable).toBe(false);
    collector.reply = () => ({ status: 429 });
    expect((await send(1)).failures[0]?.retriable).toBe(true);
    collector.reply = () => ({ status: 500 });
    expect((await send(1)).failures[0]?.retriable).toBe(true);
  });

  it('a refused connection is retriable', async () => {
    await collector.stop();
    const result = await send(2);
    expect(result.failures).toHaveLength(2);
    expect(result.failures[0]).toMatchObject({
      retriable: true,
      error: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  it('through the emitter a 400 counts sent and invalid records', async () => {
    collector.reply = () => ({
      status: 400,
      body: JSON.stringify({ accepted: 1, errors: [{ index: 0, error: 'x' }] }),
    });
    const emitter = createEmitter({ transport: new HttpTransport({ url: collector.url }) });
    emitter.emit(invocation());
    emitter.emit(invocation());
    await emitter.close();
    expect(emitter.stats()).toMatchObject({ sent: 1, dropped: expect.objectContaining({ invalid: 1 }) });
  });
});

describe('parsers', () => {
  it('parseRetryAfter reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
    ).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('parseRejection accepts only the agreed shape', () => {
    expect(parseRejection('{"accepted":1,"errors":[{"index":0,"error":"e"}]}')).toEqual({
      accepted: 1,
      errors: [{ index: 0, error: 'e' }],
    });
    expect(parseRejection('{"errors":[{"index":"0"}]}')).toBeUndefined();
    expect(parseRejection('{"errors":[]}')).toBeUndefined();
    expect(parseRejection('not json')).toBeUndefined();
  });
});

describe('the collector goes away for 30 s', () => {
  it('emit never blocks, buffered events arrive after it returns, drops only past the bound', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const transport = new HttpTransport({ url: collector.url });
    let inEmit = false;
    let sendInsideEmit = false;
    let pending: Promise<unknown> = Promise.resolve();
    const send = transport.send.bind(transport);
    transport.send = (batch) => {
      if (inEmit) sendInsideEmit = true;
      const request = send(batch);
      pending = request;
      return request;
    };
    const bound = 200;
    const emitter = createEmitter({
      transport,
      maxBufferedEvents: bound,
      maxBatchEvents: 20,
      maxBatchAgeMs: 100,
      retry: { initialDelayMs: 100, maxDelayMs: 2000 },
    });
    const emit = (e: ReturnType<typeof invocation>) => {
      inEmit = true;
      expect(emitter.emit(e)).toBeUndefined();
      inEmit = false;
    };
    /** Lets timers fire, then waits for the request they started (real I/O). */
    const step = async (ms: number) => {
      await vi.advanceTimersByTimeAsync(ms);
      await pending;
      await vi.advanceTimersByTimeAsync(0);
    };

    const before = Array.from({ length: 20 }, () => invocation());
    for (const e of before) emit(e);
    await emitter.flush();
    expect(collector.requests).toHaveLength(1);

    const port = collector.port;
    await collector.stop();
    const during: string[] = [];
    for (let second = 0; second < 30; second++) {
      for (let i = 0; i < 10; i++) {
        const e = invocation();
        during.push(e.event_id);
        emit(e);
      }
      await step(1000);
      expect(emitter.stats().dropped.buffer_full).toBe(Math.max(0, during.length - bound));
    }
    expect(emitter.stats().sent).toBe(20);
    expect(emitter.stats().retried).toBeGreaterThan(0);
    expect(emitter.stats().dropped.buffer_full).toBe(100);

    await collector.start(port);
    for (let i = 0; i < 60 && emitter.stats().buffered + emitter.stats().inFlight > 0; i++) await step(1000);
    await emitter.close();

    const received = collector.lines().map((l) => l.event_id);
    expect(received).toEqual([...before.map((e) => e.event_id), ...during.slice(0, bound)]);
    expect(emitter.stats()).toMatchObject({ emitted: 320, sent: 220, buffered: 0, inFlight: 0 });
    expect(sendInsideEmit).toBe(false);
  });
});
