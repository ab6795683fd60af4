/**
 * Independent oracle for CONTRACT.md §1–§2 on ONE partition (a replay): given the input lines in
 * arrival order it computes what the lake must hold. Deliberately naive (every sample kept, no
 * sketches, no shared code with processors/ or sinks/) so a bug in the product cannot hide in a
 * shared helper.
 */

import type { InvocationEvent, ScoreEvent } from '@genai-pipeline/schemas';
import { calcPrice } from '@pydantic/genai-prices';

export const WINDOW_MS = 60_000;
export const DUPLICATE_HORIZON_MS = 10 * 60_000;
export const DEFAULT_MAX_OUT_OF_ORDERNESS_MS = 30_000;
const MAX_FUTURE_MS = 60 * 60_000;
const STATUSES = new Set(['OK', 'ERROR', 'THROTTLED', 'TIMEOUT', 'FILTERED']);

/** The `--pricing` file of CONTRACT.md §3 (USD per million tokens). */
export interface PricingOverrides {
  models: Record<string, { input: number; output: number; cache_read?: number; cache_write?: number }>;
}

export interface OracleOptions {
  maxOutOfOrdernessMs?: number;
  pricing?: PricingOverrides;
  /** The processing clock for the "more than 1 hour in the future" rule. */
  nowMs: number;
}

export interface ReplaySummary {
  events: number;
  accepted: number;
  duplicates: number;
  late: number;
  invalid: number;
}

export type InvocationRow = Omit<InvocationEvent, 'cost_usd'> & { cost_usd: number };

export interface RollupExpectation {
  window_start: number;
  window_end: number;
  service: string;
  provider: string;
  model_id: string;
  tenant_id: string | null;
  requests: number;
  errors: number;
  throttled: number;
  timeouts: number;
  filtered: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_write_input_tokens: number;
  cost_usd: number;
  unpriced_requests: number;
  latency_ms_sum: number;
  latency_ms_max: number;
  /** Sorted ascending, for the percentile rule. */
  latencies: number[];
  /** Sorted ascending; empty when no event of the window had a ttft. */
  ttfts: number[];
}

