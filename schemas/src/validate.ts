/**
 * Validity rules of CONTRACT.md §1, on the hot path (JSON lines and decoded Avro records alike).
 *
 * Table-driven: each event kind maps every field of its type to one rule, and the result is a
 * fresh object with exactly the fields of types.ts (unknown input fields are never copied).
 * A valid event costs the result objects only; error strings are built on the failure path.
 * All field errors are reported, joined by "; ". The cross-field cache rule is checked only when
 * every field is valid on its own.
 */

import {
  type EventKind,
  INVOCATION_STATUSES,
  type InvocationEvent,
  type ScoreEvent,
  type TelemetryEvent,
} from './types.js';

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** How far event_time may lie after the processing clock (exactly this much is still valid). */
export const MAX_EVENT_TIME_AHEAD_MS = 3_600_000;
export const MAX_EVENT_ID_LENGTH = 128;
/** The widest epoch-millisecond range a date (and so a lake partition) can hold. */
const MAX_DATE_MS = 8.64e15;

/** Characters as users count them (code points): an emoji is one character, two UTF-16 units. */
function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

enum Rule {
  /** Required string of 1 to 128 characters. */
  EventId,
  /** Required integer epoch milliseconds, at most 1 h after the clock. */
  EventTime,
  RequiredString,
  OptionalString,
  /** Required integer >= 0. */
  Count,
  /** Integer >= 0, absent -> 0. */
  OptionalCount,
  /** Required finite number >= 0. */
  NonNegative,
  /** Finite number >= 0, absent -> null. */
  OptionalNonNegative,
  /** Required finite number of any sign. */
  Finite,
  Status,
}

interface FieldRule {
  name: string;
  rule: Rule;
}

interface EventSpec<T> {
  rules: readonly FieldRule[];
  /** A new result object with every field present, so all results share one shape. */
  create: () => T;
  /** Cross-field rule, run when all fields are valid; returns an error or undefined. */
  check?: (event: T) => string | undefined;
}

const toRules = (table: Record<string, Rule>): FieldRule[] =>
  Object.entries(table).map(([name, rule]) => ({ name, rule }));

// `satisfies Record<keyof T, Rule>` makes the compiler reject a table that misses or adds a field.
const INVOCATION: EventSpec<InvocationEvent> = {
  rules: toRules({
    event_id: Rule.EventId,
    event_time: Rule.EventTime,
    service: Rule.RequiredString,
    provider: Rule.RequiredString,
    model_id: Rule.RequiredString,
    operation: Rule.RequiredString,
    input_tokens: Rule.Count,
    output_tokens: Rule.Count,
    cache_read_input_tokens: Rule.OptionalCount,
    cache_write_input_tokens: Rule.OptionalCount,
    latency_ms: Rule.NonNegative,
    ttft_ms: Rule.OptionalNonNegative,
    status: Rule.Status,
    error_code: Rule.OptionalString,
    finish_reason: Rule.OptionalString,
    tenant_id: Rule.OptionalString,
    user_id: Rule.OptionalString,
    session_id: Rule.OptionalString,
    agent_id: Rule.OptionalString,
    environment: Rule.OptionalString,
    region: Rule.OptionalString,
    trace_id: Rule.OptionalString,
    span_id: Rule.OptionalString,
    cost_usd: Rule.OptionalNonNegative,
  } satisfies Record<keyof InvocationEvent, Rule>),
  create: () => ({
    event_id: '',
    event_time: 0,
    service: '',
    provider: '',
    model_id: '',
    operation: '',
    input_tokens: 0,
    output_tokens: 0,
    cache_read_input_tokens: 0,
    cache_write_input_tokens: 0,
    latency_ms: 0,
    ttft_ms: null,
    status: 'OK',
    error_code: null,
    finish_reason: null,
    tenant_id: null,
    user_id: null,
    session_id: null,
    agent_id: null,
    environment: null,
    region: null,
    trace_id: null,
    span_id: null,
    cost_usd: null,
  }),
  check: (event) => {
    const cached = event.cache_read_input_tokens + event.cache_write_input_tokens;
    return cached > event.input_tokens
      ? `cache_read_input_tokens + cache_write_input_tokens (${cached}) must not exceed input_tokens (${event.input_tokens})`
      : undefined;
  },
};

