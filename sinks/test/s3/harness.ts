/** A real S3 API server (s3rver) for the S3 store's tests, and a proxy in front of it that injects faults. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export const TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface S3rverFixture {
  endpoint: string;
  /** A client straight to s3rver, for reading back what the store wrote. */
  client: S3Client;
  close(): Promise<void>;
}

export async function startS3rver(buckets: string[]): Promise<S3rverFixture> {
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = testClient(endpoint);
  return {
    endpoint,
    client,
    async close() {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** An SDK client for a local endpoint: SDK defaults otherwise (checksums included), no SDK retries. */
export function testClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    credentials: TEST_CREDENTIALS,
    forcePathStyle: true,
    maxAttempts: 1,
  });
}

export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys.sort();
}

export async function readObject(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (object.Body === undefined) throw new Error(`s3://${bucket}/${key} has no body`);
  return object.Body.transformToByteArray();
}

export type S3Operation =
  | 'PutObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'DeleteObject'
  | 'Read';

/** `slow-down`: 503 SlowDown as S3 throttles; `reset`: the connection drops; `hang`: no answer ever. */
export type Fault = 'slow-down' | 'reset' | 'hang';

export interface ProxiedRequest {
  operation: S3Operation;
  /** The upstream's status, or the fault injected instead. */
  outcome: number | Fault;
}

/** Decides the fault for a request from its operation and the count of requests of that operation so far (1-based). */
export type FaultPlan = (
  operation: S3Operation,
  nthOfOperation: number,
  nthOverall: number,
) => Fault | undefined;

function operationOf(req: IncomingMessage): S3Operation {
  const query = new URL(req.url ?? '/', 'http://proxy').searchParams;
  switch (req.method) {
    case 'POST':
      return query.has('uploads') ? 'CreateMultipartUpload' : 'CompleteMultipartUpload';
    case 'PUT':
      return query.has('uploadId') ? 'UploadPart' : 'PutObject';
    case 'DELETE':
      return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    default:
      return 'Read';
  }
}

const SLOW_DOWN_BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault-proxy</RequestId></Error>';

/** An HTTP proxy in front of an S3 endpoint that fails requests as its plan says and logs every request. */
export class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  plan: FaultPlan = () => undefined;
  private readonly counts = new Map<S3Operation, number>();

  private constructor(
    private readonly server: Server,
    private readonly upstream: URL,
  ) {
    server.on('request', (req, res) => this.handle(req, res));
  }

  static async start(upstream: string): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server, new URL(upstream));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  operations(): S3Operation[] {
    return this.requests.map((r) => r.operation);
  }

  /** No faults planned, empty log, counts from zero. */
  reset(): void {
    this.plan = () => undefined;
    this.requests.length = 0;
    this.counts.clear();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const operation = operationOf(req);
    const nth = (this.counts.get(operation) ?? 0) + 1;
    this.counts.set(operation, nth);
    const fault = this.plan(operation, nth, this.requests.length + 1);
    const logged: ProxiedRequest = { operation, outcome: fault ?? 0 };
    this.requests.push(logged);
    if (fault === 'reset') {
      req.socket.destroy();
    } else if (fault === 'slow-down') {
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml' }).end(SLOW_DOWN_BODY);
      });
    } else if (fault === undefined) {
      const forwarded = request(
        {
          host: this.upstream.hostname,
          port: this.upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (upstreamRes) => {
          logged.outcome = upstreamRes.statusCode ?? 0;
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      forwarded.on('error', () => req.socket.destroy());
      req.pipe(forwarded);
    }
    // 'hang': read nothing, answer nothing; the client's socket timeout ends it.
  }
}