export interface ScoreRollupExpectation {
  window_start: number;
  window_end: number;
  service: string;
  model_id: string;
  tenant_id: string | null;
  name: string;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface ExpectedDeadLetter {
  reason: 'invalid' | 'late';
  /** The raw input line. */
  payload: string;
  /** For `invalid`: the field the error must name (null when the line is not an object at all). */
  field: string | null;
}

export interface Expected {
  summary: ReplaySummary;
  invocations: InvocationRow[];
  scores: ScoreEvent[];
  rollups: Map<string, RollupExpectation>;
  scoreRollups: Map<string, ScoreRollupExpectation>;
  deadLetters: ExpectedDeadLetter[];
}

type Parsed = { kind: 'invocation'; event: InvocationEvent } | { kind: 'score'; event: ScoreEvent };

/** Thrown by validation; `field` is what a readable error must name. */
export class InvalidEvent extends Error {
  constructor(
    readonly field: string | null,
    rule: string,
  ) {
    super(field === null ? rule : `${field}: ${rule}`);
  }
}

export const windowStartOf = (eventTime: number): number => Math.floor(eventTime / WINDOW_MS) * WINDOW_MS;

export const rollupKey = (r: {
  window_start: number;
  service: string;
  provider: string;
  model_id: string;
  tenant_id: string | null;
}): string => JSON.stringify([r.window_start, r.service, r.provider, r.model_id, r.tenant_id]);

export const scoreRollupKey = (r: {
  window_start: number;
  service: string;
  model_id: string;
  tenant_id: string | null;
  name: string;
}): string => JSON.stringify([r.window_start, r.service, r.model_id, r.tenant_id, r.name]);

/** Sorted samples at 0-based ranks floor(q(n-1)) and ceil(q(n-1)) (CONTRACT.md §4). */
export function percentileBounds(sorted: readonly number[], q: number): [number, number] {
  if (sorted.length === 0) throw new Error('percentileBounds: no samples');
  const rank = q * (sorted.length - 1);
  return [sorted[Math.floor(rank)] as number, sorted[Math.ceil(rank)] as number];
}

/** Whether `got` lies within 1% of some value between the two bounding samples. */
export function percentileMatches(got: number, sorted: readonly number[], q: number): boolean {
  const [lo, hi] = percentileBounds(sorted, q);
  if (got >= lo && got <= hi) return true;
  return got < lo ? lo - got <= 0.01 * Math.abs(lo) : got - hi <= 0.01 * Math.abs(hi);
}

// ---- validation (CONTRACT.md §1 "Validity") ----

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isAbsent = (v: unknown): boolean => v === undefined || v === null || v === '';

function requiredString(o: Obj, field: string, maxLength = Number.POSITIVE_INFINITY): string {
  const v = o[field];
  if (v === undefined || v === null) throw new InvalidEvent(field, 'required');
  if (typeof v !== 'string') throw new InvalidEvent(field, 'must be a string');
  if (v.length === 0) throw new InvalidEvent(field, 'must not be empty');
  if (v.length > maxLength) throw new InvalidEvent(field, `longer than ${maxLength}`);
  return v;
}

function checkNumber(field: string, v: unknown, opts: { integer: boolean; nonNegative: boolean }): number {
  if (typeof v !== 'number') throw new InvalidEvent(field, 'must be a number');
  if (!Number.isFinite(v)) throw new InvalidEvent(field, 'must be finite');
  if (opts.integer && !Number.isInteger(v)) throw new InvalidEvent(field, 'must be an integer');
  if (opts.nonNegative && v < 0) throw new InvalidEvent(field, 'must be >= 0');
  return v;
}

function requiredNumber(o: Obj, field: string, opts: { integer: boolean; nonNegative: boolean }): number {
  const v = o[field];
  if (v === undefined || v === null) throw new InvalidEvent(field, 'required');
  return checkNumber(field, v, opts);
}

function optionalNumber(
  o: Obj,
  field: string,
  opts: { integer: boolean; nonNegative: boolean },
): number | null {
  const v = o[field];
  return isAbsent(v) ? null : checkNumber(field, v, opts);
}

function optionalString(o: Obj, field: string): string | null {
  const v = o[field];
  if (isAbsent(v)) return null;
  if (typeof v !== 'string') throw new InvalidEvent(field, 'must be a string');
  return v;
}

function eventTime(o: Obj, nowMs: number): number {
  const t = requiredNumber(o, 'event_time', { integer: true, nonNegative: true });
  if (t > nowMs + MAX_FUTURE_MS) throw new InvalidEvent('event_time', 'more than 1 hour in the future');
  return t;
}

const COUNT = { integer: true, nonNegative: true };
const AMOUNT = { integer: false, nonNegative: true };

function parseInvocation(o: Obj, nowMs: number): InvocationEvent {
  const status = requiredString(o, 'status');
  if (!STATUSES.has(status)) throw new InvalidEvent('status', `unknown value ${status}`);
  const e: InvocationEvent = {
    event_id: requiredString(o, 'event_id', 128),
    event_time: eventTime(o, nowMs),
    service: requiredString(o, 'service'),
    provider: requiredString(o, 'provider'),
    model_id: requiredString(o, 'model_id'),
    operation: requiredString(o, 'operation'),
    input_tokens: requiredNumber(o, 'input_tokens', COUNT),
    output_tokens: requiredNumber(o, 'output_tokens', COUNT),
    cache_read_input_tokens: optionalNumber(o, 'cache_read_input_tokens', COUNT) ?? 0,
    cache_write_input_tokens: optionalNumber(o, 'cache_write_input_tokens', COUNT) ?? 0,
    latency_ms: requiredNumber(o, 'latency_ms', AMOUNT),
    ttft_ms: optionalNumber(o, 'ttft_ms', AMOUNT),
    status: status as InvocationEvent['status'],
    error_code: optionalString(o, 'error_code'),
    finish_reason: optionalString(o, 'finish_reason'),
    tenant_id: optionalString(o, 'tenant_id'),
    user_id: optionalString(o, 'user_id'),
    session_id: optionalString(o, 'session_id'),
    agent_id: optionalString(o, 'agent_id'),
    environment: optionalString(o, 'environment'),
    region: optionalString(o, 'region'),
    trace_id: optionalString(o, 'trace_id'),
    span_id: optionalString(o, 'span_id'),
    cost_usd: optionalNumber(o, 'cost_usd', AMOUNT),
  };
  if (e.cache_read_input_tokens + e.cache_write_input_tokens > e.input_tokens) {
    throw new InvalidEvent('cache_read_input_tokens', 'cache_read + cache_write exceeds input_tokens');
  }
  return e;
}

function parseScore(o: Obj, nowMs: number): ScoreEvent {
  return {
    event_id: requiredString(o, 'event_id', 128),
    event_time: eventTime(o, nowMs),
    invocation_id: optionalString(o, 'invocation_id'),
    service: requiredString(o, 'service'),
    model_id: requiredString(o, 'model_id'),
    tenant_id: optionalString(o, 'tenant_id'),
    name: requiredString(o, 'name'),
    value: requiredNumber(o, 'value', { integer: false, nonNegative: false }),
    source: optionalString(o, 'source'),
  };
}

/** Parses and validates one JSON line; throws InvalidEvent naming the offending field. */
export function parseLine(line: string, nowMs: number): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new InvalidEvent(null, 'not JSON');
  }
  if (!isObject(value)) throw new InvalidEvent(null, 'not a JSON object');
  const kind = value.kind ?? 'invocation';
  if (kind === 'invocation') return { kind, event: parseInvocation(value, nowMs) };
  if (kind === 'score') return { kind, event: parseScore(value, nowMs) };
  throw new InvalidEvent('kind', `unknown kind ${JSON.stringify(kind)}`);
}

