/**
 * A Kafka topic read by a consumer group (kafkajs) as a pipeline source. Messages are what the
 * producer SDK writes (single-object Avro, keyed by service and model so a rollup key lives in one
 * partition) or JSON lines from other producers; `decodeStreamMessage` tells them apart.
 *
 * kafkajs pushes batches (`eachBatch`), the pipeline pulls (`poll`): each fetched batch waits in a
 * hand-off until the pipeline has taken all of its records, so at most one kafkajs batch per
 * partition being consumed is held here (backpressure, no unbounded queue), and kafkajs fetches the
 * next one only after that. Offsets are never auto-committed: `commit` sends the positions of a
 * durable checkpoint, so the group's committed offsets never run ahead of a checkpoint.
 *
 * Where a partition resumes, after `start` and after every group join (kafkajs restarts the group
 * session after a rebalance or a retriable crash, and then refetches from the committed offset):
 * where this source left it (the record after the last one handed to the pipeline, or the checkpoint
 * given to `start`: our checkpoint wins over the group's offset), else the group's committed offset,
 * else the earliest offset kept.
 *
 * At-least-once window (multi-member groups; the next issue makes it exact): records handed to the
 * pipeline but not yet committed when a rebalance moves their partition to another member are read
 * again by that member from the committed offset, while this member's pipeline holds them too.
 * Records not yet handed over are dropped here at the rebalance, so this member never processes a
 * partition it no longer owns beyond what it took before the rebalance. A partition that comes back
 * resumes where this member left it (its pipeline's state for the partition matches that position),
 * so what another member read of it meanwhile is read here again.
 */

import { OperationalError } from '@genai-pipeline/schemas';
import { type Consumer, Kafka, logLevel } from 'kafkajs';
import type { SourceRecord } from '../window/partition-processor.js';
import { decodeStreamMessage } from './decode.js';
import type { Source, SourceBatch, SourceEntry } from './source.js';

/** One message of a fetched batch (kafkajs' KafkaMessage, the fields the source reads). */
export interface KafkaFetchedMessage {
  offset: string;
  /** Epoch ms as a string (kafkajs); -1 for messages of the pre-0.10 format, which have none. */
  timestamp: string;
  /** null for a tombstone. */
  value: Buffer | null;
}

/** Consecutive messages of one partition, as kafkajs hands them to `eachBatch`. */
export interface KafkaFetchedBatch {
  partition: number;
  /** The offset after the partition's last message when the batch was fetched. */
  highWatermark: string;
  messages: readonly KafkaFetchedMessage[];
  /** Keeps the group session alive while the batch waits; rejects when the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or a seek of the partition is pending: abandon the batch. */
  isActive(): boolean;
}

