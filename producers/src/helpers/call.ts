/**
 * Building InvocationEvents from what a model call returned: numbers and identifiers only, never
 * prompt or response text. Provider-specific mappers (bedrock.ts, anthropic.ts, openai.ts,
 * errors.ts) turn a response or an error into a `CallOutcome`; `invocationEvent` adds the caller's
 * context, an event_id and timing; `startCall` measures latency and time to first token.
 */

import { randomUUID } from 'node:crypto';
import type { InvocationEvent, InvocationStatus } from '@genai-pipeline/schemas';

/** Who made the call and for whom: the attribution fields of CONTRACT.md §1. */
export interface CallContext {
  service: string;
  model_id: string;
  /** OTel `gen_ai.provider.name`; the provider helpers fill in their own when absent. */
  provider?: string;
  /** OTel `gen_ai.operation.name`; default `chat`. */
  operation?: string;
  tenant_id?: string;
  user_id?: string;
  session_id?: string;
  agent_id?: string;
  environment?: string;
  region?: string;
  trace_id?: string;
  span_id?: string;
  cost_usd?: number;
}

/** What the provider said about one call, in the contract's conventions. */
export interface CallOutcome {
  /** All input tokens, cached ones included. */
  input_tokens: number;
  /** All output tokens, reasoning included. */
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_write_input_tokens: number;
  status: InvocationStatus;
  finish_reason?: string;
  error_code?: string;
  /** Latency the provider measured, used when the caller did not time the call. */
  provider_latency_ms?: number;
}

export interface CallTiming {
  latency_ms: number;
  ttft_ms?: number;
  /** When the call completed (epoch ms); default now. */
  event_time?: number;
}

/** A non-negative integer token count, 0 for anything else (absent fields, nulls). */
export const tokens = (value: unknown): number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;

/** The outcome of a failed call before the error is known, and the base of error outcomes. */
export const NO_TOKENS: Readonly<
  Pick<CallOutcome, 'input_tokens' | 'output_tokens' | 'cache_read_input_tokens' | 'cache_write_input_tokens'>
> = Object.freeze({
  input_tokens: 0,
  output_tokens: 0,
  cache_read_input_tokens: 0,
  cache_write_input_tokens: 0,
});

/** One InvocationEvent: a fresh UUID, completion time, the outcome and the caller's context. */
export function invocationEvent(
  context: CallContext,
  outcome: CallOutcome,
  timing: CallTiming,
): InvocationEvent {
  return {
    event_id: randomUUID(),
    event_time: timing.event_time ?? Date.now(),
    service: context.service,
    provider: context.provider ?? 'unknown',
    model_id: context.model_id,
    operation: context.operation ?? 'chat',
    input_tokens: outcome.input_tokens,
    output_tokens: outcome.output_tokens,
    cache_read_input_tokens: outcome.cache_read_input_tokens,
    cache_write_input_tokens: outcome.cache_write_input_tokens,
    latency_ms: timing.latency_ms,
    ttft_ms: timing.ttft_ms ?? null,
    status: outcome.status,
    error_code: outcome.error_code ?? null,
    finish_reason: outcome.finish_reason ?? null,
    tenant_id: context.tenant_id ?? null,
    user_id: context.user_id ?? null,
    session_id: context.session_id ?? null,
    agent_id: context.agent_id ?? null,
    environment: context.environment ?? null,
    region: context.region ?? null,
    trace_id: context.trace_id ?? null,
    span_id: context.span_id ?? null,
    cost_usd: context.cost_usd ?? null,
  };
}

export interface CallTimer {
  /** Marks the first streamed token (later calls are ignored). */
  firstToken(): void;
  /** The event of a completed call; latency is measured from startCall(). */
  end(outcome: CallOutcome): InvocationEvent;
}

/**
 * Times one call on a monotonic clock: `const call = startCall(ctx)`, `call.firstToken()` on the
 * first streamed chunk, `emitter.emit(call.end(openAIOutcome(completion)))` or
 * `call.end(errorOutcome(error))` when it throws.
 */
export function startCall(
  context: CallContext,
  clock: () => number = performance.now.bind(performance),
): CallTimer {
  const started = clock();
  let firstTokenAt: number | undefined;
  return {
    firstToken() {
      firstTokenAt ??= clock();
    },
    end(outcome) {
      const ended = clock();
      return invocationEvent(context, outcome, {
        latency_ms: ended - started,
        ttft_ms: firstTokenAt === undefined ? undefined : firstTokenAt - started,
      });
    },
  };
}
