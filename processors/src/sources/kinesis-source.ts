/**
 * Kinesis Data Streams source: every shard is a partition (its id, `shardId-000000000001`, is the
 * partition id) read with GetShardIterator + GetRecords. Kinesis keeps no consumer positions, so the
 * pipeline's checkpoints hold them: a shard's position is the sequence number of the last record
 * delivered from it, and `start()` resumes AFTER_SEQUENCE_NUMBER it (TRIM_HORIZON without one).
 *
 * Reads respect the per-shard quota of 5 GetRecords a second (a minimum interval per shard), wait
 * longer on a shard that is caught up, and back off with jitter on a throttled or failed shard
 * without failing the poll. Resharding: a shard that ends (no NextShardIterator) gives a last batch
 * marked `ended` and is not read again; a child shard is read only once every parent has ended, so a
 * key's records before the reshard are processed before its records after it, and `lineage` tells the
 * pipeline which of its parents' keys the child takes over (those whose partition key hashes into its
 * range).
 *
 * With a ShardAssignment (shard leases, several instances on one stream) only the shards assigned to
 * this instance are read, each from where its lease says; the lease coordinator takes care of the
 * parents-first order.
 */

import { createHash } from 'node:crypto';
import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  KinesisClient,
  ListShardsCommand,
  type ListShardsCommandInput,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { partitionKeyFor } from '@genai-pipeline/producers';
import { OperationalError } from '@genai-pipeline/schemas';
import { isRetriable } from '@genai-pipeline/sinks';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { decodeStreamMessage } from './decode.js';
import type { PartitionLineage, Source, SourceBatch } from './source.js';

/** Which shards this instance reads when several instances share the stream (shard leases). */
export interface ShardAssignment {
  /**
   * The shards assigned here now, each with where a newly assigned one starts: the sequence number
   * to read after, or undefined for TRIM_HORIZON.
   */
  assigned(): ReadonlyMap<string, string | undefined>;
}

/** The position of the last batch of a shard that ended before any record was read from it. */
export const SHARD_END_POSITION = 'SHARD_END';
/** The position before a shard's first record: `after` of a batch read from TRIM_HORIZON. */
export const SHARD_START_POSITION = 'TRIM_HORIZON';

/** Where a shard resumes from a position: after a sequence number, or from TRIM_HORIZON. */
const resumeAfterOf = (position: string | undefined): string | undefined =>
  position === SHARD_START_POSITION || position === SHARD_END_POSITION ? undefined : position;

export interface KinesisSourceOptions {
  streamName: string;
  /**
   * A configured SDK client. Default: the SDK's standard configuration (AWS_REGION,
   * AWS_ENDPOINT_URL_KINESIS, the credential chain) over HTTP/1.1, destroyed on close().
   */
  client?: KinesisClient;
  /** How often to list the shards again to find those a reshard created (ms). Default 30 000. */
  shardListIntervalMs?: number;
  /** Least time between two reads of one shard (ms): Kinesis allows 5 GetRecords a second per shard. Default 200. */
  minReadIntervalMs?: number;
  /** Time before reading a shard again after it returned nothing and was caught up (ms). Default 1000. */
  idleReadIntervalMs?: number;
  /** Backoff after a throttled or failed call: starts at `retryBaseMs`, doubles up to `retryMaxMs`. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Read only the shards assigned to this instance (shard leases). Default: every shard. */
  assignment?: ShardAssignment;
}

/** Read-only numbers for /metrics. */
export interface KinesisSourceStats {
  shardsKnown: number;
  shardsEnded: number;
  /** MillisBehindLatest of each open shard's last successful GetRecords. */
  millisBehindLatest: Record<string, number>;
  /** Throttled or failed calls that were backed off and tried again. */
  retriedErrors: number;
}

/** An operational failure of the source; `retriable` says whether trying again later may succeed. */
export class KinesisSourceError extends OperationalError {}

/** Least time between listings when an assigned shard is not listed yet (ListShards allows 100 calls a second per account). */
const UNKNOWN_SHARD_RELIST_MS = 1_000;

/** GetRecords returns at most 10 000 records a call (Kinesis API reference). */
const MAX_RECORDS_PER_GET = 10_000;

