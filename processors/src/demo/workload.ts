/**
 * The demo workload behind `npm start`: a pure, seeded generator of realistic GenAI telemetry (no I/O,
 * no clock) with scheduled incidents that the anomaly detector is meant to catch.
 *
 * Traffic: three services calling six models of four providers for a few tenants, each stream
 * (service, model, tenant) a Poisson process of 30-90 calls a minute, so that every rollup key has the
 * 20 requests a window the detector needs to judge it. Token counts, time to first token and latency
 * are log-normal per model, latency grows with the output length, Anthropic-style prompt caches are read
 * or written, about 1% of calls fail (throttled, errors, timeouts, guardrail filters). Scores follow a
 * share of the successful calls a few seconds (LLM judge `helpfulness`, 0..1) or a minute or so (user
 * thumbs `user_feedback`, 0/1) later. Events carry numbers and identifiers only, never text.
 *
 * Incidents each cover one 60 s window on their own keys, so every one shows as its own anomaly:
 * the first four in the 13th to 16th full window after the start (the detector needs 10 windows of
 * history), one a minute, then one every `incidentSpacingMinutes`, the kinds in turn. A kind's repeats
 * also take turns between keys where they can, so that no key's trailing history fills up with
 * incidents (the error-rate and quality baselines are means, which past incidents would pull along).
 *
 * Everything depends only on the seed and the start time: the same options give the same events, in
 * event-time order, however the time range is split into `eventsUntil` calls.
 */
import type { InvocationEvent, InvocationStatus, ScoreEvent, TelemetryEvent } from '@genai-pipeline/schemas';
import type { AnomalyKind } from '../anomaly/detector.js';
import { WINDOW_MS } from '../window/tumbling.js';

/** The anomaly kind each incident is made to raise (a token spike raises a cost spike as well). */
export type IncidentKind = Exclude<AnomalyKind, 'cost_spike'>;

export interface IncidentTarget {
  service: string;
  provider: string;
  modelId: string;
  /** Only this tenant's calls; undefined: every tenant of the service and model. */
  tenantId?: string;
}

export interface ScheduledIncident {
  /** Position in the schedule, from 0. */
  number: number;
  kind: IncidentKind;
  /** What happens, in words. */
  description: string;
  target: IncidentTarget;
  /** The one 60 s window the incident covers: [start, end), epoch ms, window-aligned. */
  start: number;
  end: number;
  /** The score that falls (quality_drop only). */
  scoreName: string | null;
}

export interface WorkloadOptions {
  seed: number;
  /** Epoch ms of the first simulated moment. */
  startTime: number;
  /** Multiplies every stream's calls per minute. Default 1: about 730 calls and 190 scores a minute. */
  rate?: number;
  /** Full windows of normal traffic before the first incident. Default 12 (judging needs 10). */
  firstIncidentMinute?: number;
  /** Minutes between incidents after the opening four. Default 2. */
  incidentSpacingMinutes?: number;
}

export interface Workload {
  readonly startTime: number;
  /** Start of the first full window; incident minutes count from here. */
  readonly firstWindowStart: number;
  /** Every event with event_time <= `time` not returned before, in event-time order. */
  eventsUntil(time: number): TelemetryEvent[];
  /** The incidents starting in [from, to), in order. */
  incidents(from: number, to: number): ScheduledIncident[];
  /** The incident covering `time`, if any. */
  incidentAt(time: number): ScheduledIncident | undefined;
}

export const DEFAULT_FIRST_INCIDENT_MINUTE = 12;
export const DEFAULT_INCIDENT_SPACING_MINUTES = 2;

/** How strong the incidents are: well past the detector's critical thresholds, as real incidents are. */
export const INCIDENT_EFFECTS = Object.freeze({
  /** Uncached prompt tokens of the target tenant are multiplied by this. */
  promptGrowth: 12,
  /** Share of the target model's calls throttled during the burst. */
  throttledShare: 0.6,
  /** Latency and time to first token of the target model are multiplied by this. */
  latencyFactor: 4,
  /** Mean judge helpfulness during the drop (normally 0.86). */
  helpfulnessMean: 0.38,
  /** Probability of a thumbs-up during the drop (normally 0.8). */
  thumbsUpShare: 0.45,
});

