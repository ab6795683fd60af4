/** DynamoDB on dynalite (a DynamoDB API server, in-process, in memory) for the lease tests. */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { LeaseTable } from '../../src/leases/lease-table.js';

// dynalite ships no types: a factory of a plain Node HTTP server (in memory without a path).
const { default: dynalite } = (await import('dynalite' as string)) as {
  default: (options: object) => http.Server;
};

export interface DynaliteServer {
  endpoint: string;
  close(): Promise<void>;
}

/** A dynalite server on a free local port; new tables become ACTIVE after `createTableMs` (0: at once). */
export async function startDynalite(createTableMs = 0): Promise<DynaliteServer> {
  const server = dynalite({ createTableMs, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

export interface LeaseTables {
  /**
   * An SDK client of the file's server (or of `endpoint`), destroyed after the test: over HTTP/1.1 (the
   * SDK's default HTTP/2 handler does not work with dynalite), test credentials, no SDK retries.
   */
  client(endpoint?: string): DynamoDBClient;
  /** A LeaseTable named `tableName` on its own client (or `client`), closed after the test; not created. */
  leaseTable(tableName: string, client?: DynamoDBClient): LeaseTable;
  /** A fresh, ACTIVE lease table, named `<tablePrefix>-<n>`. */
  freshTable(): Promise<LeaseTable>;
}

/** One dynalite server for the calling test file (started and stopped by its hooks) and its lease tables. */
export function useLeaseTables(tablePrefix: string): LeaseTables {
  let server: DynaliteServer | undefined;
  let tableCount = 0;
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    server = await startDynalite();
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });
  afterAll(async () => {
    await server?.close();
  });

  const client = (endpoint?: string): DynamoDBClient => {
    const resolved = endpoint ?? server?.endpoint;
    if (resolved === undefined)
      throw new Error('dynalite is not running: use the lease tables inside a test');
    const dynamo = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: resolved,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: new NodeHttpHandler(),
      maxAttempts: 1,
    });
    cleanups.push(() => dynamo.destroy());
    return dynamo;
  };
  const leaseTable = (tableName: string, dynamo = client()): LeaseTable => {
    const table = new LeaseTable({ tableName, client: dynamo });
    cleanups.push(() => table.close());
    return table;
  };
  return {
    client,
    leaseTable,
    async freshTable() {
      tableCount += 1;
      const table = leaseTable(`${tablePrefix}-${tableCount}`);
      await table.ensureTable();
      return table;
    },
  };
}
