/**
 * The CloudWatch sink end to end: window results from the real processor (PartitionProcessor over a
 * seeded dataset), through CloudWatchSink and the real AWS SDK client (AWS JSON 1.0, gzip), into the
 * local endpoint that enforces PutMetricData's limits. Checks what arrived against what went in.
 */

import { PartitionProcessor, Pricer } from '@genai-pipeline/processors';
import { type LakeRow, OTHER_DIMENSION_VALUE } from '@genai-pipeline/schemas';
import {
  CloudWatchSink,
  type CloudWatchSinkOptions,
  SdkCloudWatchClient,
  type WindowResults,
} from '@genai-pipeline/sinks';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CloudWatchEndpoint, type RecordedDatum } from '../support/aws/cloudwatch-endpoint.js';
import { generateDataset, smallDatasetOptions } from '../support/dataset.js';

interface Processed {
  windows: WindowResults[];
  invocations: LakeRow[];
  scores: LakeRow[];
  /** The processing clock: a few minutes after the last window. */
  now: number;
}

/** Runs the seeded dataset through the processor, as `replay` does, keeping windows and raw rows. */
function process(): Processed {
  const options = {
    ...smallDatasetOptions(0),
    lateInvocations: 0,
    lateScores: 0,
    invalidPerKind: 0,
    blankLines: 0,
  };
  const now = options.startMs + (options.windows + 5) * 60_000;
  const dataset = generateDataset({ ...options, nowMs: now });
  const result: Processed = { windows: [], invocations: [], scores: [], now };
  const processor = new PartitionProcessor({
    maxOutOfOrdernessMs: 30_000,
    pricer: new Pricer(),
    // Anomaly judgement is the processor's job; the anomaly datums are covered in sinks' request-builder tests.
    detector: { judgeRollup: () => [], judgeScore: () => [] },
    output: {
      raw: (table, _offset, row) => (table === 'invocations' ? result.invocations : result.scores).push(row),
      deadLetter: () => undefined,
      windowClosed: (window) => result.windows.push(window),
    },
    clock: () => now,
  });
  dataset.lines.forEach((text, offset) => {
    if (text.trim() !== '') processor.process({ format: 'json', text }, offset);
  });
  processor.closeAll();
  return result;
}

const minute = (t: number) => Math.floor(t / 60_000) * 60_000;
const fast = { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 3, breakerThreshold: 2, halfOpenAfterMs: 20 };

let processed: Processed;
let endpoint: CloudWatchEndpoint;
let sinks: CloudWatchSink[];

beforeAll(() => {
  processed = process();
});

beforeEach(async () => {
  endpoint = await CloudWatchEndpoint.start({ clock: () => processed.now });
  sinks = [];
});

afterEach(async () => {
  await endpoint.close();
  // Every request a test made stayed within CloudWatch's documented limits.
  expect(endpoint.violations).toEqual([]);
});

function newSink(options: Partial<CloudWatchSinkOptions> = {}): CloudWatchSink {
  const sink = new CloudWatchSink({
    client: new SdkCloudWatchClient({
      region: 'us-east-1',
      endpoint: endpoint.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: new NodeHttpHandler(),
    }),
    resilience: fast,
    clock: () => processed.now,
    log: () => undefined,
    ...options,
  });
  sinks.push(sink);
  return sink;
}

const only = (datums: RecordedDatum[], metric: string, dimensionNames: string) =>
  datums.filter((d) => d.metricName === metric && Object.keys(d.dimensions).join() === dimensionNames);

/** Sum of a [Service] metric per window and service, as CloudWatch would aggregate the accepted datums. */
function servicesSums(datums: RecordedDatum[], metric: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const d of only(datums, metric, 'Service')) {
    const key = `${d.timestamp}|${d.dimensions.Service}`;
    sums.set(key, (sums.get(key) ?? 0) + (d.value as number));
  }
  return sums;
}

function expectedServiceSums(column: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const w of processed.windows) {
    for (const row of w.rollups) {
      const key = `${w.windowStart}|${row.service}`;
      sums.set(key, (sums.get(key) ?? 0) + (row[column] as number));
    }
  }
  return sums;
}

/** CloudWatch-style percentile of weighted values: the value at nearest rank ceil(q·n). */
function percentile(pairs: [number, number][], q: number): number {
  const sorted = [...pairs].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((s, [, c]) => s + c, 0);
  let seen = 0;
  for (const [value, count] of sorted) {
    seen += count;
    if (seen >= Math.ceil(q * total)) return value;
  }
  return Number.NaN;
}

