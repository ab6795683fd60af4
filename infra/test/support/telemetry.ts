/**
 * A tiny seeded generator of invocation and score events (CONTRACT.md §1) for the named-query
 * tests: a few segments of steady traffic, each with one cost/token spike the anomaly detector
 * flags, sessions of a few calls, and `resolved` / `faithfulness` scores. Every event carries its
 * cost, so expected values follow from the events alone.
 */
import { writeFileSync } from 'node:fs';

export interface Invocation {
  event_id: string;
  event_time: number;
  service: string;
  provider: string;
  model_id: string;
  operation: string;
  input_tokens: number;
  output_tokens: number;
  latency_ms: number;
  ttft_ms?: number;
  status: 'OK' | 'ERROR' | 'THROTTLED' | 'TIMEOUT' | 'FILTERED';
  error_code?: string;
  tenant_id?: string;
  session_id?: string;
  cost_usd: number;
}

export interface Score {
  event_id: string;
  event_time: number;
  invocation_id: string;
  service: string;
  model_id: string;
  tenant_id?: string;
  name: string;
  value: number;
  source: string;
}

export interface Telemetry {
  invocations: Invocation[];
  scores: Score[];
}

export interface Segment {
  /** Window-aligned start (epoch ms). */
  startMs: number;
  minutes: number;
  /** Minute (0-based) in which `support-bot` costs and tokens jump tenfold. */
  spikeMinute: number;
}

interface ServiceProfile {
  service: string;
  provider: string;
  model_id: string;
  perMinute: number;
  tenants: readonly (string | undefined)[];
  streaming: boolean;
}

/** support-bot has one tenant so its rollup key gets enough requests per window to be judged. */
export const SERVICES: readonly ServiceProfile[] = [
  {
    service: 'support-bot',
    provider: 'aws.bedrock',
    model_id: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
    perMinute: 30,
    tenants: ['acme'],
    streaming: true,
  },
  {
    service: 'search',
    provider: 'openai',
    model_id: 'gpt-4o-mini',
    perMinute: 24,
    tenants: ['globex', 'initech', undefined],
    streaming: false,
  },
];

const FAILURES = [
  { status: 'THROTTLED', error_code: 'ThrottlingException' },
  { status: 'TIMEOUT', error_code: undefined },
  { status: 'ERROR', error_code: 'ValidationException' },
  { status: 'FILTERED', error_code: undefined },
] as const;

/** mulberry32: small, seeded, the same sequence everywhere. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateTelemetry(seed: number, segments: readonly Segment[]): Telemetry {
  const random = prng(seed);
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const invocations: Invocation[] = [];
  const scores: Score[] = [];
  let id = 0;
  const nextId = (kind: string) => `${kind}-${seed}-${(id++).toString().padStart(6, '0')}`;

  segments.forEach((segment, segmentIndex) => {
    for (const profile of SERVICES) {
      let session: { id: string; left: number; tenant: string | undefined } | undefined;
      for (let minute = 0; minute < segment.minutes; minute++) {
        const spike = profile.service === 'support-bot' && minute === segment.spikeMinute ? 10 : 1;
        for (let i = 0; i < profile.perMinute; i++) {
          if (session === undefined || session.left === 0) {
            session = {
              id: `session-${segmentIndex}-${profile.service}-${nextId('s')}`,
              left: between(1, 4),
              tenant: profile.tenants[between(0, profile.tenants.length - 1)],
            };
          }
          session.left--;
          // Spread over the minute, clear of its edges so no event falls into a neighbouring window.
          const eventTime =
            segment.startMs + minute * 60_000 + 500 + Math.floor((i * 59_000) / profile.perMinute);
          const failure = random() < 0.1 ? FAILURES[between(0, FAILURES.length - 1)] : undefined;
          const invocation: Invocation = {
            event_id: nextId('inv'),
            event_time: eventTime,
            service: profile.service,
            provider: profile.provider,
            model_id: profile.model_id,
            operation: 'chat',
            input_tokens: between(800, 1200) * spike,
            output_tokens: between(150, 250) * spike,
            latency_ms: between(300, 2500) + Math.round(random() * 1000) / 1000,
            status: failure?.status ?? 'OK',
            cost_usd: (between(900, 1100) / 1e6) * spike,
          };
          if (profile.streaming) invocation.ttft_ms = between(80, 400);
          if (failure?.error_code !== undefined) invocation.error_code = failure.error_code;
          if (session.tenant !== undefined) invocation.tenant_id = session.tenant;
          // One call in ten has no session (batch jobs): it belongs to no conversation.
          if (random() >= 0.1) invocation.session_id = session.id;
          invocations.push(invocation);

          if (invocation.session_id !== undefined && session.left === 0) {
            scores.push(scoreFor(invocation, 'resolved', random() < 0.6 ? 1 : 0, nextId('score')));
          }
          if (random() < 0.2) {
            scores.push(
              scoreFor(invocation, 'faithfulness', Math.round(random() * 100) / 100, nextId('score')),
            );
          }
        }
      }
    }
  });
  return { invocations, scores };
}

function scoreFor(invocation: Invocation, name: string, value: number, eventId: string): Score {
  const score: Score = {
    event_id: eventId,
    // After the call, inside the same window (the generator keeps calls 500 ms+ from the edge).
    event_time: invocation.event_time + 200,
    invocation_id: invocation.event_id,
    service: invocation.service,
    model_id: invocation.model_id,
    name,
    value,
    source: name === 'resolved' ? 'user' : 'evaluator',
  };
  if (invocation.tenant_id !== undefined) score.tenant_id = invocation.tenant_id;
  return score;
}

/** JSON lines in event-time order (so nothing is late), scores marked with `"kind": "score"`. */
export function writeTelemetry(path: string, telemetry: Telemetry): void {
  const events = [
    ...telemetry.invocations.map((event) => ({ event, kind: 'invocation' })),
    ...telemetry.scores.map((event) => ({ event, kind: 'score' })),
  ].sort(
    (a, b) => a.event.event_time - b.event.event_time || a.event.event_id.localeCompare(b.event.event_id),
  );
  writeFileSync(path, `${events.map(({ event, kind }) => JSON.stringify({ kind, ...event })).join('\n')}\n`);
}
