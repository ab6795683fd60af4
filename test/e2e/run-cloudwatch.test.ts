/**
 * `genai-pipeline run --sink cloudwatch` end to end, across a clean restart: the built CLI on the
 * embedded collector, the real AWS SDK client configured only through the standard environment, and
 * the local CloudWatch endpoint. The pipeline's health metrics are deltas that CloudWatch sums, so
 * what the endpoint received must add up to exactly what was posted over both processes (a report
 * that repeats earlier counts, or counters restored from the checkpoint reported again, overcounts);
 * the window metrics must add up to the closed windows of the lake.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { PIPELINE_HEALTH_METRICS } from '@genai-pipeline/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchEndpoint, type RecordedDatum } from '../support/aws/cloudwatch-endpoint.js';
import { DEFAULT_MAX_OUT_OF_ORDERNESS_MS, WINDOW_MS, windowStartOf } from '../support/expected.js';
import { stopCleanly, useE2eWorkspace } from '../support/run-lake.js';
import { postBatches, type RunningPipeline, startRunProcess } from '../support/run-process.js';

const TIMEOUT_MS = 120_000;
const SERVICES = ['support-bot', 'search'] as const;
const { eventsIn, windowsClosed, deadLetters, sinkFailures, breakerTrips } = PIPELINE_HEALTH_METRICS;

const workspace = useE2eWorkspace('genai-run-cloudwatch-');

let endpoint: CloudWatchEndpoint;
beforeAll(async () => {
  endpoint = await CloudWatchEndpoint.start();
});
afterAll(async () => {
  await endpoint?.close();
});

interface Invocation {
  id: string;
  eventTime: number;
  service: string;
}

const invocationLine = ({ id, eventTime, service }: Invocation, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    event_id: id,
    event_time: eventTime,
    service,
    provider: 'openai',
    model_id: 'my-finetune-v2',
    operation: 'chat',
    input_tokens: 120,
    output_tokens: 30,
    latency_ms: 420,
    status: 'OK',
    ...extra,
  });

/** A few invocations per service and minute, a different number per minute, in event-time order. */
function traffic(startMs: number, minutes: number): Invocation[] {
  const events: Invocation[] = [];
  for (let minute = 0; minute < minutes; minute++) {
    SERVICES.forEach((service, s) => {
      const count = 2 + ((minute + s) % 3);
      for (let i = 0; i < count; i++) {
        const eventTime = startMs + minute * WINDOW_MS + 5_000 + i * 12_000 + s * 1_000;
        events.push({ id: `e-${minute}-${service}-${i}`, eventTime, service });
      }
    });
  }
  return events.sort((a, b) => a.eventTime - b.eventTime);
}

/** The datums of one namespace, summed per metric name and exact dimensions, as CloudWatch's Sum. */
function summer(namespace: string) {
  const sameDimensions = (datum: RecordedDatum, dimensions: Record<string, string>) =>
    JSON.stringify(Object.entries(datum.dimensions).sort()) ===
    JSON.stringify(Object.entries(dimensions).sort());
  const matching = (metric: string, dimensions: Record<string, string>) =>
    endpoint.datums.filter(
      (d) => d.namespace === namespace && d.metricName === metric && sameDimensions(d, dimensions),
    );
  return {
    total: (metric: string, dimensions: Record<string, string> = {}) =>
      matching(metric, dimensions).reduce((sum, d) => sum + (d.value ?? 0), 0),
    count: (metric: string, dimensions: Record<string, string> = {}) => matching(metric, dimensions).length,
  };
}

/** Sums `amount` (default 1 each) per `key`. */
function tally<T>(items: readonly T[], key: (item: T) => string, amount: (item: T) => number = () => 1) {
  const sums = new Map<string, number>();
  for (const item of items) sums.set(key(item), (sums.get(key(item)) ?? 0) + amount(item));
  return sums;
}

