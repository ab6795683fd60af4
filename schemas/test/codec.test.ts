import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { AVRO_TYPES, AvroDecodeError, avroFingerprint } from '../src/avro.js';
import {
  decodeConfluent,
  decodeSingleObject,
  encodeConfluent,
  encodeSingleObject,
  type RegisteredSchema,
  singleObjectFingerprint,
} from '../src/codec.js';
import type { InvocationEvent, TelemetryEvent } from '../src/types.js';
import { validateEvent } from '../src/validate.js';
import { fullInvocation, fullScore, invocationSchemaV2, minimalInvocationInput, NOW } from './fixtures.js';

const invocation: TelemetryEvent = { kind: 'invocation', event: fullInvocation() };
const score: TelemetryEvent = { kind: 'score', event: fullScore() };

/** Decoding then validating gives back the event: the shape of decoded records is what validation expects. */
const roundTrips = (decoded: { kind: string; record: unknown }, original: TelemetryEvent): void => {
  expect(decoded.kind).toBe(original.kind);
  expect(validateEvent(decoded.record, original.kind, NOW)).toEqual({ ok: true, value: original });
};

describe('single-object encoding', () => {
  it.each([invocation, score])('round-trips a $kind event', (event) => {
    roundTrips(decodeSingleObject(encodeSingleObject(event)), event);
  });

  it('round-trips absent optional fields', () => {
    const minimal = validateEvent(minimalInvocationInput(), 'invocation', NOW);
    if (!minimal.ok) throw new Error(minimal.error);
    roundTrips(decodeSingleObject(encodeSingleObject(minimal.value)), minimal.value);
  });

  it('starts with C3 01 and the little-endian CRC-64-AVRO fingerprint of the schema', () => {
    const message = encodeSingleObject(score);
    expect(message.subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
    expect(message.subarray(2, 10)).toEqual(avroFingerprint(AVRO_TYPES.score));
    expect(singleObjectFingerprint('score')).toEqual(avroFingerprint(AVRO_TYPES.score));
    expect(message.subarray(10)).toEqual(AVRO_TYPES.score.toBuffer(fullScore()));
  });

  it('accepts a Uint8Array view into a larger buffer', () => {
    const message = encodeSingleObject(score);
    const padded = new Uint8Array(message.length + 8);
    padded.set(message, 4);
    roundTrips(decodeSingleObject(padded.subarray(4, 4 + message.length)), score);
  });

  it('rejects an unknown fingerprint', () => {
    const message = encodeSingleObject(score);
    message[5] = (message[5] as number) ^ 0xff;
    expect(() => decodeSingleObject(message)).toThrow(AvroDecodeError);
    expect(() => decodeSingleObject(message)).toThrow(/unknown schema fingerprint [0-9a-f]{16} \(known: /);
  });

  it('rejects a message written with an evolved schema (its fingerprint differs)', () => {
    const v2 = avro.Type.forSchema(invocationSchemaV2());
    const message = Buffer.concat([
      Buffer.from([0xc3, 0x01]),
      avroFingerprint(v2),
      v2.toBuffer(fullInvocation()),
    ]);
    expect(() => decodeSingleObject(message)).toThrow(/unknown schema fingerprint/);
  });

  it('rejects a wrong marker, a short message, a truncated body and trailing bytes', () => {
    const message = encodeSingleObject(invocation);
    expect(() => decodeSingleObject(Buffer.concat([Buffer.from([0x00, 0x01]), message.subarray(2)]))).toThrow(
      'not Avro single-object encoding: expected marker c301, got 0001',
    );
    expect(() => decodeSingleObject(message.subarray(0, 9))).toThrow(
      'Avro single-object message of 9 bytes is shorter than its 10-byte header',
    );
    expect(() => decodeSingleObject(message.subarray(0, message.length - 1))).toThrow(
      'Avro single-object message: truncated genai.InvocationEvent record',
    );
    expect(() => decodeSingleObject(Buffer.concat([message, Buffer.from([1])]))).toThrow(
      'Avro single-object message: 1 trailing bytes after the genai.InvocationEvent record',
    );
  });

  it('rejects the body of the other schema under a fingerprint', () => {
    const body = AVRO_TYPES.score.toBuffer(fullScore());
    const message = Buffer.concat([Buffer.from([0xc3, 0x01]), singleObjectFingerprint('invocation'), body]);
    expect(() => decodeSingleObject(message)).toThrow(AvroDecodeError);
  });

  it('refuses to encode a value that does not fit the schema', () => {
    const bad = { kind: 'invocation', event: { ...fullInvocation(), input_tokens: 1.5 } } as TelemetryEvent;
    expect(() => encodeSingleObject(bad)).toThrow(/invalid "long": 1.5/);
  });
});

describe('Confluent framing', () => {
  const registry = new Map<number, RegisteredSchema>([
    [7, { kind: 'invocation', type: AVRO_TYPES.invocation }],
    [8, { kind: 'score', type: AVRO_TYPES.score }],
    [9, { kind: 'invocation', type: avro.Type.forSchema(invocationSchemaV2()) }],
  ]);
  const lookup = (id: number) => registry.get(id);

  it.each([
    [7, invocation],
    [8, score],
  ] as const)('round-trips with schema id %i', (id, event) => {
    roundTrips(decodeConfluent(encodeConfluent(id, event), lookup), event);
  });

  it('writes 00 and the big-endian schema id before the body', () => {
    const message = encodeConfluent(0x01020304, score);
    expect(message.subarray(0, 5)).toEqual(Buffer.from([0, 1, 2, 3, 4]));
    expect(message.subarray(5)).toEqual(AVRO_TYPES.score.toBuffer(fullScore()));
  });

  it('resolves an evolved writer schema to ours and drops the new field', () => {
    const v2 = registry.get(9)?.type as avro.Type;
    const body = v2.toBuffer({ ...fullInvocation(), prompt_template_id: 'tpl-9' });
    const message = Buffer.concat([Buffer.from([0, 0, 0, 0, 9]), body]);
    const decoded = decodeConfluent(message, lookup);
    expect(decoded.record).not.toHaveProperty('prompt_template_id');
    roundTrips(decoded, invocation);
  });

  it('rejects an unknown schema id, a wrong magic byte and a short message', () => {
    expect(() => decodeConfluent(encodeConfluent(99, score), lookup)).toThrow(
      'Confluent-framed message has unknown schema id 99',
    );
    expect(() => decodeConfluent(Buffer.from([1, 0, 0, 0, 7, 0]), lookup)).toThrow(
      'not Confluent framing: expected magic byte 00, got 01',
    );
    expect(() => decodeConfluent(Buffer.from([0, 0, 0]), lookup)).toThrow(
      'Confluent-framed message of 3 bytes is shorter than its 5-byte header',
    );
  });

  it('rejects a body that does not match the registered schema', () => {
    const message = encodeConfluent(7, score); // a score body under the invocation schema id
    expect(() => decodeConfluent(message, lookup)).toThrow(AvroDecodeError);
  });

  it('rejects a registered schema that cannot be resolved to ours', () => {
    const unrelated = avro.Type.forSchema({
      type: 'record',
      name: 'other.Thing',
      fields: [{ name: 'a', type: 'int' }],
    });
    const message = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), unrelated.toBuffer({ a: 1 })]);
    expect(() => decodeConfluent(message, () => ({ kind: 'score', type: unrelated }))).toThrow(
      /writer schema other.Thing cannot be read as genai.ScoreEvent/,
    );
  });

  it.each([-1, 1.5, 2 ** 32])('refuses schema id %s', (id) => {
    expect(() => encodeConfluent(id, score)).toThrow(RangeError);
  });

  it('leaves validation to the caller: an invalid but well-typed record decodes', () => {
    const invalid = {
      ...fullInvocation(),
      input_tokens: 1,
      cache_read_input_tokens: 5,
    } satisfies InvocationEvent;
    const decoded = decodeConfluent(encodeConfluent(7, { kind: 'invocation', event: invalid }), lookup);
    expect(validateEvent(decoded.record, 'invocation', NOW)).toEqual({
      ok: false,
      error: 'cache_read_input_tokens + cache_write_input_tokens (105) must not exceed input_tokens (1)',
    });
  });
});
