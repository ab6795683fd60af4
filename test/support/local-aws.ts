/** An AWS API server running in this process (kinesalite, dynalite), listening on a free port, with an SDK client for it. */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface LocalAwsServer<Client> {
  endpoint: string;
  /** An SDK client over HTTP/1.1 (the SDK's default HTTP/2 handler does not work with these servers), no SDK retries. */
  client: Client;
  close(): Promise<void>;
}

/** What an SDK client needs to talk to a local endpoint. */
export interface LocalClientConfig {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  requestHandler: NodeHttpHandler;
  maxAttempts: number;
}

export async function startLocalAwsServer<Client extends { destroy(): void }>(
  server: http.Server,
  makeClient: (config: LocalClientConfig) => Client,
): Promise<LocalAwsServer<Client>> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = makeClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  return {
    endpoint,
    client,
    async close() {
      client.destroy();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
