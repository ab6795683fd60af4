/**
 * Topics and their partition logs: record batches kept as received (with the broker-assigned base
 * offset), the per-producer sequence state of idempotent producers, and append notifications that
 * wake fetches waiting for data.
 */

import { ErrorCode } from './protocol.js';
import type { BatchHeader } from './record-batch.js';
import { withBaseOffset } from './record-batch.js';

export interface StoredBatch {
  readonly baseOffset: number;
  /** The offset after the batch's last record. */
  readonly nextOffset: number;
  readonly maxTimestamp: bigint;
  readonly bytes: Buffer;
}

/** The batch's base offset (the original one for a duplicate), or -1 with the error. */
export interface AppendResult {
  readonly errorCode: number;
  readonly baseOffset: number;
  /** An idempotent producer's retry of a batch already in the log: acknowledged, not stored again. */
  readonly duplicate?: boolean;
}

/** A batch an idempotent producer wrote: a retry of it is answered with its offset, not stored again. */
interface ProducerBatch {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly baseOffset: number;
}

interface ProducerState {
  epoch: number;
  /** The producer's last batches in this partition, newest last (Kafka keeps five, the max in flight). */
  recent: ProducerBatch[];
}

const RECENT_BATCHES_KEPT = 5;
const SEQUENCE_MODULUS = 2 ** 31;

/** Sequence numbers are non-negative int32s that wrap to 0 after Int32.MAX. */
function addToSequence(sequence: number, count: number): number {
  return (sequence + count) % SEQUENCE_MODULUS;
}

export class PartitionLog {
  private readonly batches: StoredBatch[] = [];
  private readonly producers = new Map<bigint, ProducerState>();
  readonly logStartOffset = 0;
  /** Log end offset; also the high watermark and last stable offset (one replica, no transactions). */
  nextOffset = 0;
  /** Fault hook: fetches return no records from this partition until then (epoch ms). */
  stalledUntil = 0;

  append(batch: Buffer, header: BatchHeader): AppendResult {
    const lastSequence = addToSequence(header.baseSequence, header.offsetCount - 1);
    let producer: ProducerState | undefined;
    if (header.producerId >= 0n) {
      const known = this.producers.get(header.producerId);
      const verdict = checkSequence(known, header, lastSequence);
      if (verdict.kind === 'duplicate') {
        return { errorCode: ErrorCode.NONE, baseOffset: verdict.baseOffset, duplicate: true };
      }
      if (verdict.kind === 'reject') return { errorCode: verdict.errorCode, baseOffset: -1 };
      producer = known?.epoch === header.producerEpoch ? known : { epoch: header.producerEpoch, recent: [] };
      this.producers.set(header.producerId, producer);
    }
    const baseOffset = this.nextOffset;
    this.nextOffset += header.offsetCount;
    this.batches.push({
      baseOffset,
      nextOffset: this.nextOffset,
      maxTimestamp: header.maxTimestamp,
      bytes: withBaseOffset(batch, baseOffset),
    });
    if (producer) {
      producer.recent.push({ firstSequence: header.baseSequence, lastSequence, baseOffset });
      if (producer.recent.length > RECENT_BATCHES_KEPT) producer.recent.shift();
    }
    return { errorCode: ErrorCode.NONE, baseOffset };
  }

  /**
   * Whole batches from the one containing `fetchOffset` on, up to about `maxBytes`: the first batch
   * is returned even when larger (KIP-74), so a consumer always makes progress. Nothing when the
   * response has no room left (`maxBytes` <= 0).
   */
  read(fetchOffset: number, maxBytes: number): Buffer[] {
    if (maxBytes <= 0 || Date.now() < this.stalledUntil) return [];
    const batches: Buffer[] = [];
    let bytes = 0;
    for (let index = this.firstBatchAtOrAfter(fetchOffset); index < this.batches.length; index++) {
      const batch = this.batches[index] as StoredBatch;
      if (batches.length > 0 && bytes + batch.bytes.length > maxBytes) break;
      batches.push(batch.bytes);
      bytes += batch.bytes.length;
    }
    return batches;
  }

  /**
   * The first offset of the first batch whose max timestamp is at least `timestamp`, or -1. Batch
   * granular: the broker does not decompress batches to look at single records.
   */
  offsetForTimestamp(timestamp: bigint): { offset: number; timestamp: bigint } {
    const batch = this.batches.find((candidate) => candidate.maxTimestamp >= timestamp);
    return batch
      ? { offset: batch.baseOffset, timestamp: batch.maxTimestamp }
      : { offset: -1, timestamp: -1n };
  }

  /** Index of the batch containing `offset` (or the first one after it). */
  private firstBatchAtOrAfter(offset: number): number {
    let low = 0;
    let high = this.batches.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.batches[middle] as StoredBatch).nextOffset <= offset) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/**
 * Kafka's idempotence rules for one (producer id, partition): a batch of an older epoch is fenced, a
 * new epoch starts at sequence 0, a retried batch matching one of the recent ones is a duplicate,
 * and anything else must continue right after the last sequence.
 */
type SequenceVerdict =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number }
  | { kind: 'reject'; errorCode: number };

function checkSequence(
  known: ProducerState | undefined,
  header: BatchHeader,
  lastSequence: number,
): SequenceVerdict {
  if (known === undefined || header.producerEpoch > known.epoch) {
    if (header.baseSequence === 0) return { kind: 'append' };
    // Kafka: no state at all means the broker lost (or never had) it; a new epoch must restart at 0.
    return {
      kind: 'reject',
      errorCode: known ? ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER : ErrorCode.UNKNOWN_PRODUCER_ID,
    };
  }
  if (header.producerEpoch < known.epoch)
    return { kind: 'reject', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH };
  const duplicate = known.recent.find(
    (batch) => batch.firstSequence === header.baseSequence && batch.lastSequence === lastSequence,
  );
  if (duplicate) return { kind: 'duplicate', baseOffset: duplicate.baseOffset };
  const last = known.recent.at(-1);
  if (last && header.baseSequence !== addToSequence(last.lastSequence, 1)) {
    return { kind: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
  }
  return { kind: 'append' };
}

const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Why Kafka would refuse `name` as a topic name, or null when it is legal. */
export function topicNameProblem(name: string): string | null {
  if (name === '.' || name === '..') return `topic name '${name}' is not allowed`;
  return LEGAL_TOPIC_NAME.test(name) ? null : `topic name '${name}' must be 1-249 of [a-zA-Z0-9._-]`;
}

export class LogStore {
  private readonly topics = new Map<string, PartitionLog[]>();
  private readonly appendListeners = new Set<() => void>();

  createTopic(name: string, partitions: number): void {
    this.topics.set(
      name,
      Array.from({ length: partitions }, () => new PartitionLog()),
    );
  }

  hasTopic(name: string): boolean {
    return this.topics.has(name);
  }

  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  partitionCount(topic: string): number {
    return this.topics.get(topic)?.length ?? 0;
  }

  partition(topic: string, index: number): PartitionLog | undefined {
    return this.topics.get(topic)?.[index];
  }

  append(log: PartitionLog, batch: Buffer, header: BatchHeader): AppendResult {
    const result = log.append(batch, header);
    for (const listener of this.appendListeners) listener();
    return result;
  }

  /** Calls `listener` after every append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }
}