/** Beyond the shared classification: a ListShards page token that expired (the listing restarts). */
const RETRIABLE_KINESIS_ERRORS = new Set(['ExpiredNextTokenException']);

interface ShardState {
  readonly id: string;
  /** ParentShardId and AdjacentParentShardId, when present. */
  readonly parentIds: readonly string[];
  /** The partition key hashes (MD5, as an unsigned 128-bit integer) whose records go to this shard. */
  readonly hashKeyRange: { start: bigint; end: bigint } | undefined;
  /** With a ShardAssignment: assigned here, so read. */
  assigned: boolean;
  /** The last sequence number delivered (or the start position); undefined: read from TRIM_HORIZON. */
  resumeAfter: string | undefined;
  /** Where the next GetRecords reads; undefined until fetched, or after it expired. */
  iterator: string | undefined;
  /** GetRecords returned no NextShardIterator: the shard is closed and fully read. */
  ended: boolean;
  /** Epoch ms before which the shard is not read (the read quota, an idle wait or a backoff). */
  notBefore: number;
  /** Consecutive retriable failures, for the backoff. */
  failures: number;
  millisBehindLatest: number | undefined;
}

type Fetched =
  | { shard: ShardState; output: GetRecordsCommandOutput; startedAt: number }
  | { shard: ShardState; fatal: KinesisSourceError | undefined };

export class KinesisSource implements Source {
  readonly name: string;
  private readonly streamName: string;
  private readonly client: KinesisClient;
  /** A client this source made itself, destroyed on close(). */
  private readonly ownClient: KinesisClient | undefined;
  private readonly shardListIntervalMs: number;
  private readonly minReadIntervalMs: number;
  private readonly idleReadIntervalMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;

  private readonly shards = new Map<string, ShardState>();
  private readonly assignment: ShardAssignment | undefined;
  /** With a ShardAssignment: the shards assigned here (the pipeline hands over the others). */
  readonly assignedPartitions?: () => ReadonlySet<string>;
  /** With a ShardAssignment: a claimed shard goes on right after its checkpointed position. */
  readonly seek?: (partition: string, position: string) => void;
  readonly beginning = SHARD_START_POSITION;
  private startPositions: ReadonlyMap<string, string> | undefined;
  private nextListAt = 0;
  private lastListedAt = Number.NEGATIVE_INFINITY;
  private listFailures = 0;
  private retriedErrors = 0;
  private polling = false;
  private closed = false;
  private wakeSleeper: (() => void) | undefined;

