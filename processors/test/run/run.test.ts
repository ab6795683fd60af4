import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { resolveRunConfig } from '../../src/run/config.js';
import { type RunHandle, startRun } from '../../src/run/run.js';
import { queryLake } from '../support/lake-query.js';

/** The run's clock: fixed, so the interval never triggers a checkpoint of its own during a test. */
const NOW = Date.UTC(2026, 0, 1, 12);
const MINUTE = 60_000;

const running: RunHandle[] = [];
afterEach(async () => {
  for (const handle of running.splice(0)) await handle.stop().catch(() => undefined);
});

async function dirs(): Promise<{ lake: string; stateDir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'run-'));
  return { lake: join(root, 'lake'), stateDir: join(root, 'state') };
}

async function start(where: { lake: string; stateDir: string }, logs: string[] = []): Promise<RunHandle> {
  const config = resolveRunConfig({
    commandLine: { ...where, port: '0', maxOutOfOrdernessSeconds: '0', demo: false },
    env: {},
  });
  const handle = await startRun(config, { log: (line) => logs.push(line), clock: () => NOW });
  running.push(handle);
  return handle;
}

async function stop(handle: RunHandle): Promise<void> {
  running.splice(running.indexOf(handle), 1);
  await handle.stop();
}

/** Invocations one a minute, `first` minutes after NOW − 30 minutes: each closes the window before it. */
const invocations = (first: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    event_id: `e${first + i}`,
    event_time: NOW - 30 * MINUTE + (first + i) * MINUTE,
    service: 'svc',
    provider: 'openai',
    model_id: 'gpt-4o',
    operation: 'chat',
    input_tokens: 100,
    output_tokens: 20,
    latency_ms: 300,
    status: 'OK',
  }));

const post = (handle: RunHandle, lines: unknown[]) =>
  fetch(`${handle.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n'),
  });

describe('startRun with the embedded source', () => {
  test('collects over HTTP, serves health and metrics, and on stop delivers what was acknowledged', async () => {
    const where = await dirs();
    const handle = await start(where);
    expect(handle.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const accepted = await post(handle, invocations(0, 5));
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toEqual({ accepted: 5 });
    const partly = await post(handle, [...invocations(5, 3), '{"event_id": "broken"}', invocations(0, 1)[0]]);
    expect(partly.status).toBe(400);

    const health = await fetch(`${handle.url}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await fetch(`${handle.url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toContain('# TYPE collector_http_requests_total counter');
    expect(text).toContain('# TYPE genai_pipeline_events_in_total counter');
    expect(text).toContain('# TYPE genai_pipeline_consumer_lag_records gauge');

    // After stop, everything the collector acknowledged is processed, in the lake and checkpointed.
    await stop(handle);
    const status = handle.status();
    expect(status).toMatchObject({
      startedAt: NOW,
      source: 'log',
      collectorUrl: handle.url,
      eventsIn: 10,
      accepted: 8,
      duplicates: 1,
      deadLetters: { invalid: 1, late: 0 },
      lagRecords: 0,
      // The newest event's window stays open (in the checkpoint); the seven before it closed.
      windowsClosed: 7,
      watermarkDelayMs: NOW - (NOW - 30 * MINUTE + 7 * MINUTE),
      lastCheckpointAt: NOW,
      anomaliesDetected: 0,
      recentAnomalies: [],
    });
    expect(status.lake).toBe(where.lake);
    expect(status.sinks).toEqual({});
    expect(handle.closedThrough()).toBe(NOW - 30 * MINUTE + 7 * MINUTE);

    const rows = await queryLake(where.lake, 'SELECT event_id FROM {invocations} ORDER BY event_id');
    expect(rows.map((row) => row.event_id)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7']);
    const rollups = await queryLake(
      where.lake,
      'SELECT sum(requests)::INTEGER AS requests FROM {rollups_1m}',
    );
    expect(rollups).toEqual([{ requests: 7 }]);
    const deadLetters = await queryLake(where.lake, 'SELECT reason FROM {dead_letters}');
    expect(deadLetters).toEqual([{ reason: 'invalid' }]);

    // The collector is closed: nothing more is acknowledged that would not be processed.
    await expect(post(handle, invocations(20, 1))).rejects.toThrow();
  });

  test('stop right after a large acknowledged batch still processes all of it (several polls)', async () => {
    const where = await dirs();
    const handle = await start(where);
    // More than one poll takes (5,000 records), so stop() meets most of it still in the log.
    const events = Array.from({ length: 12_000 }, (_, i) => ({
      ...invocations(0, 1)[0],
      event_id: `bulk-${i}`,
      event_time: NOW - 30 * MINUTE + i * 10,
    }));
    expect((await post(handle, events)).status).toBe(202);
    await stop(handle);
    expect(handle.status()).toMatchObject({ eventsIn: 12_000, accepted: 12_000, lagRecords: 0 });
    const [row] = await queryLake(
      where.lake,
      'SELECT count(DISTINCT event_id)::INTEGER AS ids FROM {invocations}',
    );
    expect(row).toEqual({ ids: 12_000 });
  });

  test('a second start on the same state resumes: open windows, counts and dedupe go on, nothing twice', async () => {
    const where = await dirs();
    const logs: string[] = [];
    const first = await start(where, logs);
    expect((await post(first, invocations(0, 4))).status).toBe(202);
    await stop(first);
    expect(first.status().eventsIn).toBe(4);

    const second = await start(where, logs);
    // Known from the checkpoint before anything new arrives (the demo goes on after it).
    expect(second.closedThrough()).toBe(NOW - 30 * MINUTE + 3 * MINUTE);
    expect(logs).toContain('resumed 1 partition(s) of log from their checkpoints');
    // A producer retrying what the first run acknowledged, and new events.
    expect((await post(second, [...invocations(2, 2), ...invocations(4, 3)])).status).toBe(202);
    await stop(second);

    // The processor's counters go on from the checkpoint.
    expect(second.status()).toMatchObject({ eventsIn: 9, accepted: 7, duplicates: 2, lastCheckpointAt: NOW });
    const ids = await queryLake(where.lake, 'SELECT event_id FROM {invocations} ORDER BY event_id');
    expect(ids.map((row) => row.event_id)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
    const windows = await queryLake(
      where.lake,
      'SELECT count(*)::INTEGER AS rows, count(DISTINCT window_start)::INTEGER AS windows, sum(requests)::INTEGER AS requests FROM {rollups_1m}',
    );
    // The window open at the first stop was closed once, by the second run, with its one request.
    expect(windows).toEqual([{ rows: 6, windows: 6, requests: 6 }]);
  });

  test('an unwritable lake rejects with a reason naming it, before anything listens', async () => {
    const root = await mkdtemp(join(tmpdir(), 'run-'));
    const file = join(root, 'not-a-dir');
    await writeFile(file, 'x');
    const lake = join(file, 'lake');
    const config = resolveRunConfig({
      commandLine: { lake, stateDir: join(root, 'state'), port: '0', demo: false },
      env: {},
    });
    await expect(startRun(config, { log: () => undefined })).rejects.toThrow(
      `lake directory ${lake} is not writable`,
    );
  });
});