interface LogNormal {
  median: number;
  sigma: number;
}

interface ModelProfile {
  provider: string;
  modelId: string;
  operation: string;
  /** Input tokens that are not a shared prompt prefix. */
  input: LogNormal;
  /**
   * A prompt prefix (system prompt, policies, repository context) sent with every call: read from the
   * provider's prompt cache with `hitRate`, otherwise written to it when the provider bills cache writes.
   */
  cachedPrefix?: { tokens: number; hitRate: number; writesCache: boolean };
  /** Absent for embeddings. */
  output?: LogNormal & { max: number };
  /** Streaming calls report a time to first token; the rest have a fixed overhead before the output. */
  ttftMs?: LogNormal;
  overheadMs: LogNormal;
  outputTokensPerSecond: number;
  finish: { stop: string; length: string; toolUse?: string; toolUseShare?: number };
  errorCodes: Record<'ERROR' | 'THROTTLED' | 'TIMEOUT', string>;
  /** The client's timeout: a TIMEOUT call lasts this long. */
  timeoutMs: number;
}

const ANTHROPIC_FINISH = { stop: 'end_turn', length: 'max_tokens' };
const OPENAI_FINISH = { stop: 'stop', length: 'length' };
const BEDROCK_ERRORS = {
  ERROR: 'ModelErrorException',
  THROTTLED: 'ThrottlingException',
  TIMEOUT: 'ModelTimeoutException',
};
const OPENAI_ERRORS = { ERROR: 'server_error', THROTTLED: 'rate_limit_exceeded', TIMEOUT: 'timeout' };

const CLAUDE_SONNET_BEDROCK: ModelProfile = {
  provider: 'aws.bedrock',
  modelId: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
  operation: 'chat',
  input: { median: 1400, sigma: 0.5 },
  cachedPrefix: { tokens: 2600, hitRate: 0.85, writesCache: true },
  output: { median: 320, sigma: 0.35, max: 1024 },
  ttftMs: { median: 650, sigma: 0.3 },
  overheadMs: { median: 650, sigma: 0.3 },
  outputTokensPerSecond: 55,
  finish: ANTHROPIC_FINISH,
  errorCodes: BEDROCK_ERRORS,
  timeoutMs: 60_000,
};
const CLAUDE_HAIKU_BEDROCK: ModelProfile = {
  provider: 'aws.bedrock',
  modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
  operation: 'chat',
  input: { median: 700, sigma: 0.4 },
  output: { median: 40, sigma: 0.3, max: 200 },
  overheadMs: { median: 350, sigma: 0.25 },
  outputTokensPerSecond: 120,
  finish: ANTHROPIC_FINISH,
  errorCodes: BEDROCK_ERRORS,
  timeoutMs: 30_000,
};
const GPT_4O_MINI: ModelProfile = {
  provider: 'openai',
  modelId: 'gpt-4o-mini',
  operation: 'chat',
  input: { median: 2500, sigma: 0.5 },
  // OpenAI caches automatically and does not bill writes.
  cachedPrefix: { tokens: 1024, hitRate: 0.4, writesCache: false },
  output: { median: 250, sigma: 0.3, max: 800 },
  ttftMs: { median: 450, sigma: 0.35 },
  overheadMs: { median: 450, sigma: 0.35 },
  outputTokensPerSecond: 80,
  finish: OPENAI_FINISH,
  errorCodes: OPENAI_ERRORS,
  timeoutMs: 60_000,
};
const TEXT_EMBEDDING_3_SMALL: ModelProfile = {
  provider: 'openai',
  modelId: 'text-embedding-3-small',
  operation: 'embeddings',
  input: { median: 400, sigma: 0.6 },
  overheadMs: { median: 90, sigma: 0.35 },
  outputTokensPerSecond: 1,
  finish: OPENAI_FINISH,
  errorCodes: OPENAI_ERRORS,
  timeoutMs: 10_000,
};
const CLAUDE_SONNET_4: ModelProfile = {
  provider: 'anthropic',
  modelId: 'claude-sonnet-4-20250514',
  operation: 'chat',
  input: { median: 2500, sigma: 0.45 },
  cachedPrefix: { tokens: 8000, hitRate: 0.8, writesCache: true },
  output: { median: 600, sigma: 0.35, max: 4096 },
  ttftMs: { median: 1100, sigma: 0.3 },
  overheadMs: { median: 1100, sigma: 0.3 },
  outputTokensPerSecond: 65,
  finish: { ...ANTHROPIC_FINISH, toolUse: 'tool_use', toolUseShare: 0.25 },
  errorCodes: { ERROR: 'overloaded_error', THROTTLED: 'rate_limit_error', TIMEOUT: 'timeout' },
  timeoutMs: 120_000,
};
const GEMINI_FLASH: ModelProfile = {
  provider: 'gcp.vertex_ai',
  modelId: 'gemini-2.0-flash',
  operation: 'text_completion',
  input: { median: 1200, sigma: 0.4 },
  output: { median: 60, sigma: 0.5, max: 256 },
  overheadMs: { median: 250, sigma: 0.3 },
  outputTokensPerSecond: 200,
  finish: { stop: 'STOP', length: 'MAX_TOKENS' },
  errorCodes: { ERROR: 'INTERNAL', THROTTLED: 'RESOURCE_EXHAUSTED', TIMEOUT: 'DEADLINE_EXCEEDED' },
  timeoutMs: 10_000,
};

