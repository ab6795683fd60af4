/**
 * One line of JSON lines input (HTTP ingest, files, replay). Skipping blank lines is the
 * caller's job: the contract says they are skipped and not counted, so they never reach here.
 */

import type { EventKind, TelemetryEvent } from './types.js';
import { describeValue, type ValidationResult, validateEvent } from './validate.js';

/**
 * The line's event kind from its optional `"kind"` field, or an error. Like every optional field,
 * null or "" counts as absent (an invocation). `kind` is not an event field: it is never stored.
 */
function kindOf(raw: unknown): EventKind | { error: string } {
  if (typeof raw !== 'object' || raw === null) return 'invocation'; // validateEvent rejects it
  const kind = (raw as { kind?: unknown }).kind;
  if (kind === undefined || kind === null || kind === '' || kind === 'invocation') return 'invocation';
  if (kind === 'score') return 'score';
  return { error: `kind: must be "invocation" or "score" (got ${describeValue(kind)})` };
}

/** Parses and validates one non-blank line; `nowMs` is the processing clock (epoch ms). */
export function parseJsonLine(line: string, nowMs: number): ValidationResult<TelemetryEvent> {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: `not valid JSON: ${(err as Error).message}` };
  }
  const kind = kindOf(raw);
  if (typeof kind !== 'string') return { ok: false, error: kind.error };
  return validateEvent(raw, kind, nowMs);
}

/** An event in its JSON-lines shape (the inverse of parseJsonLine): score events carry `"kind": "score"`. */
export function jsonLineFields(event: TelemetryEvent) {
  return event.kind === 'score' ? { kind: 'score' as const, ...event.event } : event.event;
}
