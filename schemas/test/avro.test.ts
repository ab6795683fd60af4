import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  AVRO_RECORD_NAMES,
  AVRO_SCHEMAS,
  AVRO_TYPES,
  AvroDecodeError,
  avroFingerprint,
  canonicalForm,
  decodeWholeRecord,
  eventKindOfAvroName,
  recordReaderFor,
} from '../src/avro.js';
import { crc64AvroBytes } from '../src/crc64-avro.js';
import { fullInvocation, fullScore, invocationSchemaV2 } from './fixtures.js';

describe('Avro schemas', () => {
  it('loads both record schemas from the package', () => {
    expect(AVRO_RECORD_NAMES).toEqual({ invocation: 'genai.InvocationEvent', score: 'genai.ScoreEvent' });
    expect(eventKindOfAvroName('genai.ScoreEvent')).toBe('score');
    expect(eventKindOfAvroName('genai.InvocationEvent')).toBe('invocation');
    expect(eventKindOfAvroName('InvocationEvent')).toBeUndefined();
    expect(eventKindOfAvroName(undefined)).toBeUndefined();
  });

  it('uses the Parsing Canonical Form for fingerprints: no docs, defaults or logical types', () => {
    const canonical = canonicalForm(AVRO_TYPES.score);
    expect(canonical.startsWith('{"name":"genai.ScoreEvent","type":"record","fields":[')).toBe(true);
    expect(canonical).not.toMatch(/doc|default|logicalType|\s/);
    expect(avroFingerprint(AVRO_TYPES.score)).toEqual(crc64AvroBytes(canonical));
    expect(avroFingerprint(AVRO_TYPES.score)).not.toEqual(avroFingerprint(AVRO_TYPES.invocation));
  });

  it('decodes longs and timestamps as numbers, unions unwrapped, the enum as its symbol', () => {
    const event = fullInvocation({ tenant_id: null });
    const decoded = AVRO_TYPES.invocation.fromBuffer(AVRO_TYPES.invocation.toBuffer(event));
    expect({ ...decoded }).toEqual(event);
    expect(typeof decoded.event_time).toBe('number');
  });
});

describe('recordReaderFor', () => {
  it('decodes our own schema directly and caches the reader', () => {
    const reader = recordReaderFor('score', AVRO_TYPES.score);
    expect(recordReaderFor('score', AVRO_TYPES.score)).toBe(reader);
    const buf = AVRO_TYPES.score.toBuffer(fullScore());
    expect({ ...(decodeWholeRecord(reader, buf, 0, 'test') as object) }).toEqual(fullScore());
  });

  it('resolves an evolved writer schema to ours', () => {
    const v2 = avro.Type.forSchema(invocationSchemaV2());
    const buf = v2.toBuffer({ ...fullInvocation(), prompt_template_id: 'tpl-1' });
    const record = decodeWholeRecord(recordReaderFor('invocation', v2), buf, 0, 'test');
    expect({ ...(record as object) }).toEqual(fullInvocation());
  });

  it('rejects a writer schema that cannot be read as ours', () => {
    const other = avro.Type.forSchema({
      type: 'record',
      name: 'genai.ScoreEvent',
      fields: [{ name: 'event_id', type: 'long' }],
    });
    expect(() => recordReaderFor('score', other)).toThrow(AvroDecodeError);
    expect(() => recordReaderFor('score', other)).toThrow(
      /writer schema genai.ScoreEvent cannot be read as genai.ScoreEvent/,
    );
  });
});

describe('decodeWholeRecord', () => {
  const reader = recordReaderFor('score', AVRO_TYPES.score);
  const body = AVRO_TYPES.score.toBuffer(fullScore());

  it('rejects a truncated record', () => {
    expect(() => decodeWholeRecord(reader, body.subarray(0, body.length - 3), 0, 'msg')).toThrow(
      'msg: truncated genai.ScoreEvent record',
    );
  });

  it('rejects trailing bytes', () => {
    expect(() => decodeWholeRecord(reader, Buffer.concat([body, Buffer.from([0, 0])]), 0, 'msg')).toThrow(
      'msg: 2 trailing bytes after the genai.ScoreEvent record',
    );
  });

  it('keeps the writer schema documents with docs for container headers', () => {
    expect(JSON.stringify(AVRO_SCHEMAS.invocation)).toContain('"doc"');
  });
});
