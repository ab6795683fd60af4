/**
 * OpenAI-style responses. Fields relied on (OpenAI API reference):
 * - Chat Completions `usage.prompt_tokens` INCLUDES `usage.prompt_tokens_details.cached_tokens`
 *   (so it is the contract's input_tokens as is; cached_tokens is the cache-read part, and OpenAI
 *   reports no cache writes); `usage.completion_tokens` includes
 *   `completion_tokens_details.reasoning_tokens`;
 * - Responses API `usage.input_tokens` / `input_tokens_details.cached_tokens` / `output_tokens`,
 *   the same conventions under other names;
 * - `choices[0].finish_reason`: `stop | length | tool_calls | content_filter | function_call`;
 *   `content_filter` is FILTERED. The Responses API says so with `incomplete_details.reason`.
 * Streaming chat completions carry usage only in the last chunk, with
 * `stream_options: { include_usage: true }`.
 */

import type { InvocationEvent } from '@genai-pipeline/schemas';
import { type CallContext, type CallOutcome, type CallTiming, invocationEvent, tokens } from './call.js';

export const OPENAI_PROVIDER = 'openai';

export interface OpenAIUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  input_tokens_details?: { cached_tokens?: number | null } | null;
}

export interface OpenAIResponseLike {
  usage?: OpenAIUsage | null;
  choices?: readonly { finish_reason?: string | null }[] | null;
  incomplete_details?: { reason?: string | null } | null;
}

export function openAIOutcome(response: OpenAIResponseLike): CallOutcome {
  const usage = response.usage ?? {};
  const chatShape = usage.prompt_tokens !== undefined && usage.prompt_tokens !== null;
  const input = tokens(chatShape ? usage.prompt_tokens : usage.input_tokens);
  const cached = tokens(
    chatShape ? usage.prompt_tokens_details?.cached_tokens : usage.input_tokens_details?.cached_tokens,
  );
  const finishReason =
    response.choices?.[0]?.finish_reason ?? response.incomplete_details?.reason ?? undefined;
  return {
    input_tokens: input,
    output_tokens: tokens(chatShape ? usage.completion_tokens : usage.output_tokens),
    // Never more than the input it is part of, or the event would be invalid.
    cache_read_input_tokens: Math.min(cached, input),
    cache_write_input_tokens: 0,
    status: finishReason === 'content_filter' ? 'FILTERED' : 'OK',
    finish_reason: finishReason,
  };
}

export function fromOpenAI(
  response: OpenAIResponseLike,
  context: CallContext,
  timing: CallTiming,
): InvocationEvent {
  return invocationEvent({ provider: OPENAI_PROVIDER, ...context }, openAIOutcome(response), timing);
}