/** Waits for the endpoint to have received what a checkpoint of `pipeline` sends; fails if it exits first. */
async function until(pipeline: RunningPipeline, reached: () => boolean, what: string): Promise<void> {
  let exited = false;
  void pipeline.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + 60_000;
  while (!reached()) {
    if (exited) throw new Error(`run exited before ${what}:\n${pipeline.stderr().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('run --sink cloudwatch', () => {
  it(
    'sends health deltas that add up to exactly what both processes took in, and the closed windows',
    async () => {
      const namespace = `GenAI/E2E/run-${randomUUID().slice(0, 8)}`;
      const sums = summer(namespace);
      const env = {
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_ENDPOINT_URL_CLOUDWATCH: endpoint.url,
      };
      const args = [
        '--no-demo',
        ...workspace.runDirArgs(workspace.dir),
        '--checkpoint-interval-seconds',
        '1',
        '--sink',
        'cloudwatch',
        '--cloudwatch-namespace',
        namespace,
      ];

      // Recent event times: CloudWatch takes nothing older than 14 days.
      const startMs = windowStartOf(Date.now()) - 20 * WINDOW_MS;
      const events = traffic(startMs, 9);
      const split = events.findIndex((e) => e.eventTime >= startMs + 4 * WINDOW_MS + 30_000);
      const first = events.slice(0, split);
      const second = events.slice(split);
      const lastOfFirst = first.at(-1) as Invocation;
      const invalidFirst = [
        'not json at all',
        '{"event_id":"missing-fields"}',
        invocationLine(
          { id: 'tokens-as-string', eventTime: startMs, service: 'search' },
          { input_tokens: '120' },
        ),
      ];
      const invalidSecond = [
        invocationLine({ id: 'bad-status', eventTime: startMs, service: 'search' }, { status: 'MAYBE' }),
        invocationLine({ id: 'far-future', eventTime: Date.now() + 3 * 3_600_000, service: 'search' }),
      ];
      // Its window closed in the first process (the watermark passed it): late in the second.
      const late: Invocation = {
        id: 'late',
        eventTime: startMs + WINDOW_MS + 10_000,
        service: 'support-bot',
      };

      const lines = (valid: readonly Invocation[]) => valid.map((e) => invocationLine(e));
      // Each process gets two bodies: a health report must have gone out between them, so a report
      // that repeats what an earlier one held is caught even within one process.
      const firstBodies = [
        [...lines(first.slice(0, 10)), '', ...invalidFirst.slice(0, 2)],
        [...lines(first.slice(10)), ...invalidFirst.slice(2)],
      ];
      const secondBodies = [
        [
          // Sent again after the restart: a duplicate (the dedupe state came back from the checkpoint).
          invocationLine(lastOfFirst),
          invocationLine(late),
          ...invalidSecond.slice(0, 1),
          ...lines(second.slice(0, 12)),
        ],
        [...lines(second.slice(12)), ...invalidSecond.slice(1)],
      ];
      const counted = (bodies: string[][]) => bodies.flat().filter((line) => line.trim() !== '').length;

      let posted = 0;
      for (const bodies of [firstBodies, secondBodies]) {
        const pipeline = await startRunProcess(args, env);
        for (const body of bodies) {
          expect(await postBatches(pipeline.url, body, 0, body.length)).toBe(body.length);
          posted += counted([body]);
          await until(pipeline, () => sums.total(eventsIn.name) >= posted, `EventsIn to reach ${posted}`);
        }
        await stopCleanly(pipeline);
      }

      expect(endpoint.violations).toEqual([]);
      const postedN = counted(firstBodies);
      const postedM = counted(secondBodies);
      // Restored counters are not reported again, nor are earlier reports repeated: N + M, not more.
      expect(sums.total(eventsIn.name)).toBe(postedN + postedM);
      expect(sums.total(deadLetters.name, { Reason: 'invalid' })).toBe(
        invalidFirst.length + invalidSecond.length,
      );
      expect(sums.total(deadLetters.name, { Reason: 'late' })).toBe(1);
      // The sink's failures and breaker trips are reported per sink, and there were none.
      expect(sums.count(sinkFailures.name, { Sink: 'cloudwatch' })).toBeGreaterThan(0);
      expect(sums.total(sinkFailures.name, { Sink: 'cloudwatch' })).toBe(0);
      expect(sums.total(breakerTrips.name, { Sink: 'cloudwatch' })).toBe(0);

      // The lake agrees: its dead letters, and the windows the watermark closed (one partition).
      const tables = await workspace.readAllTables(join(workspace.dir, 'lake'));
      const reasons = tables.dead_letters.map((row) => row.reason);
      expect(reasons.filter((r) => r === 'invalid')).toHaveLength(invalidFirst.length + invalidSecond.length);
      expect(reasons.filter((r) => r === 'late')).toHaveLength(1);

      const closedThrough = windowStartOf(
        (events.at(-1) as Invocation).eventTime - DEFAULT_MAX_OUT_OF_ORDERNESS_MS,
      );
      const onTime = events.filter((e) => windowStartOf(e.eventTime) + WINDOW_MS <= closedThrough);
      const closedWindows = new Set(onTime.map((e) => windowStartOf(e.eventTime)));
      const lakeWindows = new Set(tables.rollups_1m.map((row) => row.window_start));
      expect(lakeWindows).toEqual(closedWindows);
      expect(sums.total(windowsClosed.name)).toBe(lakeWindows.size);

      // Requests over [Service], per window and service, are the lake's rollups: each window once,
      // those open across the restart included, without the duplicate or the late event.
      const byWindowAndService = (windowStart: unknown, service: unknown) => `${windowStart}|${service}`;
      const published = tally(
        endpoint.datums.filter(
          (d) =>
            d.namespace === namespace &&
            d.metricName === 'Requests' &&
            Object.keys(d.dimensions).join() === 'Service',
        ),
        (d) => byWindowAndService(d.timestamp, d.dimensions.Service),
        (d) => d.value ?? 0,
      );
      expect(published).toEqual(
        tally(
          tables.rollups_1m,
          (row) => byWindowAndService(row.window_start, row.service),
          (row) => Number(row.requests),
        ),
      );
      const sentOnce = tally(onTime, (e) => byWindowAndService(windowStartOf(e.eventTime), e.service));
      expect(published).toEqual(sentOnce);
    },
    TIMEOUT_MS,
  );
});
