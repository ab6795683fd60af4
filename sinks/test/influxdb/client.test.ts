import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  httpInfluxWriter,
  InfluxWriteError,
  parseRetryAfter,
  responseError,
} from '../../src/influxdb/client.js';

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 5, 2, 12);
  it('reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now + 5_000).toUTCString(), now)).toBe(5_000);
    expect(parseRetryAfter(new Date(now - 5_000).toUTCString(), now)).toBe(0);
  });

  it('ignores an absent or unreadable header', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(' ', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('responseError', () => {
  it('retries 408, 429 and 5xx only', () => {
    for (const status of [408, 429, 500, 502, 503, 504])
      expect(responseError(status, '', null, 0).retriable).toBe(true);
    for (const status of [400, 401, 403, 404, 413, 422])
      expect(responseError(status, '', null, 0).retriable).toBe(false);
  });

  it("quotes the server's message from either API's error body", () => {
    expect(responseError(404, '{"error":"database not found: \\"x\\""}', null, 0).message).toBe(
      'InfluxDB write answered HTTP 404: database not found: "x" (not retriable)',
    );
    expect(
      responseError(401, '{"code":"unauthorized","message":"unauthorized access"}', null, 0).message,
    ).toContain('HTTP 401: unauthorized access');
    expect(responseError(502, '<html>bad gateway</html>', '7', 0)).toMatchObject({
      status: 502,
      retryAfterMs: 7_000,
    });
  });
});

describe('httpInfluxWriter', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  async function serve(status: number, headers: Record<string, string> = {}) {
    const seen: Array<{ url?: string; headers: IncomingHttpHeaders; body: string }> = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ url: req.url, headers: req.headers, body });
        res.writeHead(status, headers);
        res.end(status === 204 ? undefined : '{"error":"nope"}');
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return { seen, port: (server.address() as AddressInfo).port };
  }

  it('POSTs the lines as text with the token header', async () => {
    const { seen, port } = await serve(204);
    const url = new URL(`http://127.0.0.1:${port}/api/v2/write?bucket=b&precision=ms`);
    await httpInfluxWriter({ url, token: 'secret', requestTimeoutMs: 2_000 }).write('m f=1i 1\n');
    expect(seen).toEqual([
      {
        url: '/api/v2/write?bucket=b&precision=ms',
        headers: expect.objectContaining({
          authorization: 'Token secret',
          'content-type': 'text/plain; charset=utf-8',
        }),
        body: 'm f=1i 1\n',
      },
    ]);
  });

  it('sends no Authorization header without a token', async () => {
    const { seen, port } = await serve(204);
    await httpInfluxWriter({
      url: new URL(`http://127.0.0.1:${port}/write?db=d`),
      requestTimeoutMs: 2_000,
    }).write('m f=1 1\n');
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it('turns an error answer into a classified InfluxWriteError with Retry-After', async () => {
    const { port } = await serve(429, { 'Retry-After': '2' });
    const error = await httpInfluxWriter({
      url: new URL(`http://127.0.0.1:${port}/write?db=d`),
      requestTimeoutMs: 2_000,
    })
      .write('m f=1 1\n')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfluxWriteError);
    expect(error).toMatchObject({ status: 429, retriable: true, retryAfterMs: 2_000 });
  });

  it('calls a refused connection retriable', async () => {
    const { port } = await serve(204);
    server?.close();
    server?.closeAllConnections();
    const error = await httpInfluxWriter({
      url: new URL(`http://127.0.0.1:${port}/write?db=d`),
      requestTimeoutMs: 2_000,
    })
      .write('m f=1 1\n')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      retriable: true,
      status: undefined,
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });
});
