import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import type { CloudWatchMetricsClient } from '../../src/cloudwatch/client.js';
import { CloudWatchSink, type CloudWatchSinkOptions } from '../../src/cloudwatch/sink.js';
import { SinkRequestError } from '../../src/util/retriable.js';
import { generateWindow, prng } from './windows.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const fast = { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 2, breakerThreshold: 100, halfOpenAfterMs: 5 };

/** The narrow client seam filled by an in-memory CloudWatch that can be told to fail. */
class InMemoryCloudWatch implements CloudWatchMetricsClient {
  readonly delivered: MetricDatum[] = [];
  calls = 0;
  down = false;
  /** Datums CloudWatch would reject as invalid: any request holding one fails as a whole. */
  poison = new Set<MetricDatum>();

  async putMetricData(_namespace: string, datums: MetricDatum[]): Promise<void> {
    this.calls++;
    if (this.down) throw new SinkRequestError('ServiceUnavailable (HTTP 503)', true);
    if (datums.some((d) => this.poison.has(d))) throw new SinkRequestError('InvalidParameterValue', false);
    this.delivered.push(...datums);
  }
}

function sinkWith(client: CloudWatchMetricsClient, options: Partial<CloudWatchSinkOptions> = {}) {
  const logs: string[] = [];
  let now = NOW;
  const sink = new CloudWatchSink({
    client,
    resilience: fast,
    clock: () => now,
    log: (message) => logs.push(message),
    backpressurePauseMs: 1,
    ...options,
  });
  return { sink, logs, advance: (ms: number) => (now += ms) };
}

const windows = (count: number, seed = 1) =>
  Array.from({ length: count }, (_, i) => generateWindow(NOW - (count - i) * 60_000, prng(seed + i)).window);

describe('CloudWatchSink', () => {
  it('delivers everything written on flush, in ceil(datums/1000) requests, and reports health', async () => {
    const cloudwatch = new InMemoryCloudWatch();
    const { sink } = sinkWith(cloudwatch);
    await sink.write(windows(6));
    expect(cloudwatch.calls).toBe(0);
    const queued = sink.health().datumsQueued;
    await sink.flush();
    expect(cloudwatch.delivered).toHaveLength(queued);
    expect(cloudwatch.calls).toBe(Math.ceil(queued / 1000));
    expect(sink.health()).toMatchObject({
      datumsSent: queued,
      datumsQueued: 0,
      sent: cloudwatch.calls,
      failed: 0,
      breakerState: 'closed',
      outOfHorizon: 0,
    });
  });

  it('keeps what a failing CloudWatch did not take, rejects flush as retriable, and delivers it later once', async () => {
    const cloudwatch = new InMemoryCloudWatch();
    const { sink } = sinkWith(cloudwatch);
    await sink.write(windows(3));
    const queued = sink.health().datumsQueued;
    cloudwatch.down = true;
    const error = await sink.flush().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SinkRequestError);
    expect((error as SinkRequestError).retriable).toBe(true);
    expect(sink.health()).toMatchObject({ datumsQueued: queued, datumsSent: 0, retried: 1, failed: 1 });
    cloudwatch.down = false;
    await sink.flush();
    expect(cloudwatch.delivered).toHaveLength(queued);
    expect(new Set(cloudwatch.delivered).size).toBe(queued);
  });

  it('isolates a datum CloudWatch rejects as invalid, logs and drops it, and delivers the rest', async () => {
    const cloudwatch = new InMemoryCloudWatch();
    const { sink, logs } = sinkWith(cloudwatch);
    await sink.write(windows(2));
    const queued = sink.health().datumsQueued;
    // Poison the 10th datum of the first request.
    const original = cloudwatch.putMetricData.bind(cloudwatch);
    let poisoned: MetricDatum | undefined;
    cloudwatch.putMetricData = async (namespace, datums) => {
      if (poisoned === undefined) {
        poisoned = datums[9];
        cloudwatch.poison.add(poisoned as MetricDatum);
      }
      return original(namespace, datums);
    };
    await sink.flush();
    expect(cloudwatch.delivered).toHaveLength(queued - 1);
    expect(cloudwatch.delivered).not.toContain(poisoned);
    expect(sink.health()).toMatchObject({ datumsRejected: 1, datumsQueued: 0, datumsSent: queued - 1 });
    expect(
      logs.some((line) => /dropped a datum CloudWatch will never accept \(InvalidParameterValue/.test(line)),
    ).toBe(true);
    // Bisection: about log2(batch) extra requests, not one per datum.
    expect(cloudwatch.calls).toBeLessThan(30);
  });

  it('applies backpressure: write waits while the queue is full and CloudWatch is down', async () => {
    const cloudwatch = new InMemoryCloudWatch();
    const { sink } = sinkWith(cloudwatch, { config: { maxQueuedDatums: 1000 } });
    await sink.write(windows(4, 1));
    const first = sink.health().datumsQueued;
    // The next write's datums no longer fit beside these.
    expect(first).toBeGreaterThan(600);
    cloudwatch.down = true;
    let written = false;
    const pending = sink.write(windows(4, 10)).then(() => {
      written = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(written).toBe(false);
    expect(sink.health().datumsQueued).toBe(first);
    cloudwatch.down = false;
    await pending;
    await sink.flush();
    expect(sink.health().datumsQueued).toBe(0);
    expect(cloudwatch.delivered.length).toBe(sink.health().datumsSent);
  });

  it('drops and counts queued datums that pass the horizon during an outage', async () => {
    const cloudwatch = new InMemoryCloudWatch();
    const { sink, advance, logs } = sinkWith(cloudwatch);
    await sink.write(windows(2));
    const queued = sink.health().datumsQueued;
    advance(15 * 86_400_000);
    await sink.flush();
    expect(cloudwatch.calls).toBe(0);
    expect(sink.health()).toMatchObject({ outOfHorizon: queued, datumsQueued: 0 });
    expect(logs.join('\n')).toMatch(/passed the horizon/);
  });

  it('counts windows already past the horizon when written', async () => {
    const cloudwatch = new InMemoryCloudWatch();
    const { sink } = sinkWith(cloudwatch);
    await sink.write([generateWindow(NOW - 20 * 86_400_000, prng(1)).window]);
    expect(sink.health().outOfHorizon).toBeGreaterThan(0);
    expect(sink.health().datumsQueued).toBe(0);
  });

  it('writes EMF lines to a file instead of calling the API when configured', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cw-emf-')), 'emf.log');
    const sink = new CloudWatchSink({ config: { emf: { file } }, clock: () => NOW });
    await sink.write(windows(1));
    await sink.close();
    const documents = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(documents.length).toBeGreaterThan(0);
    expect(documents.every((d) => d._aws.CloudWatchMetrics[0].Namespace === 'GenAI/Pipeline')).toBe(true);
    expect(sink.health().datumsSent).toBeGreaterThan(0);
  });
});
