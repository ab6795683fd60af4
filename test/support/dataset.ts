/**
 * Seeded telemetry dataset for the replay acceptance test: JSON lines in arrival order with every
 * case of CONTRACT.md §1–§2 (out-of-order, duplicates, late events, invalid lines, blank lines,
 * optional fields absent/null/empty) and injected incidents for the anomaly detector.
 * The generator only states what it meant to produce; `expected.ts` decides what it is.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { PricingOverrides } from './expected.js';
import { Prng } from './prng.js';

const WINDOW_MS = 60_000;

/** Priced only through `--pricing`: a custom model, one without cache prices, one overriding the catalog. */
export const PRICING_OVERRIDES: PricingOverrides = {
  models: {
    'my-finetune-v1': { input: 3.0, output: 15.0, cache_read: 0.3, cache_write: 3.75 },
    'my-finetune-v2': { input: 0.5, output: 1.5 },
    'gpt-4.1-nano': { input: 0.2, output: 0.9 },
  },
};

export type IncidentKind = 'token_spike' | 'error_rate' | 'latency' | 'quality_drop';

export interface Incident {
  kind: IncidentKind;
  service: string;
  /** Null for quality_drop, whose anomalies carry no provider. */
  provider: string | null;
  model_id: string;
  tenant_id: string | null;
  /** The score name for quality_drop, else null. */
  score_name: string | null;
  windowStarts: number[];
}

export interface DatasetOptions {
  seed: number;
  /** Start of the first window (epoch ms, minute-aligned). */
  startMs: number;
  windows: number;
  /** Multiplies every stream's requests per window. */
  scale?: number;
  incidents: boolean;
  /** The processing clock, for the "more than 1 hour in the future" invalid lines. */
  nowMs: number;
  /** Upper bound of the in-bound out-of-orderness of normal traffic. */
  maxJitterMs?: number;
  lateInvocations?: number;
  lateScores?: number;
  invalidPerKind?: number;
  blankLines?: number;
}

export interface Dataset {
  /** Lines in arrival order, blank ones included (no trailing newline entries). */
  lines: string[];
  incidents: Incident[];
  /** What the generator meant: the oracle must agree (checked in dataset.test.ts). */
  intended: {
    duplicates: number;
    late: number;
    invalid: { kind: string; field: string | null; line: string }[];
  };
}

interface StreamSpec {
  service: string;
  provider: string;
  model_id: string;
  operations: readonly string[];
  tenants: readonly (string | null)[];
  perWindow: number;
  inputMedian: number;
  outputMedian: number;
  latencyMedian: number;
  ttftShare: number;
  cacheReadShare: number;
  cacheWriteShare: number;
  /** Tenants whose events all carry cost_usd; `share` of the others' events carry it too. */
  callerCost?: {
    tenants: readonly (string | null)[];
    share: number;
    inputPerMtok: number;
    outputPerMtok: number;
  };
  incident?: Exclude<IncidentKind, 'quality_drop'>;
}

const SONNET_BEDROCK = 'anthropic.claude-3-5-sonnet-20241022-v2:0';
const HAIKU_BEDROCK = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const LLAMA_BEDROCK = 'meta.llama3-1-70b-instruct-v1:0';
const UNKNOWN_MODEL = 'zz-internal-llm-7b';

const base = {
  operations: ['chat'],
  ttftShare: 0,
  cacheReadShare: 0,
  cacheWriteShare: 0,
} as const;

