/**
 * The DynamoDB lease table of Kinesis scale-out, laid out like the KCL's: one item per shard
 * (`leaseKey` = shard id) saying which worker holds it, up to where it is processed, and from which
 * shards it was split or merged. Every write that changes the lease bumps `leaseCounter` and is
 * conditional on the counter the caller last saw, so the counter is the lease's version: an owner
 * that stops bumping it is presumed dead, and of two workers racing for a lease exactly one wins.
 *
 * A thin, exact layer: a lost race (a failed condition) is a normal `undefined`/`false` result, any
 * other failure a LeaseTableError that says whether trying again may help. Nothing is retried here;
 * the coordinator above retries on its own timer.
 */

import { randomBytes } from 'node:crypto';
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type ScanCommandOutput,
  type TableDescription,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { isRetriableError, OperationalError } from '@genai-pipeline/schemas';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';

/** The checkpoint of a lease no record of which has been processed yet. */
/** A read (Scan, GetItem) is tried up to three times; a conditional write once (see the client). */
const READ_RETRY = retry(
  handleWhen((error) => error instanceof LeaseTableError && error.retriable),
  { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }) },
);

export const LEASE_CHECKPOINT_TRIM_HORIZON = 'TRIM_HORIZON';
/** The checkpoint of a closed shard read to its end: its children may start. */
export const LEASE_CHECKPOINT_SHARD_END = 'SHARD_END';

export interface ShardLease {
  /** The item key, attribute `leaseKey` (S). */
  shardId: string;
  /** `leaseOwner` (S); absent = free. */
  owner: string | undefined;
  /** `leaseCounter` (N): +1 on every take, renew, checkpoint and release. */
  counter: number;
  /** `checkpoint` (S): TRIM_HORIZON, a sequence number, or SHARD_END. */
  checkpoint: string;
  /** `stateKey` (S): where the shard's processing state at `checkpoint` is stored (opaque). */
  stateKey: string | undefined;
  /** `parentShardIds` (L of S, may be empty). */
  parentShardIds: string[];
  /** Decimal strings, attributes `hashKeyStart`, `hashKeyEnd`. */
  hashKeyRange: { start: string; end: string };
  /** `pendingOwner` (S): a worker asked for this lease (balancing); its owner hands it over at its next checkpoint. */
  pendingOwner: string | undefined;
}

/** An operational failure of the lease table; `retriable` says whether trying again later may succeed. */
export class LeaseTableError extends OperationalError {}

export interface LeaseTableOptions {
  tableName: string;
  /**
   * A configured SDK client. Default: the SDK's standard configuration (AWS_REGION,
   * AWS_ENDPOINT_URL_DYNAMODB, the credential chain) over HTTP/1.1, destroyed on close().
   */
  client?: DynamoDBClient;
}

/** The key of the item holding the table's own facts (the store id); never a Kinesis shard id. */
const META_KEY = '__meta__';
/** How long ensureTable() waits for a table being created to become ACTIVE. */
const TABLE_ACTIVE_TIMEOUT_MS = 60_000;
const TABLE_POLL_FIRST_MS = 50;
const TABLE_POLL_MAX_MS = 2_000;

/** Conditions of the writes only the lease's current owner may make. */
const HELD_BY_WORKER = 'leaseOwner = :worker AND leaseCounter = :counter';

interface Update {
  update: string;
  condition: string;
  values: Record<string, AttributeValue>;
}

export class LeaseTable {
  readonly tableName: string;
  private readonly client: DynamoDBClient;
  /** A client this table made itself, destroyed on close(). */
  private readonly ownClient: DynamoDBClient | undefined;
  private knownStoreId: string | undefined;