/** What the source needs of a kafkajs consumer, bound to one topic (tests stand in for it). */
export interface KafkaConsumerClient {
  connect(): Promise<void>;
  /** Subscribes to the topic; partitions without a committed offset start at the earliest one. */
  subscribe(): Promise<void>;
  /**
   * Starts consuming with offsets auto-commit off. `eachBatch` resolves once the batch is taken or
   * abandoned; the partition's next fetch starts after the batch then.
   */
  run(eachBatch: (batch: KafkaFetchedBatch) => Promise<void>): Promise<void>;
  /** After every group join: this member's partitions of the topic (all earlier ones are revoked). */
  onAssignment(listener: (partitions: readonly number[]) => void): void;
  /** The consumer stopped on an error; `restarting` when kafkajs restarts it (retriable errors). */
  onCrash(listener: (error: Error, restarting: boolean) => void): void;
  /** The partition's next fetch starts at `offset`; only for assigned partitions. */
  seek(partition: number, offset: string): void;
  commitOffsets(offsets: readonly { partition: number; offset: string }[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface KafkaSourceOptions {
  /** Bootstrap brokers (`host:port`), for the kafkajs client made when `client` is not given. */
  brokers: readonly string[];
  topic: string;
  groupId: string;
  /** Default `genai-pipeline`. */
  clientId?: string;
  /** A consumer to use as is, instead of a kafkajs one made from `brokers`. */
  client?: KafkaConsumerClient;
  /**
   * How long the group waits for a silent member (a crashed processor) before giving its partitions
   * to others; also how long a restart waits to rejoin. Default 30 s (kafkajs'); brokers allow ≥ 6 s.
   */
  sessionTimeoutMs?: number;
}

/** An operational failure of the source; the message ends with whether it is retriable. */
export class KafkaSourceError extends OperationalError {}

/** How often a batch waiting in the hand-off checks the consumer and heartbeats (kafkajs throttles the requests). */
const HAND_OFF_CHECK_MS = 1000;

export class KafkaSource implements Source {
  readonly name: string;
  private readonly groupId: string;
  private readonly client: KafkaConsumerClient;
  private readonly partitionIdPrefix: string;
  /** Per partition, the offset of the next record to hand to the pipeline, where known. */
  private readonly nextOffsets = new Map<number, bigint>();
  private assigned = new Set<number>();
  /** Fetched batches waiting for the pipeline, in arrival order. */
  private pending: HandOff[] = [];
  private readonly wakeUps = new Set<() => void>();
  private started = false;
  private closed = false;
  private failure: KafkaSourceError | undefined;

  constructor(options: KafkaSourceOptions) {
    if (options.topic.length === 0) throw new TypeError('topic must be a non-empty string');
    if (options.groupId.length === 0) throw new TypeError('groupId must be a non-empty string');
    if (options.client === undefined && options.brokers.length === 0) {
      throw new TypeError('brokers must list at least one host:port when no client is given');
    }
    this.groupId = options.groupId;
    this.name = `kafka:${options.topic}`;
    this.partitionIdPrefix = `${options.topic.replace(/[^A-Za-z0-9._-]/g, '_')}.`;
    this.client =
      options.client ??
      createKafkajsConsumerClient({
        brokers: options.brokers,
        clientId: options.clientId ?? 'genai-pipeline',
        groupId: options.groupId,
        topic: options.topic,
        ...(options.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: options.sessionTimeoutMs } : {}),
      });
  }

  async start(positions: ReadonlyMap<string, string>): Promise<void> {
    if (this.started) throw new Error(`${this.name}: start called twice`);
    this.started = true;
    for (const [partitionId, position] of positions) {
      const partition = this.partitionOf(partitionId);
      if (partition !== undefined) this.nextOffsets.set(partition, parseOffset(partitionId, position));
    }
    this.client.onAssignment((partitions) => this.onAssignment(partitions));
    this.client.onCrash((error, restarting) => this.onCrash(error, restarting));
    try {
      await this.client.connect();
      await this.client.subscribe();
      await this.client.run((batch) => this.handOff(batch));
    } catch (error) {
      // The start error is the one to report; a failed disconnect adds nothing to it.
      await this.client.disconnect().catch(() => undefined);
      throw new KafkaSourceError(
        `${this.name}: could not start consuming as group ${this.groupId}: ${describeError(error)}`,
        isRetriableKafkaError(error),
        { cause: error },
      );
    }
  }

  async poll(maxRecords: number, maxWaitMs: number): Promise<SourceBatch[]> {
    if (this.pending.length === 0 && !this.closed && this.failure === undefined) {
      await this.waitForRecords(maxWaitMs);
    }
    if (this.closed) return [];
    if (this.failure !== undefined) throw this.failure;
    return this.take(maxRecords);
  }

  /**
   * Commits the positions of this member's partitions. Others are skipped: a partition's new owner
   * commits its own progress, which an older position from here must not overwrite. After `close`
   * nothing is committed; the checkpoint holding these positions wins at the next start anyway.
   */
  async commit(positions: ReadonlyMap<string, string>): Promise<void> {
    if (this.closed) return;
    const offsets: { partition: number; offset: string }[] = [];
    for (const [partitionId, position] of positions) {
      const partition = this.partitionOf(partitionId);
      if (partition === undefined || !this.assigned.has(partition)) continue;
      offsets.push({ partition, offset: parseOffset(partitionId, position).toString() });
    }
    if (offsets.length === 0) return;
    try {
      await this.client.commitOffsets(offsets);
    } catch (error) {
      throw new KafkaSourceError(
        `${this.name}: committing offsets of group ${this.groupId} failed: ${describeError(error)}`,
        isRetriableKafkaError(error),
        { cause: error },
      );
    }
  }

  assignedPartitions(): ReadonlySet<string> {
    return new Set([...this.assigned].map((partition) => this.partitionId(partition)));
  }

  seek(partitionId: string, position: string): void {
    const partition = this.partitionOf(partitionId);
    if (partition === undefined)
      throw new Error(`${this.name}: ${partitionId} is not a partition of this topic`);
    const offset = parseOffset(partitionId, position);
    this.nextOffsets.set(partition, offset);
    for (const handOff of this.pending.filter((h) => h.partition === partition)) this.drop(handOff);
    if (this.assigned.has(partition)) this.client.seek(partition, offset.toString());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Waiting batches are released first: kafkajs stops only once its eachBatch calls return.
    this.dropPending();
    this.wake();
    await this.client.disconnect();
  }

  private partitionId(partition: number): string {
    return `${this.partitionIdPrefix}${partition}`;
  }

  /** The partition number of one of this source's partition ids; undefined for another source's ids. */
  private partitionOf(partitionId: string): number | undefined {
    if (!partitionId.startsWith(this.partitionIdPrefix)) return undefined;
    const suffix = partitionId.slice(this.partitionIdPrefix.length);
    return /^\d+$/.test(suffix) ? Number(suffix) : undefined;
  }

  /** kafkajs' eachBatch: hands the batch over and waits until the pipeline took it all. */
  private async handOff(batch: KafkaFetchedBatch): Promise<void> {
    if (this.closed || batch.messages.length === 0 || !batch.isActive()) return;
    const handOff = new HandOff(batch.partition, batch.messages, parseHighWatermark(batch.highWatermark));
    this.pending.push(handOff);
    this.wake();
    try {
      while (!(await handOff.releasedWithin(HAND_OFF_CHECK_MS))) {
        if (!batch.isActive()) return;
        // Rejects while the group rebalances: kafkajs then abandons the batch and rejoins.
        await batch.heartbeat();
      }
    } finally {
      this.drop(handOff);
    }
  }

  private onAssignment(partitions: readonly number[]): void {
    // After a join kafkajs fetches every assigned partition again, so nothing fetched before it may
    // still be handed out: revoked partitions belong to another member now, and the kept ones are
    // fetched again from the seek below.
    this.dropPending();
    this.assigned = new Set(partitions);
    for (const partition of partitions) {
      const next = this.nextOffsets.get(partition);
      if (next !== undefined) this.client.seek(partition, next.toString());
    }
  }

  private onCrash(error: Error, restarting: boolean): void {
    // Until kafkajs has rejoined (a new assignment), there is no group session to commit in.
    this.assigned = new Set();
    if (restarting || this.closed) return;
    this.failure = new KafkaSourceError(
      `${this.name}: the consumer of group ${this.groupId} stopped on an error kafkajs does not retry; restart the pipeline once it is fixed: ${describeError(error)}`,
      false,
      { cause: error },
    );
    this.wake();
  }

  private take(maxRecords: number): SourceBatch[] {
    const batches: SourceBatch[] = [];
    let room = maxRecords;
    while (room > 0) {
      const handOff = this.pending[0];
      if (handOff === undefined) break;
      const messages = handOff.take(room);
      room -= messages.length;
      const last = messages.at(-1);
      if (last !== undefined) {
        const entries = messages.map(toEntry);
        const next = BigInt(last.offset) + 1n;
        this.nextOffsets.set(handOff.partition, next);
        const batch: SourceBatch = {
          partition: this.partitionId(handOff.partition),
          entries,
          position: next.toString(),
        };
        if (handOff.highWatermark !== undefined) {
          batch.lagRecords = Math.max(0, Number(handOff.highWatermark - next));
        }
        batches.push(batch);
      }
      if (handOff.exhausted) this.drop(handOff);
    }
    return batches;
  }

  private drop(handOff: HandOff): void {
    this.pending = this.pending.filter((waiting) => waiting !== handOff);
    handOff.release();
  }

  private dropPending(): void {
    for (const handOff of this.pending) handOff.release();
    this.pending = [];
  }

  private waitForRecords(maxWaitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wakeUp = (): void => {
        clearTimeout(timer);
        this.wakeUps.delete(wakeUp);
        resolve();
      };
      const timer = setTimeout(wakeUp, maxWaitMs);
      this.wakeUps.add(wakeUp);
    });
  }