/** Streams 0-3 are the incident keys (one tenant each, >= 30 requests per window). */
const STREAMS: readonly StreamSpec[] = [
  {
    ...base,
    service: 'support-bot',
    provider: 'aws.bedrock',
    model_id: SONNET_BEDROCK,
    tenants: ['acme'],
    perWindow: 60,
    inputMedian: 1800,
    outputMedian: 350,
    latencyMedian: 2400,
    ttftShare: 0.8,
    cacheReadShare: 0.3,
    cacheWriteShare: 0.1,
    incident: 'token_spike',
  },
  {
    ...base,
    service: 'search-api',
    provider: 'openai',
    model_id: 'gpt-4o',
    tenants: ['globex'],
    perWindow: 60,
    inputMedian: 900,
    outputMedian: 200,
    latencyMedian: 1500,
    ttftShare: 0.5,
    cacheReadShare: 0.2,
    incident: 'error_rate',
  },
  {
    ...base,
    service: 'code-assist',
    provider: 'anthropic',
    model_id: 'claude-3-5-haiku-20241022',
    tenants: ['initech'],
    perWindow: 60,
    inputMedian: 2500,
    outputMedian: 600,
    latencyMedian: 1800,
    ttftShare: 0.7,
    cacheReadShare: 0.3,
    cacheWriteShare: 0.15,
    incident: 'latency',
  },
  {
    ...base,
    service: 'summarizer',
    provider: 'openai',
    model_id: 'gpt-4o-mini',
    tenants: ['acme'],
    perWindow: 50,
    inputMedian: 4000,
    outputMedian: 300,
    latencyMedian: 2000,
  },
  {
    ...base,
    service: 'support-bot',
    provider: 'aws.bedrock',
    model_id: HAIKU_BEDROCK,
    tenants: [null, 'globex'],
    perWindow: 90,
    inputMedian: 1200,
    outputMedian: 250,
    latencyMedian: 900,
    ttftShare: 0.6,
    cacheReadShare: 0.25,
    cacheWriteShare: 0.1,
  },
  {
    ...base,
    service: 'support-bot',
    provider: 'openai',
    model_id: 'gpt-4o-mini',
    tenants: ['acme', 'initech', null],
    perWindow: 120,
    inputMedian: 800,
    outputMedian: 180,
    latencyMedian: 700,
    ttftShare: 0.4,
    cacheReadShare: 0.15,
    callerCost: { tenants: [], share: 0.2, inputPerMtok: 0.15, outputPerMtok: 0.6 },
  },
  {
    ...base,
    service: 'search-api',
    provider: 'openai',
    model_id: 'text-embedding-3-small',
    operations: ['embeddings'],
    tenants: ['globex', null],
    perWindow: 100,
    inputMedian: 300,
    outputMedian: 0,
    latencyMedian: 120,
  },
  {
    ...base,
    service: 'code-assist',
    provider: 'self-hosted',
    model_id: 'my-finetune-v1',
    tenants: ['initech'],
    perWindow: 40,
    inputMedian: 1500,
    outputMedian: 400,
    latencyMedian: 1100,
    ttftShare: 0.5,
    cacheReadShare: 0.3,
    cacheWriteShare: 0.2,
  },
  {
    ...base,
    service: 'code-assist',
    provider: 'self-hosted',
    model_id: 'my-finetune-v2',
    tenants: ['initech', null],
    perWindow: 40,
    inputMedian: 1500,
    outputMedian: 400,
    latencyMedian: 1000,
    cacheReadShare: 0.3,
    cacheWriteShare: 0.2,
  },
  {
    ...base,
    service: 'agent-runner',
    provider: 'self-hosted',
    model_id: UNKNOWN_MODEL,
    operations: ['invoke_agent', 'execute_tool', 'chat'],
    tenants: [null, 'acme'],
    perWindow: 60,
    inputMedian: 600,
    outputMedian: 150,
    latencyMedian: 800,
    callerCost: { tenants: ['acme'], share: 0, inputPerMtok: 0.5, outputPerMtok: 1.5 },
  },
  {
    ...base,
    service: 'agent-runner',
    provider: 'azure.ai.openai',
    model_id: 'gpt-4o',
    tenants: ['acme'],
    perWindow: 40,
    inputMedian: 1000,
    outputMedian: 200,
    latencyMedian: 1300,
    ttftShare: 0.3,
  },
  {
    ...base,
    service: 'summarizer',
    provider: 'aws.bedrock',
    model_id: LLAMA_BEDROCK,
    tenants: ['acme', 'globex', 'initech', null],
    perWindow: 12,
    inputMedian: 3000,
    outputMedian: 300,
    latencyMedian: 2200,
  },
  {
    ...base,
    service: 'search-api',
    provider: 'openai',
    model_id: 'gpt-4.1-nano',
    tenants: ['globex'],
    perWindow: 30,
    inputMedian: 500,
    outputMedian: 100,
    latencyMedian: 400,
    ttftShare: 0.9,
  },
];

