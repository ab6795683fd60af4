/**
 * Schema evolution check: can data written with `writer` be read with `reader` (Avro schema
 * resolution)? Used by the compatibility tests and by anyone proposing a schema version.
 */

import type { Schema, Type } from 'avsc';
import avro from 'avsc';

export type CompatibilityResult = { compatible: true } | { compatible: false; reason: string };

const toType = (schema: Schema | Type): Type =>
  avro.Type.isType(schema) ? (schema as Type) : avro.Type.forSchema(schema);

export function checkCompatibility(writer: Schema | Type, reader: Schema | Type): CompatibilityResult {
  try {
    toType(reader).createResolver(toType(writer));
    return { compatible: true };
  } catch (err) {
    return { compatible: false, reason: (err as Error).message };
  }
}

/** Both directions: old readers read new data and new readers read old data. */
export function checkFullCompatibility(older: Schema | Type, newer: Schema | Type): CompatibilityResult {
  const backward = checkCompatibility(older, newer);
  if (!backward.compatible)
    return { compatible: false, reason: `new reader cannot read old data: ${backward.reason}` };
  const forward = checkCompatibility(newer, older);
  if (!forward.compatible)
    return { compatible: false, reason: `old reader cannot read new data: ${forward.reason}` };
  return { compatible: true };
}