  private wake(): void {
    for (const wakeUp of [...this.wakeUps]) wakeUp();
  }
}

/** A fetched batch waiting for the pipeline; released when taken in full or dropped. */
class HandOff {
  private taken = 0;
  private releaseWaiter!: () => void;
  private readonly released = new Promise<void>((resolve) => {
    this.releaseWaiter = resolve;
  });

  constructor(
    readonly partition: number,
    private readonly messages: readonly KafkaFetchedMessage[],
    readonly highWatermark: bigint | undefined,
  ) {}

  get exhausted(): boolean {
    return this.taken >= this.messages.length;
  }

  take(maxRecords: number): readonly KafkaFetchedMessage[] {
    const messages = this.messages.slice(this.taken, this.taken + maxRecords);
    this.taken += messages.length;
    return messages;
  }

  release(): void {
    this.releaseWaiter();
  }

  /** True once released; false when `ms` passed first. */
  async releasedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([this.released.then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The record's processing clock is its Kafka timestamp, so reading it again gives the same rows;
 * messages of the pre-0.10 format have none (-1) and get the time they were read. A tombstone
 * (null value) is not something our producers send: it becomes a dead letter, visible rather than
 * silently skipped.
 */
function toEntry(message: KafkaFetchedMessage): SourceEntry {
  const timestamp = Number(message.timestamp);
  return {
    record: message.value === null ? TOMBSTONE : decodeStreamMessage(message.value),
    receivedAt: Number.isFinite(timestamp) && timestamp >= 0 ? timestamp : Date.now(),
  };
}

const TOMBSTONE: SourceRecord = {
  format: 'undecodable',
  payload: '',
  error: 'kafka message has a null value (a tombstone), not an event',
};

function parseOffset(partitionId: string, position: string): bigint {
  if (!/^\d+$/.test(position)) {
    throw new KafkaSourceError(
      `position of kafka partition ${partitionId} must be a non-negative integer offset, got ${JSON.stringify(position)}`,
      false,
    );
  }
  return BigInt(position);
}

function parseHighWatermark(highWatermark: string): bigint | undefined {
  return /^\d+$/.test(highWatermark) ? BigInt(highWatermark) : undefined;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** kafkajs' own rule (consumer restarts): retries exhausted, or a root cause marked retriable. */
function isRetriableKafkaError(error: unknown): boolean {
  if (error instanceof Error && error.name === 'KafkaJSNumberOfRetriesExceeded') return true;
  let root: unknown = error;
  while (root instanceof Error && root.cause !== undefined) root = root.cause;
  return (root as { retriable?: unknown } | null)?.retriable === true;
}

/** The kafkajs consumer methods the adapter uses (tests stand in for it). */
export type KafkajsConsumerLike = Pick<
  Consumer,
  'connect' | 'subscribe' | 'run' | 'on' | 'events' | 'seek' | 'commitOffsets' | 'disconnect'
>;

/** `KafkaConsumerClient` over a kafkajs consumer of one topic. */
export class KafkajsConsumerClient implements KafkaConsumerClient {
  constructor(
    private readonly consumer: KafkajsConsumerLike,
    private readonly topic: string,
  ) {}

  connect(): Promise<void> {
    return this.consumer.connect();
  }

  subscribe(): Promise<void> {
    return this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
  }

  run(eachBatch: (batch: KafkaFetchedBatch) => Promise<void>): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      // The batch's last offset is resolved only in kafkajs' memory (where the next fetch starts).
      eachBatchAutoResolve: true,
      eachBatch: ({ batch, heartbeat, isRunning, isStale }) =>
        eachBatch({
          partition: batch.partition,
          highWatermark: batch.highWatermark,
          messages: batch.messages,
          heartbeat,
          isActive: () => isRunning() && !isStale(),
        }),
    });
  }

  onAssignment(listener: (partitions: readonly number[]) => void): void {
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) =>
      listener(event.payload.memberAssignment[this.topic] ?? []),
    );
  }

  onCrash(listener: (error: Error, restarting: boolean) => void): void {
    this.consumer.on(this.consumer.events.CRASH, (event) =>
      listener(event.payload.error, event.payload.restart),
    );
  }

  seek(partition: number, offset: string): void {
    this.consumer.seek({ topic: this.topic, partition, offset });
  }

  commitOffsets(offsets: readonly { partition: number; offset: string }[]): Promise<void> {
    return this.consumer.commitOffsets(offsets.map((offset) => ({ topic: this.topic, ...offset })));
  }

  disconnect(): Promise<void> {
    return this.consumer.disconnect();
  }
}

export interface KafkajsConsumerClientOptions {
  brokers: readonly string[];
  clientId: string;
  groupId: string;
  topic: string;
  sessionTimeoutMs?: number;
}

/**
 * A kafkajs consumer for the source. A missing topic is an error, not created on the fly (as in the
 * producer). kafkajs logs warnings and errors only: its info lines (joins, fetches) are routine.
 */
export function createKafkajsConsumerClient(options: KafkajsConsumerClientOptions): KafkajsConsumerClient {
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: logLevel.WARN,
  });
  const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
  const consumer = kafka.consumer({
    groupId: options.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout,
    // Kafka's rule of thumb: heartbeats at most a third of the session timeout.
    heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
  });
  return new KafkajsConsumerClient(consumer, options.topic);
}