/** Incident spans, as window indexes; each follows >= 15 normal windows of its key. */
const INCIDENT_WINDOWS: Record<IncidentKind, readonly number[]> = {
  token_spike: [18, 19, 20],
  error_rate: [24, 25, 26],
  latency: [28, 29, 30],
  quality_drop: [32, 33, 34],
};
const QUALITY_STREAM = 3;
const QUALITY_SCORE = 'faithfulness';

const ERROR_STATUSES = [
  { status: 'ERROR', error_code: 'ValidationException' },
  { status: 'ERROR', error_code: 'InternalServerException' },
  { status: 'THROTTLED', error_code: 'ThrottlingException' },
  { status: 'TIMEOUT', error_code: null },
  { status: 'FILTERED', error_code: null },
] as const;

type Json = Record<string, unknown>;

interface BaseItem {
  eventTime: number;
  arrival: number;
  kind: 'invocation' | 'score';
  record: Json;
  line: string;
  /** Index into STREAMS of an invocation, for scores that follow it. */
  stream: number | null;
}

class Generator {
  readonly rng: Prng;
  private readonly users: string[];

  constructor(
    seed: number,
    private readonly options: DatasetOptions,
  ) {
    this.rng = new Prng(seed);
    this.users = Array.from({ length: 60 }, () => `u_${this.hex(16)}`);
  }

  hex(length: number): string {
    return Array.from({ length }, () => this.rng.int(0, 15).toString(16)).join('');
  }

  /** An absent optional field, spelled one of the three ways that all mean absent. */
  private setOptional(record: Json, field: string, value: unknown, allowEmptyString = true): void {
    if (value !== null && value !== undefined) {
      record[field] = value;
      return;
    }
    const r = this.rng.next();
    if (r < 0.08) record[field] = null;
    else if (r < 0.12 && allowEmptyString) record[field] = '';
  }

  private incidentActive(kind: IncidentKind, windowIndex: number): boolean {
    return this.options.incidents && INCIDENT_WINDOWS[kind].includes(windowIndex);
  }

  invocation(streamIndex: number, eventTime: number): Json {
    const s = STREAMS[streamIndex] as StreamSpec;
    const rng = this.rng;
    const windowIndex = Math.floor((eventTime - this.options.startMs) / WINDOW_MS);
    const tokenFactor =
      s.incident === 'token_spike' && this.incidentActive('token_spike', windowIndex) ? 8 : 1;
    const errorRate =
      s.incident === 'error_rate' && this.incidentActive('error_rate', windowIndex) ? 0.6 : 0.02;
    const latencyFactor = s.incident === 'latency' && this.incidentActive('latency', windowIndex) ? 6 : 1;
    const tenant = rng.pick(s.tenants);

    const failure = rng.chance(errorRate) ? rng.pick(ERROR_STATUSES) : null;
    const status = failure?.status ?? 'OK';
    const input = Math.max(1, Math.round(rng.logNormal(s.inputMedian, 0.4))) * tokenFactor;
    const cacheRead = rng.chance(s.cacheReadShare) ? rng.int(0, Math.floor(input * 0.6)) : null;
    const cacheWrite = rng.chance(s.cacheWriteShare)
      ? rng.int(0, Math.floor((input - (cacheRead ?? 0)) * 0.3))
      : null;
    const output =
      status === 'OK' && s.outputMedian > 0
        ? Math.max(1, Math.round(rng.logNormal(s.outputMedian, 0.4))) * tokenFactor
        : 0;
    const latency = rng.logNormal(s.latencyMedian, 0.3) * latencyFactor;
    const ttft = status === 'OK' && rng.chance(s.ttftShare) ? latency * rng.uniform(0.05, 0.3) : null;
    const callerCost =
      s.callerCost && (s.callerCost.tenants.includes(tenant) || rng.chance(s.callerCost.share))
        ? ((input * s.callerCost.inputPerMtok + output * s.callerCost.outputPerMtok) / 1e6) *
          rng.uniform(0.9, 1.1)
        : null;

    const record: Json = {};
    if (rng.chance(0.3)) record.kind = 'invocation';
    record.event_id = rng.uuid();
    record.event_time = eventTime;
    record.service = s.service;
    record.provider = s.provider;
    record.model_id = s.model_id;
    record.operation = rng.pick(s.operations);
    record.input_tokens = input;
    record.output_tokens = output;
    this.setOptional(record, 'cache_read_input_tokens', cacheRead, false);
    this.setOptional(record, 'cache_write_input_tokens', cacheWrite, false);
    record.latency_ms = latency;
    this.setOptional(record, 'ttft_ms', ttft, false);
    record.status = status;
    this.setOptional(record, 'error_code', failure?.error_code ?? null);
    const finishReason =
      status === 'FILTERED'
        ? 'content_filtered'
        : status === 'OK'
          ? rng.pick(['end_turn', 'max_tokens', 'tool_use'])
          : null;
    this.setOptional(record, 'finish_reason', finishReason);
    this.setOptional(record, 'tenant_id', tenant);
    this.setOptional(record, 'user_id', rng.chance(0.7) ? rng.pick(this.users) : null);
    this.setOptional(record, 'session_id', rng.chance(0.5) ? `s-${this.hex(12)}` : null);
    this.setOptional(
      record,
      'agent_id',
      s.service === 'agent-runner' ? rng.pick(['planner', 'retriever']) : null,
    );
    this.setOptional(record, 'environment', rng.chance(0.9) ? 'prod' : 'staging');
    this.setOptional(
      record,
      'region',
      s.provider === 'aws.bedrock' ? rng.pick(['us-east-1', 'us-west-2']) : null,
    );
    if (rng.chance(0.6)) {
      record.trace_id = this.hex(32);
      record.span_id = this.hex(16);
    }
    this.setOptional(record, 'cost_usd', callerCost, false);
    // Unknown fields are ignored and never stored (CONTRACT.md §1).
    if (rng.chance(0.03)) record.prompt_chars = rng.int(10, 5000);
    return record;
  }