interface ServiceModel {
  service: string;
  profile: ModelProfile;
  /** Calls per minute per tenant at rate 1. */
  tenants: Record<string, number>;
  /** Share of successful calls the LLM judge scores for `helpfulness`. */
  judgedShare: number;
  /** Share of successful calls users rate with a thumb (`user_feedback`). */
  feedbackShare: number;
  /** Share of calls a guardrail filters (status FILTERED). */
  filteredShare: number;
  agentId: string | null;
  region: string;
}

const SERVICE_MODELS: readonly ServiceModel[] = [
  {
    service: 'support-bot',
    profile: CLAUDE_SONNET_BEDROCK,
    tenants: { acme: 55, globex: 45, initech: 40 },
    judgedShare: 0.5,
    feedbackShare: 0.1,
    filteredShare: 0.003,
    agentId: 'support-agent',
    region: 'us-east-1',
  },
  {
    service: 'support-bot',
    profile: CLAUDE_HAIKU_BEDROCK,
    tenants: { acme: 45, globex: 40, initech: 30 },
    judgedShare: 0,
    feedbackShare: 0,
    filteredShare: 0,
    agentId: 'support-agent',
    region: 'us-east-1',
  },
  {
    service: 'search-summarizer',
    profile: GPT_4O_MINI,
    tenants: { acme: 50, globex: 40 },
    judgedShare: 0.4,
    feedbackShare: 0,
    filteredShare: 0,
    agentId: null,
    region: 'us-east-1',
  },
  {
    service: 'search-summarizer',
    profile: TEXT_EMBEDDING_3_SMALL,
    tenants: { acme: 90, globex: 70 },
    judgedShare: 0,
    feedbackShare: 0,
    filteredShare: 0,
    agentId: null,
    region: 'us-east-1',
  },
  {
    service: 'code-assistant',
    profile: CLAUDE_SONNET_4,
    tenants: { initech: 45, umbrella: 40 },
    judgedShare: 0.7,
    feedbackShare: 0.1,
    filteredShare: 0,
    agentId: 'coding-agent',
    region: 'eu-west-1',
  },
  {
    service: 'code-assistant',
    profile: GEMINI_FLASH,
    tenants: { initech: 80, umbrella: 60 },
    judgedShare: 0,
    feedbackShare: 0,
    filteredShare: 0,
    agentId: null,
    region: 'eu-west-1',
  },
];

