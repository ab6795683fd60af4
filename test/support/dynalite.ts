/** DynamoDB on dynalite (a DynamoDB API server, in-process, in memory), and a look at a lease table as operators see it. */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

// dynalite ships no types: a factory of a plain Node HTTP server (in memory without a path).
const { default: dynalite } = (await import('dynalite' as string)) as {
  default: (options: object) => http.Server;
};

export interface DynaliteServer {
  endpoint: string;
  /** An SDK client over HTTP/1.1 (the SDK's default HTTP/2 handler does not work with dynalite), no SDK retries. */
  client: DynamoDBClient;
  close(): Promise<void>;
}

export async function startDynalite(): Promise<DynaliteServer> {
  // Tables change state at once instead of after dynalite's simulated delays.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
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

/**
 * The owner of every shard lease in a KCL-style lease table (items keyed `leaseKey` = shard id, owner
 * in `leaseOwner`, absent when free); items that are not shard leases are left out.
 */
export async function leaseOwners(
  client: DynamoDBClient,
  tableName: string,
): Promise<Map<string, string | undefined>> {
  const owners = new Map<string, string | undefined>();
  for await (const page of paginateScan({ client }, { TableName: tableName, ConsistentRead: true })) {
    for (const item of page.Items ?? []) {
      const shardId = item.leaseKey?.S;
      if (shardId?.startsWith('shardId-')) owners.set(shardId, item.leaseOwner?.S);
    }
  }
  return owners;
}
