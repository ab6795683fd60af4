import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { ReadableLakeStore } from '@genai-pipeline/sinks';
import type { PartitionCheckpoint, PartitionCheckpointStore } from '../run/checkpoint-store.js';
import type { LeaseCoordinator } from './lease-coordinator.js';
import { LEASE_CHECKPOINT_SHARD_END, type LeaseTable } from './lease-table.js';

const compress = promisify(gzip);
const decompress = promisify(gunzip);

export interface LeaseCheckpointStoreOptions {
  coordinator: Pick<LeaseCoordinator, 'holds' | 'claim' | 'lease' | 'checkpoint' | 'release'>;
  /** Reads a lease as committed now (a shard's checkpoint may have been written by another instance). */
  table: Pick<LeaseTable, 'get'>;
  /** Where shard state goes: a directory, or an S3 prefix every instance reaches. */
  state: ReadableLakeStore;
  log?: (line: string) => void;
}

/**
 * Checkpoints of Kinesis shards that move between instances with their leases. A shard's checkpoint
 * (its window state, dedupe index, anomaly history and position, taken together) is written to the
 * shared state store under a new name; then the lease records that name and the sequence number in
 * one conditional write, which is the commit: a crash before it leaves the previous checkpoint in
 * force, and an instance that lost the lease cannot commit. Whoever takes the lease next reads the
 * state the lease names.
 */
export class LeaseCheckpointStore implements PartitionCheckpointStore {
  private readonly log: (line: string) => void;

  constructor(private readonly options: LeaseCheckpointStoreOptions) {
    this.log = options.log ?? (() => undefined);
  }

  /** Nothing is resumed at start: each shard is opened from its lease's checkpoint once its lease is held. */
  async load(): Promise<Map<string, PartitionCheckpoint>> {
    return new Map();
  }

  async save(_source: string, checkpoints: readonly PartitionCheckpoint[]): Promise<string[]> {
    const { coordinator, state } = this.options;
    const notHeld: string[] = [];
    for (const checkpoint of checkpoints) {
      const shardId = checkpoint.partition;
      const previous = coordinator.lease(shardId)?.stateKey;
      if (!coordinator.holds(shardId)) {
        notHeld.push(shardId);
        continue;
      }
      const key = `${shardId}/${String(checkpoint.nextOrdinal).padStart(16, '0')}-${randomUUID().slice(0, 8)}.json.gz`;
      await state.put(key, await compress(JSON.stringify(checkpoint)));
      const position = checkpoint.ended ? LEASE_CHECKPOINT_SHARD_END : checkpoint.position;
      if (!(await coordinator.checkpoint(shardId, position, key))) {
        notHeld.push(shardId);
        await this.removeQuietly(key);
        continue;
      }
      if (previous !== undefined && previous !== key) await this.removeQuietly(previous);
    }
    return notHeld;
  }

  async get(_source: string, shardId: string): Promise<PartitionCheckpoint | undefined> {
    const lease = await this.options.table.get(shardId);
    if (lease?.stateKey === undefined) return undefined;
    const bytes = await this.options.state.get(lease.stateKey);
    if (bytes === undefined) {
      throw new Error(
        `shard ${shardId}: its lease names state ${lease.stateKey}, which ${this.options.state.describe()} does not have (not retriable)`,
      );
    }
    return JSON.parse((await decompress(bytes)).toString('utf8')) as PartitionCheckpoint;
  }

  async claim(_source: string, shardId: string): Promise<boolean> {
    return this.options.coordinator.claim(shardId);
  }

  async heartbeat(_source: string, shardIds: readonly string[]): Promise<string[]> {
    return shardIds.filter((shardId) => !this.options.coordinator.holds(shardId));
  }

  async release(_source: string, shardId: string): Promise<void> {
    await this.options.coordinator.release(shardId);
  }

  holds(shardId: string): boolean {
    return this.options.coordinator.holds(shardId);
  }

  /** The final state of a shard whose lease is gone (expired from the stream): no child will read it now. */
  async forget(lease: { stateKey: string | undefined }): Promise<void> {
    if (lease.stateKey !== undefined) await this.removeQuietly(lease.stateKey);
  }

  /** A state file no lease names any more: left behind if removing it fails (it is never read). */
  private async removeQuietly(key: string): Promise<void> {
    await this.options.state.remove(key).catch((error: Error) => {
      this.log(`shard state ${key} could not be removed (left behind, never read): ${error.message}`);
    });
  }
}