/** Normal failure rates of every call (FILTERED comes from the service's guardrail share). */
const ERROR_SHARES = { THROTTLED: 0.003, ERROR: 0.004, TIMEOUT: 0.001 };
const NORMAL_HELPFULNESS = { mean: 0.86, sd: 0.1 };
const NORMAL_THUMBS_UP_SHARE = 0.8;
const JUDGE_DELAY_MS = { min: 1_000, max: 6_000 };
const FEEDBACK_DELAY_MS = { min: 20_000, max: 90_000 };
const USERS_PER_TENANT = 200;
const SESSION_MS = 15 * 60_000;

const targetOf = (serviceModel: ServiceModel, tenantId?: string): IncidentTarget => ({
  service: serviceModel.service,
  provider: serviceModel.profile.provider,
  modelId: serviceModel.profile.modelId,
  ...(tenantId === undefined ? {} : { tenantId }),
});
const [SUPPORT_SONNET, SUPPORT_HAIKU, SUMMARIZER_MINI, , CODE_SONNET, CODE_FLASH] = SERVICE_MODELS as [
  ServiceModel,
  ServiceModel,
  ServiceModel,
  ServiceModel,
  ServiceModel,
  ServiceModel,
];

interface IncidentPlan {
  kind: IncidentKind;
  /** Repeats go through the targets in turn. */
  targets: IncidentTarget[];
  describe(target: IncidentTarget): string;
  scoreName: string | null;
}

const who = (target: IncidentTarget) =>
  `${target.service} ${target.modelId}${target.tenantId === undefined ? '' : ` for tenant ${target.tenantId}`}`;

/** In schedule order: incident n is of kind INCIDENT_PLANS[n % 4]. */
const INCIDENT_PLANS: readonly IncidentPlan[] = [
  {
    kind: 'token_spike',
    targets: ['globex', 'acme', 'initech'].map((tenant) => targetOf(SUPPORT_SONNET, tenant)),
    describe: (t) => `token spike: prompts ${INCIDENT_EFFECTS.promptGrowth}x longer on ${who(t)}`,
    scoreName: null,
  },
  {
    kind: 'error_rate',
    targets: [targetOf(SUPPORT_HAIKU), targetOf(CODE_FLASH)],
    describe: (t) =>
      `throttling burst: ${Math.round(INCIDENT_EFFECTS.throttledShare * 100)}% of calls THROTTLED on ${who(t)}`,
    scoreName: null,
  },
  {
    kind: 'latency',
    targets: [targetOf(SUMMARIZER_MINI)],
    describe: (t) => `latency regression: ${INCIDENT_EFFECTS.latencyFactor}x slower on ${who(t)}`,
    scoreName: null,
  },
  {
    kind: 'quality_drop',
    targets: ['initech', 'umbrella'].map((tenant) => targetOf(CODE_SONNET, tenant)),
    describe: (t) =>
      `quality drop: helpfulness ${NORMAL_HELPFULNESS.mean} -> ${INCIDENT_EFFECTS.helpfulnessMean} on ${who(t)}`,
    scoreName: 'helpfulness',
  },
];

/** Whether a call of (service, provider, model, tenant) is one the target covers. */
export function targetCovers(
  target: IncidentTarget,
  key: { service: string; provider?: string | null; modelId: string; tenantId: string | null },
): boolean {
  return (
    target.service === key.service &&
    target.modelId === key.modelId &&
    (key.provider == null || target.provider === key.provider) &&
    (target.tenantId === undefined || target.tenantId === key.tenantId)
  );
}

/** sfc32, seeded through splitmix32: small, fast, and the same numbers on every platform. */
class Random {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(...seeds: number[]) {
    let state = 0x9e3779b9;
    for (const seed of seeds) {
      state = splitmix32(state ^ (seed >>> 0));
      state = splitmix32(state ^ Math.floor(seed / 2 ** 32));
    }
    this.a = splitmix32(state);
    this.b = splitmix32(this.a);
    this.c = splitmix32(this.b);
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 2 ** 32;
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
  }

