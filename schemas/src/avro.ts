/**
 * The Avro schemas of the contract's events (`avro/*.avsc`, shipped with the package) and what
 * every Avro decoder here shares: writer-to-reader resolution and strict body decoding.
 *
 * Decoded records are avsc record objects with exactly the reader schema's fields, in the same
 * shape as parsed JSON: longs and timestamp-millis are JS numbers (no logical types registered),
 * nullable unions are unwrapped to the value or null, the status enum is its symbol string.
 * Longs are exact only up to 2^53: avsc refuses to decode larger ones ("potential precision loss").
 * Decoders never validate: pass each record to `validateEvent` (it needs the processing clock, and
 * an invalid record is a dead letter, not a decoding failure).
 */

import { readFileSync } from 'node:fs';
import type { Schema, Type, types } from 'avsc';
import avro from 'avsc';
import { crc64AvroBytes } from './crc64-avro.js';
import type { EventKind } from './types.js';

/** The input is not decodable as our events (bad framing, unknown or incompatible schema, corrupt bytes). */
export class AvroDecodeError extends Error {
  override name = 'AvroDecodeError';
}

// `new URL` relative to this module works from both src/ and dist/ (both one level below the root).
const loadSchema = (file: string): Schema =>
  JSON.parse(readFileSync(new URL(`../avro/${file}`, import.meta.url), 'utf8')) as Schema;

/** The `.avsc` documents, docs and defaults included (what container files carry as writer schema). */
export const AVRO_SCHEMAS: Readonly<Record<EventKind, Schema>> = {
  invocation: loadSchema('invocation_event.avsc'),
  score: loadSchema('score_event.avsc'),
};

/** Our reader (and writer) types. */
export const AVRO_TYPES: Readonly<Record<EventKind, types.RecordType>> = {
  invocation: avro.Type.forSchema(AVRO_SCHEMAS.invocation) as types.RecordType,
  score: avro.Type.forSchema(AVRO_SCHEMAS.score) as types.RecordType,
};

/** Full names of the record schemas: `genai.InvocationEvent`, `genai.ScoreEvent`. */
export const AVRO_RECORD_NAMES: Readonly<Record<EventKind, string>> = {
  invocation: AVRO_TYPES.invocation.name as string,
  score: AVRO_TYPES.score.name as string,
};

/** The kind whose record has this full name, or undefined. */
export function eventKindOfAvroName(name: string | undefined): EventKind | undefined {
  if (name === AVRO_RECORD_NAMES.invocation) return 'invocation';
  if (name === AVRO_RECORD_NAMES.score) return 'score';
  return undefined;
}

/** Parsing Canonical Form of a type (avsc's `schema()` without attributes is exactly that). */
export function canonicalForm(type: Type): string {
  return JSON.stringify(type.schema());
}

/** CRC-64-AVRO fingerprint of a type's canonical form, as the 8 little-endian wire bytes. */
export function avroFingerprint(type: Type): Buffer {
  return crc64AvroBytes(canonicalForm(type));
}

/** How to read bytes written with some writer type into our reader type of `kind`. */
export interface RecordReader {
  kind: EventKind;
  writerName: string;
  /** Decodes one record at `pos`; `offset` is -1 when the buffer ends too early. */
  decode(buf: Buffer, pos: number): { value: unknown; offset: number };
}

const readerCache: Record<EventKind, WeakMap<Type, RecordReader>> = {
  invocation: new WeakMap(),
  score: new WeakMap(),
};

/**
 * A reader for data written with `writer` (same schema: decoded directly; an evolved schema:
 * resolved, so added fields are skipped and missing ones get their defaults). Cached per writer
 * type. Throws AvroDecodeError when the writer schema cannot be resolved to ours.
 */
export function recordReaderFor(kind: EventKind, writer: Type): RecordReader {
  const cached = readerCache[kind].get(writer);
  if (cached) return cached;
  const reader = AVRO_TYPES[kind];
  const writerName = writer.name ?? writer.typeName;
  let recordReader: RecordReader;
  if (writer.equals(reader)) {
    recordReader = { kind, writerName, decode: (buf, pos) => reader.decode(buf, pos) };
  } else {
    let resolver: ReturnType<Type['createResolver']>;
    try {
      resolver = reader.createResolver(writer);
    } catch (err) {
      throw new AvroDecodeError(
        `writer schema ${writerName} cannot be read as ${reader.name}: ${(err as Error).message}`,
      );
    }
    recordReader = { kind, writerName, decode: (buf, pos) => reader.decode(buf, pos, resolver) };
  }
  readerCache[kind].set(writer, recordReader);
  return recordReader;
}

/** Decodes exactly one record filling `buf` from `start` to its end; anything else is an error. */
export function decodeWholeRecord(reader: RecordReader, buf: Buffer, start: number, what: string): unknown {
  let decoded: { value: unknown; offset: number };
  try {
    decoded = reader.decode(buf, start);
  } catch (err) {
    throw new AvroDecodeError(`${what}: corrupt ${reader.writerName} record: ${(err as Error).message}`);
  }
  if (decoded.offset === -1) {
    throw new AvroDecodeError(`${what}: truncated ${reader.writerName} record`);
  }
  if (decoded.offset !== buf.length) {
    throw new AvroDecodeError(
      `${what}: ${buf.length - decoded.offset} trailing bytes after the ${reader.writerName} record`,
    );
  }
  return decoded.value;
}

/** A record decoded from Avro, not yet validated: pass it to `validateEvent(record, kind, nowMs)`. */
export interface DecodedRecord {
  kind: EventKind;
  record: unknown;
}
