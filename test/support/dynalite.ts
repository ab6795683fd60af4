/** DynamoDB on dynalite (a DynamoDB API server, in-process, in memory), and a look at a lease table as operators see it. */
import type http from 'node:http';
import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { type LocalAwsServer, startLocalAwsServer } from './local-aws.js';

// dynalite ships no types: a factory of a plain Node HTTP server (in memory without a path).
const { default: dynalite } = (await import('dynalite' as string)) as {
  default: (options: object) => http.Server;
};

export type DynaliteServer = LocalAwsServer<DynamoDBClient>;

export function startDynalite(): Promise<DynaliteServer> {
  // Tables change state at once instead of after dynalite's simulated delays.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  return startLocalAwsServer(server, (config) => new DynamoDBClient(config));
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
