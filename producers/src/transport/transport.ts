/**
 * The narrow seam between the emitter and a destination (collector, Kafka, Kinesis).
 *
 * A transport encodes each event once, when it is emitted, so the emitter knows its exact size for
 * byte-bounded batches and buffers; it then sends batches and says, per record, what happened, so a
 * partial failure retries only the records that failed.
 */

import { OperationalError, type TelemetryEvent } from '@genai-pipeline/schemas';

/** One encoded event waiting to be sent; `bytes` is what it adds to a request. */
export interface OutgoingRecord {
  readonly bytes: number;
}

/** Why a record never reached its destination (the keys of `stats().dropped`). */
export type DropReason =
  /** emit() got an event that breaks the contract's validity rules (CONTRACT.md §1). */
  | 'invalid'
  /** The destination refused the record itself (a collector's 400, a non-retriable error). */
  | 'rejected'
  /** The encoded event exceeds the transport's per-record or per-request limit. */
  | 'too_large'
  /** The buffer bound (events or bytes, in flight included) was reached. */
  | 'buffer_full'
  /** Retriable failures went on past the retry budget. */
  | 'retries_exhausted'
  /** emit() after close(), or records still held when close()'s timeout ran out. */
  | 'closed'
  /** A bug inside the SDK: counted, never thrown at the caller. */
  | 'internal';

/** A record of a batch that was not delivered; records not listed were delivered. */
export interface RecordFailure {
  /** Position in the batch passed to `send`. */
  index: number;
  error: string;
  /** True: send the record again later. False: drop it, counted under `reason`. */
  retriable: boolean;
  /** For non-retriable failures; default `rejected`. */
  reason?: Exclude<DropReason, 'buffer_full' | 'retries_exhausted' | 'closed' | 'internal'>;
}

export interface SendResult {
  failures: RecordFailure[];
  /** The destination asked to wait this long before retrying (Retry-After). */
  retryAfterMs?: number;
}

export const DELIVERED: SendResult = Object.freeze({ failures: [] }) as SendResult;

/** Request size limits of a destination; the emitter never builds a batch beyond them. */
export interface TransportLimits {
  maxBatchEvents: number;
  maxBatchBytes: number;
  /** Largest single encoded record; larger events are dropped as `too_large` at emit(). */
  maxRecordBytes: number;
}

export interface Transport<R extends OutgoingRecord = OutgoingRecord> {
  readonly name: string;
  readonly limits: TransportLimits;
  /** Encodes one validated event; runs inside emit(), so it must be cheap and synchronous. */
  encode(event: TelemetryEvent): R;
  /**
   * Sends one batch. Resolves with per-record failures; rejects only when the whole batch failed
   * (a `TransportError` or any error that `isRetriable` classifies).
   */
  send(batch: readonly R[]): Promise<SendResult>;
  /** Releases connections; called by the emitter's close(). */
  close?(): Promise<void>;
}

/** A whole-batch failure that says whether the same batch may succeed later (kafkajs' rule). */
export class TransportError extends OperationalError {
  constructor(
    message: string,
    retriable: boolean,
    options?: { cause?: unknown; retryAfterMs?: number; reason?: RecordFailure['reason'] },
  ) {
    super(message, retriable, { cause: options?.cause });
    this.retryAfterMs = options?.retryAfterMs;
    this.reason = options?.reason;
  }
  readonly retryAfterMs: number | undefined;
  readonly reason: RecordFailure['reason'] | undefined;
}

/** Whether the same batch may succeed later: the classification the sinks and sources share. */
export { isRetriableError as isRetriable } from '@genai-pipeline/schemas';

/** A one-line description of anything thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  try {
    return String(error);
  } catch {
    return 'unprintable error';
  }
}
