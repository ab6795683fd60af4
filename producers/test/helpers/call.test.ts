import { validateInvocation } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import { invocationEvent, startCall } from '../../src/helpers/call.js';

const context = { service: 'support-bot', model_id: 'gpt-4o', provider: 'openai', tenant_id: 'acme' };
const outcome = {
  input_tokens: 10,
  output_tokens: 5,
  cache_read_input_tokens: 0,
  cache_write_input_tokens: 0,
  status: 'OK' as const,
};

describe('invocationEvent', () => {
  it('builds a valid event with a UUID, defaults and the context', () => {
    const event = invocationEvent(context, outcome, { latency_ms: 12, event_time: 1_700_000_000_000 });
    expect(event.event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event).toMatchObject({
      operation: 'chat',
      tenant_id: 'acme',
      ttft_ms: null,
      event_time: 1_700_000_000_000,
    });
    expect(validateInvocation(event, Date.now()).ok).toBe(true);
    expect(invocationEvent(context, outcome, { latency_ms: 1 }).event_id).not.toBe(event.event_id);
  });
});

describe('startCall', () => {
  it('measures latency and time to first token on the given clock', () => {
    let now = 1000;
    const call = startCall(context, () => now);
    now = 1150;
    call.firstToken();
    now = 1200;
    call.firstToken(); // only the first counts
    now = 1900;
    expect(call.end(outcome)).toMatchObject({ latency_ms: 900, ttft_ms: 150 });
  });

  it('leaves ttft absent for a call that streamed nothing', () => {
    let now = 0;
    const call = startCall(context, () => now);
    now = 40;
    expect(call.end(outcome)).toMatchObject({ latency_ms: 40, ttft_ms: null });
  });
});