  score(
    invocation: Json,
    name: string,
    value: number,
    eventTime: number,
    withInvocationId: boolean,
    source: string | null,
  ): Json {
    const record: Json = {
      kind: 'score',
      event_id: this.rng.uuid(),
      event_time: eventTime,
    };
    this.setOptional(record, 'invocation_id', withInvocationId ? invocation.event_id : null);
    record.service = invocation.service;
    record.model_id = invocation.model_id;
    this.setOptional(
      record,
      'tenant_id',
      typeof invocation.tenant_id === 'string' && invocation.tenant_id ? invocation.tenant_id : null,
    );
    record.name = name;
    record.value = value;
    this.setOptional(record, 'source', source);
    return record;
  }

  /** Quality signals that follow an invocation of stream `streamIndex`. */
  scoresFor(streamIndex: number, inv: Json): Json[] {
    const rng = this.rng;
    const s = STREAMS[streamIndex] as StreamSpec;
    const t = inv.event_time as number;
    const out: Json[] = [];
    if (streamIndex === QUALITY_STREAM) {
      const at = t + rng.int(1000, 8000);
      const windowIndex = Math.floor((at - this.options.startMs) / WINDOW_MS);
      const dropped = this.incidentActive('quality_drop', windowIndex);
      const value = Math.min(1, Math.max(0, dropped ? rng.normal(0.35, 0.08) : rng.normal(0.86, 0.04)));
      out.push(this.score(inv, QUALITY_SCORE, value, at, true, 'evaluator'));
    }
    if (s.service === 'support-bot' && rng.chance(0.1)) {
      out.push(this.score(inv, 'thumbs', rng.chance(0.8) ? 1 : -1, t + rng.int(5000, 40_000), true, 'user'));
    }
    if (s.service === 'search-api' && rng.chance(0.2)) {
      out.push(
        this.score(inv, 'relevancy', rng.uniform(0.5, 1), t + rng.int(1000, 10_000), true, 'evaluator'),
      );
    }
    if (streamIndex === 1 && rng.chance(0.08)) {
      out.push(
        this.score(inv, 'user_rating', rng.int(1, 5), t + rng.int(3000, 50_000), rng.chance(0.5), 'user'),
      );
    }
    if (s.service === 'agent-runner' && rng.chance(0.05)) {
      out.push(
        this.score(
          inv,
          'resolved',
          rng.int(0, 1),
          t + rng.int(1000, 20_000),
          false,
          rng.chance(0.5) ? 'heuristic' : null,
        ),
      );
    }
    return out;
  }
}

