/**
 * Amazon Bedrock responses.
 *
 * Converse / ConverseStream (Bedrock API reference: `ConverseResponse`, `TokenUsage`,
 * `ConverseMetrics`, `MessageStopEvent`, `ConverseStreamMetadataEvent`):
 * - `usage.inputTokens` excludes prompt-cache reads and writes, which come as
 *   `usage.cacheReadInputTokens` / `usage.cacheWriteInputTokens`: the contract's input_tokens
 *   includes them, so they are added;
 * - `usage.outputTokens`; `metrics.latencyMs` (the service's own measure of the call);
 * - `stopReason`: `end_turn | tool_use | max_tokens | stop_sequence | guardrail_intervened |
 *   content_filtered | ...`; the last two are FILTERED.
 * For ConverseStream pass `{ usage, metrics }` of the `metadata` event and `stopReason` of
 * `messageStop`.
 *
 * InvokeModel with an Anthropic model: the body is an Anthropic Messages response (anthropic.ts);
 * with a guardrail, Bedrock adds `"amazon-bedrock-guardrailAction": "INTERVENED"` to it.
 */

import type { InvocationEvent } from '@genai-pipeline/schemas';
import { type AnthropicMessageLike, anthropicOutcome } from './anthropic.js';
import { type CallContext, type CallOutcome, type CallTiming, invocationEvent, tokens } from './call.js';

export const BEDROCK_PROVIDER = 'aws.bedrock';

export interface ConverseResponseLike {
  usage?: {
    inputTokens?: number | null;
    outputTokens?: number | null;
    cacheReadInputTokens?: number | null;
    cacheWriteInputTokens?: number | null;
  } | null;
  metrics?: { latencyMs?: number | null } | null;
  stopReason?: string | null;
}

const FILTERED_STOP_REASONS = new Set(['guardrail_intervened', 'content_filtered']);

export function bedrockConverseOutcome(response: ConverseResponseLike): CallOutcome {
  const usage = response.usage ?? {};
  const cacheRead = tokens(usage.cacheReadInputTokens);
  const cacheWrite = tokens(usage.cacheWriteInputTokens);
  const stopReason = response.stopReason ?? undefined;
  const latency = response.metrics?.latencyMs;
  return {
    input_tokens: tokens(usage.inputTokens) + cacheRead + cacheWrite,
    output_tokens: tokens(usage.outputTokens),
    cache_read_input_tokens: cacheRead,
    cache_write_input_tokens: cacheWrite,
    status: stopReason !== undefined && FILTERED_STOP_REASONS.has(stopReason) ? 'FILTERED' : 'OK',
    finish_reason: stopReason,
    provider_latency_ms: typeof latency === 'number' && latency >= 0 ? latency : undefined,
  };
}

/**
 * An event for a Converse call. Without `timing`, latency is the response's `metrics.latencyMs`
 * (0 when absent); time the call with `startCall` for the end-to-end figure and TTFT.
 */
export function fromBedrockConverse(
  response: ConverseResponseLike,
  context: CallContext,
  timing?: CallTiming,
): InvocationEvent {
  const outcome = bedrockConverseOutcome(response);
  return invocationEvent(
    { provider: BEDROCK_PROVIDER, ...context },
    outcome,
    timing ?? { latency_ms: outcome.provider_latency_ms ?? 0 },
  );
}

export interface InvokeModelResponseLike {
  /** The response body: bytes (the SDK's `Uint8ArrayBlobAdapter`), a JSON string, or parsed JSON. */
  body: Uint8Array | string | object;
}

type AnthropicBedrockBody = AnthropicMessageLike & { 'amazon-bedrock-guardrailAction'?: string };

function parseBody(body: InvokeModelResponseLike['body']): AnthropicBedrockBody {
  if (typeof body === 'string') return JSON.parse(body) as AnthropicBedrockBody;
  if (body instanceof Uint8Array) return JSON.parse(new TextDecoder().decode(body)) as AnthropicBedrockBody;
  return body as AnthropicBedrockBody;
}

/** InvokeModel on an Anthropic model; throws SyntaxError when the body is not JSON. */
export function bedrockInvokeModelOutcome(response: InvokeModelResponseLike): CallOutcome {
  const body = parseBody(response.body);
  const outcome = anthropicOutcome(body);
  if (body['amazon-bedrock-guardrailAction'] === 'INTERVENED') {
    return { ...outcome, status: 'FILTERED', finish_reason: 'guardrail_intervened' };
  }
  return outcome;
}

export function fromBedrockInvokeModel(
  response: InvokeModelResponseLike,
  context: CallContext,
  timing: CallTiming,
): InvocationEvent {
  return invocationEvent(
    { provider: BEDROCK_PROVIDER, ...context },
    bedrockInvokeModelOutcome(response),
    timing,
  );
}
