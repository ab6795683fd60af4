import { LEASE_CHECKPOINT_TRIM_HORIZON, type ShardLease } from '../../src/leases/lease-table.js';

/** A shard lease as the table reads it: free, at counter 0, from TRIM_HORIZON, unless `fields` say otherwise. */
export function lease(shardId: string, fields: Partial<ShardLease> = {}): ShardLease {
  return {
    shardId,
    owner: undefined,
    counter: 0,
    checkpoint: LEASE_CHECKPOINT_TRIM_HORIZON,
    stateKey: undefined,
    parentShardIds: [],
    hashKeyRange: { start: '0', end: '99' },
    pendingOwner: undefined,
    ...fields,
  };
}