// ---- cost (CONTRACT.md §2 "Cost of an invocation") ----

/** OTel `gen_ai.provider.name` -> genai-prices provider id. */
const catalogProviderId = (provider: string): string => (provider === 'aws.bedrock' ? 'aws' : provider);

export function costOf(
  e: InvocationEvent,
  pricing: PricingOverrides | undefined,
): { cost: number; priced: boolean } {
  if (e.cost_usd !== null) return { cost: e.cost_usd, priced: true };
  const override = pricing?.models[e.model_id];
  const cacheRead = e.cache_read_input_tokens;
  const cacheWrite = e.cache_write_input_tokens;
  if (override) {
    const cost =
      ((e.input_tokens - cacheRead - cacheWrite) * override.input +
        cacheRead * (override.cache_read ?? override.input) +
        cacheWrite * (override.cache_write ?? override.input) +
        e.output_tokens * override.output) /
      1e6;
    return { cost, priced: true };
  }
  const usage = {
    input_tokens: e.input_tokens,
    output_tokens: e.output_tokens,
    cache_read_tokens: cacheRead,
    cache_write_tokens: cacheWrite,
  };
  const timestamp = new Date(e.event_time);
  const price =
    calcPrice(usage, e.model_id, { providerId: catalogProviderId(e.provider), timestamp }) ??
    calcPrice(usage, e.model_id, { timestamp });
  return price ? { cost: price.total_price, priced: true } : { cost: 0, priced: false };
}

// ---- the partition ----

function addToRollup(
  rollups: Map<string, RollupExpectation>,
  e: InvocationEvent,
  cost: number,
  priced: boolean,
): void {
  const window_start = windowStartOf(e.event_time);
  const id = {
    window_start,
    service: e.service,
    provider: e.provider,
    model_id: e.model_id,
    tenant_id: e.tenant_id,
  };
  const key = rollupKey(id);
  let r = rollups.get(key);
  if (!r) {
    r = {
      ...id,
      window_end: window_start + WINDOW_MS,
      requests: 0,
      errors: 0,
      throttled: 0,
      timeouts: 0,
      filtered: 0,
      input_tokens: 0,
      output_tokens: 0,
      cache_read_input_tokens: 0,
      cache_write_input_tokens: 0,
      cost_usd: 0,
      unpriced_requests: 0,
      latency_ms_sum: 0,
      latency_ms_max: Number.NEGATIVE_INFINITY,
      latencies: [],
      ttfts: [],
    };
    rollups.set(key, r);
  }
  r.requests += 1;
  if (e.status !== 'OK') r.errors += 1;
  if (e.status === 'THROTTLED') r.throttled += 1;
  if (e.status === 'TIMEOUT') r.timeouts += 1;
  if (e.status === 'FILTERED') r.filtered += 1;
  r.input_tokens += e.input_tokens;
  r.output_tokens += e.output_tokens;
  r.cache_read_input_tokens += e.cache_read_input_tokens;
  r.cache_write_input_tokens += e.cache_write_input_tokens;
  r.cost_usd += cost;
  if (!priced) r.unpriced_requests += 1;
  r.latency_ms_sum += e.latency_ms;
  r.latency_ms_max = Math.max(r.latency_ms_max, e.latency_ms);
  r.latencies.push(e.latency_ms);
  if (e.ttft_ms !== null) r.ttfts.push(e.ttft_ms);
}

