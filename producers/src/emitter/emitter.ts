/**
 * The emitter apps call on every model call. Its one promise: telemetry never slows or breaks the
 * app. emit() validates, encodes and enqueues synchronously in O(1), never throws and never awaits;
 * batches leave on microtasks and unref'd timers, bounded by count, bytes and age; retriable
 * failures back off with jitter and retry only the records that failed; whatever cannot be held or
 * delivered is dropped and counted by reason, never silently lost.
 */

import {
  type EventKind,
  type InvocationEvent,
  type ScoreEvent,
  type TelemetryEvent,
  type ValidationResult,
  validateEvent,
} from '@genai-pipeline/schemas';
import { ExponentialBackoff, type IBackoff } from 'cockatiel';
import {
  type DropReason,
  describeError,
  isRetriable,
  type OutgoingRecord,
  type SendResult,
  type Transport,
  TransportError,
} from '../transport/transport.js';
import { RingBuffer } from './ring-buffer.js';

type Nullable<T> = { [K in keyof T]?: T[K] | null };

/** The fields an invocation must have; the rest may be omitted (absent = null, cache counts = 0). */
type RequiredInvocationField =
  | 'event_id'
  | 'event_time'
  | 'service'
  | 'provider'
  | 'model_id'
  | 'operation'
  | 'input_tokens'
  | 'output_tokens'
  | 'latency_ms'
  | 'status';
type RequiredScoreField = 'event_id' | 'event_time' | 'service' | 'model_id' | 'name' | 'value';

export type InvocationInput = Pick<InvocationEvent, RequiredInvocationField> &
  Nullable<Omit<InvocationEvent, RequiredInvocationField>> & { kind?: 'invocation' };
export type ScoreInput = Pick<ScoreEvent, RequiredScoreField> &
  Nullable<Omit<ScoreEvent, RequiredScoreField>> & { kind: 'score' };
/** What emit() takes: the JSON-lines shape of CONTRACT.md §1 (`kind` defaults to invocation). */
export type EventInput = InvocationInput | ScoreInput;

export interface RetryOptions {
  /** First backoff delay; later ones grow exponentially with decorrelated jitter. Default 100 ms. */
  initialDelayMs: number;
  /** Longest backoff delay (a Retry-After may ask for longer and is honoured). Default 10 s. */
  maxDelayMs: number;
  /** Attempts per batch, the first included. Default unlimited (bounded by `maxRetryMs`). */
  maxAttempts: number;
  /** A batch still failing this long after its first attempt is dropped. Default 5 min. */
  maxRetryMs: number;
}

export interface EmitterOptions<R extends OutgoingRecord> {
  transport: Transport<R>;
  /** Events held (buffered + in flight) before new ones are dropped as `buffer_full`. Default 10 000. */
  maxBufferedEvents?: number;
  /** Encoded bytes held before new events are dropped as `buffer_full`. Default 32 MiB. */
  maxBufferedBytes?: number;
  /** Events per request; clamped to the transport's limit. Default 500. */
  maxBatchEvents?: number;
  /** Encoded bytes per request; clamped to the transport's limit. Default 1 MiB. */
  maxBatchBytes?: number;
  /** The oldest buffered event waits at most this long before a partial batch is sent. Default 1 s. */
  maxBatchAgeMs?: number;
  retry?: Partial<RetryOptions>;
  /** Told about every drop (after it is counted); exceptions from it are swallowed. */
  onDrop?: (reason: DropReason, count: number, error: string) => void;
  /** Told about every invalid event with the validation error; exceptions are swallowed. */
  onInvalid?: (error: string, event: unknown) => void;
}

export interface EmitterStats {
  /** emit() calls. Always emitted = sent + all drops + buffered + inFlight. */
  emitted: number;
  /** Events the destination acknowledged. */
  sent: number;
  dropped: Record<DropReason, number>;
  /** Event re-sends after retriable failures. */
  retried: number;
  /** Events waiting for a batch. */
  buffered: number;
  /** Events in the batch being sent or waiting to be retried. */
  inFlight: number;
  /** The last send failure, for diagnosis. */
  lastError: string | undefined;
}

