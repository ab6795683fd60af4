import type { SeriesMeasure, SeriesPoint } from '../timestream/series.js';

/**
 * InfluxDB line protocol, the write format of InfluxDB 1.x `/write`, 2.x `/api/v2/write` and
 * Timestream for InfluxDB:
 *
 *   measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] timestamp
 *
 * Escaping, as InfluxDB's parser (`models/points.go`, also in 2.x OSS) reads it, checked against 1.6:
 * - measurement: `,` and space are escaped with `\`;
 * - tag keys, tag values, field keys: `,`, `=` and space are escaped with `\`;
 * - string field values: in double quotes, `"` and `\` escaped with `\`;
 * - a backslash elsewhere in a name or tag is literal: the parsers do not unescape `\\` there (an
 *   InfluxDB 1.6 stores `a\\b` as two backslashes), so it is written as is. A name ending in a
 *   backslash, or with one right before a character that needs escaping, cannot be written faithfully
 *   and is refused, as are line breaks anywhere (the protocol has no escape for them).
 * Integers carry the `i` suffix (a field's type is fixed by its first write, so int64 columns are
 * always integers and doubles never are); timestamps are epoch milliseconds (`precision=ms`). Tags are
 * sorted by key in byte order, which InfluxDB documents as the fastest to ingest.
 */
export class LineProtocolError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(`${message} (not retriable)`);
    this.name = 'LineProtocolError';
  }
}

const MEASUREMENT_SPECIALS = ', ';
const KEY_SPECIALS = ',= ';

function escaped(what: string, text: string, specials: string): string {
  if (text.length === 0) throw new LineProtocolError(`${what} must not be empty`);
  if (/[\r\n]/.test(text))
    throw new LineProtocolError(`${what} ${JSON.stringify(text)} contains a line break`);
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '\\') {
      const next = text.charAt(i + 1);
      if (next === '') {
        throw new LineProtocolError(
          `${what} ${JSON.stringify(text)} ends with a backslash, which line protocol cannot carry`,
        );
      }
      if (specials.includes(next)) {
        throw new LineProtocolError(
          `${what} ${JSON.stringify(text)} has a backslash before ${JSON.stringify(next)}, which line protocol cannot carry`,
        );
      }
    }
    out += specials.includes(c) ? `\\${c}` : c;
  }
  return out;
}

export function escapeMeasurement(name: string): string {
  return escaped('measurement', name, MEASUREMENT_SPECIALS);
}

/** Tag keys, tag values and field keys. */
export function escapeKey(what: string, text: string): string {
  return escaped(what, text, KEY_SPECIALS);
}

export function stringFieldValue(value: string): string {
  if (/[\r\n]/.test(value))
    throw new LineProtocolError(`string field ${JSON.stringify(value)} contains a line break`);
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

export function fieldValue(measure: SeriesMeasure): string {
  const { value } = measure;
  switch (measure.kind) {
    case 'string':
      return stringFieldValue(String(value));
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw new LineProtocolError(`integer field ${measure.name} must be a safe integer, got ${value}`);
      }
      return `${value}i`;
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new LineProtocolError(`float field ${measure.name} must be finite, got ${value}`);
      }
      // JS number text (`0.5`, `3`, `1e+21`) is what Go's ParseFloat reads; no `i`, so always a float.
      return String(value);
  }
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** One point as one line (no trailing newline). */
export function pointLine(point: SeriesPoint): string {
  const tags = [...point.dimensions]
    .sort(([a], [b]) => byteOrder(a, b))
    .map(([key, value]) => `,${escapeKey('tag key', key)}=${escapeKey('tag value', value)}`)
    .join('');
  if (point.measures.length === 0)
    throw new LineProtocolError(`a ${point.table} line needs at least one field`);
  const fields = point.measures.map((m) => `${escapeKey('field key', m.name)}=${fieldValue(m)}`).join(',');
  if (!Number.isSafeInteger(point.time))
    throw new LineProtocolError(`timestamp must be integer ms, got ${point.time}`);
  return `${escapeMeasurement(point.table)}${tags} ${fields} ${point.time}`;
}

/** Lines joined into request bodies of at most `maxLines` lines and (but for a single longer line) `maxBytes`. */
export function lineBatches(lines: readonly string[], maxLines: number, maxBytes: number): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line, 'utf8') + 1;
    if (current.length > 0 && (current.length === maxLines || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(line);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
