import { encodeSingleObject, type ScoreEvent } from '@genai-pipeline/schemas';
import { describe, expect, test } from 'vitest';
import { bufferView, decodeStreamMessage } from '../../src/sources/decode.js';
import { invocationEvent } from '../support/events.js';

const score: ScoreEvent = {
  event_id: 's1',
  event_time: Date.UTC(2025, 5, 1),
  invocation_id: 'e1',
  service: 'svc',
  model_id: 'gpt-4o',
  tenant_id: null,
  name: 'helpfulness',
  value: 0.75,
  source: null,
};

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

describe('decodeStreamMessage', () => {
  test('a single-object Avro invocation: its kind, its record, and the message bytes as raw', () => {
    const event = invocationEvent({ event_id: 'avro-1', ttft_ms: 42 });
    const message = encodeSingleObject({ kind: 'invocation', event });
    const decoded = decodeStreamMessage(message);
    expect(decoded).toEqual({ format: 'avro', kind: 'invocation', record: event, raw: message });
  });

  test('a single-object Avro score', () => {
    const message = encodeSingleObject({ kind: 'score', event: score });
    expect(decodeStreamMessage(message)).toEqual({
      format: 'avro',
      kind: 'score',
      record: score,
      raw: message,
    });
  });

  test('a message inside a larger buffer (a Kafka or Kinesis payload slice) decodes from its own bytes', () => {
    const message = encodeSingleObject({ kind: 'score', event: score });
    const backing = Buffer.concat([Buffer.from('junk'), message, Buffer.from('more junk')]);
    const slice = new Uint8Array(backing.buffer, backing.byteOffset + 4, message.length);
    expect(decodeStreamMessage(slice)).toMatchObject({ format: 'avro', kind: 'score', record: score });
    const json = Buffer.from(`xx${JSON.stringify({ event_id: 'j' })}yy`);
    expect(decodeStreamMessage(json.subarray(2, json.length - 2))).toEqual({
      format: 'json',
      text: '{"event_id":"j"}',
    });
  });

  test('a JSON line, without the whitespace around it', () => {
    const line = JSON.stringify({ event_id: 'j1', service: 'svc' });
    expect(decodeStreamMessage(Buffer.from(` \t${line}\r\n`))).toEqual({ format: 'json', text: line });
    // Whether it is a valid event is for validation to say, not the decoder.
    expect(decodeStreamMessage(Buffer.from('{not json'))).toEqual({ format: 'json', text: '{not json' });
  });

  test('bytes that are neither: undecodable, with the bytes in base64 and a clear error', () => {
    for (const bytes of [
      Buffer.from('hello'),
      Buffer.from('[1,2]'),
      Buffer.from([0x00, 0xff, 0x10]),
      Buffer.alloc(0),
    ]) {
      expect(decodeStreamMessage(bytes)).toEqual({
        format: 'undecodable',
        payload: base64(bytes),
        error: 'message is neither single-object Avro (C3 01 + fingerprint) nor a JSON object',
      });
    }
  });

  test('C3 01 with an unknown fingerprint: undecodable, the error from the Avro decoder', () => {
    const message = encodeSingleObject({ kind: 'score', event: score });
    message.fill(0xab, 2, 10);
    const decoded = decodeStreamMessage(message);
    expect(decoded).toMatchObject({ format: 'undecodable', payload: base64(message) });
    expect(decoded.format === 'undecodable' && decoded.error).toMatch(
      /^avro: .*unknown schema fingerprint abababababababab/,
    );
  });

  test('C3 01 with a truncated body or header: undecodable, naming avro', () => {
    const message = encodeSingleObject({ kind: 'invocation', event: invocationEvent() });
    for (const truncated of [message.subarray(0, message.length - 3), message.subarray(0, 6)]) {
      const decoded = decodeStreamMessage(truncated);
      expect(decoded).toMatchObject({ format: 'undecodable', payload: base64(truncated) });
      expect(decoded.format === 'undecodable' && decoded.error).toMatch(/^avro: .*single-object/);
    }
  });
});

describe('bufferView', () => {
  test('the same bytes as a Buffer, sharing their memory (no copy)', () => {
    const backing = new Uint8Array([1, 2, 3, 4, 5]);
    const view = bufferView(backing.subarray(1, 4));
    expect([...view]).toEqual([2, 3, 4]);
    view[0] = 9;
    expect(backing[1]).toBe(9);
  });
});