function expectEverythingDelivered(datums: RecordedDatum[]): void {
  for (const [metric, column] of [
    ['Requests', 'requests'],
    ['Errors', 'errors'],
    ['Throttles', 'throttled'],
    ['InputTokens', 'input_tokens'],
    ['OutputTokens', 'output_tokens'],
    ['CacheReadInputTokens', 'cache_read_input_tokens'],
  ] as const) {
    expect(servicesSums(datums, metric)).toEqual(expectedServiceSums(column));
  }
  const cost = servicesSums(datums, 'CostUSD');
  for (const [key, sum] of expectedServiceSums('cost_usd')) {
    expect(cost.get(key)).toBeCloseTo(sum, 9);
  }
}

describe('CloudWatchSink through the real SDK and the local endpoint', () => {
  it('delivers every window: sums equal the rollups, distributions exact in count and within 1% in percentiles', async () => {
    const sink = newSink();
    await sink.write(processed.windows);
    await sink.flush();
    const datums = endpoint.datums;
    expectEverythingDelivered(datums);
    // The merged [Service] latency distribution against the raw latencies of its window.
    const byWindowService = new Map<string, number[]>();
    for (const row of processed.invocations) {
      const key = `${minute(row.event_time as number)}|${row.service}`;
      byWindowService.set(key, [...(byWindowService.get(key) ?? []), row.latency_ms as number]);
    }
    const pairs = new Map<string, [number, number][]>();
    for (const d of only(datums, 'Latency', 'Service')) {
      const key = `${d.timestamp}|${d.dimensions.Service}`;
      const list = pairs.get(key) ?? [];
      for (const [i, v] of (d.values ?? []).entries()) list.push([v, d.counts?.[i] ?? 1]);
      pairs.set(key, list);
    }
    expect([...pairs.keys()].sort()).toEqual([...byWindowService.keys()].sort());
    for (const [key, samples] of byWindowService) {
      const weighted = pairs.get(key) as [number, number][];
      expect(weighted.reduce((s, [, c]) => s + c, 0)).toBe(samples.length);
      const sorted = [...samples].sort((a, b) => a - b);
      for (const q of [0.5, 0.95, 0.99]) {
        const lo = sorted[Math.floor(q * (sorted.length - 1))] as number;
        const hi = sorted[Math.ceil(q * (sorted.length - 1))] as number;
        const observed = percentile(weighted, q);
        expect(observed).toBeGreaterThanOrEqual(lo * 0.99);
        expect(observed).toBeLessThanOrEqual(hi * 1.01);
      }
    }
    // Scores: one statistic set per window × service × name, equal to the raw scores.
    const scoreDatums = datums.filter(
      (x) => x.metricName.startsWith('Score_') && Object.keys(x.dimensions).join() === 'Service',
    );
    expect(scoreDatums.length).toBeGreaterThan(processed.windows.length);
    for (const d of scoreDatums) {
      const raw = processed.scores
        .filter(
          (s) =>
            minute(s.event_time as number) === d.timestamp &&
            s.service === d.dimensions.Service &&
            `Score_${s.name}` === d.metricName,
        )
        .map((s) => s.value as number);
      expect(d.statisticValues?.SampleCount).toBe(raw.length);
      expect(d.statisticValues?.Sum).toBeCloseTo(
        raw.reduce((a, b) => a + b, 0),
        9,
      );
      expect(d.statisticValues?.Minimum).toBe(Math.min(...raw));
      expect(d.statisticValues?.Maximum).toBe(Math.max(...raw));
    }
    // Minimal requests: ceil(datums / 1000), and large ones went gzip-compressed.
    expect(datums.length).toBeGreaterThan(1000);
    expect(endpoint.requests).toHaveLength(Math.ceil(datums.length / 1000));
    expect(endpoint.requests.some((r) => r.gzip)).toBe(true);
    expect(sink.health()).toMatchObject({
      datumsSent: datums.length,
      datumsQueued: 0,
      failed: 0,
      retried: 0,
    });
  });

  it('honours AWS_ENDPOINT_URL_CLOUDWATCH and the standard credential chain when no client is given', async () => {
    const saved = { ...globalThis.process.env };
    Object.assign(globalThis.process.env, {
      AWS_ENDPOINT_URL_CLOUDWATCH: endpoint.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    try {
      const sink = new CloudWatchSink({ clock: () => processed.now, log: () => undefined });
      await sink.write(processed.windows.slice(0, 2));
      await sink.close();
      expect(endpoint.datums.length).toBe(sink.health().datumsSent);
      expect(endpoint.datums.every((d) => d.namespace === 'GenAI/Pipeline')).toBe(true);
    } finally {
      globalThis.process.env = saved;
    }
  });

  it('retries throttling, 5xx and connection resets with backoff and delivers each datum once', async () => {
    const sink = newSink({ resilience: { ...fast, maxAttempts: 5, breakerThreshold: 10 } });
    endpoint.inject({ kind: 'throttle' }, 2);
    endpoint.inject({ kind: 'server-error', status: 500 });
    endpoint.inject({ kind: 'reset' });
    await sink.write(processed.windows);
    await sink.flush();
    expectEverythingDelivered(endpoint.datums);
    expect(endpoint.requests.slice(0, 5).map((r) => r.outcome)).toEqual([
      'throttle',
      'throttle',
      'server-error',
      'reset',
      'accepted',
    ]);
    expect(sink.health()).toMatchObject({ retried: 4, failed: 0, datumsQueued: 0 });
  });

  it('retries only the failed part of a flush', async () => {
    const sink = newSink({ resilience: { ...fast, breakerThreshold: 10 } });
    await sink.write(processed.windows);
    const total = sink.health().datumsQueued;
    expect(total).toBeGreaterThan(2000);
    endpoint.inject({ kind: 'pass' });
    endpoint.inject({ kind: 'server-error', status: 503 }, fast.maxAttempts);
    await expect(sink.flush()).rejects.toThrow(/stay queued for the next flush \(retriable\)/);
    expect(endpoint.datums).toHaveLength(1000);
    const before = endpoint.requests.length;
    await sink.flush();
    expect(endpoint.requests.length - before).toBe(Math.ceil((total - 1000) / 1000));
    expect(endpoint.datums).toHaveLength(total);
    expectEverythingDelivered(endpoint.datums);
  });

  it('loses nothing across an outage longer than the retry budget, and counts the breaker trips', async () => {
    // The outage: one window closes per minute and is written and flushed; CloudWatch refuses every
    // request for four such minutes (each flush spends its whole retry budget, then the open breaker
    // rejects at once), then comes back.
    const sink = newSink();
    const outageWindows = 4;
    endpoint.setOutage(true);
    for (const window of processed.windows.slice(0, outageWindows)) {
      await sink.write([window]);
      await expect(sink.flush()).rejects.toThrow(/stay queued/);
    }
    const during = sink.health();
    expect(during.breakerTrips).toBeGreaterThanOrEqual(1);
    expect(during.datumsSent).toBe(0);
    expect(endpoint.datums).toHaveLength(0);
    endpoint.setOutage(false);
    await sink.write(processed.windows.slice(outageWindows));
    // The breaker lets a trial request through after halfOpenAfterMs.
    for (let attempt = 0; ; attempt++) {
      try {
        await sink.flush();
        break;
      } catch (error) {
        if (attempt > 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, fast.halfOpenAfterMs));
      }
    }
    expectEverythingDelivered(endpoint.datums);
    expect(sink.health()).toMatchObject({ datumsQueued: 0, breakerState: 'closed' });
    expect(sink.health().datumsSent).toBe(endpoint.datums.length);
  });

  it('keeps series bounded under 10,000 random model ids, folding the rest into __other__', async () => {
    const windowStart = minute(processed.now - 120_000);
    const models = Array.from(
      { length: 10_000 },
      (_, i) => `model-${i}-${Math.random().toString(36).slice(2)}`,
    );
    const latency = { count: 1, sum: 100, min: 100, max: 100, values: [100], counts: [1] };
    const window: WindowResults = {
      windowStart,
      rollups: models.map((model_id) => ({
        window_start: windowStart,
        service: 'hostile',
        provider: 'openai',
        model_id,
        tenant_id: null,
        requests: 1,
        errors: 0,
        throttled: 0,
        input_tokens: 10,
        output_tokens: 1,
        cache_read_input_tokens: 0,
        cache_write_input_tokens: 0,
        cost_usd: 0.001,
      })),
      rollupDistributions: models.map(() => ({ latency, ttft: null })),
      scoreRollups: [],
      anomalies: [],
    };
    const sink = newSink();
    await sink.write([window]);
    await sink.flush();
    const byModel = only(endpoint.datums, 'Requests', 'ModelId');
    expect(new Set(byModel.map((d) => d.dimensions.ModelId)).size).toBe(101);
    expect(byModel.reduce((s, d) => s + (d.value as number), 0)).toBe(10_000);
    expect(byModel.find((d) => d.dimensions.ModelId === OTHER_DIMENSION_VALUE)?.value).toBe(9_900);
    // 9 metrics (no TTFT, no anomalies) × ([Service] + [Service, ModelId] + [ModelId]), whatever the traffic.
    const series = new Set(endpoint.datums.map((d) => `${d.metricName}|${JSON.stringify(d.dimensions)}`));
    expect(series.size).toBeLessThanOrEqual(9 * (1 + 101 + 101));
    expect(sink.health().guardFolds.ModelId).toBe(2 * 9_900);
  });
});
