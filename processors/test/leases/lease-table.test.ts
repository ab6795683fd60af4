import {
  type AttributeValue,
  CreateTableCommand,
  DescribeTableCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  LEASE_CHECKPOINT_SHARD_END,
  LEASE_CHECKPOINT_TRIM_HORIZON,
  type LeaseTable,
  LeaseTableError,
  type ShardLease,
} from '../../src/leases/lease-table.js';
import { startDynalite, useLeaseTables } from '../support/dynalite.js';
import { lease } from '../support/leases.js';

const { client: dynamoClient, leaseTable, freshTable } = useLeaseTables('leases');

async function createLease(table: LeaseTable, shardId: string, parentShardIds: string[] = []) {
  expect(
    await table.create({
      shardId,
      checkpoint: LEASE_CHECKPOINT_TRIM_HORIZON,
      parentShardIds,
      hashKeyRange: { start: '0', end: '340282366920938463463374607431768211455' },
    }),
  ).toBe(true);
  return (await table.get(shardId)) as ShardLease;
}

describe('ensureTable', () => {
  it('creates the table once and is idempotent', async () => {
    const table = leaseTable('leases-idempotent');
    await table.ensureTable();
    await table.ensureTable();
    await createLease(table, 'shardId-000000000000');
    await table.ensureTable();
    expect((await table.list()).map((lease) => lease.shardId)).toEqual(['shardId-000000000000']);
  });

  it('waits for a table in CREATING, also when another worker creates it at the same time', async () => {
    const slow = await startDynalite(100);
    try {
      const client = dynamoClient(slow.endpoint);
      const first = leaseTable('leases-shared', client);
      const second = leaseTable('leases-shared', client);
      await Promise.all([first.ensureTable(), second.ensureTable()]);
      const { Table } = await client.send(new DescribeTableCommand({ TableName: 'leases-shared' }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      expect(await first.create(lease('shardId-000000000000'))).toBe(true);
    } finally {
      await slow.close();
    }
  });

  it('refuses a table of that name keyed otherwise', async () => {
    const client = dynamoClient();
    await client.send(
      new CreateTableCommand({
        TableName: 'not-leases',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const error = await leaseTable('not-leases', client)
      .ensureTable()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseTableError);
    expect((error as LeaseTableError).retriable).toBe(false);
    expect((error as Error).message).toMatch(/key must be leaseKey .*found id HASH/);
  });
});

describe('storeId', () => {
  it('is fixed on first use and the same for every instance, even when first asked concurrently', async () => {
    const table = await freshTable();
    const others = [leaseTable(table.tableName), leaseTable(table.tableName), leaseTable(table.tableName)];
    const ids = await Promise.all([table.storeId(), ...others.map((other) => other.storeId())]);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}$/);
    expect(new Set(ids).size).toBe(1);
    expect(await leaseTable(table.tableName).storeId()).toBe(ids[0]);
  });

  it('is not listed as a lease', async () => {
    const table = await freshTable();
    await table.storeId();
    await createLease(table, 'shardId-000000000001');
    expect((await table.list()).map((l) => l.shardId)).toEqual(['shardId-000000000001']);
  });
});

describe('create, get and list', () => {
  it('creates a free lease at counter 0 once; a second create leaves it as it was', async () => {
    const table = await freshTable();
    const created = await createLease(table, 'shardId-000000000002', ['shardId-000000000000']);
    expect(created).toEqual({
      shardId: 'shardId-000000000002',
      owner: undefined,
      counter: 0,
      checkpoint: LEASE_CHECKPOINT_TRIM_HORIZON,
      stateKey: undefined,
      parentShardIds: ['shardId-000000000000'],
      hashKeyRange: { start: '0', end: '340282366920938463463374607431768211455' },
      pendingOwner: undefined,
    });
    const taken = await table.take(created, 'worker-a');
    expect(await table.create({ ...lease('shardId-000000000002'), checkpoint: '123' })).toBe(false);
    expect(await table.get('shardId-000000000002')).toEqual(taken);
  });

  it('gets undefined for an unknown shard and lists every page', async () => {
    const table = await freshTable();
    expect(await table.get('shardId-000000000009')).toBeUndefined();
    // Items of ~100 KB: a Scan page stops at 1 MB, so 25 of them take several pages.
    const padding = 'x'.repeat(100_000);
    const shardIds = Array.from({ length: 25 }, (_, i) => `shardId-${String(i).padStart(12, '0')}`);
    for (const shardId of shardIds) {
      await table.create({ ...lease(shardId), hashKeyRange: { start: padding, end: '1' } });
    }
    const listed = await table.list();
    expect(listed.map((l) => l.shardId).sort()).toEqual(shardIds);
  });
});

describe('take, renew, checkpoint, release', () => {
  it('moves the counter by one on every change and keeps what each change sets', async () => {
    const table = await freshTable();
    const free = await createLease(table, 'shardId-000000000000');

    const taken = (await table.take(free, 'worker-a')) as ShardLease;
    expect(taken).toMatchObject({ owner: 'worker-a', counter: 1 });

    const renewed = (await table.renew(taken, 'worker-a')) as ShardLease;
    expect(renewed).toMatchObject({ owner: 'worker-a', counter: 2 });

    const checkpointed = (await table.checkpoint(renewed, 'worker-a', '4960', 'state/a/1')) as ShardLease;
    expect(checkpointed).toMatchObject({
      owner: 'worker-a',
      counter: 3,
      checkpoint: '4960',
      stateKey: 'state/a/1',
    });

    const withoutState = (await table.checkpoint(checkpointed, 'worker-a', '4970', undefined)) as ShardLease;
    expect(withoutState).toMatchObject({ counter: 4, checkpoint: '4970', stateKey: undefined });

    const released = (await table.release(withoutState, 'worker-a')) as ShardLease;
    expect(released).toMatchObject({ owner: undefined, counter: 5, checkpoint: '4970' });
    expect(await table.get('shardId-000000000000')).toEqual(released);

    const retaken = (await table.take(released, 'worker-b')) as ShardLease;
    expect(retaken).toMatchObject({ owner: 'worker-b', counter: 6, checkpoint: '4970' });
  });

  it('lets exactly one of two workers racing for the same free lease win', async () => {
    const table = await freshTable();
    for (let round = 0; round < 50; round++) {
      const free = await createLease(table, `shardId-${String(round).padStart(12, '0')}`);
      const [a, b] = await Promise.all([table.take(free, 'worker-a'), table.take(free, 'worker-b')]);
      const winners = [a, b].filter((result) => result !== undefined);
      expect(winners).toHaveLength(1);
      const winner = winners[0] as ShardLease;
      expect(winner.counter).toBe(1);
      expect((await table.get(free.shardId))?.owner).toBe(winner.owner);
    }
  });

  it('refuses every write of a stale owner after another worker took the lease over', async () => {
    const table = await freshTable();
    const free = await createLease(table, 'shardId-000000000000');
    const heldByA = (await table.take(free, 'worker-a')) as ShardLease;
    // worker-b saw the counter stand still for the failover time and takes the lease.
    const heldByB = (await table.take(heldByA, 'worker-b')) as ShardLease;
    expect(heldByB).toMatchObject({ owner: 'worker-b', counter: 2 });

    expect(await table.renew(heldByA, 'worker-a')).toBeUndefined();
    expect(await table.checkpoint(heldByA, 'worker-a', '999', 'state/stale')).toBeUndefined();
    expect(await table.release(heldByA, 'worker-a')).toBeUndefined();
    // Even with the current counter, a worker that is not the owner cannot write.
    expect(await table.renew(heldByB, 'worker-a')).toBeUndefined();
    expect(await table.get(free.shardId)).toEqual(heldByB);
  });

  it('lets a take lose when the owner renewed after the taker looked', async () => {
    const table = await freshTable();
    const free = await createLease(table, 'shardId-000000000000');
    const observedByB = (await table.take(free, 'worker-a')) as ShardLease;
    const renewed = (await table.renew(observedByB, 'worker-a')) as ShardLease;
    expect(await table.take(observedByB, 'worker-b')).toBeUndefined();
    expect(await table.get(free.shardId)).toEqual(renewed);
  });

  it('writes nothing for a lease that is gone', async () => {
    const table = await freshTable();
    const free = await createLease(table, 'shardId-000000000000');
    const held = (await table.take(free, 'worker-a')) as ShardLease;
    const ended = (await table.checkpoint(
      held,
      'worker-a',
      LEASE_CHECKPOINT_SHARD_END,
      undefined,
    )) as ShardLease;
    expect(await table.delete(free.shardId)).toBe(true);
    expect(await table.take(ended, 'worker-b')).toBeUndefined();
    expect(await table.renew(ended, 'worker-a')).toBeUndefined();
    expect(await table.get(free.shardId)).toBeUndefined();
  });
});

describe('requestHandoff', () => {
  it('leaves the owner renewing, shows in its renewal, is refused a second time and cleared by the take', async () => {
    const table = await freshTable();
    const free = await createLease(table, 'shardId-000000000000');
    const held = (await table.take(free, 'worker-a')) as ShardLease;

    expect(await table.requestHandoff(held, 'worker-b')).toBe(true);
    const renewed = (await table.renew(held, 'worker-a')) as ShardLease;
    expect(renewed).toMatchObject({ owner: 'worker-a', counter: 2, pendingOwner: 'worker-b' });

    expect(await table.requestHandoff(renewed, 'worker-c')).toBe(false);
    expect((await table.get(free.shardId))?.pendingOwner).toBe('worker-b');

    // The owner checkpoints and hands over; the requester takes it.
    const checkpointed = (await table.checkpoint(renewed, 'worker-a', '4960', 'state/a')) as ShardLease;
    expect(checkpointed.pendingOwner).toBe('worker-b');
    const released = (await table.release(checkpointed, 'worker-a')) as ShardLease;
    // The request stays on the free lease: it is kept for the requester (the planner's rule).
    expect(released).toMatchObject({ owner: undefined, pendingOwner: 'worker-b', counter: 4 });
    const taken = (await table.take(released, 'worker-b')) as ShardLease;
    expect(taken).toMatchObject({ owner: 'worker-b', pendingOwner: undefined, checkpoint: '4960' });
  });

  it('is cleared when an expired lease with a request on it is taken over', async () => {
    const table = await freshTable();
    const free = await createLease(table, 'shardId-000000000000');
    const held = (await table.take(free, 'worker-a')) as ShardLease;
    expect(await table.requestHandoff(held, 'worker-b')).toBe(true);
    // The counter did not move with the request: the observed lease is still current.
    const taken = (await table.take(held, 'worker-c')) as ShardLease;
    expect(taken).toMatchObject({ owner: 'worker-c', counter: 2, pendingOwner: undefined });
    expect(await table.get(free.shardId)).toEqual(taken);
  });

  it('is refused when the lease changed hands since it was observed', async () => {
    const table = await freshTable();
    const free = await createLease(table, 'shardId-000000000000');
    const heldByA = (await table.take(free, 'worker-a')) as ShardLease;
    await table.take(heldByA, 'worker-c');
    expect(await table.requestHandoff(heldByA, 'worker-b')).toBe(false);
    expect((await table.get(free.shardId))?.pendingOwner).toBeUndefined();
  });

  it('is a programming error on a free lease', async () => {
    const table = await freshTable();
    const free = await createLease(table, 'shardId-000000000000');
    await expect(table.requestHandoff(free, 'worker-b')).rejects.toThrow(TypeError);
  });
});

describe('delete', () => {
  it('deletes only a lease at SHARD_END', async () => {
    const table = await freshTable();
    const free = await createLease(table, 'shardId-000000000000');
    expect(await table.delete(free.shardId)).toBe(false);
    const held = (await table.take(free, 'worker-a')) as ShardLease;
    expect(await table.delete(free.shardId)).toBe(false);
    expect(await table.get(free.shardId)).toEqual(held);
    await table.checkpoint(held, 'worker-a', LEASE_CHECKPOINT_SHARD_END, undefined);
    expect(await table.delete(free.shardId)).toBe(true);
    expect(await table.get(free.shardId)).toBeUndefined();
    expect(await table.delete(free.shardId)).toBe(false);
  });
});

describe('errors', () => {
  it('reports a missing table as a LeaseTableError that is not retriable', async () => {
    const table = leaseTable('no-such-table');
    const error = await table.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseTableError);
    expect((error as LeaseTableError).retriable).toBe(false);
    expect((error as Error).message).toMatch(
      /^lease table no-such-table: cannot list the leases: ResourceNotFoundException: .*\(not retriable\)$/,
    );
    expect((error as Error).cause).toMatchObject({ name: 'ResourceNotFoundException' });
    // Conditional writes too: only a failed condition is a lost race.
    await expect(table.take(lease('shardId-000000000000'), 'worker-a')).rejects.toThrow(LeaseTableError);
  });

  it('reports an unreachable endpoint as a retriable LeaseTableError', async () => {
    // A port nothing listens on: the one the test server had before it was closed.
    const closed = await startDynalite();
    await closed.close();
    const table = leaseTable('leases', dynamoClient(closed.endpoint));
    const error = await table.get('shardId-000000000000').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseTableError);
    expect((error as LeaseTableError).retriable).toBe(true);
    expect((error as Error).message).toMatch(
      /cannot read the lease of shardId-000000000000: .*\(retriable\)$/,
    );
  });

  it('tries a throttled read again, but never a conditional write', async () => {
    const table = await freshTable();
    const shardId = 'shardId-000000000000';
    await table.create({
      shardId,
      checkpoint: 'TRIM_HORIZON',
      parentShardIds: [],
      hashKeyRange: { start: '0', end: '9' },
    });
    const dynamo = dynamoClient();
    const real = dynamo.send.bind(dynamo);
    let throttle = 0;
    const sent: string[] = [];
    // Each read and write below meets one throttling answer first.
    dynamo.send = (async (command: { constructor: { name: string } }) => {
      sent.push(command.constructor.name);
      if (throttle-- > 0) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      return real(command as never);
    }) as typeof dynamo.send;
    const throttled = leaseTable(table.tableName, dynamo);
    throttle = 1;
    expect((await throttled.get(shardId))?.shardId).toBe(shardId);
    throttle = 1;
    expect((await throttled.list()).map((l) => l.shardId)).toEqual([shardId]);
    expect(sent).toEqual(['GetItemCommand', 'GetItemCommand', 'ScanCommand', 'ScanCommand']);
    // A write that may have landed must not be sent twice: its retry would fail its own condition.
    throttle = 1;
    const observed = (await throttled.get(shardId)) as ShardLease;
    throttle = 1;
    const error = await throttled.take(observed, 'worker-a').catch((e: unknown) => e);
    expect((error as LeaseTableError).retriable).toBe(true);
    expect(sent.filter((name) => name === 'UpdateItemCommand')).toHaveLength(1);
  });

  it.each<[string, AttributeValue | undefined, RegExp]>([
    ['leaseCounter', undefined, /attribute leaseCounter must be a non-negative integer/],
    ['leaseCounter', { S: '3' }, /attribute leaseCounter must be a non-negative integer/],
    ['leaseCounter', { N: '1.5' }, /attribute leaseCounter must be a non-negative integer/],
    ['checkpoint', undefined, /attribute checkpoint must be a string/],
    ['parentShardIds', { L: [{ N: '1' }] }, /attribute parentShardIds must be a list/],
    ['hashKeyEnd', undefined, /attribute hashKeyEnd must be a string/],
    ['leaseOwner', { N: '7' }, /attribute leaseOwner must be a string \(S\) when present/],
  ])('rejects an item with a malformed %s (%o), naming the shard', async (attribute, value, message) => {
    const table = await freshTable();
    const item: Record<string, AttributeValue> = {
      leaseKey: { S: 'shardId-000000000007' },
      leaseCounter: { N: '1' },
      checkpoint: { S: LEASE_CHECKPOINT_TRIM_HORIZON },
      parentShardIds: { L: [] },
      hashKeyStart: { S: '0' },
      hashKeyEnd: { S: '99' },
    };
    if (value === undefined) delete item[attribute];
    else item[attribute] = value;
    await dynamoClient().send(new PutItemCommand({ TableName: table.tableName, Item: item }));
    for (const read of [() => table.get('shardId-000000000007'), () => table.list()]) {
      const error = await read().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LeaseTableError);
      expect((error as LeaseTableError).retriable).toBe(false);
      expect((error as Error).message).toMatch(/lease shardId-000000000007: /);
      expect((error as Error).message).toMatch(message);
    }
  });
});