  logNormal({ median, sigma }: LogNormal): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Waiting time of a Poisson process with `perMs` events per millisecond. */
  exponential(perMs: number): number {
    return -Math.log(1 - this.next()) / perMs;
  }

  hex(length: number): string {
    let text = '';
    while (text.length < length) text += this.uint32().toString(16).padStart(8, '0');
    return text.slice(0, length);
  }

  uuid(): string {
    const h = this.hex(32);
    const variant = ((Number.parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

function splitmix32(value: number): number {
  let z = (value + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A stable short hex id for (parts): pseudonymous user and session ids. */
function idOf(prefix: string, ...parts: number[]): string {
  let state = 0x2545f491;
  for (const part of parts) state = splitmix32(state ^ splitmix32(part >>> 0) ^ Math.floor(part / 2 ** 32));
  return `${prefix}${state.toString(16).padStart(8, '0')}${splitmix32(state).toString(16).padStart(8, '0')}`;
}

interface Stream {
  serviceModel: ServiceModel;
  tenantId: string;
  /** The tenant's position among all tenants: user ids stay the same across services. */
  tenantNumber: number;
  /** Calls per millisecond. */
  perMs: number;
  nextCallAt: number;
}

interface Pending {
  seq: number;
  event: TelemetryEvent;
}

/** A binary min-heap of pending events by (event_time, emission order). */
class PendingEvents {
  private readonly items: Pending[] = [];

  get size(): number {
    return this.items.length;
  }

  peekTime(): number | undefined {
    return this.items[0]?.event.event.event_time;
  }

  push(item: Pending): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i] as Pending, items[parent] as Pending)) break;
      [items[i], items[parent]] = [items[parent] as Pending, items[i] as Pending];
      i = parent;
    }
  }

  pop(): Pending | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && before(items[left] as Pending, items[smallest] as Pending)) smallest = left;
      if (right < items.length && before(items[right] as Pending, items[smallest] as Pending))
        smallest = right;
      if (smallest === i) return top;
      [items[i], items[smallest]] = [items[smallest] as Pending, items[i] as Pending];
      i = smallest;
    }
  }
}

function before(x: Pending, y: Pending): boolean {
  const dt = x.event.event.event_time - y.event.event.event_time;
  return dt < 0 || (dt === 0 && x.seq < y.seq);
}

function checkOptions(options: WorkloadOptions): Required<WorkloadOptions> {
  const resolved = {
    rate: 1,
    firstIncidentMinute: DEFAULT_FIRST_INCIDENT_MINUTE,
    incidentSpacingMinutes: DEFAULT_INCIDENT_SPACING_MINUTES,
    ...options,
  };
  if (!Number.isSafeInteger(resolved.seed)) {
    throw new RangeError(`workload: seed must be a safe integer, got ${resolved.seed}`);
  }
  if (!(Number.isSafeInteger(resolved.startTime) && resolved.startTime >= 0)) {
    throw new RangeError(
      `workload: startTime must be epoch milliseconds (an integer >= 0), got ${resolved.startTime}`,
    );
  }
  if (!(Number.isFinite(resolved.rate) && resolved.rate > 0)) {
    throw new RangeError(`workload: rate must be a finite number > 0, got ${resolved.rate}`);
  }
  if (!(Number.isInteger(resolved.firstIncidentMinute) && resolved.firstIncidentMinute >= 0)) {
    throw new RangeError(
      `workload: firstIncidentMinute must be an integer >= 0, got ${resolved.firstIncidentMinute}`,
    );
  }
  if (!(Number.isInteger(resolved.incidentSpacingMinutes) && resolved.incidentSpacingMinutes >= 1)) {
    throw new RangeError(
      `workload: incidentSpacingMinutes must be an integer >= 1, got ${resolved.incidentSpacingMinutes}`,
    );
  }
  return resolved;
}

