/**
 * types.ts, the .avsc files and the lake tables must describe the same fields. The hand lists
 * below are checked against types.ts by the compiler (`FieldSpec<T>` requires every field of T,
 * no more, with the right nullability), and against the .avsc and LAKE_TABLES at run time.
 */
import type { schema } from 'avsc';
import { describe, expect, it } from 'vitest';
import { AVRO_SCHEMAS } from '../src/avro.js';
import { LAKE_TABLES } from '../src/lake-tables.js';
import { INVOCATION_STATUSES, type InvocationEvent, type ScoreEvent } from '../src/types.js';
import { EVENT_FIELDS } from '../src/validate.js';

type AvroPrimitive = 'string' | 'long' | 'double' | 'timestamp-millis' | 'InvocationStatus';
type FieldSpec<T> = {
  [K in keyof T]-?: { avro: AvroPrimitive; nullable: null extends T[K] ? true : false };
};

const INVOCATION: FieldSpec<InvocationEvent> = {
  event_id: { avro: 'string', nullable: false },
  event_time: { avro: 'timestamp-millis', nullable: false },
  service: { avro: 'string', nullable: false },
  provider: { avro: 'string', nullable: false },
  model_id: { avro: 'string', nullable: false },
  operation: { avro: 'string', nullable: false },
  input_tokens: { avro: 'long', nullable: false },
  output_tokens: { avro: 'long', nullable: false },
  cache_read_input_tokens: { avro: 'long', nullable: false },
  cache_write_input_tokens: { avro: 'long', nullable: false },
  latency_ms: { avro: 'double', nullable: false },
  ttft_ms: { avro: 'double', nullable: true },
  status: { avro: 'InvocationStatus', nullable: false },
  error_code: { avro: 'string', nullable: true },
  finish_reason: { avro: 'string', nullable: true },
  tenant_id: { avro: 'string', nullable: true },
  user_id: { avro: 'string', nullable: true },
  session_id: { avro: 'string', nullable: true },
  agent_id: { avro: 'string', nullable: true },
  environment: { avro: 'string', nullable: true },
  region: { avro: 'string', nullable: true },
  trace_id: { avro: 'string', nullable: true },
  span_id: { avro: 'string', nullable: true },
  cost_usd: { avro: 'double', nullable: true },
};

const SCORE: FieldSpec<ScoreEvent> = {
  event_id: { avro: 'string', nullable: false },
  event_time: { avro: 'timestamp-millis', nullable: false },
  invocation_id: { avro: 'string', nullable: true },
  service: { avro: 'string', nullable: false },
  model_id: { avro: 'string', nullable: false },
  tenant_id: { avro: 'string', nullable: true },
  name: { avro: 'string', nullable: false },
  value: { avro: 'double', nullable: false },
  source: { avro: 'string', nullable: true },
};

type AvroField = schema.RecordType['fields'][number];

/** A field's type as in FieldSpec, from its .avsc declaration. */
function describeAvroField(field: AvroField): { avro: string; nullable: boolean } {
  const nullable = Array.isArray(field.type) && field.type[0] === 'null' && field.type.length === 2;
  const type = (nullable ? (field.type as unknown[])[1] : field.type) as
    | string
    | { type: string; logicalType?: string; name?: string };
  if (typeof type === 'string') return { avro: type, nullable };
  return { avro: type.logicalType ?? type.name ?? type.type, nullable };
}

const avroFields = (kind: 'invocation' | 'score'): AvroField[] =>
  (AVRO_SCHEMAS[kind] as schema.RecordType).fields;

describe.each([
  ['invocation', INVOCATION, 'invocations'],
  ['score', SCORE, 'scores'],
] as const)('%s: types.ts, .avsc and the lake table agree', (kind, spec, table) => {
  it('has the same fields, order, types and nullability in the .avsc', () => {
    const fromAvro = Object.fromEntries(avroFields(kind).map((f) => [f.name, describeAvroField(f)]));
    expect(Object.keys(fromAvro)).toEqual(Object.keys(spec));
    expect(fromAvro).toEqual(spec);
  });

  it('gives optional fields a default (null, or 0 for cache token counts) and every field a doc', () => {
    for (const field of avroFields(kind)) {
      expect(field.doc, field.name).toBeTruthy();
      if (spec[field.name as keyof typeof spec].nullable) expect(field.default, field.name).toBeNull();
    }
  });

  it('validation returns exactly these fields', () => {
    expect(EVENT_FIELDS[kind]).toEqual(Object.keys(spec));
  });

  it('matches the lake table columns (cost_usd of invocations is the computed cost, never null)', () => {
    const lakeType = {
      string: 'string',
      InvocationStatus: 'string',
      long: 'int64',
      double: 'double',
      'timestamp-millis': 'timestamp',
    };
    const expected = Object.entries(spec).map(([name, field]) => ({
      name,
      type: lakeType[field.avro],
      nullable: kind === 'invocation' && name === 'cost_usd' ? false : field.nullable,
    }));
    expect(LAKE_TABLES[table].columns).toEqual(expected);
  });
});

describe('invocation specifics', () => {
  const field = (name: string) => avroFields('invocation').find((f) => f.name === name) as AvroField;

  it('declares the status enum with the five statuses of types.ts', () => {
    expect(field('status').type).toMatchObject({
      type: 'enum',
      name: 'InvocationStatus',
      symbols: [...INVOCATION_STATUSES],
    });
  });

  it('defaults cache token counts to 0 and stores event_time as a timestamp-millis long', () => {
    expect(field('cache_read_input_tokens').default).toBe(0);
    expect(field('cache_write_input_tokens').default).toBe(0);
    expect(field('event_time').type).toEqual({ type: 'long', logicalType: 'timestamp-millis' });
  });

  it('lives in the genai namespace', () => {
    expect(AVRO_SCHEMAS.invocation).toMatchObject({ namespace: 'genai', name: 'InvocationEvent' });
    expect(AVRO_SCHEMAS.score).toMatchObject({ namespace: 'genai', name: 'ScoreEvent' });
  });
});