/** Ways to break a valid line, each naming the field its error must mention (null: no field). */
const INVALID_KINDS: readonly {
  kind: string;
  field: string | null;
  make: (r: Json, g: Generator, nowMs: number) => string;
}[] = [
  { kind: 'not-json', field: null, make: (r) => JSON.stringify(r).slice(0, 40) },
  {
    kind: 'not-object',
    field: null,
    make: (_r, g) => g.rng.pick(['[1,2,3]', '"event"', '42', 'null', 'true']),
  },
  {
    kind: 'missing-required',
    field: 'model_id',
    make: (r) => JSON.stringify({ ...r, model_id: undefined }),
  },
  {
    kind: 'missing-required',
    field: 'latency_ms',
    make: (r) => JSON.stringify({ ...r, latency_ms: undefined }),
  },
  { kind: 'null-required', field: 'service', make: (r) => JSON.stringify({ ...r, service: null }) },
  { kind: 'null-required', field: 'event_time', make: (r) => JSON.stringify({ ...r, event_time: null }) },
  {
    kind: 'token-as-string',
    field: 'input_tokens',
    make: (r) => JSON.stringify({ ...r, input_tokens: String(r.input_tokens) }),
  },
  {
    kind: 'fractional-tokens',
    field: 'output_tokens',
    make: (r) => JSON.stringify({ ...r, output_tokens: 12.5 }),
  },
  { kind: 'negative-latency', field: 'latency_ms', make: (r) => JSON.stringify({ ...r, latency_ms: -3.5 }) },
  { kind: 'negative-ttft', field: 'ttft_ms', make: (r) => JSON.stringify({ ...r, ttft_ms: -1 }) },
  {
    kind: 'bad-status',
    field: 'status',
    make: (r, g) => JSON.stringify({ ...r, status: g.rng.pick(['FAILED', 'ok', 'Error']) }),
  },
  {
    kind: 'cache-sum-exceeds-input',
    field: 'cache',
    make: (r) =>
      JSON.stringify({ ...r, input_tokens: 100, cache_read_input_tokens: 80, cache_write_input_tokens: 50 }),
  },
  { kind: 'empty-required-string', field: 'operation', make: (r) => JSON.stringify({ ...r, operation: '' }) },
  {
    kind: 'iso-event-time',
    field: 'event_time',
    make: (r) => JSON.stringify({ ...r, event_time: new Date(r.event_time as number).toISOString() }),
  },
  {
    kind: 'future-event-time',
    field: 'event_time',
    make: (r, _g, nowMs) => JSON.stringify({ ...r, event_time: nowMs + 2 * 3600_000 }),
  },
  { kind: 'bad-kind', field: 'kind', make: (r) => JSON.stringify({ ...r, kind: 'metric' }) },
  {
    kind: 'event-id-too-long',
    field: 'event_id',
    make: (r) => JSON.stringify({ ...r, event_id: 'x'.repeat(129) }),
  },
  { kind: 'optional-wrong-type', field: 'tenant_id', make: (r) => JSON.stringify({ ...r, tenant_id: 42 }) },
  {
    kind: 'score-value-as-string',
    field: 'value',
    make: (r) =>
      JSON.stringify({
        kind: 'score',
        event_id: r.event_id,
        event_time: r.event_time,
        service: r.service,
        model_id: r.model_id,
        name: 'thumbs',
        value: '1',
      }),
  },
  {
    kind: 'score-missing-name',
    field: 'name',
    make: (r) =>
      JSON.stringify({
        kind: 'score',
        event_id: r.event_id,
        event_time: r.event_time,
        service: r.service,
        model_id: r.model_id,
        value: 0.5,
      }),
  },
];