  constructor(options: KinesisSourceOptions) {
    if (!options.streamName) throw new TypeError('streamName is required');
    this.streamName = options.streamName;
    this.name = `kinesis:${options.streamName}`;
    this.ownClient =
      options.client === undefined
        ? new KinesisClient({
            // The SDK's default HTTP/2 handler does not work against local endpoints (kinesalite);
            // the timeouts keep a hung connection from stalling a poll. One attempt: the per-shard
            // backoff below is the retry layer, so one slow shard does not hold up the others.
            requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, socketTimeout: 30_000 }),
            maxAttempts: 1,
          })
        : undefined;
    this.client = options.client ?? (this.ownClient as KinesisClient);
    this.shardListIntervalMs = options.shardListIntervalMs ?? 30_000;
    this.minReadIntervalMs = options.minReadIntervalMs ?? 200;
    this.idleReadIntervalMs = options.idleReadIntervalMs ?? 1_000;
    this.retryBaseMs = options.retryBaseMs ?? 200;
    this.retryMaxMs = options.retryMaxMs ?? 10_000;
    this.assignment = options.assignment;
    if (this.assignment !== undefined) {
      const assignment = this.assignment;
      this.assignedPartitions = () => new Set(assignment.assigned().keys());
      this.seek = (partition, position) => {
        const shard = this.shards.get(partition);
        if (shard === undefined) return;
        shard.resumeAfter = resumeAfterOf(position);
        shard.iterator = undefined;
        shard.notBefore = 0;
      };
    }
  }

  lineage(partition: string): PartitionLineage | undefined {
    const shard = this.shards.get(partition);
    const range = shard?.hashKeyRange;
    if (shard === undefined || shard.parentIds.length === 0 || range === undefined) return undefined;
    return {
      parents: shard.parentIds,
      ownsKey: (service, modelId) => {
        const hash = hashKeyOf(partitionKeyFor(service, modelId));
        return range.start <= hash && hash <= range.end;
      },
    };
  }

  async start(positions: ReadonlyMap<string, string>): Promise<void> {
    this.startPositions = new Map(positions);
    await this.refreshShards();
  }

  async poll(maxRecords: number, maxWaitMs: number): Promise<SourceBatch[]> {
    if (!Number.isInteger(maxRecords) || maxRecords < 1) {
      throw new RangeError(`maxRecords must be a positive integer, got ${maxRecords}`);
    }
    if (this.startPositions === undefined) throw new Error(`${this.name}: poll() before start()`);
    // Shard state (iterators, positions) assumes one reader at a time.
    if (this.polling) throw new Error(`${this.name}: poll() while another poll is running`);
    this.polling = true;
    try {
      return await this.pollUntil(maxRecords, Date.now() + maxWaitMs);
    } finally {
      this.polling = false;
    }
  }

  async commit(_positions: ReadonlyMap<string, string>): Promise<void> {
    // Kinesis keeps no consumer positions: the checkpoint that holds them is all there is to do.
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeSleeper?.();
    this.ownClient?.destroy();
  }

  /** The stream's shards now, with their parents and hash key ranges (what shard leases are made of). */
  async describeShards(): Promise<
    { shardId: string; parentShardIds: string[]; hashKeyRange: { start: string; end: string } }[]
  > {
    return (await this.listShards()).flatMap((shard) => {
      const range = shard.HashKeyRange;
      if (
        shard.ShardId === undefined ||
        range?.StartingHashKey === undefined ||
        range.EndingHashKey === undefined
      ) {
        return [];
      }
      return [
        {
          shardId: shard.ShardId,
          parentShardIds: [shard.ParentShardId, shard.AdjacentParentShardId].filter((id) => id !== undefined),
          hashKeyRange: { start: range.StartingHashKey, end: range.EndingHashKey },
        },
      ];
    });
  }

  stats(): KinesisSourceStats {
    const millisBehindLatest: Record<string, number> = {};
    let shardsEnded = 0;
    for (const shard of this.shards.values()) {
      if (shard.ended) shardsEnded += 1;
      else if (shard.millisBehindLatest !== undefined)
        millisBehindLatest[shard.id] = shard.millisBehindLatest;
    }
    return {
      shardsKnown: this.shards.size,
      shardsEnded,
      millisBehindLatest,
      retriedErrors: this.retriedErrors,
    };
  }

  private async pollUntil(maxRecords: number, deadline: number): Promise<SourceBatch[]> {
    while (!this.closed) {
      this.followAssignment();
      if (Date.now() >= this.nextListAt) await this.refreshShardsOrBackOff();
      const batches = await this.readDueShards(maxRecords);
      // Records read while closing are not handed over: their positions were never delivered.
      if (this.closed) break;
      if (batches.length > 0) return batches;
      const now = Date.now();
      if (now >= deadline) break;
      await this.sleep(Math.min(deadline, this.nextWakeAt()) - now);
    }
    return [];
  }

  /** One GetRecords on each shard that is due, in parallel, `maxRecords` shared among them. */
  private async readDueShards(maxRecords: number): Promise<SourceBatch[]> {
    const now = Date.now();
    // Longest-waiting first, so a small maxRecords still reaches every shard in turn.
    const due = this.readableShards()
      .filter((shard) => shard.notBefore <= now)
      .sort((a, b) => a.notBefore - b.notBefore)
      .slice(0, maxRecords);
    if (due.length === 0) return [];
    const share = Math.floor(maxRecords / due.length);
    const extra = maxRecords % due.length;
    const fetched = await Promise.all(
      due.map((shard, index) =>
        this.fetch(shard, Math.min(MAX_RECORDS_PER_GET, share + (index < extra ? 1 : 0))),
      ),
    );
    // A failure that will not go away rejects the poll before any iterator moves, so the records
    // the other shards returned are read again, not lost, should the caller poll on.
    for (const result of fetched) if ('fatal' in result && result.fatal) throw result.fatal;
    const batches: SourceBatch[] = [];
    for (const result of fetched) {
      if (!('output' in result)) continue;
      const batch = this.accept(result.shard, result.output, result.startedAt);
      if (batch) batches.push(batch);
    }
    return batches;
  }

  private async fetch(shard: ShardState, limit: number): Promise<Fetched> {
    const startedAt = Date.now();
    shard.notBefore = startedAt + this.minReadIntervalMs;
    try {
      shard.iterator ??= await this.shardIterator(shard);
      const output = await this.client.send(
        new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: limit }),
      );
      return { shard, output, startedAt };
    } catch (error) {
      return { shard, fatal: this.recover(shard, error) };
    }
  }

  private async shardIterator(shard: ShardState): Promise<string> {
    const input: GetShardIteratorCommandInput =
      shard.resumeAfter === undefined
        ? { StreamName: this.streamName, ShardId: shard.id, ShardIteratorType: 'TRIM_HORIZON' }
        : {
            StreamName: this.streamName,
            ShardId: shard.id,
            ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
            StartingSequenceNumber: shard.resumeAfter,
          };
    const { ShardIterator } = await this.client.send(new GetShardIteratorCommand(input));
    if (ShardIterator === undefined) {
      throw new KinesisSourceError(
        `Kinesis stream "${this.streamName}", shard ${shard.id}: GetShardIterator returned no iterator`,
        false,
      );
    }
    return ShardIterator;
  }

  /** Handles a failed read: undefined when the shard will be tried again, else the error to reject with. */
  private recover(shard: ShardState, error: unknown): KinesisSourceError | undefined {
    if (error instanceof KinesisSourceError) return error;
    if (errorName(error) === 'ExpiredIteratorException') {
      // Iterators live 5 minutes; a fresh one from the last delivered record loses and repeats nothing.
      shard.iterator = undefined;
      return undefined;
    }
    if (isRetriableKinesisError(error)) {
      shard.failures += 1;
      shard.notBefore = Date.now() + this.backoffMs(shard.failures);
      this.retriedErrors += 1;
      return undefined;
    }
    return new KinesisSourceError(
      `Kinesis stream "${this.streamName}", shard ${shard.id}: reading failed: ${describe(error)}`,
      false,
      { cause: error },
    );
  }

  /**
   * Starts reading the shards newly assigned here, from where their leases say, and stops reading
   * those no longer assigned. A shard not listed yet makes the listing run soon.
   */
  private followAssignment(): void {
    if (this.assignment === undefined) return;
    const assigned = this.assignment.assigned();
    for (const [id, startAfter] of assigned) {
      const shard = this.shards.get(id);
      if (shard === undefined) {
        this.nextListAt = Math.min(this.nextListAt, this.lastListedAt + UNKNOWN_SHARD_RELIST_MS);
        continue;
      }
      if (shard.assigned) continue;
      Object.assign(shard, {
        assigned: true,
        resumeAfter: startAfter,
        iterator: undefined,
        ended: false,
        notBefore: 0,
        failures: 0,
      });
    }
    for (const shard of this.shards.values()) {
      if (shard.assigned && !assigned.has(shard.id)) {
        shard.assigned = false;
        shard.iterator = undefined;
      }
    }
  }

  /** Takes a successful GetRecords: moves the shard's iterator and position, builds its batch. */
  private accept(
    shard: ShardState,
    output: GetRecordsCommandOutput,
    startedAt: number,
  ): SourceBatch | undefined {
    shard.failures = 0;
    shard.iterator = output.NextShardIterator;
    shard.millisBehindLatest = output.MillisBehindLatest;
    if (output.NextShardIterator === undefined) {
      shard.ended = true;
      // Its children may now be read: list them without waiting for the periodic listing.
      this.nextListAt = 0;
    }
    const records = output.Records ?? [];
    const after = shard.resumeAfter ?? SHARD_START_POSITION;
    const position = records.at(-1)?.SequenceNumber ?? shard.resumeAfter ?? SHARD_END_POSITION;
    const common = {
      partition: shard.id,
      after,
      ...(output.MillisBehindLatest === undefined ? {} : { lagMs: output.MillisBehindLatest }),
      ...(shard.ended ? { ended: true } : {}),
    };
    if (records.length === 0) {
      // The end of the shard, even without records, is news: its final state must be checkpointed.
      if (shard.ended) return { ...common, entries: [], position };
      // Caught up: nothing new is likely soon. Behind (an empty stretch of the shard): go on.
      if (!output.MillisBehindLatest) shard.notBefore = startedAt + this.idleReadIntervalMs;
      return undefined;
    }
    shard.resumeAfter = position;
    return {
      ...common,
      entries: records.map((record) => ({
        record: decodeStreamMessage(record.Data ?? new Uint8Array()),
        // Always set by Kinesis; the clock only stands in should a record ever lack it.
        receivedAt: record.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
      })),
      position,
    };
  }

  private async refreshShardsOrBackOff(): Promise<void> {
    try {
      await this.refreshShards();
    } catch (error) {
      if (!(error instanceof KinesisSourceError) || !error.retriable) throw error;
      this.listFailures += 1;
      this.retriedErrors += 1;
      this.nextListAt = Date.now() + this.backoffMs(this.listFailures);
    }
  }

  /** Lists the shards: adds new ones, forgets ended ones that expired from the stream. */
  private async refreshShards(): Promise<void> {
    let listed: Shard[];
    try {
      listed = await this.listShards();
    } catch (error) {
      throw new KinesisSourceError(
        `Kinesis stream "${this.streamName}": ListShards failed: ${describe(error)}`,
        isRetriableKinesisError(error),
        { cause: error },
      );
    }
    this.listFailures = 0;
    this.lastListedAt = Date.now();
    this.nextListAt = this.lastListedAt + this.shardListIntervalMs;
    const listedIds = new Set<string>();
    for (const shard of listed) {
      if (shard.ShardId === undefined) continue;
      listedIds.add(shard.ShardId);
      if (this.shards.has(shard.ShardId)) continue;
      const startAfter = this.startPositions?.get(shard.ShardId);
      this.shards.set(shard.ShardId, {
        id: shard.ShardId,
        parentIds: [shard.ParentShardId, shard.AdjacentParentShardId].filter((id) => id !== undefined),
        hashKeyRange:
          shard.HashKeyRange?.StartingHashKey === undefined || shard.HashKeyRange.EndingHashKey === undefined
            ? undefined
            : {
                start: BigInt(shard.HashKeyRange.StartingHashKey),
                end: BigInt(shard.HashKeyRange.EndingHashKey),
              },
        assigned: false,
        resumeAfter: resumeAfterOf(startAfter),
        iterator: undefined,
        // Ended before any record was read from it: nothing to read again, its children are next.
        ended: startAfter === SHARD_END_POSITION,
        notBefore: 0,
        failures: 0,
        millisBehindLatest: undefined,
      });
    }
    for (const [id, shard] of this.shards) if (shard.ended && !listedIds.has(id)) this.shards.delete(id);
  }

  private async listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let input: ListShardsCommandInput = { StreamName: this.streamName };
    for (;;) {
      const output = await this.client.send(new ListShardsCommand(input));
      shards.push(...(output.Shards ?? []));
      if (!output.NextToken) return shards;
      // ListShards rejects StreamName together with NextToken.
      input = { NextToken: output.NextToken };
    }
  }

  /**
   * Open shards assigned here (shard leases), or else whose parents (those still listed) have all
   * ended in this source.
   */
  private readableShards(): ShardState[] {
    return [...this.shards.values()].filter(
      (shard) =>
        !shard.ended &&
        (this.assignment === undefined
          ? shard.parentIds.every((id) => this.shards.get(id)?.ended ?? true)
          : shard.assigned),
    );
  }

  private nextWakeAt(): number {
    return Math.min(this.nextListAt, ...this.readableShards().map((shard) => shard.notBefore));
  }

  /** Exponential backoff with jitter, never sooner than the read quota allows. */
  private backoffMs(failures: number): number {
    const ceiling = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (failures - 1));
    return Math.max(this.minReadIntervalMs, ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, ms));
      this.wakeSleeper = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Kinesis maps a partition key to a shard by the MD5 of its UTF-8 bytes, as an unsigned 128-bit integer. */
export function hashKeyOf(partitionKey: string): bigint {
  return BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
}

function errorName(error: unknown): string | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

function isRetriableKinesisError(error: unknown): boolean {
  return RETRIABLE_KINESIS_ERRORS.has(errorName(error) ?? '') || isRetriable(error);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.name && !error.message.startsWith(error.name)
    ? `${error.name}: ${error.message}`
    : error.message;
}