function addToScoreRollup(rollups: Map<string, ScoreRollupExpectation>, e: ScoreEvent): void {
  const window_start = windowStartOf(e.event_time);
  const id = { window_start, service: e.service, model_id: e.model_id, tenant_id: e.tenant_id, name: e.name };
  const key = scoreRollupKey(id);
  let r = rollups.get(key);
  if (!r) {
    r = { ...id, window_end: window_start + WINDOW_MS, count: 0, sum: 0, min: e.value, max: e.value };
    rollups.set(key, r);
  }
  r.count += 1;
  r.sum += e.value;
  r.min = Math.min(r.min, e.value);
  r.max = Math.max(r.max, e.value);
}

/**
 * Runs CONTRACT.md §2 over one partition. A window closes once W >= its end, so an event is late
 * exactly when its window end <= W at arrival; since closed windows never change and end of input
 * closes the rest, every rollup is the sum of the non-late accepted events of its key-window.
 */
export function computeExpected(lines: Iterable<string>, options: OracleOptions): Expected {
  const outOfOrderness = options.maxOutOfOrdernessMs ?? DEFAULT_MAX_OUT_OF_ORDERNESS_MS;
  const summary: ReplaySummary = { events: 0, accepted: 0, duplicates: 0, late: 0, invalid: 0 };
  const expected: Expected = {
    summary,
    invocations: [],
    scores: [],
    rollups: new Map(),
    scoreRollups: new Map(),
    deadLetters: [],
  };
  const acceptedIdTimes = new Map<string, number>();
  let maxEventTime = Number.NEGATIVE_INFINITY;

  for (const line of lines) {
    if (line.trim() === '') continue;
    summary.events += 1;
    let parsed: Parsed;
    try {
      parsed = parseLine(line, options.nowMs);
    } catch (error) {
      if (!(error instanceof InvalidEvent)) throw error;
      summary.invalid += 1;
      expected.deadLetters.push({ reason: 'invalid', payload: line, field: error.field });
      continue;
    }
    const { event_id, event_time } = parsed.event;
    const earlier = acceptedIdTimes.get(event_id);
    if (earlier !== undefined && maxEventTime - earlier <= DUPLICATE_HORIZON_MS) {
      summary.duplicates += 1;
      continue;
    }
    summary.accepted += 1;
    acceptedIdTimes.set(event_id, event_time);
    const watermark = maxEventTime - outOfOrderness;
    const late = windowStartOf(event_time) + WINDOW_MS <= watermark;
    maxEventTime = Math.max(maxEventTime, event_time);
    if (late) {
      summary.late += 1;
      expected.deadLetters.push({ reason: 'late', payload: line, field: null });
    }
    if (parsed.kind === 'invocation') {
      const { cost, priced } = costOf(parsed.event, options.pricing);
      expected.invocations.push({ ...parsed.event, cost_usd: cost });
      if (!late) addToRollup(expected.rollups, parsed.event, cost, priced);
    } else {
      expected.scores.push(parsed.event);
      if (!late) addToScoreRollup(expected.scoreRollups, parsed.event);
    }
  }
  for (const r of expected.rollups.values()) {
    r.latencies.sort((a, b) => a - b);
    r.ttfts.sort((a, b) => a - b);
  }
  return expected;
}