/** The opening incidents come one a minute, one of each kind. */
const OPENING_INCIDENTS = INCIDENT_PLANS.length;

class DemoWorkload implements Workload {
  readonly startTime: number;
  readonly firstWindowStart: number;
  private readonly random: Random;
  private readonly streams: Stream[] = [];
  private readonly pending = new PendingEvents();
  private readonly firstIncidentMinute: number;
  private readonly spacing: number;
  private generatedThrough: number;
  private seq = 0;

  constructor(options: WorkloadOptions) {
    const { seed, startTime, rate, firstIncidentMinute, incidentSpacingMinutes } = checkOptions(options);
    this.startTime = startTime;
    this.firstWindowStart = Math.ceil(startTime / WINDOW_MS) * WINDOW_MS;
    this.firstIncidentMinute = firstIncidentMinute;
    this.spacing = incidentSpacingMinutes;
    this.generatedThrough = startTime;
    // The start time is part of the seed: a restarted demo must not resend the previous run's event ids.
    this.random = new Random(seed, startTime);
    const tenants = [...new Set(SERVICE_MODELS.flatMap((s) => Object.keys(s.tenants)))];
    for (const serviceModel of SERVICE_MODELS) {
      for (const [tenantId, perMinute] of Object.entries(serviceModel.tenants)) {
        const perMs = (perMinute * rate) / 60_000;
        this.streams.push({
          serviceModel,
          tenantId,
          tenantNumber: tenants.indexOf(tenantId),
          perMs,
          nextCallAt: startTime + this.random.exponential(perMs),
        });
      }
    }
  }

  eventsUntil(time: number): TelemetryEvent[] {
    while (this.generatedThrough <= time) this.generateWindow();
    const due: TelemetryEvent[] = [];
    for (let t = this.pending.peekTime(); t !== undefined && t <= time; t = this.pending.peekTime()) {
      due.push((this.pending.pop() as Pending).event);
    }
    return due;
  }

  incidents(from: number, to: number): ScheduledIncident[] {
    const found: ScheduledIncident[] = [];
    for (let n = this.firstIncidentFromMinute(Math.ceil((from - this.firstWindowStart) / WINDOW_MS)); ; n++) {
      const incident = this.incident(n);
      if (incident.start >= to) return found;
      found.push(incident);
    }
  }

  incidentAt(time: number): ScheduledIncident | undefined {
    const minute = Math.floor((time - this.firstWindowStart) / WINDOW_MS);
    const n = this.firstIncidentFromMinute(minute);
    return this.incidentMinute(n) === minute ? this.incident(n) : undefined;
  }

  private incidentMinute(n: number): number {
    const first = this.firstIncidentMinute;
    return n < OPENING_INCIDENTS
      ? first + n
      : first + OPENING_INCIDENTS - 1 + (n - OPENING_INCIDENTS + 1) * this.spacing;
  }

  /** The number of the first incident in `minute` (counted from the first full window) or later. */
  private firstIncidentFromMinute(minute: number): number {
    const first = this.firstIncidentMinute;
    if (minute <= first) return 0;
    if (minute < first + OPENING_INCIDENTS) return minute - first;
    return OPENING_INCIDENTS - 1 + Math.ceil((minute - (first + OPENING_INCIDENTS - 1)) / this.spacing);
  }

  private incident(n: number): ScheduledIncident {
    const plan = INCIDENT_PLANS[n % INCIDENT_PLANS.length] as IncidentPlan;
    const occurrence = Math.floor(n / INCIDENT_PLANS.length);
    const target = plan.targets[occurrence % plan.targets.length] as IncidentTarget;
    const start = this.firstWindowStart + this.incidentMinute(n) * WINDOW_MS;
    return {
      number: n,
      kind: plan.kind,
      description: plan.describe(target),
      target,
      start,
      end: start + WINDOW_MS,
      scoreName: plan.scoreName,
    };
  }

