/**
 * Deterministic GenAI telemetry workload: invocations (~95%), score events (~5%), a few exact
 * duplicates and invalid lines. Event time advances 1.2 ms per record (50,000 records a minute)
 * with mild out-of-orderness (always less than 30 s behind, so nothing is late under the default
 * watermark).
 */
import { createRandom } from './random.mjs';

const START_MS = Date.UTC(2025, 0, 15, 8, 0, 0);
const RECORDS_PER_MINUTE = 50_000;
const MS_PER_RECORD = 60_000 / RECORDS_PER_MINUTE;
const SCORE_SHARE = 0.05;
const DUPLICATE_SHARE = 0.002;
const INVALID_SHARE = 0.0005;

/** Per-model shape: median latency (ms), median input/output tokens, prompt caching, chat or embeddings. */
const MODELS = {
  'anthropic.claude-3-5-sonnet-20241022-v2:0': {
    provider: 'aws.bedrock',
    latency: 2400,
    input: 1800,
    output: 350,
    cache: true,
  },
  'anthropic.claude-3-haiku-20240307-v1:0': {
    provider: 'aws.bedrock',
    latency: 700,
    input: 1200,
    output: 220,
    cache: true,
  },
  'meta.llama3-1-70b-instruct-v1:0': {
    provider: 'aws.bedrock',
    latency: 1600,
    input: 900,
    output: 280,
    cache: false,
  },
  'amazon.nova-pro-v1:0': { provider: 'aws.bedrock', latency: 1300, input: 1100, output: 300, cache: false },
  'amazon.titan-embed-text-v2:0': {
    provider: 'aws.bedrock',
    latency: 90,
    input: 400,
    output: 0,
    embeddings: true,
  },
  'gpt-4o': { provider: 'openai', latency: 1900, input: 1500, output: 400, cache: true },
  'gpt-4o-mini': { provider: 'openai', latency: 650, input: 1000, output: 250, cache: true },
  'o3-mini': { provider: 'openai', latency: 5200, input: 1300, output: 1400, cache: true },
  'text-embedding-3-small': { provider: 'openai', latency: 60, input: 350, output: 0, embeddings: true },
  'claude-sonnet-4-20250514': { provider: 'anthropic', latency: 2800, input: 2500, output: 500, cache: true },
  'claude-3-5-haiku-20241022': { provider: 'anthropic', latency: 800, input: 1400, output: 260, cache: true },
};

const SERVICES = {
  'support-bot': [
    'anthropic.claude-3-5-sonnet-20241022-v2:0',
    'anthropic.claude-3-haiku-20240307-v1:0',
    'amazon.titan-embed-text-v2:0',
  ],
  'search-assistant': ['gpt-4o-mini', 'text-embedding-3-small', 'gpt-4o'],
  'code-review': ['claude-sonnet-4-20250514', 'o3-mini'],
  'doc-summarizer': ['meta.llama3-1-70b-instruct-v1:0', 'amazon.nova-pro-v1:0', 'claude-3-5-haiku-20241022'],
  'sales-agent': ['gpt-4o', 'anthropic.claude-3-5-sonnet-20241022-v2:0'],
  'internal-rag': ['amazon.titan-embed-text-v2:0', 'anthropic.claude-3-haiku-20240307-v1:0', 'gpt-4o-mini'],
};
const SERVICE_NAMES = Object.keys(SERVICES);
const TENANTS = Array.from({ length: 25 }, (_, i) => `tenant-${String(i + 1).padStart(3, '0')}`);
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
const ENVIRONMENTS = ['prod', 'prod', 'prod', 'staging'];
const AGENT_OPERATIONS = ['chat', 'chat', 'chat', 'chat', 'chat', 'chat', 'execute_tool', 'invoke_agent'];
const FAILURES = [
  { share: 0.015, status: 'THROTTLED', error_code: 'ThrottlingException' },
  { share: 0.01, status: 'ERROR', error_code: 'ValidationException' },
  { share: 0.004, status: 'ERROR', error_code: 'ServiceUnavailableException' },
  { share: 0.005, status: 'TIMEOUT', error_code: 'ModelTimeoutException' },
  { share: 0.004, status: 'FILTERED', error_code: null },
];
const SCORES = [
  { name: 'faithfulness', source: 'evaluator', value: (r) => Math.round(r.next() * 1000) / 1000 },
  { name: 'relevancy', source: 'evaluator', value: (r) => Math.round(r.next() * 1000) / 1000 },
  { name: 'thumbs', source: 'user', value: (r) => (r.chance(0.85) ? 1 : -1) },
  { name: 'user_rating', source: 'user', value: (r) => r.int(1, 5) },
  { name: 'hallucination', source: 'heuristic', value: (r) => (r.chance(0.04) ? 1 : 0) },
];

/** Lines that break one contract rule each (CONTRACT.md §1 "Validity"). */
const INVALID_LINES = [
  (e) => JSON.stringify({ ...e, input_tokens: String(e.input_tokens) }),
  (e) => JSON.stringify({ ...e, latency_ms: -5 }),
  (e) => JSON.stringify({ ...e, status: 'MAYBE' }),
  (e) => JSON.stringify({ ...e, model_id: undefined }),
  (e) => JSON.stringify({ ...e, event_time: new Date(e.event_time).toISOString() }),
  (e) => JSON.stringify({ ...e, cache_read_input_tokens: e.input_tokens + 1 }),
  (e) => JSON.stringify(e).slice(0, 40),
];

