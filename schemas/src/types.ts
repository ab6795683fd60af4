/**
 * Normalised in-memory forms of the contract's events (CONTRACT.md §1).
 * Optional strings and ttft/cost are `null` when absent; cache token counts default to 0.
 * `test/types.test.ts` checks these field lists against the `.avsc` files so they cannot drift.
 */

export const INVOCATION_STATUSES = ['OK', 'ERROR', 'THROTTLED', 'TIMEOUT', 'FILTERED'] as const;
export type InvocationStatus = (typeof INVOCATION_STATUSES)[number];

export interface InvocationEvent {
  event_id: string;
  /** UTC epoch milliseconds. */
  event_time: number;
  service: string;
  provider: string;
  model_id: string;
  operation: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_write_input_tokens: number;
  latency_ms: number;
  ttft_ms: number | null;
  status: InvocationStatus;
  error_code: string | null;
  finish_reason: string | null;
  tenant_id: string | null;
  user_id: string | null;
  session_id: string | null;
  agent_id: string | null;
  environment: string | null;
  region: string | null;
  trace_id: string | null;
  span_id: string | null;
  /** Cost reported by the caller; when present it wins over any price. */
  cost_usd: number | null;
}

export interface ScoreEvent {
  event_id: string;
  event_time: number;
  invocation_id: string | null;
  service: string;
  model_id: string;
  tenant_id: string | null;
  name: string;
  value: number;
  source: string | null;
}

export type EventKind = 'invocation' | 'score';

export type TelemetryEvent =
  | { kind: 'invocation'; event: InvocationEvent }
  | { kind: 'score'; event: ScoreEvent };

/** The event type of one kind: `EventOfKind<'score'>` is `ScoreEvent`. */
export type EventOfKind<K extends EventKind> = Extract<TelemetryEvent, { kind: K }>['event'];