const SCORE: EventSpec<ScoreEvent> = {
  rules: toRules({
    event_id: Rule.EventId,
    event_time: Rule.EventTime,
    invocation_id: Rule.OptionalString,
    service: Rule.RequiredString,
    model_id: Rule.RequiredString,
    tenant_id: Rule.OptionalString,
    name: Rule.RequiredString,
    value: Rule.Finite,
    source: Rule.OptionalString,
  } satisfies Record<keyof ScoreEvent, Rule>),
  create: () => ({
    event_id: '',
    event_time: 0,
    invocation_id: null,
    service: '',
    model_id: '',
    tenant_id: null,
    name: '',
    value: 0,
    source: null,
  }),
};

/** The field names of each kind, in schema order (what a validated event holds). */
export const EVENT_FIELDS: Readonly<Record<EventKind, readonly string[]>> = {
  invocation: INVOCATION.rules.map((r) => r.name),
  score: SCORE.rules.map((r) => r.name),
};

const STATUSES: ReadonlySet<unknown> = new Set(INVOCATION_STATUSES);
const MAX_EXCERPT_CHARS = 40;

/** A short, readable rendering of an offending value for error messages. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(
        value.length > MAX_EXCERPT_CHARS ? `${value.slice(0, MAX_EXCERPT_CHARS)}...` : value,
      );
    case 'bigint':
      return `${value}n`;
    case 'object':
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    default:
      return `a ${typeof value}`;
  }
}

const isAbsent = (value: unknown): boolean => value === undefined || value === null || value === '';

/** The message for a value that `normalise` rejected (so null/undefined only reach required fields). */
function fieldError(name: string, rule: Rule, value: unknown): string {
  if (value === undefined || value === null) {
    return `${name}: required field is ${value === null ? 'null' : 'missing'}`;
  }
  const got = describeValue(value);
  switch (rule) {
    case Rule.EventId:
      return typeof value === 'string' && value.length > MAX_EVENT_ID_LENGTH
        ? `${name}: must be at most ${MAX_EVENT_ID_LENGTH} characters (got ${characterCount(value)})`
        : `${name}: must be a non-empty string (got ${got})`;
    case Rule.EventTime:
      if (!Number.isSafeInteger(value)) {
        return `${name}: must be an integer number of epoch milliseconds (got ${got}; ISO strings are not accepted)`;
      }
      return Math.abs(value as number) > MAX_DATE_MS
        ? `${name}: ${got} is outside the dates a timestamp can hold (±${MAX_DATE_MS} ms)`
        : `${name}: ${got} is more than 1 hour after the processing clock`;
    case Rule.RequiredString:
      return `${name}: must be a non-empty string (got ${got})`;
    case Rule.OptionalString:
      return `${name}: must be a string or null (got ${got})`;
    case Rule.Count:
    case Rule.OptionalCount:
      return Number.isInteger(value) && (value as number) > 0
        ? `${name}: must be an integer >= 0 and <= ${Number.MAX_SAFE_INTEGER} (got ${got})`
        : `${name}: must be an integer >= 0 (got ${got})`;
    case Rule.NonNegative:
    case Rule.OptionalNonNegative:
      return `${name}: must be a finite number >= 0 (got ${got})`;
    case Rule.Finite:
      return `${name}: must be a finite number (got ${got})`;
    case Rule.Status:
      return `${name}: must be one of ${INVOCATION_STATUSES.join(', ')} (got ${got})`;
  }
}

