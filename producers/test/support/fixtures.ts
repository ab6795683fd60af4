import type { TelemetryEvent } from '@genai-pipeline/schemas';
import type { EventInput, InvocationInput, ScoreInput } from '../../src/emitter/emitter.js';
import {
  DELIVERED,
  type OutgoingRecord,
  type SendResult,
  type Transport,
  type TransportLimits,
} from '../../src/transport/transport.js';

let counter = 0;

/** A valid invocation emitted now; ids are unique within a test run. */
export function invocation(overrides: Partial<InvocationInput> = {}): InvocationInput {
  counter++;
  return {
    event_id: `evt-${counter}`,
    event_time: Date.now(),
    service: 'support-bot',
    provider: 'aws.bedrock',
    model_id: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
    operation: 'chat',
    input_tokens: 1200,
    output_tokens: 300,
    cache_read_input_tokens: 1000,
    latency_ms: 850.5,
    status: 'OK',
    tenant_id: 'acme',
    ...overrides,
  };
}

export function score(overrides: Partial<ScoreInput> = {}): ScoreInput {
  counter++;
  return {
    kind: 'score',
    event_id: `score-${counter}`,
    event_time: Date.now(),
    service: 'support-bot',
    model_id: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
    name: 'thumbs',
    value: 1,
    ...overrides,
  };
}

export interface FakeRecord extends OutgoingRecord {
  event: TelemetryEvent;
}

type Responder = (batch: readonly FakeRecord[]) => Promise<SendResult> | SendResult;

/**
 * A transport that records every batch and answers from a queue of responders (then delivers).
 * Each record weighs `recordBytes`, so byte bounds are easy to reason about.
 */
export class FakeTransport implements Transport<FakeRecord> {
  readonly name = 'fake';
  readonly limits: TransportLimits;
  readonly batches: FakeRecord[][] = [];
  readonly responders: Responder[] = [];
  closed = 0;

  constructor(
    private readonly recordBytes = 100,
    limits: Partial<TransportLimits> = {},
  ) {
    this.limits = { maxBatchEvents: 10_000, maxBatchBytes: 10_000_000, maxRecordBytes: 1_000_000, ...limits };
  }

  encode(event: TelemetryEvent): FakeRecord {
    return { event, bytes: this.recordBytes };
  }

  async send(batch: readonly FakeRecord[]): Promise<SendResult> {
    this.batches.push([...batch]);
    const responder = this.responders.shift();
    return responder ? responder(batch) : DELIVERED;
  }

  async close(): Promise<void> {
    this.closed++;
  }

  /** event_ids of every batch, in send order. */
  ids(): string[][] {
    return this.batches.map((b) => b.map((r) => r.event.event.event_id));
  }
}

/** A promise with its resolvers, for sends that complete when the test says so. */
export function deferred<T>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const asInput = (value: unknown): EventInput => value as EventInput;
