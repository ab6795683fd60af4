import type { schema } from 'avsc';
import { AVRO_SCHEMAS } from '../src/avro.js';
import type { InvocationEvent, ScoreEvent } from '../src/types.js';

/** Processing clock used by the tests: 2023-11-14T22:13:20Z. */
export const NOW = 1_700_000_000_000;

/** A valid invocation with every field set, in the normalised form. */
export function fullInvocation(overrides: Partial<InvocationEvent> = {}): InvocationEvent {
  return {
    event_id: '5f0c7e9a-1b2c-4d3e-8f90-a1b2c3d4e5f6',
    event_time: NOW - 5_000,
    service: 'support-bot',
    provider: 'aws.bedrock',
    model_id: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
    operation: 'chat',
    input_tokens: 1200,
    output_tokens: 350,
    cache_read_input_tokens: 800,
    cache_write_input_tokens: 100,
    latency_ms: 2345.5,
    ttft_ms: 312.25,
    status: 'OK',
    error_code: null,
    finish_reason: 'end_turn',
    tenant_id: 'acme',
    user_id: 'u-9f86d081',
    session_id: 's-1',
    agent_id: 'agent-7',
    environment: 'prod',
    region: 'us-east-1',
    trace_id: '1-5759e988-bd862e3fe1be46a994272793',
    span_id: '53995c3f42cd8ad8',
    cost_usd: 0.0123,
    ...overrides,
  };
}

/** The smallest valid invocation input: required fields only. */
export function minimalInvocationInput(): Record<string, unknown> {
  return {
    event_id: 'inv-1',
    event_time: NOW,
    service: 'support-bot',
    provider: 'openai',
    model_id: 'gpt-4o',
    operation: 'chat',
    input_tokens: 10,
    output_tokens: 5,
    latency_ms: 100,
    status: 'OK',
  };
}

export function fullScore(overrides: Partial<ScoreEvent> = {}): ScoreEvent {
  return {
    event_id: 'score-1',
    event_time: NOW - 1_000,
    invocation_id: '5f0c7e9a-1b2c-4d3e-8f90-a1b2c3d4e5f6',
    service: 'support-bot',
    model_id: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
    tenant_id: 'acme',
    name: 'faithfulness',
    value: 0.87,
    source: 'evaluator',
    ...overrides,
  };
}

export function minimalScoreInput(): Record<string, unknown> {
  return {
    event_id: 'score-2',
    event_time: NOW,
    service: 'support-bot',
    model_id: 'gpt-4o',
    name: 'thumbs',
    value: -1,
  };
}

/** Schema v2 of InvocationEvent: v1 plus one optional field (default null), as an evolution would add. */
export function invocationSchemaV2(): schema.RecordType {
  const v1 = AVRO_SCHEMAS.invocation as schema.RecordType;
  return {
    ...v1,
    fields: [
      ...v1.fields,
      { name: 'prompt_template_id', type: ['null', 'string'], default: null, doc: 'Added in v2.' },
    ],
  };
}
