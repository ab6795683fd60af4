import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { AVRO_SCHEMAS, AVRO_TYPES } from '../src/avro.js';
import { checkCompatibility, checkFullCompatibility } from '../src/compat.js';
import { fullInvocation, invocationSchemaV2 } from './fixtures.js';

const v1 = AVRO_TYPES.invocation;
const v2 = avro.Type.forSchema(invocationSchemaV2());

describe('schema evolution', () => {
  it('a v2 reader (new optional field, default null) reads v1 data', () => {
    const decoded = v2.fromBuffer(v1.toBuffer(fullInvocation()), v2.createResolver(v1));
    expect({ ...decoded }).toEqual({ ...fullInvocation(), prompt_template_id: null });
  });

  it('a v1 reader reads v2 data and skips the new field', () => {
    const decoded = v1.fromBuffer(
      v2.toBuffer({ ...fullInvocation(), prompt_template_id: 'tpl-3' }),
      v1.createResolver(v2),
    );
    expect({ ...decoded }).toEqual(fullInvocation());
  });

  it('checkCompatibility accepts both directions for an added optional field', () => {
    expect(checkCompatibility(v1, v2)).toEqual({ compatible: true });
    expect(checkCompatibility(invocationSchemaV2(), AVRO_SCHEMAS.invocation)).toEqual({ compatible: true });
    expect(checkFullCompatibility(AVRO_SCHEMAS.invocation, invocationSchemaV2())).toEqual({
      compatible: true,
    });
  });

  it('reports a new required field without default as unreadable for old data', () => {
    const v1Schema = AVRO_SCHEMAS.invocation as avro.schema.RecordType;
    const breaking = {
      ...v1Schema,
      fields: [...v1Schema.fields, { name: 'prompt_tokens_total', type: 'long' }],
    };
    const result = checkFullCompatibility(v1Schema, breaking);
    expect(result.compatible).toBe(false);
    expect(!result.compatible && result.reason).toMatch(/^new reader cannot read old data: /);
  });

  it('reports a changed field type as unreadable for old readers', () => {
    const v1Schema = AVRO_SCHEMAS.score as avro.schema.RecordType;
    const breaking = {
      ...v1Schema,
      fields: v1Schema.fields.map((f) => (f.name === 'value' ? { ...f, type: 'string' as const } : f)),
    };
    expect(checkCompatibility(breaking, v1Schema).compatible).toBe(false);
    expect(checkFullCompatibility(v1Schema, breaking).compatible).toBe(false);
  });
});
