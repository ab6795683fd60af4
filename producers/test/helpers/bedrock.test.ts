import { describe, expect, it } from 'vitest';
import {
  bedrockConverseOutcome,
  bedrockInvokeModelOutcome,
  fromBedrockConverse,
} from '../../src/helpers/bedrock.js';

describe('Bedrock Converse', () => {
  it('adds cache reads and writes to inputTokens (Converse reports them apart)', () => {
    expect(
      bedrockConverseOutcome({
        usage: { inputTokens: 200, outputTokens: 80, cacheReadInputTokens: 1000, cacheWriteInputTokens: 300 },
        metrics: { latencyMs: 640 },
        stopReason: 'end_turn',
      }),
    ).toEqual({
      input_tokens: 1500,
      output_tokens: 80,
      cache_read_input_tokens: 1000,
      cache_write_input_tokens: 300,
      status: 'OK',
      finish_reason: 'end_turn',
      provider_latency_ms: 640,
    });
  });

  it('guardrail interventions and content filtering are FILTERED', () => {
    expect(bedrockConverseOutcome({ stopReason: 'guardrail_intervened' }).status).toBe('FILTERED');
    expect(bedrockConverseOutcome({ stopReason: 'content_filtered' }).status).toBe('FILTERED');
    expect(bedrockConverseOutcome({ stopReason: 'max_tokens' }).status).toBe('OK');
  });

  it('uses metrics.latencyMs and the Bedrock provider unless told otherwise', () => {
    const event = fromBedrockConverse(
      { usage: { inputTokens: 1, outputTokens: 2 }, metrics: { latencyMs: 333 } },
      { service: 's', model_id: 'anthropic.claude-3-haiku-20240307-v1:0' },
    );
    expect(event).toMatchObject({
      provider: 'aws.bedrock',
      latency_ms: 333,
      input_tokens: 1,
      cache_read_input_tokens: 0,
    });
    const timed = fromBedrockConverse(
      { metrics: { latencyMs: 333 } },
      { service: 's', model_id: 'm' },
      { latency_ms: 400, ttft_ms: 90 },
    );
    expect(timed).toMatchObject({ latency_ms: 400, ttft_ms: 90 });
  });
});

describe('Bedrock InvokeModel (Anthropic body)', () => {
  const body = {
    id: 'msg_1',
    type: 'message',
    content: [{ type: 'text', text: 'never copied into the event' }],
    stop_reason: 'end_turn',
    usage: {
      input_tokens: 50,
      output_tokens: 20,
      cache_read_input_tokens: 400,
      cache_creation_input_tokens: 100,
    },
  };

  it('reads the body bytes with the Anthropic cache convention', () => {
    const outcome = bedrockInvokeModelOutcome({ body: new TextEncoder().encode(JSON.stringify(body)) });
    expect(outcome).toMatchObject({
      input_tokens: 550,
      cache_read_input_tokens: 400,
      cache_write_input_tokens: 100,
      status: 'OK',
    });
    expect(JSON.stringify(outcome)).not.toContain('never copied');
  });

  it('a guardrail intervention is FILTERED', () => {
    const outcome = bedrockInvokeModelOutcome({
      body: { ...body, 'amazon-bedrock-guardrailAction': 'INTERVENED' },
    });
    expect(outcome).toMatchObject({ status: 'FILTERED', finish_reason: 'guardrail_intervened' });
  });
});