  /** Generates every call in the next window (the first one may be partial), in a fixed order. */
  private generateWindow(): void {
    const from = this.generatedThrough;
    const to = Math.floor(from / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
    const incident = this.incidentAt(from);
    for (const stream of this.streams) {
      const { serviceModel, tenantId } = stream;
      const hit =
        incident !== undefined &&
        targetCovers(incident.target, {
          service: serviceModel.service,
          provider: serviceModel.profile.provider,
          modelId: serviceModel.profile.modelId,
          tenantId,
        })
          ? incident.kind
          : undefined;
      for (; stream.nextCallAt < to; stream.nextCallAt += this.random.exponential(stream.perMs)) {
        this.call(stream, Math.floor(stream.nextCallAt), hit);
      }
    }
    this.generatedThrough = to;
  }

  private call(stream: Stream, eventTime: number, incident: IncidentKind | undefined): void {
    const r = this.random;
    const { serviceModel, tenantId } = stream;
    const p = serviceModel.profile;
    const status = this.status(serviceModel, incident === 'error_rate');
    const slowdown = incident === 'latency' ? INCIDENT_EFFECTS.latencyFactor : 1;
    const userIndex = Math.floor(r.next() * USERS_PER_TENANT);
    const event: InvocationEvent = {
      event_id: r.uuid(),
      event_time: eventTime,
      service: serviceModel.service,
      provider: p.provider,
      model_id: p.modelId,
      operation: p.operation,
      input_tokens: 0,
      output_tokens: 0,
      cache_read_input_tokens: 0,
      cache_write_input_tokens: 0,
      latency_ms: 0,
      ttft_ms: null,
      status,
      error_code: status === 'OK' || status === 'FILTERED' ? null : p.errorCodes[status],
      finish_reason: null,
      tenant_id: tenantId,
      user_id: idOf('u_', stream.tenantNumber, userIndex),
      session_id: idOf('s_', stream.tenantNumber, userIndex, Math.floor(eventTime / SESSION_MS)),
      agent_id: serviceModel.agentId,
      environment: 'prod',
      region: serviceModel.region,
      trace_id: r.hex(32),
      span_id: r.hex(16),
      cost_usd: null,
    };
    switch (status) {
      case 'THROTTLED':
        event.latency_ms = Math.round(r.logNormal({ median: 80, sigma: 0.5 }));
        break;
      case 'ERROR':
        event.latency_ms = Math.round(r.logNormal({ median: 600, sigma: 0.6 }));
        break;
      case 'TIMEOUT':
        event.latency_ms = p.timeoutMs;
        break;
      case 'FILTERED':
        // A guardrail reads the whole prompt and stops before any output.
        event.input_tokens = this.promptTokens(p, false).input;
        event.latency_ms = Math.round(r.logNormal(p.overheadMs));
        event.finish_reason = 'content_filtered';
        break;
      case 'OK':
        this.completeCall(event, p, incident === 'token_spike', slowdown);
        this.scores(event, serviceModel, incident === 'quality_drop');
        break;
    }
    this.pending.push({ seq: this.seq++, event: { kind: 'invocation', event } });
  }

  private status(serviceModel: ServiceModel, throttlingBurst: boolean): InvocationStatus {
    const r = this.random;
    if (throttlingBurst && r.chance(INCIDENT_EFFECTS.throttledShare)) return 'THROTTLED';
    let u = r.next();
    for (const status of ['THROTTLED', 'ERROR', 'TIMEOUT'] as const) {
      u -= ERROR_SHARES[status];
      if (u < 0) return status;
    }
    return u < serviceModel.filteredShare ? 'FILTERED' : 'OK';
  }

  private promptTokens(p: ModelProfile, tokenSpike: boolean) {
    const r = this.random;
    const growth = tokenSpike ? INCIDENT_EFFECTS.promptGrowth : 1;
    const uncached = Math.max(1, Math.round(r.logNormal(p.input) * growth));
    const prefix = p.cachedPrefix;
    if (prefix === undefined) return { input: uncached, cacheRead: 0, cacheWrite: 0 };
    const hit = r.chance(prefix.hitRate);
    return {
      input: uncached + prefix.tokens,
      cacheRead: hit ? prefix.tokens : 0,
      cacheWrite: !hit && prefix.writesCache ? prefix.tokens : 0,
    };
  }

  private completeCall(event: InvocationEvent, p: ModelProfile, tokenSpike: boolean, slowdown: number): void {
    const r = this.random;
    const prompt = this.promptTokens(p, tokenSpike);
    event.input_tokens = prompt.input;
    event.cache_read_input_tokens = prompt.cacheRead;
    event.cache_write_input_tokens = prompt.cacheWrite;
    const overhead = r.logNormal(p.ttftMs ?? p.overheadMs) * slowdown;
    if (p.ttftMs !== undefined) event.ttft_ms = Math.round(overhead);
    if (p.output === undefined) {
      event.latency_ms = Math.round(overhead);
      return;
    }
    const output = Math.min(p.output.max, Math.max(1, Math.round(r.logNormal(p.output))));
    event.output_tokens = output;
    const generationMs = (output / p.outputTokensPerSecond) * 1000 * r.logNormal({ median: 1, sigma: 0.1 });
    event.latency_ms = Math.round(overhead + generationMs * slowdown);
    const { finish } = p;
    event.finish_reason =
      output === p.output.max
        ? finish.length
        : finish.toolUse !== undefined && r.chance(finish.toolUseShare ?? 0)
          ? finish.toolUse
          : finish.stop;
  }

  private scores(call: InvocationEvent, serviceModel: ServiceModel, qualityDrop: boolean): void {
    const r = this.random;
    if (r.chance(serviceModel.judgedShare)) {
      const mean = qualityDrop ? INCIDENT_EFFECTS.helpfulnessMean : NORMAL_HELPFULNESS.mean;
      const value = Math.min(1, Math.max(0, mean + NORMAL_HELPFULNESS.sd * r.normal()));
      const delay = r.between(JUDGE_DELAY_MS.min, JUDGE_DELAY_MS.max);
      this.score(call, 'helpfulness', Math.round(value * 100) / 100, 'evaluator', delay);
    }
    if (r.chance(serviceModel.feedbackShare)) {
      const thumbsUp = r.chance(qualityDrop ? INCIDENT_EFFECTS.thumbsUpShare : NORMAL_THUMBS_UP_SHARE);
      const delay = r.between(FEEDBACK_DELAY_MS.min, FEEDBACK_DELAY_MS.max);
      this.score(call, 'user_feedback', thumbsUp ? 1 : 0, 'user', delay);
    }
  }

  private score(call: InvocationEvent, name: string, value: number, source: string, delayMs: number): void {
    const event: ScoreEvent = {
      event_id: this.random.uuid(),
      event_time: call.event_time + Math.round(delayMs),
      invocation_id: call.event_id,
      service: call.service,
      model_id: call.model_id,
      tenant_id: call.tenant_id,
      name,
      value,
      source,
    };
    this.pending.push({ seq: this.seq++, event: { kind: 'score', event } });
  }
}

export function createWorkload(options: WorkloadOptions): Workload {
  return new DemoWorkload(options);
}

/**
 * The demo's simulated clock: it starts at `simStart` (in the past), runs `speed` times faster than the
 * real clock from `realStart` until it has caught up with it, then follows it, so it is never ahead.
 */
export function simulatedClock(options: {
  realStart: number;
  simStart: number;
  speed: number;
}): (realNow: number) => number {
  const { realStart, simStart, speed } = options;
  if (!(Number.isFinite(speed) && speed >= 1)) {
    throw new RangeError(`demo: speed must be a finite number >= 1, got ${speed}`);
  }
  if (!(simStart <= realStart)) {
    throw new RangeError('demo: the simulated start must not be after the real start');
  }
  return (realNow) => Math.min(simStart + speed * (realNow - realStart), realNow);
}
