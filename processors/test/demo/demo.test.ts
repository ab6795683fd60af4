import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseJsonLine, type TelemetryEvent } from '@genai-pipeline/schemas';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type DemoStats, runDemo } from '../../src/demo/demo.js';
import { createWorkload } from '../../src/demo/workload.js';

interface Received {
  method: string;
  path: string;
  contentType: string | undefined;
  receivedAt: number;
  lines: string[];
  status: number;
}

/** A stand-in collector that records every request; `reply` picks the answer. */
class RecordingCollector {
  readonly requests: Received[] = [];
  reply: (request: Omit<Received, 'status'>) => { status: number; headers?: Record<string, string> } =
    () => ({
      status: 202,
    });
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        receivedAt: Date.now(),
        lines: Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean),
        status: 0,
      };
      const { status, headers } = this.reply(request);
      request.status = status;
      this.requests.push(request);
      res.writeHead(status, headers).end();
    });
  });

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Every event of the requests answered 202, in arrival order. */
  accepted(): { line: string; receivedAt: number }[] {
    return this.requests
      .filter((r) => r.status === 202)
      .flatMap((r) => r.lines.map((line) => ({ line, receivedAt: r.receivedAt })));
  }

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

let collector: RecordingCollector;

beforeEach(async () => {
  collector = new RecordingCollector();
  await collector.start();
});

afterEach(async () => {
  await collector.stop();
});

/** Runs the demo fast (a simulated minute in a tenth of a second) until `enough` says stop. */
async function runUntil(enough: (stats: DemoStats) => boolean, options: { rate?: number } = {}) {
  const controller = new AbortController();
  const seen: DemoStats[] = [];
  const final = await runDemo({
    url: collector.url,
    signal: controller.signal,
    seed: 5,
    speed: 600,
    backfillMinutes: 2,
    tickMs: 5,
    ...options,
    onStats: (stats) => {
      seen.push(stats);
      if (enough(stats)) controller.abort();
    },
  });
  return { final, seen };
}

describe('runDemo', () => {
  test('sends the workload as JSON lines to /v1/events, stops on abort and flushes everything first', async () => {
    const { final, seen } = await runUntil((stats) => stats.sent >= 500);
    expect(collector.requests.length).toBeGreaterThan(0);
    for (const request of collector.requests) {
      expect(request).toMatchObject({
        method: 'POST',
        path: '/v1/events',
        contentType: 'application/x-ndjson',
      });
    }
    const received = collector.accepted();
    // Everything emitted before the abort was delivered before runDemo resolved.
    expect(final).toMatchObject({ emitted: received.length, sent: received.length, dropped: 0, pending: 0 });
    expect(seen.at(-1)).toEqual(final);
    expect(received.length).toBeGreaterThanOrEqual(500);

    const events: TelemetryEvent[] = [];
    for (const { line, receivedAt } of received) {
      const result = parseJsonLine(line, receivedAt);
      if (!result.ok) throw new Error(`${result.error}: ${line}`);
      // Never ahead of the real clock.
      expect(result.value.event.event_time).toBeLessThanOrEqual(receivedAt);
      events.push(result.value);
    }
    expect(events.some((e) => e.kind === 'score')).toBe(true);
    // Exactly the workload of that seed and start, in event-time order.
    const workload = createWorkload({ seed: 5, startTime: final.simulatedStart });
    expect(events).toEqual(workload.eventsUntil(final.simulatedTime));
  });

  test('reports the emitter stats, retries included, while running and at the end', async () => {
    let refused = 0;
    collector.reply = () =>
      refused++ < 2 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 202 };
    const { final, seen } = await runUntil((stats) => stats.retried > 0 && stats.sent > 0);
    expect(final.retried).toBeGreaterThan(0);
    expect(final.sent).toBe(final.emitted);
    expect(final.sent).toBe(collector.accepted().length);
    expect(seen.some((s) => s.pending > 0)).toBe(true);
    expect(seen.every((s) => s.simulatedTime >= s.simulatedStart)).toBe(true);
    expect(final.nextIncident?.kind).toBe('token_spike');
  });

  test('the simulated clock starts backfillMinutes back, never before notBefore, and catches up', async () => {
    const now = Date.now();
    const stopped = AbortSignal.abort();
    const base = { url: collector.url, signal: stopped, clock: () => now };
    expect((await runDemo(base)).simulatedStart).toBe(now - 15 * 60_000);
    expect((await runDemo({ ...base, notBefore: now - 60_000 })).simulatedStart).toBe(now - 60_000);
    const idle = await runDemo({ ...base, backfillMinutes: 0 });
    expect(idle).toMatchObject({ simulatedStart: now, emitted: 0, sent: 0 });
    expect(collector.requests).toEqual([]);
    // Not on a minute boundary, as a real start is not: the first incident is in the 1st full window.
    const early = await runDemo({
      ...base,
      clock: () => now - (now % 60_000) - 47_000,
      firstIncidentMinute: 0,
    });
    expect(early.nextIncident).toMatchObject({
      kind: 'token_spike',
      start: Math.ceil(early.simulatedStart / 60_000) * 60_000,
    });

    const { final } = await runUntil((stats) => stats.caughtUp, { rate: 0.2 });
    expect(final.caughtUp).toBe(true);
    expect(final.simulatedTime - final.simulatedStart).toBeGreaterThanOrEqual(2 * 60_000);
  });

  test('rejects invalid options at once, naming them', async () => {
    const signal = new AbortController().signal;
    await expect(runDemo({ url: collector.url, signal, backfillMinutes: -1 })).rejects.toThrow(
      /backfillMinutes/,
    );
    await expect(runDemo({ url: collector.url, signal, speed: 0 })).rejects.toThrow(/speed/);
    await expect(runDemo({ url: collector.url, signal, rate: 0 })).rejects.toThrow(/rate/);
    expect(collector.requests).toEqual([]);
  });
});
