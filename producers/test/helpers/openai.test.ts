import { describe, expect, it } from 'vitest';
import { fromOpenAI, openAIOutcome } from '../../src/helpers/openai.js';

describe('OpenAI usage', () => {
  it('chat completions: prompt_tokens already includes cached tokens', () => {
    expect(
      openAIOutcome({
        usage: {
          prompt_tokens: 2006,
          completion_tokens: 300,
          prompt_tokens_details: { cached_tokens: 1920 },
        },
        choices: [{ finish_reason: 'stop' }],
      }),
    ).toEqual({
      input_tokens: 2006,
      output_tokens: 300,
      cache_read_input_tokens: 1920,
      cache_write_input_tokens: 0,
      status: 'OK',
      finish_reason: 'stop',
    });
  });

  it('the Responses API shape maps the same way', () => {
    expect(
      openAIOutcome({
        usage: { input_tokens: 125, output_tokens: 48, input_tokens_details: { cached_tokens: 98 } },
      }),
    ).toMatchObject({ input_tokens: 125, output_tokens: 48, cache_read_input_tokens: 98 });
  });

  it('content_filter is FILTERED', () => {
    expect(openAIOutcome({ choices: [{ finish_reason: 'content_filter' }] }).status).toBe('FILTERED');
    expect(openAIOutcome({ incomplete_details: { reason: 'content_filter' } }).status).toBe('FILTERED');
  });

  it('fromOpenAI fills in the provider', () => {
    expect(fromOpenAI({}, { service: 's', model_id: 'gpt-4o' }, { latency_ms: 1 }).provider).toBe('openai');
  });
});