/** How a duplicate copy differs from its first copy (the first one wins). */
function alteredCopy(record: Json, g: Generator): Json {
  if (record.kind === 'score')
    return { ...record, value: (record.value as number) + 0.25, source: 'heuristic' };
  return {
    ...record,
    status: 'ERROR',
    error_code: 'InternalServerException',
    input_tokens: (record.input_tokens as number) * 2,
    output_tokens: (record.output_tokens as number) + 7,
    latency_ms: (record.latency_ms as number) * 3,
    tenant_id: g.rng.pick(['other-tenant', null]),
  };
}

export function generateDataset(options: DatasetOptions): Dataset {
  const g = new Generator(options.seed, options);
  const rng = g.rng;
  const scale = options.scale ?? 1;
  const maxJitter = options.maxJitterMs ?? 25_000;
  if (options.incidents && options.windows < 36) throw new Error('incidents need at least 36 windows');

  // 1. Normal traffic, ordered by arrival = event_time + a delay inside the out-of-orderness bound.
  const items: BaseItem[] = [];
  const add = (kind: 'invocation' | 'score', record: Json, stream: number | null): void => {
    const eventTime = record.event_time as number;
    items.push({
      eventTime,
      arrival: eventTime + rng.uniform(0, maxJitter),
      kind,
      record,
      line: JSON.stringify(record),
      stream,
    });
  };
  for (let w = 0; w < options.windows; w += 1) {
    const windowStart = options.startMs + w * WINDOW_MS;
    STREAMS.forEach((s, streamIndex) => {
      const n = Math.round(s.perWindow * scale * rng.uniform(0.85, 1.15));
      for (let i = 0; i < n; i += 1) {
        const inv = g.invocation(streamIndex, windowStart + rng.int(0, WINDOW_MS - 1));
        add('invocation', inv, streamIndex);
        for (const score of g.scoresFor(streamIndex, inv)) add('score', score, streamIndex);
      }
    });
  }
  items.sort((a, b) => a.arrival - b.arrival);
  const prefixMax: number[] = [];
  items.reduce((max, item, i) => {
    prefixMax[i] = Math.max(max, item.eventTime);
    return prefixMax[i] as number;
  }, Number.NEGATIVE_INFINITY);

  // 2. Extra lines, scheduled after a base item.
  const after = new Map<number, string[]>();
  const insertAfter = (index: number, line: string): void => {
    const list = after.get(index) ?? [];
    list.push(line);
    after.set(index, list);
  };
  const cleanStreams = STREAMS.map((s, i) => ({ s, i })).filter(
    ({ s, i }) => !s.incident && i !== QUALITY_STREAM,
  );
  // Far enough in that a late event's time, minutes behind, still lies inside the dataset.
  const firstLateIndex = items.findIndex(
    (_, i) => (prefixMax[i] as number) >= options.startMs + 6 * WINDOW_MS,
  );
  const randomIndexFrom = (from: number): number => rng.int(from, items.length - 1);
  if (firstLateIndex < 0 || items.length < 2000)
    throw new Error('dataset too small for late events and duplicates');

  let late = 0;
  for (let k = 0; k < (options.lateInvocations ?? 25); k += 1) {
    const at = randomIndexFrom(firstLateIndex);
    const eventTime = (prefixMax[at] as number) - rng.int(120_000, 300_000);
    const { i } = rng.pick(cleanStreams);
    insertAfter(at, JSON.stringify(g.invocation(i, eventTime)));
    late += 1;
  }
  for (let k = 0; k < (options.lateScores ?? 15); k += 1) {
    const at = randomIndexFrom(firstLateIndex);
    const eventTime = (prefixMax[at] as number) - rng.int(120_000, 300_000);
    const { i } = rng.pick(cleanStreams);
    const inv = g.invocation(i, eventTime - 5000);
    insertAfter(
      at,
      JSON.stringify(g.score(inv, rng.pick(['thumbs', 'relevancy']), 1, eventTime, rng.chance(0.5), 'user')),
    );
    late += 1;
  }

  // Duplicates: copies of a base item that arrived 20-1000 lines earlier, so well inside 10 minutes.
  let duplicates = 0;
  const duplicateOf = (
    predicate: (item: BaseItem) => boolean,
    count: number,
    copy: (item: BaseItem) => string,
  ): void => {
    for (let k = 0; k < count; k += 1) {
      const at = randomIndexFrom(1100);
      let j = at - rng.int(20, 1000);
      while (!predicate(items[j] as BaseItem)) j -= 1;
      insertAfter(at, copy(items[j] as BaseItem));
      duplicates += 1;
    }
  };
  const isInvocation = (item: BaseItem) => item.kind === 'invocation';
  const isScore = (item: BaseItem) => item.kind === 'score';
  duplicateOf(isInvocation, 20, (o) => o.line);
  duplicateOf(isInvocation, 15, (o) => JSON.stringify(alteredCopy(o.record, g)));
  duplicateOf(isScore, 10, (o) => o.line);
  duplicateOf(isScore, 5, (o) => JSON.stringify(alteredCopy(o.record, g)));
  // One id space: a score reusing an accepted invocation's id is a duplicate too.
  duplicateOf(isInvocation, 3, (o) =>
    JSON.stringify({
      ...g.score(o.record, 'thumbs', 1, o.eventTime + 1000, true, 'user'),
      event_id: o.record.event_id,
    }),
  );

  // Invalid lines, each derived from a real invocation that arrives LATER: an invalid line is never
  // accepted, so its id must not turn that later valid event into a duplicate.
  const invalid: Dataset['intended']['invalid'] = [];
  const invocationAfter = (index: number): Json => {
    let j = index + rng.int(1, 30);
    while ((items[j] as BaseItem).kind !== 'invocation') j += 1;
    return (items[j] as BaseItem).record;
  };
  for (const spec of INVALID_KINDS) {
    for (let k = 0; k < (options.invalidPerKind ?? 4); k += 1) {
      const at = rng.int(50, items.length - 200);
      const line = spec.make(invocationAfter(at), g, options.nowMs);
      insertAfter(at, line);
      invalid.push({ kind: spec.kind, field: spec.field, line });
    }
  }
  for (let k = 0; k < (options.blankLines ?? 30); k += 1) insertAfter(randomIndexFrom(0), '');

  const lines: string[] = [];
  items.forEach((item, i) => {
    lines.push(item.line);
    for (const extra of after.get(i) ?? []) lines.push(extra);
  });

  const incidents: Incident[] = [];
  if (options.incidents) {
    const windowStarts = (kind: IncidentKind) =>
      INCIDENT_WINDOWS[kind].map((w) => options.startMs + w * WINDOW_MS);
    for (const s of STREAMS) {
      if (!s.incident) continue;
      incidents.push({
        kind: s.incident,
        service: s.service,
        provider: s.provider,
        model_id: s.model_id,
        tenant_id: s.tenants[0] ?? null,
        score_name: null,
        windowStarts: windowStarts(s.incident),
      });
    }
    const q = STREAMS[QUALITY_STREAM] as StreamSpec;
    incidents.push({
      kind: 'quality_drop',
      service: q.service,
      provider: null,
      model_id: q.model_id,
      tenant_id: q.tenants[0] ?? null,
      score_name: QUALITY_SCORE,
      windowStarts: windowStarts('quality_drop'),
    });
  }
  return { lines, incidents, intended: { duplicates, late, invalid } };
}

/** Writes lines as a JSON-lines file (gzip-compressed when the name ends in `.gz`). */
export function writeJsonLines(path: string, lines: readonly string[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const text = `${lines.join('\n')}\n`;
  writeFileSync(path, path.endsWith('.gz') ? gzipSync(text) : text);
}

export function writePricingFile(path: string, pricing: PricingOverrides = PRICING_OVERRIDES): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(pricing, null, 2));
}

/** The acceptance dataset: ~36k lines over 40 minutes of event time, crossing a UTC midnight. */
export const mainDatasetOptions = (nowMs: number): DatasetOptions => ({
  seed: 20250531,
  startMs: Date.UTC(2025, 4, 31, 23, 38),
  windows: 40,
  incidents: true,
  nowMs,
});

/** A small dataset without incidents, for the input-format and option checks. */
export const smallDatasetOptions = (nowMs: number): DatasetOptions => ({
  seed: 7,
  startMs: Date.UTC(2025, 5, 2, 5, 0),
  windows: 12,
  scale: 0.3,
  incidents: false,
  nowMs,
  lateInvocations: 8,
  lateScores: 4,
  invalidPerKind: 1,
  blankLines: 10,
});
