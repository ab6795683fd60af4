import { AvroDecodeError, decodeSingleObject } from '@genai-pipeline/schemas';
import type { SourceRecord } from '../window/partition-processor.js';

const SINGLE_OBJECT_MARKER_0 = 0xc3;
const SINGLE_OBJECT_MARKER_1 = 0x01;

/**
 * One message of a stream (a Kafka value, a Kinesis record's data) as a source record: single-object
 * Avro (what the producer SDK sends, CONTRACT.md §1), else a JSON line (what other producers may send).
 * Bytes that are neither become an `undecodable` record: a dead letter with the bytes in base64.
 */
export function decodeStreamMessage(bytes: Uint8Array): SourceRecord {
  if (bytes[0] === SINGLE_OBJECT_MARKER_0 && bytes[1] === SINGLE_OBJECT_MARKER_1) {
    try {
      const { kind, record } = decodeSingleObject(bytes);
      return { format: 'avro', kind, record, raw: bytes };
    } catch (error) {
      if (!(error instanceof AvroDecodeError)) throw error;
      return undecodable(bytes, `avro: ${error.message}`);
    }
  }
  const text = bufferView(bytes).toString('utf8').trim();
  if (text.startsWith('{')) return { format: 'json', text };
  return undecodable(bytes, 'message is neither single-object Avro (C3 01 + fingerprint) nor a JSON object');
}

/** The bytes as a Buffer without copying them. */
export function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function undecodable(bytes: Uint8Array, error: string): SourceRecord {
  return { format: 'undecodable', payload: bufferView(bytes).toString('base64'), error };
}