/** Drops null fields: in JSON lines absent optionals are simply left out. */
function compact(kind, event) {
  const out = kind === 'score' ? { kind: 'score' } : {};
  for (const key in event) if (event[key] !== null) out[key] = event[key];
  return out;
}

function invocation(r, eventTime) {
  const service = r.pick(SERVICE_NAMES);
  const modelId = r.pick(SERVICES[service]);
  const model = MODELS[modelId];
  const failure = pickFailure(r);
  const status = failure ? failure.status : 'OK';
  const streaming = !model.embeddings && r.chance(0.6);
  const inputTokens = Math.max(1, Math.round(r.logNormal(model.input, 0.8)));
  let cacheRead = 0;
  let cacheWrite = 0;
  if (model.cache && r.chance(0.35)) {
    cacheRead = Math.floor(inputTokens * (0.3 + r.next() * 0.6));
    if (r.chance(0.2)) cacheWrite = Math.floor((inputTokens - cacheRead) * r.next());
  }
  const failedFast = status === 'THROTTLED' || status === 'ERROR';
  const traced = r.chance(0.75);
  const latency = failedFast ? r.logNormal(120, 0.5) : r.logNormal(model.latency, 0.6);
  const outputTokens = failedFast || model.embeddings ? 0 : Math.round(r.logNormal(model.output, 0.9));
  return {
    event_id: r.uuid(),
    event_time: eventTime,
    service,
    provider: model.provider,
    model_id: modelId,
    operation: model.embeddings ? 'embeddings' : r.pick(AGENT_OPERATIONS),
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cache_read_input_tokens: cacheRead,
    cache_write_input_tokens: cacheWrite,
    latency_ms: Math.round(latency * 1000) / 1000,
    ttft_ms: streaming && !failedFast ? Math.round(latency * (0.08 + r.next() * 0.25) * 1000) / 1000 : null,
    status,
    error_code: failure ? failure.error_code : null,
    finish_reason: finishReason(r, status, model),
    tenant_id: r.chance(0.9) ? r.pick(TENANTS) : null,
    user_id: r.chance(0.8) ? `u_${r.hex(16)}` : null,
    session_id: r.chance(0.7) ? `s_${r.hex(12)}` : null,
    agent_id: service === 'sales-agent' || service === 'support-bot' ? `${service}-agent` : null,
    environment: r.pick(ENVIRONMENTS),
    region: r.pick(REGIONS),
    trace_id: traced ? r.hex(32) : null,
    span_id: traced ? r.hex(16) : null,
    cost_usd: r.chance(0.2) ? Math.round(r.next() * 0.05 * 1e8) / 1e8 : null,
  };
}

function pickFailure(r) {
  let roll = r.next();
  for (const failure of FAILURES) {
    if (roll < failure.share) return failure;
    roll -= failure.share;
  }
  return null;
}

function finishReason(r, status, model) {
  if (status === 'FILTERED') return 'content_filtered';
  if (status !== 'OK' || model.embeddings) return null;
  const roll = r.next();
  return roll < 0.85 ? 'end_turn' : roll < 0.93 ? 'tool_use' : roll < 0.98 ? 'max_tokens' : 'stop_sequence';
}

function score(r, eventTime, scored) {
  const kind = r.pick(SCORES);
  return {
    event_id: r.uuid(),
    event_time: eventTime,
    invocation_id: scored.event_id,
    service: scored.service,
    model_id: scored.model_id,
    tenant_id: scored.tenant_id,
    name: kind.name,
    value: kind.value(r),
    source: kind.source,
  };
}

/**
 * Yields `count` records in file order: `{ kind, event, line }` where kind is `invocation`,
 * `score` or `invalid` (event null), `line` the JSON line, and `duplicate` true for a re-sent copy.
 */
export function* generateRecords(count, seed) {
  const r = createRandom(seed);
  const recent = [];
  const recentInvocations = [];
  for (let i = 0; i < count; i++) {
    const now = START_MS + Math.floor(i * MS_PER_RECORD);
    const roll = r.next();
    if (roll < DUPLICATE_SHARE && recent.length > 0) {
      yield { ...r.pick(recent), duplicate: true };
      continue;
    }
    if (roll < DUPLICATE_SHARE + INVALID_SHARE && recentInvocations.length > 0) {
      const base = r.pick(recentInvocations);
      // A fresh id, so the line is only invalid and never also a duplicate of the call it copies.
      const line = r.pick(INVALID_LINES)(compact('invocation', { ...base, event_id: r.uuid() }));
      yield { kind: 'invalid', event: null, line, duplicate: false };
      continue;
    }
    let record;
    if (roll < DUPLICATE_SHARE + INVALID_SHARE + SCORE_SHARE && recentInvocations.length > 0) {
      const event = score(r, now, r.pick(recentInvocations));
      record = { kind: 'score', event, line: JSON.stringify(compact('score', event)), duplicate: false };
    } else {
      // Most calls report promptly; a fifth arrive up to 28 s behind (below the 30 s default bound).
      const lag = r.chance(0.2) ? r.int(0, 28_000) : r.int(0, 500);
      const event = invocation(r, now - lag);
      record = {
        kind: 'invocation',
        event,
        line: JSON.stringify(compact('invocation', event)),
        duplicate: false,
      };
      remember(recentInvocations, event, 2000, r);
    }
    remember(recent, record, 256, r);
    yield record;
  }
}

/** Bounded sample of recent items: duplicates and scores refer to calls seconds old, not minutes. */
function remember(items, item, limit, r) {
  if (items.length < limit) items.push(item);
  else items[r.int(0, limit - 1)] = item;
}
