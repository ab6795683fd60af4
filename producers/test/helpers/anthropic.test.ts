import { describe, expect, it } from 'vitest';
import { anthropicOutcome, fromAnthropic } from '../../src/helpers/anthropic.js';

describe('Anthropic Messages usage', () => {
  it('input_tokens excludes cache reads and creations: they are added', () => {
    expect(
      anthropicOutcome({
        usage: {
          input_tokens: 21,
          output_tokens: 393,
          cache_read_input_tokens: 188086,
          cache_creation_input_tokens: 0,
        },
        stop_reason: 'end_turn',
      }),
    ).toEqual({
      input_tokens: 188107,
      output_tokens: 393,
      cache_read_input_tokens: 188086,
      cache_write_input_tokens: 0,
      status: 'OK',
      finish_reason: 'end_turn',
    });
  });

  it('absent or null cache fields count 0; a refusal is FILTERED', () => {
    const outcome = anthropicOutcome({
      usage: { input_tokens: 5, output_tokens: 1, cache_read_input_tokens: null },
      stop_reason: 'refusal',
    });
    expect(outcome).toMatchObject({ input_tokens: 5, cache_read_input_tokens: 0, status: 'FILTERED' });
  });

  it('fromAnthropic fills in the provider', () => {
    expect(
      fromAnthropic({ usage: {} }, { service: 's', model_id: 'claude-sonnet-4' }, { latency_ms: 3 }).provider,
    ).toBe('anthropic');
  });
});
