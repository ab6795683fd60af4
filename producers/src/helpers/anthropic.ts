/**
 * Anthropic Messages API responses (also the body of Bedrock InvokeModel for Anthropic models).
 * Fields relied on (Messages API reference, `Message` object):
 * - `usage.input_tokens`: input tokens NOT read from or written to the cache;
 * - `usage.cache_read_input_tokens`, `usage.cache_creation_input_tokens`: the cached parts, reported
 *   separately, so the contract's all-inclusive input_tokens is the sum of the three;
 * - `usage.output_tokens`;
 * - `stop_reason`: `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, `pause_turn`, `refusal`
 *   (streaming classifiers stopped the answer: counted as FILTERED).
 */

import type { InvocationEvent } from '@genai-pipeline/schemas';
import { type CallContext, type CallOutcome, type CallTiming, invocationEvent, tokens } from './call.js';

export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

export interface AnthropicMessageLike {
  usage?: AnthropicUsage | null;
  stop_reason?: string | null;
}

export const ANTHROPIC_PROVIDER = 'anthropic';

export function anthropicOutcome(message: AnthropicMessageLike): CallOutcome {
  const usage = message.usage ?? {};
  const cacheRead = tokens(usage.cache_read_input_tokens);
  const cacheWrite = tokens(usage.cache_creation_input_tokens);
  const stopReason = message.stop_reason ?? undefined;
  return {
    input_tokens: tokens(usage.input_tokens) + cacheRead + cacheWrite,
    output_tokens: tokens(usage.output_tokens),
    cache_read_input_tokens: cacheRead,
    cache_write_input_tokens: cacheWrite,
    status: stopReason === 'refusal' ? 'FILTERED' : 'OK',
    finish_reason: stopReason,
  };
}

export function fromAnthropic(
  message: AnthropicMessageLike,
  context: CallContext,
  timing: CallTiming,
): InvocationEvent {
  return invocationEvent({ provider: ANTHROPIC_PROVIDER, ...context }, anthropicOutcome(message), timing);
}
