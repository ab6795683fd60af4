/**
 * Avro message framings of CONTRACT.md §1: single-object encoding (the default) and Confluent
 * schema-registry framing. Decoders return `DecodedRecord`s that the caller validates with
 * `validateEvent`; framing or body problems throw `AvroDecodeError` (the message is a dead letter).
 */

import type { Type } from 'avsc';
import {
  AVRO_RECORD_NAMES,
  AVRO_TYPES,
  AvroDecodeError,
  avroFingerprint,
  type DecodedRecord,
  decodeWholeRecord,
  recordReaderFor,
} from './avro.js';
import type { EventKind, TelemetryEvent } from './types.js';

const SINGLE_OBJECT_MARKER = Buffer.from([0xc3, 0x01]);
const SINGLE_OBJECT_HEADER_BYTES = 10;
const CONFLUENT_MAGIC = 0x00;
const CONFLUENT_HEADER_BYTES = 5;

const FINGERPRINTS: Readonly<Record<EventKind, Buffer>> = {
  invocation: avroFingerprint(AVRO_TYPES.invocation),
  score: avroFingerprint(AVRO_TYPES.score),
};

const KIND_BY_FINGERPRINT = new Map<string, EventKind>([
  [FINGERPRINTS.invocation.toString('hex'), 'invocation'],
  [FINGERPRINTS.score.toString('hex'), 'score'],
]);

/** The 8 little-endian CRC-64-AVRO bytes that single-object messages of `kind` carry. */
export function singleObjectFingerprint(kind: EventKind): Buffer {
  return Buffer.from(FINGERPRINTS[kind]);
}

/** The Avro body of an event; throws when a field does not fit the schema (e.g. a fractional long). */
function encodeBody(event: TelemetryEvent): Buffer {
  return AVRO_TYPES[event.kind].toBuffer(event.event);
}

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const hex = (bytes: Uint8Array): string => asBuffer(bytes).toString('hex');

/** `C3 01` + CRC-64-AVRO fingerprint (8 bytes, little-endian) + Avro body. */
export function encodeSingleObject(event: TelemetryEvent): Buffer {
  return Buffer.concat([SINGLE_OBJECT_MARKER, FINGERPRINTS[event.kind], encodeBody(event)]);
}

/**
 * Decodes a single-object message written with one of our schemas (recognised by fingerprint;
 * any other fingerprint is an AvroDecodeError). The record is not validated.
 */
export function decodeSingleObject(message: Uint8Array): DecodedRecord {
  const buf = asBuffer(message);
  if (buf.length < SINGLE_OBJECT_HEADER_BYTES) {
    throw new AvroDecodeError(
      `Avro single-object message of ${buf.length} bytes is shorter than its ${SINGLE_OBJECT_HEADER_BYTES}-byte header`,
    );
  }
  if (buf[0] !== SINGLE_OBJECT_MARKER[0] || buf[1] !== SINGLE_OBJECT_MARKER[1]) {
    throw new AvroDecodeError(
      `not Avro single-object encoding: expected marker c301, got ${hex(buf.subarray(0, 2))}`,
    );
  }
  const fingerprint = hex(buf.subarray(2, SINGLE_OBJECT_HEADER_BYTES));
  const kind = KIND_BY_FINGERPRINT.get(fingerprint);
  if (kind === undefined) {
    throw new AvroDecodeError(
      `Avro single-object message has unknown schema fingerprint ${fingerprint} (known: ` +
        `${FINGERPRINTS.invocation.toString('hex')} ${AVRO_RECORD_NAMES.invocation}, ` +
        `${FINGERPRINTS.score.toString('hex')} ${AVRO_RECORD_NAMES.score})`,
    );
  }
  const reader = recordReaderFor(kind, AVRO_TYPES[kind]);
  return {
    kind,
    record: decodeWholeRecord(reader, buf, SINGLE_OBJECT_HEADER_BYTES, 'Avro single-object message'),
  };
}

/** A writer schema registered under a Confluent schema id. */
export interface RegisteredSchema {
  kind: EventKind;
  /** The writer's type, e.g. `avro.Type.forSchema(JSON.parse(registryResponse.schema))`. */
  type: Type;
}

/** Looks up a schema id, e.g. in a cache filled from the schema registry; undefined when unknown. */
export type SchemaLookup = (schemaId: number) => RegisteredSchema | undefined;

/**
 * `00` + 4-byte big-endian schema id + Avro body written with our schema of `event.kind`:
 * `schemaId` must be the id under which the registry holds that schema.
 */
export function encodeConfluent(schemaId: number, event: TelemetryEvent): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffffffff) {
    throw new RangeError(`Confluent schema id must be an integer in [0, 2^32-1] (got ${schemaId})`);
  }
  const header = Buffer.alloc(CONFLUENT_HEADER_BYTES);
  header[0] = CONFLUENT_MAGIC;
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, encodeBody(event)]);
}

/**
 * Decodes a Confluent-framed message: the writer schema comes from `lookup` and is resolved to our
 * reader schema (so evolved writers work). Unknown ids, incompatible schemas and corrupt bodies
 * throw AvroDecodeError. The record is not validated.
 */
export function decodeConfluent(message: Uint8Array, lookup: SchemaLookup): DecodedRecord {
  const buf = asBuffer(message);
  if (buf.length < CONFLUENT_HEADER_BYTES) {
    throw new AvroDecodeError(
      `Confluent-framed message of ${buf.length} bytes is shorter than its ${CONFLUENT_HEADER_BYTES}-byte header`,
    );
  }
  if (buf[0] !== CONFLUENT_MAGIC) {
    throw new AvroDecodeError(
      `not Confluent framing: expected magic byte 00, got ${hex(buf.subarray(0, 1))}`,
    );
  }
  const schemaId = buf.readUInt32BE(1);
  const registered = lookup(schemaId);
  if (registered === undefined) {
    throw new AvroDecodeError(`Confluent-framed message has unknown schema id ${schemaId}`);
  }
  const reader = recordReaderFor(registered.kind, registered.type);
  return {
    kind: registered.kind,
    record: decodeWholeRecord(
      reader,
      buf,
      CONFLUENT_HEADER_BYTES,
      `Confluent message (schema id ${schemaId})`,
    ),
  };
}