const INVALID: unique symbol = Symbol('invalid');

/**
 * The normalised value for `rule`, or `INVALID`. `v + 0` turns -0 into 0 so that sums and
 * Parquet/Avro output never carry a negative zero.
 */
function normalise(rule: Rule, v: unknown, nowMs: number): unknown {
  switch (rule) {
    case Rule.EventId:
      return typeof v === 'string' &&
        v.length > 0 &&
        (v.length <= MAX_EVENT_ID_LENGTH || characterCount(v) <= MAX_EVENT_ID_LENGTH)
        ? v
        : INVALID;
    case Rule.EventTime:
      return Number.isSafeInteger(v) &&
        (v as number) - nowMs <= MAX_EVENT_TIME_AHEAD_MS &&
        (v as number) >= -MAX_DATE_MS
        ? (v as number) + 0
        : INVALID;
    case Rule.RequiredString:
      return typeof v === 'string' && v.length > 0 ? v : INVALID;
    case Rule.OptionalString:
      return typeof v === 'string'
        ? v.length > 0
          ? v
          : null
        : v === undefined || v === null
          ? null
          : INVALID;
    case Rule.Count:
      return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) + 0 : INVALID;
    case Rule.OptionalCount:
      return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) + 0 : isAbsent(v) ? 0 : INVALID;
    case Rule.NonNegative:
      return typeof v === 'number' && v >= 0 && v < Number.POSITIVE_INFINITY ? v + 0 : INVALID;
    case Rule.OptionalNonNegative:
      return typeof v === 'number' && v >= 0 && v < Number.POSITIVE_INFINITY
        ? v + 0
        : isAbsent(v)
          ? null
          : INVALID;
    case Rule.Finite:
      return typeof v === 'number' && Number.isFinite(v) ? v + 0 : INVALID;
    case Rule.Status:
      return STATUSES.has(v) ? v : INVALID;
  }
}

/** The normalised event, or an error message. */
function validateAgainst<T>(spec: EventSpec<T>, raw: unknown, nowMs: number): T | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return `event must be a JSON object (got ${describeValue(raw)})`;
  }
  const input = raw as Record<string, unknown>;
  const out = spec.create() as Record<string, unknown>;
  let errors: string[] | undefined;
  for (const { name, rule } of spec.rules) {
    const value = input[name];
    const normalised = normalise(rule, value, nowMs);
    if (normalised === INVALID) {
      errors ??= [];
      errors.push(fieldError(name, rule, value));
    } else {
      out[name] = normalised;
    }
  }
  if (errors !== undefined) return errors.join('; ');
  const crossFieldError = spec.check?.(out as T);
  return crossFieldError ?? (out as T);
}

function toResult<T>(outcome: T | string): ValidationResult<T> {
  return typeof outcome === 'string' ? { ok: false, error: outcome } : { ok: true, value: outcome };
}

/** Validates and normalises an invocation; `nowMs` is the processing clock (epoch ms). */
export function validateInvocation(raw: unknown, nowMs: number): ValidationResult<InvocationEvent> {
  return toResult(validateAgainst(INVOCATION, raw, nowMs));
}

/** Validates and normalises a score event; `nowMs` is the processing clock (epoch ms). */
export function validateScore(raw: unknown, nowMs: number): ValidationResult<ScoreEvent> {
  return toResult(validateAgainst(SCORE, raw, nowMs));
}

/** Validates a JSON-parsed or Avro-decoded record of a known kind. */
export function validateEvent(
  raw: unknown,
  kind: EventKind,
  nowMs: number,
): ValidationResult<TelemetryEvent> {
  const outcome =
    kind === 'invocation' ? validateAgainst(INVOCATION, raw, nowMs) : validateAgainst(SCORE, raw, nowMs);
  if (typeof outcome === 'string') return { ok: false, error: outcome };
  return { ok: true, value: { kind, event: outcome } as TelemetryEvent };
}