  constructor(options: LeaseTableOptions) {
    if (!options.tableName) throw new TypeError('tableName is required');
    this.tableName = options.tableName;
    this.ownClient =
      options.client === undefined
        ? new DynamoDBClient({
            // The SDK's default HTTP/2 handler does not work against local endpoints (dynalite); the
            // timeouts keep a hung connection from outlasting a lease. One attempt: the coordinator's
            // timer is the retry layer, and an SDK retry of a conditional write whose first attempt
            // landed would fail its own condition and look like a lost lease.
            requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, socketTimeout: 10_000 }),
            maxAttempts: 1,
          })
        : undefined;
    this.client = options.client ?? (this.ownClient as DynamoDBClient);
  }

  /** Creates the table if missing (key `leaseKey` S, PAY_PER_REQUEST) and waits until it is ACTIVE. */
  async ensureTable(): Promise<void> {
    const deadline = Date.now() + TABLE_ACTIVE_TIMEOUT_MS;
    let pause = TABLE_POLL_FIRST_MS;
    for (;;) {
      const table = await this.describeTable();
      if (table === undefined) {
        await this.createTable();
      } else if (table.TableStatus === 'ACTIVE') {
        this.checkKeySchema(table);
        return;
      }
      if (Date.now() >= deadline) {
        throw new LeaseTableError(
          `lease table ${this.tableName}: not ACTIVE after ${TABLE_ACTIVE_TIMEOUT_MS} ms (status ${table?.TableStatus ?? 'missing'})`,
          true,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, TABLE_POLL_MAX_MS);
    }
  }

  /** A random id (8 hex chars) fixed when the table is first used; every caller gets the same one. */
  async storeId(): Promise<string> {
    if (this.knownStoreId !== undefined) return this.knownStoreId;
    const candidate = randomBytes(4).toString('hex');
    const created = await this.conditional('create the store id', () =>
      this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: { leaseKey: { S: META_KEY }, storeId: { S: candidate } },
          ConditionExpression: 'attribute_not_exists(leaseKey)',
        }),
      ),
    );
    if (created !== undefined) {
      this.knownStoreId = candidate;
      return candidate;
    }
    // Another caller was first: its id is the one.
    const { Item } = await this.request('read the store id', () =>
      this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: key(META_KEY), ConsistentRead: true }),
      ),
    );
    const storeId = Item?.storeId?.S;
    if (storeId === undefined) {
      throw new LeaseTableError(
        `lease table ${this.tableName}: item ${META_KEY} has no string attribute storeId`,
        false,
      );
    }
    this.knownStoreId = storeId;
    return storeId;
  }

  /** Every shard lease (consistent Scan, all pages), the meta item excluded. */
  async list(): Promise<ShardLease[]> {
    const leases: ShardLease[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page: ScanCommandOutput = await this.read('list the leases', () =>
        this.client.send(
          new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
        ),
      );
      for (const item of page.Items ?? []) {
        if (item.leaseKey?.S !== META_KEY) leases.push(this.parse(item));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return leases;
  }

  /** One lease (consistent GetItem), undefined if absent. */
  async get(shardId: string): Promise<ShardLease | undefined> {
    const { Item } = await this.read(`read the lease of ${shardId}`, () =>
      this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: key(shardId), ConsistentRead: true }),
      ),
    );
    return Item === undefined ? undefined : this.parse(Item);
  }

  /** Creates a free lease at counter 0 unless one exists (conditional put); true when this call created it. */
  async create(lease: {
    shardId: string;
    checkpoint: string;
    parentShardIds: string[];
    hashKeyRange: { start: string; end: string };
  }): Promise<boolean> {
    if (lease.shardId === META_KEY) throw new TypeError(`${META_KEY} is reserved, not a shard id`);
    const created = await this.conditional(`create the lease of ${lease.shardId}`, () =>
      this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            leaseKey: { S: lease.shardId },
            leaseCounter: { N: '0' },
            checkpoint: { S: lease.checkpoint },
            parentShardIds: { L: lease.parentShardIds.map((id) => ({ S: id })) },
            hashKeyStart: { S: lease.hashKeyRange.start },
            hashKeyEnd: { S: lease.hashKeyRange.end },
          },
          ConditionExpression: 'attribute_not_exists(leaseKey)',
        }),
      ),
    );
    return created !== undefined;
  }

  /** Takes `observed` for `worker` if nobody changed it since; the new lease, or undefined when the race was lost. */
  take(observed: ShardLease, worker: string): Promise<ShardLease | undefined> {
    return this.update(`take the lease of ${observed.shardId}`, observed.shardId, {
      update: 'SET leaseOwner = :worker, leaseCounter = leaseCounter + :one REMOVE pendingOwner',
      condition: 'leaseCounter = :counter',
      values: { ':worker': { S: worker }, ':counter': counter(observed), ':one': { N: '1' } },
    });
  }

  /** Renews a held lease; the lease as stored (showing a pendingOwner someone set), undefined when no longer held. */
  renew(held: ShardLease, worker: string): Promise<ShardLease | undefined> {
    return this.update(`renew the lease of ${held.shardId}`, held.shardId, {
      update: 'SET leaseCounter = leaseCounter + :one',
      condition: HELD_BY_WORKER,
      values: { ':worker': { S: worker }, ':counter': counter(held), ':one': { N: '1' } },
    });
  }

  /** Records a checkpoint (and where the state at it is) of a held lease; undefined when not held. */
  checkpoint(
    held: ShardLease,
    worker: string,
    checkpoint: string,
    stateKey: string | undefined,
  ): Promise<ShardLease | undefined> {
    const values: Record<string, AttributeValue> = {
      ':worker': { S: worker },
      ':counter': counter(held),
      ':one': { N: '1' },
      ':checkpoint': { S: checkpoint },
    };
    if (stateKey !== undefined) values[':stateKey'] = { S: stateKey };
    return this.update(`checkpoint the lease of ${held.shardId}`, held.shardId, {
      update:
        stateKey === undefined
          ? 'SET checkpoint = :checkpoint, leaseCounter = leaseCounter + :one REMOVE stateKey'
          : 'SET checkpoint = :checkpoint, stateKey = :stateKey, leaseCounter = leaseCounter + :one',
      condition: HELD_BY_WORKER,
      values,
    });
  }

  /**
   * Lets go of a held lease; the new lease, undefined when not held. A handoff request stays on it:
   * the free lease is kept for the worker that asked (until `take` clears it).
   */
  release(held: ShardLease, worker: string): Promise<ShardLease | undefined> {
    return this.update(`release the lease of ${held.shardId}`, held.shardId, {
      update: 'SET leaseCounter = leaseCounter + :one REMOVE leaseOwner',
      condition: HELD_BY_WORKER,
      values: { ':worker': { S: worker }, ':counter': counter(held), ':one': { N: '1' } },
    });
  }

  /**
   * Asks the owner of `observed` to hand it over to `worker`. The counter stays as it is, so the
   * owner's renewals go on until it hands over. False when the owner changed or someone asked first.
   */
  async requestHandoff(observed: ShardLease, worker: string): Promise<boolean> {
    if (observed.owner === undefined) {
      throw new TypeError(`lease ${observed.shardId} is free: take it rather than request it`);
    }
    const updated = await this.update(`request the lease of ${observed.shardId}`, observed.shardId, {
      update: 'SET pendingOwner = :worker',
      condition: 'leaseOwner = :owner AND attribute_not_exists(pendingOwner)',
      values: { ':worker': { S: worker }, ':owner': { S: observed.owner } },
    });
    return updated !== undefined;
  }

  /** Deletes the lease of a shard gone from the stream, only if it is at SHARD_END. True when deleted. */
  async delete(shardId: string): Promise<boolean> {
    const deleted = await this.conditional(`delete the lease of ${shardId}`, () =>
      this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: key(shardId),
          ConditionExpression: 'checkpoint = :shardEnd',
          ExpressionAttributeValues: { ':shardEnd': { S: LEASE_CHECKPOINT_SHARD_END } },
        }),
      ),
    );
    return deleted !== undefined;
  }

  close(): void {
    this.ownClient?.destroy();
  }

  private async update(what: string, shardId: string, change: Update): Promise<ShardLease | undefined> {
    const output = await this.conditional(what, () =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(shardId),
          UpdateExpression: change.update,
          ConditionExpression: change.condition,
          ExpressionAttributeValues: change.values,
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    if (output === undefined) return undefined;
    if (output.Attributes === undefined) {
      throw new LeaseTableError(`lease table ${this.tableName}: ${what}: no attributes returned`, false);
    }
    return this.parse(output.Attributes);
  }

  private async describeTable(): Promise<TableDescription | undefined> {
    try {
      const { Table } = await this.client.send(new DescribeTableCommand({ TableName: this.tableName }));
      return Table;
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return undefined;
      throw this.failure('describe the table', error);
    }
  }

  private async createTable(): Promise<void> {
    try {
      await this.client.send(
        new CreateTableCommand({
          TableName: this.tableName,
          AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    } catch (error) {
      // Another worker is creating it: waiting for ACTIVE is all that is left to do.
      if (errorName(error) === 'ResourceInUseException') return;
      throw this.failure('create the table', error);
    }
  }

  /** A table of the same name made for something else would fail every lease write less clearly. */
  private checkKeySchema(table: TableDescription): void {
    const keys = table.KeySchema ?? [];
    const keyType = table.AttributeDefinitions?.find((a) => a.AttributeName === 'leaseKey')?.AttributeType;
    if (keys.length !== 1 || keys[0]?.AttributeName !== 'leaseKey' || keyType !== 'S') {
      const found = keys.map((k) => `${k.AttributeName} ${k.KeyType}`).join(', ');
      throw new LeaseTableError(
        `lease table ${this.tableName}: key must be leaseKey (S, HASH) alone, found ${found || 'none'}`,
        false,
      );
    }
  }

  /**
   * A read, tried again after a retriable failure (with jittered backoff): reads are idempotent, and a
   * claim or takeover that fails on one throttled read would stop the pipeline.
   */
  private async read<T>(what: string, run: () => Promise<T>): Promise<T> {
    return READ_RETRY.execute(() => this.request(what, run));
  }

  private async request<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.failure(what, error);
    }
  }

  /** Like request(), but a failed condition (a lost race, or no such item) is undefined. */
  private async conditional<T>(what: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return undefined;
      throw this.failure(what, error);
    }
  }

  private failure(what: string, error: unknown): LeaseTableError {
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new LeaseTableError(
      `lease table ${this.tableName}: cannot ${what}: ${detail}`,
      isRetriableError(error),
      { cause: error },
    );
  }

  private parse(item: Record<string, AttributeValue>): ShardLease {
    const shardId = item.leaseKey?.S;
    if (shardId === undefined) {
      throw new LeaseTableError(`lease table ${this.tableName}: an item has no string leaseKey`, false);
    }
    const malformed = (attribute: string, expected: string) =>
      new LeaseTableError(
        `lease table ${this.tableName}: lease ${shardId}: attribute ${attribute} must be ${expected}`,
        false,
      );
    const requiredString = (attribute: string): string => {
      const value = item[attribute]?.S;
      if (value === undefined) throw malformed(attribute, 'a string (S)');
      return value;
    };
    const optionalString = (attribute: string): string | undefined => {
      const value = item[attribute];
      if (value === undefined) return undefined;
      if (value.S === undefined) throw malformed(attribute, 'a string (S) when present');
      return value.S;
    };
    const counterText = item.leaseCounter?.N;
    const leaseCounter = counterText === undefined ? Number.NaN : Number(counterText);
    if (!Number.isSafeInteger(leaseCounter) || leaseCounter < 0) {
      throw malformed('leaseCounter', 'a non-negative integer (N)');
    }
    const parents = item.parentShardIds?.L;
    if (parents === undefined) throw malformed('parentShardIds', 'a list (L) of strings');
    const parentShardIds = parents.map((parent) => {
      if (parent.S === undefined) throw malformed('parentShardIds', 'a list (L) of strings');
      return parent.S;
    });
    return {
      shardId,
      owner: optionalString('leaseOwner'),
      counter: leaseCounter,
      checkpoint: requiredString('checkpoint'),
      stateKey: optionalString('stateKey'),
      parentShardIds,
      hashKeyRange: { start: requiredString('hashKeyStart'), end: requiredString('hashKeyEnd') },
      pendingOwner: optionalString('pendingOwner'),
    };
  }
}

function key(leaseKey: string): Record<string, AttributeValue> {
  return { leaseKey: { S: leaseKey } };
}

function counter(lease: ShardLease): AttributeValue {
  return { N: String(lease.counter) };
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}
