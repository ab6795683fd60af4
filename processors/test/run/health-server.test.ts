import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import { startHealthServer } from '../../src/run/health-server.js';

let reason: string | undefined;
let server: { url: string; close(): Promise<void> } | undefined;

async function start(registry = new Registry()): Promise<string> {
  server = await startHealthServer({ host: '127.0.0.1', port: 0, registry, unhealthyReason: () => reason });
  return server.url;
}

afterEach(async () => {
  reason = undefined;
  await server?.close();
  server = undefined;
});

describe('startHealthServer', () => {
  test('listens on the port it was given (0: any free one) and reports its URL', async () => {
    const url = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
  });

  test('/healthz: 200 while healthy, 503 with the reason when not', async () => {
    const url = await start();
    const healthy = await fetch(`${url}/healthz`);
    expect(healthy.status).toBe(200);
    expect(healthy.headers.get('content-type')).toBe('application/json');
    expect(await healthy.json()).toEqual({ status: 'ok' });

    reason = 'processing stopped: kinesis throttled';
    const unhealthy = await fetch(`${url}/healthz?verbose=1`);
    expect(unhealthy.status).toBe(503);
    expect(await unhealthy.json()).toEqual({
      status: 'unhealthy',
      reason: 'processing stopped: kinesis throttled',
    });
  });

  test("/metrics: the registry's text in the Prometheus content type, as it is at the scrape", async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'test_things_total', help: 'Things', registers: [registry] });
    const url = await start(registry);
    counter.inc(3);
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(registry.contentType);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('# TYPE test_things_total counter');
    expect(text).toContain('test_things_total 3');
  });

  test('/metrics: 500 with the message when collecting fails', async () => {
    const registry = new Registry();
    new Counter({
      name: 'test_broken_total',
      help: 'Broken',
      registers: [registry],
      collect() {
        throw new Error('cannot read the pipeline');
      },
    });
    const res = await fetch(`${await start(registry)}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('cannot read the pipeline');
  });

  test('404 for other paths and methods, naming the route', async () => {
    const url = await start();
    const missing = await fetch(`${url}/v1/events`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'no route GET /v1/events' });
    const post = await fetch(`${url}/healthz`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(404);
    expect(await post.json()).toEqual({ error: 'no route POST /healthz' });
  });

  test('close stops listening', async () => {
    const url = await start();
    await server?.close();
    server = undefined;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  test('a port in use rejects the start', async () => {
    const url = await start();
    const port = Number(new URL(url).port);
    await expect(
      startHealthServer({
        host: '127.0.0.1',
        port,
        registry: new Registry(),
        unhealthyReason: () => undefined,
      }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
