import {
  type InvocationEvent,
  type LakeRow,
  type ScoreEvent,
  type TelemetryEvent,
  validateEvent,
} from '@genai-pipeline/schemas';
import type { WindowResults } from '@genai-pipeline/sinks';
import { describe, expect, test } from 'vitest';
import { AnomalyDetector, DEFAULT_ANOMALY_PARAMS } from '../../src/anomaly/detector.js';
import {
  createWorkload,
  type ScheduledIncident,
  simulatedClock,
  targetCovers,
  type Workload,
} from '../../src/demo/workload.js';
import { Pricer } from '../../src/pricing/pricer.js';
import { PartitionProcessor } from '../../src/window/partition-processor.js';
import { WINDOW_MS, windowStartOf } from '../../src/window/tumbling.js';

// Deliberately not on a minute boundary, as a real start is not.
const START = Date.UTC(2025, 5, 1, 12, 0, 17, 345);
const MINUTE = 60_000;

function eventsFor(minutes: number, options: { seed?: number; startTime?: number } = {}) {
  const workload = createWorkload({ seed: options.seed ?? 7, startTime: options.startTime ?? START });
  return { workload, events: workload.eventsUntil(workload.startTime + minutes * MINUTE) };
}

const invocations = (events: TelemetryEvent[]) =>
  events.filter((e) => e.kind === 'invocation').map((e) => e.event as InvocationEvent);
const scores = (events: TelemetryEvent[]) =>
  events.filter((e) => e.kind === 'score').map((e) => e.event as ScoreEvent);

const rollupKey = (e: { service: string; provider?: string; model_id: string; tenant_id: string | null }) =>
  `${e.service}|${e.provider ?? ''}|${e.model_id}|${e.tenant_id}`;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

/** Runs the events through the real processor and detector, as the pipeline does; the anomalies found. */
function detect(events: TelemetryEvent[]) {
  const windows: WindowResults[] = [];
  const processor = new PartitionProcessor({
    maxOutOfOrdernessMs: 30_000,
    pricer: new Pricer(),
    detector: new AnomalyDetector(),
    output: { raw: () => {}, deadLetter: () => {}, windowClosed: (w) => windows.push(w) },
  });
  events.forEach((e, offset) => {
    processor.process({ format: 'avro', kind: e.kind, record: e.event }, offset, e.event.event_time);
  });
  processor.closeAll();
  return windows.flatMap((w) => w.anomalies);
}

/** Whether an anomaly row belongs to the incident: its key, its window (a score may land a window later). */
function explains(incident: ScheduledIncident, row: LakeRow): boolean {
  const kinds = incident.kind === 'token_spike' ? ['token_spike', 'cost_spike'] : [incident.kind];
  const lastWindow = incident.kind === 'quality_drop' ? incident.start + WINDOW_MS : incident.start;
  return (
    kinds.includes(row.kind as string) &&
    (row.window_start as number) >= incident.start &&
    (row.window_start as number) <= lastWindow &&
    targetCovers(incident.target, {
      service: row.service as string,
      provider: row.provider as string | null,
      modelId: row.model_id as string,
      tenantId: row.tenant_id as string | null,
    })
  );
}