export interface Emitter {
  /** Validates and enqueues one event. Never throws, never blocks; problems show in stats(). */
  emit(event: EventInput): void;
  /** Resolves when every event emitted before the call is delivered or dropped. Never rejects. */
  flush(): Promise<void>;
  /**
   * Stops accepting events (later emits are dropped as `closed`), flushes, stops timers and closes
   * the transport. With `timeoutMs`, whatever is still held then is dropped as `closed`.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
  stats(): EmitterStats;
}

export const DEFAULT_RETRY: Readonly<RetryOptions> = Object.freeze({
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  maxAttempts: Number.POSITIVE_INFINITY,
  maxRetryMs: 300_000,
});

interface Entry<R> {
  /** Emit order; flush() waits for every entry below its mark. */
  seq: number;
  /** Epoch ms when emitted, for the batch age bound. */
  at: number;
  record: R;
}

interface FlushWaiter {
  /** Resolve once every entry with seq < mark is settled. */
  mark: number;
  resolve: () => void;
}

const DROP_REASONS: readonly DropReason[] = [
  'invalid',
  'rejected',
  'too_large',
  'buffer_full',
  'retries_exhausted',
  'closed',
  'internal',
];

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer (got ${v})`);
  return v;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v >= 0)) throw new RangeError(`${name} must be a number >= 0 (got ${v})`);
  return v;
}

/** The event kind from JSON lines' optional `kind` (null or "" count as absent). */
function validateInput(raw: unknown, nowMs: number): ValidationResult<TelemetryEvent> {
  let kind: EventKind = 'invocation';
  if (typeof raw === 'object' && raw !== null) {
    const given = (raw as { kind?: unknown }).kind;
    if (given === 'score') kind = 'score';
    else if (given !== undefined && given !== null && given !== '' && given !== 'invocation') {
      return { ok: false, error: `kind: must be "invocation" or "score" (got ${String(given)})` };
    }
  }
  return validateEvent(raw, kind, nowMs);
}

class BatchingEmitter<R extends OutgoingRecord> implements Emitter {
  private readonly transport: Transport<R>;
  private readonly maxBufferedEvents: number;
  private readonly maxBufferedBytes: number;
  private readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;
  private readonly maxRecordBytes: number;
  private readonly maxBatchAgeMs: number;
  private readonly retry: RetryOptions;
  private readonly backoff: ExponentialBackoff<unknown>;
  private readonly onDrop: EmitterOptions<R>['onDrop'];
  private readonly onInvalid: EmitterOptions<R>['onInvalid'];

  private readonly ring: RingBuffer<Entry<R>>;
  private bufferedBytes = 0;
  private nextSeq = 0;
  /** The batch being sent or waiting for its retry; it goes out before anything in the ring. */
  private inFlight: Entry<R>[] | undefined;
  private inFlightBytes = 0;
  private attempts = 0;
  private firstAttemptAt = 0;
  private backoffState: IBackoff<unknown> | undefined;

  private sending = false;
  private pumpQueued = false;
  private ageTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private waiters: FlushWaiter[] = [];
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Bumped when close() gives up: results of sends started before then are ignored. */
  private generation = 0;

  private readonly counters = {
    emitted: 0,
    sent: 0,
    retried: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    lastError: undefined as string | undefined,
  };

  constructor(options: EmitterOptions<R>) {
    const { transport } = options;
    this.transport = transport;
    const limits = transport.limits;
    this.maxBufferedEvents = positiveInteger('maxBufferedEvents', options.maxBufferedEvents, 10_000);
    this.maxBufferedBytes = positiveInteger('maxBufferedBytes', options.maxBufferedBytes, 32 * 1024 * 1024);
    this.maxBatchEvents = Math.min(
      positiveInteger('maxBatchEvents', options.maxBatchEvents, 500),
      limits.maxBatchEvents,
    );
    this.maxBatchBytes = Math.min(
      positiveInteger('maxBatchBytes', options.maxBatchBytes, 1024 * 1024),
      limits.maxBatchBytes,
    );
    // A record that cannot fit in any batch can never be sent.
    this.maxRecordBytes = Math.min(limits.maxRecordBytes, this.maxBatchBytes);
    this.maxBatchAgeMs = nonNegative('maxBatchAgeMs', options.maxBatchAgeMs, 1000);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    nonNegative('retry.initialDelayMs', this.retry.initialDelayMs, 0);
    nonNegative('retry.maxDelayMs', this.retry.maxDelayMs, 0);
    nonNegative('retry.maxRetryMs', this.retry.maxRetryMs, 0);
    if (!(this.retry.maxAttempts >= 1)) {
      throw new RangeError(`retry.maxAttempts must be >= 1 (got ${this.retry.maxAttempts})`);
    }
    this.backoff = new ExponentialBackoff({
      initialDelay: this.retry.initialDelayMs,
      maxDelay: this.retry.maxDelayMs,
    });
    this.onDrop = options.onDrop;
    this.onInvalid = options.onInvalid;
    this.ring = new RingBuffer(this.maxBufferedEvents);
  }

  emit(input: EventInput): void {
    try {
      this.counters.emitted++;
      if (this.closed) {
        this.drop('closed', 1, 'emit() after close()');
        return;
      }
      const now = Date.now();
      let result: ValidationResult<TelemetryEvent>;
      try {
        result = validateInput(input, now);
      } catch (error) {
        // Getters that throw, revoked proxies: the caller's object, not our bug.
        result = { ok: false, error: `reading the event threw ${describeError(error)}` };
      }
      if (!result.ok) {
        this.drop('invalid', 1, result.error);
        this.notifyInvalid(result.error, input);
        return;
      }
      const record = this.transport.encode(result.value);
      const bytes = record.bytes;
      if (bytes > this.maxRecordBytes) {
        this.drop('too_large', 1, `encoded event is ${bytes} bytes, over the ${this.maxRecordBytes} limit`);
        return;
      }
      const heldEvents = this.ring.size + (this.inFlight?.length ?? 0);
      const heldBytes = this.bufferedBytes + this.inFlightBytes;
      if (heldEvents >= this.maxBufferedEvents || heldBytes + bytes > this.maxBufferedBytes) {
        this.drop('buffer_full', 1, `buffer holds ${heldEvents} events / ${heldBytes} bytes`);
        return;
      }
      this.ring.push({ seq: this.nextSeq++, at: now, record });
      this.bufferedBytes += bytes;
      if (this.ring.size >= this.maxBatchEvents || this.bufferedBytes >= this.maxBatchBytes) {
        this.queuePump();
      } else if (this.ageTimer === undefined) {
        this.armAgeTimer(now);
      }
    } catch (error) {
      this.drop('internal', 1, describeError(error));
    }
  }

  flush(): Promise<void> {
    if (this.heldEvents() === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ mark: this.nextSeq, resolve });
      this.queuePump();
    });
  }

  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutDown(options.timeoutMs);
    return this.closing;
  }

  stats(): EmitterStats {
    return {
      emitted: this.counters.emitted,
      sent: this.counters.sent,
      dropped: { ...this.counters.dropped },
      retried: this.counters.retried,
      buffered: this.ring.size,
      inFlight: this.inFlight?.length ?? 0,
      lastError: this.counters.lastError,
    };
  }

  private async shutDown(timeoutMs: number | undefined): Promise<void> {
    this.closed = true;
    // Whoever awaits close() wants the flush to finish: from now on timers keep the process alive.
    this.retryTimer?.ref();
    this.ageTimer?.ref();
    const flushed = this.flush();
    if (timeoutMs === undefined) {
      await flushed;
    } else {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([flushed, timedOut]);
      clearTimeout(timer);
      this.abandonHeld();
    }
    clearTimeout(this.ageTimer);
    clearTimeout(this.retryTimer);
    this.ageTimer = undefined;
    this.retryTimer = undefined;
    try {
      await this.transport.close?.();
    } catch (error) {
      this.counters.lastError = `closing the transport: ${describeError(error)}`;
    }
  }

  /** Drops everything still held (close() timed out); sends already started are ignored. */
  private abandonHeld(): void {
    this.generation++;
    const held = this.heldEvents();
    this.inFlight = undefined;
    this.inFlightBytes = 0;
    while (this.ring.shift() !== undefined) {}
    this.bufferedBytes = 0;
    this.sending = false;
    if (held > 0) this.drop('closed', held, 'still held when close() timed out');
    this.settleWaiters();
  }

  private heldEvents(): number {
    return this.ring.size + (this.inFlight?.length ?? 0);
  }

  /** An idle emitter must not keep the process alive: timers are unref'd until close(). */
  private timer(callback: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(callback, ms);
    if (!this.closed) timer.unref();
    return timer;
  }

  private queuePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private armAgeTimer(now: number): void {
    const head = this.ring.peek();
    if (head === undefined || this.ageTimer !== undefined) return;
    const wait = Math.max(0, head.at + this.maxBatchAgeMs - now);
    this.ageTimer = this.timer(() => {
      this.ageTimer = undefined;
      this.pump();
    }, wait);
  }

  /** A batch is due: full by count or bytes, old enough, or someone is waiting for it. */
  private batchDue(now: number): boolean {
    const head = this.ring.peek();
    if (head === undefined) return false;
    return (
      this.ring.size >= this.maxBatchEvents ||
      this.bufferedBytes >= this.maxBatchBytes ||
      now - head.at >= this.maxBatchAgeMs ||
      this.waiters.length > 0 ||
      this.closed
    );
  }

  /** Starts the next send if nothing is in progress. Runs on microtasks and timers only. */
  private pump(): void {
    if (this.sending || this.retryTimer !== undefined) return;
    try {
      if (this.inFlight === undefined) {
        const now = Date.now();
        if (!this.batchDue(now)) {
          this.armAgeTimer(now);
          return;
        }
        this.inFlight = this.cutBatch();
        this.attempts = 0;
        this.firstAttemptAt = now;
        this.backoffState = this.backoff.next();
        if (this.ring.size === 0) {
          // Nothing left to age: no wake-up needed.
          clearTimeout(this.ageTimer);
          this.ageTimer = undefined;
        } else {
          this.armAgeTimer(now);
        }
      }
      this.send(this.inFlight);
    } catch (error) {
      this.failInternally(error);
    }
  }

  private cutBatch(): Entry<R>[] {
    const batch: Entry<R>[] = [];
    let bytes = 0;
    for (let head = this.ring.peek(); head !== undefined; head = this.ring.peek()) {
      const size = head.record.bytes;
      if (batch.length === this.maxBatchEvents || (batch.length > 0 && bytes + size > this.maxBatchBytes))
        break;
      this.ring.shift();
      batch.push(head);
      bytes += size;
    }
    this.bufferedBytes -= bytes;
    this.inFlightBytes = bytes;
    return batch;
  }

  private send(batch: Entry<R>[]): void {
    this.sending = true;
    this.attempts++;
    const generation = this.generation;
    const records = batch.map((entry) => entry.record);
    let request: Promise<SendResult>;
    try {
      request = this.transport.send(records);
    } catch (error) {
      request = Promise.reject(error);
    }
    request
      .then(
        (result) => {
          if (generation === this.generation) this.settle(batch, result);
        },
        (error: unknown) => {
          if (generation === this.generation) this.settleFailure(batch, error);
        },
      )
      .catch((error: unknown) => {
        if (generation === this.generation) this.failInternally(error);
      });
  }

  /** Applies per-record results: delivered, dropped, or kept in flight for a retry. */
  private settle(batch: Entry<R>[], result: SendResult): void {
    this.sending = false;
    const failures = Array.isArray(result?.failures) ? result.failures : [];
    const retry: Entry<R>[] = [];
    const failedIndices = new Set<number>();
    let lastError: string | undefined;
    for (const failure of failures) {
      const entry = batch[failure.index];
      if (entry === undefined || failedIndices.has(failure.index)) continue;
      failedIndices.add(failure.index);
      lastError = failure.error;
      if (failure.retriable) retry.push(entry);
      else this.drop(failure.reason ?? 'rejected', 1, failure.error);
    }
    this.counters.sent += batch.length - failedIndices.size;
    if (lastError !== undefined) this.counters.lastError = lastError;
    // Failures may come in any order; retries keep emit order.
    retry.sort((a, b) => a.seq - b.seq);
    this.afterAttempt(retry, lastError, result?.retryAfterMs);
  }

  private settleFailure(batch: Entry<R>[], error: unknown): void {
    this.sending = false;
    const message = describeError(error);
    this.counters.lastError = message;
    if (isRetriable(error)) {
      this.afterAttempt(batch, message, error instanceof TransportError ? error.retryAfterMs : undefined);
    } else {
      const reason = error instanceof TransportError ? (error.reason ?? 'rejected') : 'rejected';
      this.drop(reason, batch.length, message);
      this.afterAttempt([], message, undefined);
    }
  }

  /** Keeps `retry` in flight behind a backoff timer, or moves on to the next batch. */
  private afterAttempt(retry: Entry<R>[], error: string | undefined, retryAfterMs: number | undefined): void {
    if (retry.length > 0) {
      const budgetLeft = this.retry.maxRetryMs - (Date.now() - this.firstAttemptAt);
      if (this.attempts >= this.retry.maxAttempts || budgetLeft <= 0) {
        this.drop('retries_exhausted', retry.length, error ?? 'retries exhausted');
      } else {
        this.backoffState = (this.backoffState ?? this.backoff.next()).next(undefined);
        const delay = Math.max(this.backoffState.duration, retryAfterMs ?? 0);
        this.counters.retried += retry.length;
        this.inFlight = retry;
        this.inFlightBytes = retry.reduce((sum, entry) => sum + entry.record.bytes, 0);
        this.retryTimer = this.timer(() => {
          this.retryTimer = undefined;
          this.pump();
        }, delay);
        this.settleWaiters();
        return;
      }
    }
    this.inFlight = undefined;
    this.inFlightBytes = 0;
    this.settleWaiters();
    this.pump();
  }

  /** A bug on our side while sending: the batch counts as dropped and sending goes on. */
  private failInternally(error: unknown): void {
    this.sending = false;
    const lost = this.inFlight?.length ?? 0;
    this.inFlight = undefined;
    this.inFlightBytes = 0;
    if (lost > 0) this.drop('internal', lost, describeError(error));
    this.settleWaiters();
    this.queuePump();
  }

  /** Resolves flush() calls whose events are all delivered or dropped. */
  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const lowestHeld = this.inFlight?.[0]?.seq ?? this.ring.peek()?.seq ?? this.nextSeq;
    let settled = 0;
    while (settled < this.waiters.length && (this.waiters[settled] as FlushWaiter).mark <= lowestHeld)
      settled++;
    if (settled === 0) return;
    for (const waiter of this.waiters.splice(0, settled)) waiter.resolve();
  }

  private drop(reason: DropReason, count: number, error: string): void {
    this.counters.dropped[reason] += count;
    if (this.onDrop === undefined) return;
    try {
      this.onDrop(reason, count, error);
    } catch {
      // The caller's callback must not break the emitter either.
    }
  }

  private notifyInvalid(error: string, event: unknown): void {
    if (this.onInvalid === undefined) return;
    try {
      this.onInvalid(error, event);
    } catch {
      // As above.
    }
  }
}

/** Creates an emitter over `transport`; throws only on invalid options (at startup, never in emit). */
export function createEmitter<R extends OutgoingRecord>(options: EmitterOptions<R>): Emitter {
  return new BatchingEmitter(options);
}
