import { type InvocationEvent, validateInvocation } from '@genai-pipeline/schemas';

/**
 * A normalised InvocationEvent for tests: the schemas' validator fills every optional field exactly
 * as it does for real input (null, or 0 for cache tokens), so tests never restate the field list.
 */
export function invocationEvent(fields: Record<string, unknown> = {}): InvocationEvent {
  const result = validateInvocation(
    {
      event_id: 'e1',
      event_time: Date.UTC(2025, 5, 1),
      service: 'svc',
      provider: 'openai',
      model_id: 'gpt-4o',
      operation: 'chat',
      input_tokens: 1000,
      output_tokens: 500,
      latency_ms: 100,
      status: 'OK',
      ...fields,
    },
    Date.UTC(2100, 0, 1),
  );
  if (!result.ok) throw new Error(`test event is invalid: ${result.error}`);
  return result.value;
}