describe('createWorkload', () => {
  test('the same seed and start give the same events, however the time range is split', () => {
    const { events } = eventsFor(6);
    const again = createWorkload({ seed: 7, startTime: START });
    const stepped: TelemetryEvent[] = [];
    for (let t = START; t <= START + 6 * MINUTE; t += 7_919) stepped.push(...again.eventsUntil(t));
    stepped.push(...again.eventsUntil(START + 6 * MINUTE));
    expect(stepped).toEqual(events);
    expect(again.eventsUntil(START + 6 * MINUTE)).toEqual([]);
  });

  test('another seed or another start gives other events and other ids', () => {
    const ids = (events: TelemetryEvent[]) => new Set(events.map((e) => e.event.event_id));
    const base = ids(eventsFor(3).events);
    for (const other of [eventsFor(3, { seed: 8 }).events, eventsFor(3, { startTime: START + 1 }).events]) {
      expect([...ids(other)].filter((id) => base.has(id))).toEqual([]);
    }
  });

  test('every event is valid, already normalised, unique, in event-time order, and carries no text', () => {
    const { events } = eventsFor(20);
    const ids = new Set<string>();
    let previous = Number.NEGATIVE_INFINITY;
    for (const e of events) {
      const result = validateEvent(e.event, e.kind, e.event.event_time);
      expect(result).toEqual({ ok: true, value: e });
      expect(ids.has(e.event.event_id)).toBe(false);
      ids.add(e.event.event_id);
      expect(e.event.event_time).toBeGreaterThanOrEqual(previous);
      expect(e.event.event_time).toBeGreaterThanOrEqual(START);
      expect(e.event.event_time).toBeLessThanOrEqual(START + 20 * MINUTE);
      previous = e.event.event_time;
    }
    const fields = new Set(events.flatMap((e) => Object.keys(e.event)));
    for (const text of ['prompt', 'response', 'completion', 'input', 'output', 'content', 'messages']) {
      expect(fields.has(text)).toBe(false);
    }
  });

  test('traffic is realistic: services, providers, rates, tokens, latency, errors, caches and scores', () => {
    const { events } = eventsFor(10);
    const calls = invocations(events);
    const perMinute = calls.length / 10;
    expect(perMinute).toBeGreaterThan(600);
    expect(perMinute).toBeLessThan(850);
    expect(new Set(calls.map((c) => c.service))).toEqual(
      new Set(['support-bot', 'search-summarizer', 'code-assistant']),
    );
    expect(new Set(calls.map((c) => c.provider))).toEqual(
      new Set(['aws.bedrock', 'openai', 'anthropic', 'gcp.vertex_ai']),
    );
    const pricer = new Pricer();
    for (const model of new Set(calls.map((c) => c.model_id))) {
      const call = calls.find((c) => c.model_id === model && c.status === 'OK') as InvocationEvent;
      expect(pricer.cost(call), model).toMatchObject({ priced: true });
    }
    const ok = calls.filter((c) => c.status === 'OK');
    const errorShare = 1 - ok.length / calls.length;
    expect(errorShare).toBeGreaterThan(0.002);
    expect(errorShare).toBeLessThan(0.03);
    for (const c of calls.filter((c) => c.status !== 'OK' && c.status !== 'FILTERED')) {
      expect(c.error_code).toBeTruthy();
      expect(c.output_tokens).toBe(0);
    }
    const chats = ok.filter((c) => c.operation === 'chat');
    const inputTokens = chats.map((c) => c.input_tokens);
    const outputTokens = chats.map((c) => c.output_tokens);
    expect(quantile(inputTokens, 0.5)).toBeGreaterThan(300);
    expect(quantile(inputTokens, 0.99)).toBeLessThan(40_000);
    expect(quantile(outputTokens, 0.5)).toBeGreaterThan(20);
    expect(quantile(outputTokens, 0.99)).toBeLessThanOrEqual(4096);
    const latencies = ok.map((c) => c.latency_ms);
    expect(quantile(latencies, 0.5)).toBeGreaterThan(50);
    expect(quantile(latencies, 0.99)).toBeLessThan(60_000);
    for (const c of ok.filter((c) => c.ttft_ms !== null)) expect(c.ttft_ms).toBeLessThanOrEqual(c.latency_ms);
    expect(ok.some((c) => c.ttft_ms !== null) && ok.some((c) => c.ttft_ms === null)).toBe(true);
    expect(ok.filter((c) => c.cache_read_input_tokens > 0).length).toBeGreaterThan(calls.length / 10);
    expect(ok.some((c) => c.cache_write_input_tokens > 0)).toBe(true);
    const embeddings = ok.filter((c) => c.operation === 'embeddings');
    expect(embeddings.length).toBeGreaterThan(0);
    expect(embeddings.every((c) => c.output_tokens === 0 && c.ttft_ms === null)).toBe(true);

    const byId = new Map(calls.map((c) => [c.event_id, c]));
    const judged = scores(events);
    expect(new Set(judged.map((s) => s.name))).toEqual(new Set(['helpfulness', 'user_feedback']));
    for (const s of judged) {
      const call = byId.get(s.invocation_id as string);
      // A score follows its call within the window it is generated in; the very last calls' scores are still pending.
      if (call === undefined) continue;
      expect(s).toMatchObject({ service: call.service, model_id: call.model_id, tenant_id: call.tenant_id });
      expect(call.status).toBe('OK');
      expect(s.event_time).toBeGreaterThan(call.event_time);
      expect(s.event_time - call.event_time).toBeLessThanOrEqual(90_000);
      if (s.name === 'helpfulness') expect(s.value >= 0 && s.value <= 1).toBe(true);
      else expect([0, 1]).toContain(s.value);
    }
    const helpfulness = judged.filter((s) => s.name === 'helpfulness').map((s) => s.value);
    const mean = helpfulness.reduce((a, b) => a + b, 0) / helpfulness.length;
    expect(mean).toBeGreaterThan(0.8);
    expect(mean).toBeLessThan(0.9);
  });

  test('the schedule: four kinds on distinct keys, the first in simulated minutes 12-16, then every 2 minutes', () => {
    const workload = createWorkload({ seed: 7, startTime: START });
    const schedule = workload.incidents(START, START + 40 * MINUTE);
    expect(schedule.slice(0, 4).map((i) => i.kind)).toEqual([
      'token_spike',
      'error_rate',
      'latency',
      'quality_drop',
    ]);
    const first = schedule[0] as ScheduledIncident;
    expect(first.start - START).toBeGreaterThanOrEqual(12 * MINUTE);
    expect(first.start - START).toBeLessThan(13 * MINUTE);
    expect((schedule[3] as ScheduledIncident).start - START).toBeLessThan(16 * MINUTE);
    const gaps = schedule
      .slice(1)
      .map((incident, i) => (incident.start - (schedule[i] as ScheduledIncident).start) / MINUTE);
    expect(gaps).toEqual([1, 1, 1, ...Array(gaps.length - 3).fill(2)]);
    for (const incident of schedule) {
      expect(incident.start % WINDOW_MS).toBe(0);
      expect(incident.end - incident.start).toBe(WINDOW_MS);
      expect(workload.incidentAt(incident.start + 30_000)).toEqual(incident);
      expect(incident.description).toContain(incident.target.modelId);
    }
    expect(workload.incidentAt(first.start - 1)).toBeUndefined();
    expect(workload.incidentAt(first.start + 4 * MINUTE)).toBeUndefined();
    // Kinds take turns; no key is hit by two kinds.
    expect(schedule.map((i) => i.kind).slice(0, 8)).toEqual([
      ...schedule.slice(0, 4).map((i) => i.kind),
      ...schedule.slice(0, 4).map((i) => i.kind),
    ]);
    const keysOf = (kind: string) =>
      new Set(schedule.filter((i) => i.kind === kind).map((i) => `${i.target.service}|${i.target.modelId}`));
    const all = ['token_spike', 'error_rate', 'latency', 'quality_drop'].map(keysOf);
    expect(new Set(all.flatMap((s) => [...s])).size).toBe(all.reduce((n, s) => n + s.size, 0));
    // A window range lists the incidents that start in it.
    expect(workload.incidents(first.start + 1, (schedule[5] as ScheduledIncident).start + 1)).toEqual(
      schedule.slice(1, 6),
    );
  });

  test('the incidents change the traffic of their key and window only', () => {
    const { workload, events } = eventsFor(20);
    const [tokenSpike, throttling, latency, quality] = workload.incidents(START, START + 20 * MINUTE) as [
      ScheduledIncident,
      ScheduledIncident,
      ScheduledIncident,
      ScheduledIncident,
    ];
    const calls = invocations(events);
    const covered = (incident: ScheduledIncident, c: InvocationEvent) =>
      targetCovers(incident.target, {
        service: c.service,
        provider: c.provider,
        modelId: c.model_id,
        tenantId: c.tenant_id,
      });
    const inWindow = (incident: ScheduledIncident, offset: number) => (c: { event_time: number }) =>
      windowStartOf(c.event_time) === incident.start + offset * WINDOW_MS;
    const during = (incident: ScheduledIncident, offset = 0) =>
      calls.filter((c) => covered(incident, c) && inWindow(incident, offset)(c));
    const ratio = (incident: ScheduledIncident, measure: (cs: InvocationEvent[]) => number) =>
      measure(during(incident)) / measure(during(incident, -1));
    const ok = (cs: InvocationEvent[]) => cs.filter((c) => c.status === 'OK');
    const meanInput = (cs: InvocationEvent[]) =>
      ok(cs).reduce((a, c) => a + c.input_tokens, 0) / ok(cs).length;
    const throttled = (cs: InvocationEvent[]) =>
      cs.filter((c) => c.status === 'THROTTLED').length / cs.length;
    const p95 = (cs: InvocationEvent[]) =>
      quantile(
        ok(cs).map((c) => c.latency_ms),
        0.95,
      );
    expect(ratio(tokenSpike, meanInput)).toBeGreaterThan(3);
    expect(throttled(during(throttling))).toBeGreaterThan(0.25);
    expect(throttled(during(throttling, -1))).toBeLessThan(0.05);
    expect(
      during(throttling).every((c) => c.status !== 'THROTTLED' || c.error_code === 'ThrottlingException'),
    ).toBe(true);
    expect(ratio(latency, p95)).toBeGreaterThan(2.5);
    const helpfulness = (offset: number) => {
      const values = scores(events)
        .filter((s) => s.name === 'helpfulness' && inWindow(quality, offset)(s))
        .filter((s) =>
          targetCovers(quality.target, { service: s.service, modelId: s.model_id, tenantId: s.tenant_id }),
        )
        .map((s) => s.value);
      return values.reduce((a, b) => a + b, 0) / values.length;
    };
    expect(helpfulness(-1) - helpfulness(0)).toBeGreaterThan(0.3);
    // Other keys in the same windows are untouched.
    const others = calls.filter((c) => !covered(throttling, c) && inWindow(throttling, 0)(c));
    expect(throttled(others)).toBeLessThan(0.05);
  });

  test('before the first incident every incident key has at least 10 windows of at least 20 requests', () => {
    const { workload, events } = eventsFor(20);
    const opening = workload.incidents(START, START + 20 * MINUTE).slice(0, 4);
    const firstStart = (opening[0] as ScheduledIncident).start;
    const calls = invocations(events).filter((c) => c.event_time < firstStart);
    const helpfulness = scores(events).filter((s) => s.name === 'helpfulness' && s.event_time < firstStart);
    const busyWindows = <T extends { event_time: number }>(
      rows: T[],
      key: (row: T) => string,
      min: number,
    ) => {
      const counts = new Map<string, Map<number, number>>();
      for (const row of rows) {
        const perWindow = counts.get(key(row)) ?? new Map<number, number>();
        perWindow.set(windowStartOf(row.event_time), (perWindow.get(windowStartOf(row.event_time)) ?? 0) + 1);
        counts.set(key(row), perWindow);
      }
      return new Map(
        [...counts].map(([k, perWindow]) => [k, [...perWindow.values()].filter((n) => n >= min).length]),
      );
    };
    const rollupWindows = busyWindows(calls, rollupKey, DEFAULT_ANOMALY_PARAMS.minRequests);
    const scoreWindows = busyWindows(helpfulness, rollupKey, DEFAULT_ANOMALY_PARAMS.minScores);
    const keys = new Set(calls.map(rollupKey));
    expect(keys.size).toBe(14);
    for (const incident of opening) {
      const targeted = [...keys].filter((k) => {
        const [service, provider, modelId, tenantId] = k.split('|') as [string, string, string, string];
        return targetCovers(incident.target, { service, provider, modelId, tenantId });
      });
      expect(targeted.length).toBeGreaterThan(0);
      for (const key of targeted) {
        expect(rollupWindows.get(key), key).toBeGreaterThanOrEqual(DEFAULT_ANOMALY_PARAMS.minHistory);
        if (incident.kind === 'quality_drop') {
          const scoreKey = key.replace(`|${incident.target.provider}|`, '||');
          expect(scoreWindows.get(scoreKey), scoreKey).toBeGreaterThanOrEqual(
            DEFAULT_ANOMALY_PARAMS.minHistory,
          );
        }
      }
    }
  });

  test('the detector catches every incident on its key and window, and the normal traffic stays quiet', () => {
    for (const seed of [7, 11, 12345]) {
      const workload = createWorkload({ seed, startTime: START });
      const end = workload.firstWindowStart + 22 * MINUTE;
      const anomalies = detect(workload.eventsUntil(end - 1));
      const schedule = workload.incidents(START, end);
      expect(schedule.map((i) => i.kind)).toEqual([
        'token_spike',
        'error_rate',
        'latency',
        'quality_drop',
        'token_spike',
        'error_rate',
        'latency',
      ]);
      for (const incident of schedule) {
        const caught = anomalies.filter((row) => explains(incident, row) && row.kind === incident.kind);
        expect(caught.length, `seed ${seed}: ${incident.description}`).toBeGreaterThan(0);
      }
      const unexplained = anomalies.filter((row) => !schedule.some((incident) => explains(incident, row)));
      expect(unexplained.length, JSON.stringify(unexplained)).toBeLessThanOrEqual(1);
    }
  });
});

