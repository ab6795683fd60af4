import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  contentType: string | undefined;
  body: Buffer;
}

type Reply = (request: ReceivedRequest) => {
  status: number;
  headers?: Record<string, string>;
  body?: string;
};

/** A small HTTP server standing in for the collector: records requests, answers with `reply` (default 202). */
export class StandInCollector {
  readonly requests: ReceivedRequest[] = [];
  reply: Reply = () => ({ status: 202, body: '{}' });
  private server: http.Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1/events`;
  }

  async start(port = this.port): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received: ReceivedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          contentType: req.headers['content-type'],
          body: Buffer.concat(chunks),
        };
        this.requests.push(received);
        const { status, headers, body } = this.reply(received);
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and cuts kept-alive connections: the collector is gone. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The JSON lines of every ndjson request body, parsed. */
  lines(): Record<string, unknown>[] {
    return this.requests.flatMap((r) =>
      r.body
        .toString('utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
  }
}