describe('simulatedClock', () => {
  test('runs speed times faster until it catches up with the real clock, then follows it', () => {
    const realStart = 1_000_000_000;
    const clock = simulatedClock({ realStart, simStart: realStart - 15 * MINUTE, speed: 10 });
    expect(clock(realStart)).toBe(realStart - 15 * MINUTE);
    expect(clock(realStart + 60_000)).toBe(realStart - 15 * MINUTE + 600_000);
    // Caught up after 15 / 9 real minutes (100 s).
    expect(clock(realStart + 100_000)).toBe(realStart + 100_000);
    expect(clock(realStart + 3_600_000)).toBe(realStart + 3_600_000);
    for (let t = realStart; t < realStart + 600_000; t += 777) expect(clock(t)).toBeLessThanOrEqual(t);
  });

  test('rejects a speed below 1 and a start in the future', () => {
    expect(() => simulatedClock({ realStart: 0, simStart: 0, speed: 0.5 })).toThrow(/speed/);
    expect(() => simulatedClock({ realStart: 0, simStart: 1, speed: 2 })).toThrow(/start/);
  });
});

describe('createWorkload options', () => {
  test('rejects invalid options naming the option', () => {
    expect(() => createWorkload({ seed: 1.5, startTime: START })).toThrow(/seed/);
    expect(() => createWorkload({ seed: 1, startTime: -1 })).toThrow(/startTime/);
    expect(() => createWorkload({ seed: 1, startTime: START, rate: 0 })).toThrow(/rate/);
    expect(() => createWorkload({ seed: 1, startTime: START, incidentSpacingMinutes: 0 })).toThrow(
      /incidentSpacingMinutes/,
    );
  });

  test('rate scales the traffic', () => {
    const count = (w: Workload) => w.eventsUntil(START + 5 * MINUTE).length;
    const normal = count(createWorkload({ seed: 3, startTime: START }));
    const double = count(createWorkload({ seed: 3, startTime: START, rate: 2 }));
    expect(double / normal).toBeGreaterThan(1.8);
    expect(double / normal).toBeLessThan(2.2);
  });
});
