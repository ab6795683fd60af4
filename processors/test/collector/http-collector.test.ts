import { mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InvocationEvent, type ScoreEvent, writeAvroContainer } from '@genai-pipeline/schemas';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DurableLog } from '../../src/collector/durable-log.js';
import { type Collector, startCollector } from '../../src/collector/http-collector.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

const invocation = (id: string, extra: Record<string, unknown> = {}) => ({
  event_id: id,
  event_time: NOW - 1000,
  service: 'support-bot',
  provider: 'openai',
  model_id: 'gpt-4o',
  operation: 'chat',
  input_tokens: 100,
  output_tokens: 20,
  latency_ms: 350,
  status: 'OK',
  ...extra,
});
const score = (id: string) => ({
  event_id: id,
  event_time: NOW - 500,
  invocation_id: 'i1',
  service: 'support-bot',
  model_id: 'gpt-4o',
  name: 'thumbs',
  value: 1,
});

/** The fixtures leave optional fields out, which Avro encodes as their null default. */
const asInvocations = (events: object[]) => events as InvocationEvent[];
const asScores = (events: object[]) => events as ScoreEvent[];
interface RejectionBody {
  accepted?: number;
  errors?: { index: number; error: string }[];
  error?: string;
}
const rejection = async (res: Response) => (await res.json()) as RejectionBody;

let log: DurableLog;
let collector: Collector;

async function start(options: { maxBodyBytes?: number; maxInFlightBytes?: number } = {}) {
  await collector?.close();
  collector = await startCollector({ port: 0, log, clock: () => NOW, ...options });
}

beforeEach(async () => {
  log = DurableLog.open(await mkdtemp(join(tmpdir(), 'collector-')));
  collector = await startCollector({ port: 0, log, clock: () => NOW });
});
afterEach(async () => {
  await collector.close();
  await log.close();
});

const post = (body: string | Uint8Array, contentType = 'application/x-ndjson') =>
  fetch(`${collector.url}/v1/events`, { method: 'POST', headers: { 'content-type': contentType }, body });
const logLines = () => log.read(0, 1000).map((entry) => Buffer.from(entry.record).toString('utf8'));
const ndjson = (...lines: unknown[]) =>
  lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n');

describe('POST /v1/events', () => {
  test('202 after the batch is in the log; scores carry kind, unknown fields and blank lines dropped', async () => {
    const res = await post(
      `${ndjson(invocation('a', { prompt: 'secret' }), '', '   ', { kind: 'score', ...score('b') })}\r\n\n`,
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2 });
    const lines = logLines().map((line) => JSON.parse(line));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject(invocation('a'));
    expect(lines[0]).not.toHaveProperty('prompt');
    expect(lines[0]).not.toHaveProperty('kind');
    expect(lines[1]).toMatchObject({ kind: 'score', ...score('b') });
  });

  test('mixed valid and invalid: 400 with per-record errors, valid kept, invalid appended as they came', async () => {
    const bad = JSON.stringify(invocation('b', { input_tokens: -1 }));
    const res = await post(ndjson(invocation('a'), '', bad, 'not json', invocation('c')));
    expect(res.status).toBe(400);
    const body = await rejection(res);
    expect(Object.keys(body)).toEqual(['accepted', 'errors']);
    expect(body.accepted).toBe(2);
    expect(body.errors).toHaveLength(2);
    expect(body.errors?.[0]).toEqual({ index: 1, error: expect.stringContaining('input_tokens') });
    expect(body.errors?.[1]).toEqual({ index: 2, error: expect.stringContaining('not valid JSON') });
    for (const error of body.errors ?? []) expect(Object.keys(error)).toEqual(['index', 'error']);
    const lines = logLines();
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[0] as string).event_id).toBe('a');
    expect(lines[1]).toBe(bad);
    expect(lines[2]).toBe('not json');
    expect(JSON.parse(lines[3] as string).event_id).toBe('c');
  });

  test('413 for a declared body over the limit, nothing stored', async () => {
    await start({ maxBodyBytes: 1000 });
    const res = await post(ndjson(...Array.from({ length: 20 }, (_, i) => invocation(`e${i}`))));
    expect(res.status).toBe(413);
    expect(logLines()).toEqual([]);
  });

  test('a client still sending its oversized body gets the 413, not a reset: the body is read first', async () => {
    await start({ maxBodyBytes: 1000 });
    const { port } = new URL(collector.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => undefined);
    const chunk = 'x'.repeat(64 * 1024);
    const chunks = 32;
    socket.write(
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${chunk.length * chunks}\r\n\r\n`,
    );
    // The body goes slowly: a server that answered at once would close before the end.
    let written = 0;
    for (; written < chunks && !socket.destroyed && answer === ''; written++) {
      socket.write(chunk);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await closed;
    expect(written).toBe(chunks);
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(logLines()).toEqual([]);
  });

  test('413 for a streamed body (no Content-Length) once it passes the limit', async () => {
    await start({ maxBodyBytes: 1000 });
    const line = `${JSON.stringify(invocation('x'))}\n`;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode(line));
      },
    });
    const res = await fetch(`${collector.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(logLines()).toEqual([]);
  });

  test('415 for another content type', async () => {
    const res = await post(ndjson(invocation('a')), 'application/json');
    expect(res.status).toBe(415);
    expect((await rejection(res)).error).toContain('application/x-ndjson');
    expect(logLines()).toEqual([]);
  });

  test('503 with Retry-After when in-flight bytes pass the limit; the held request still succeeds', async () => {
    await start({ maxInFlightBytes: 500 });
    const body = Buffer.from(ndjson(invocation('held'), invocation('held2')));
    expect(body.length).toBeLessThan(500);
    const url = new URL(`${collector.url}/v1/events`);
    // A request that declares its length and sends only half: its bytes stay in flight.
    const held = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length },
    });
    const heldResponse = new Promise<number>((resolve, reject) => {
      held.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      held.on('error', reject);
    });
    held.write(body.subarray(0, 10));
    await expect
      .poll(async () =>
        (await (await fetch(`${collector.url}/metrics`)).text()).includes(
          `collector_in_flight_bytes ${body.length}`,
        ),
      )
      .toBe(true);

    const shed = await post(ndjson(invocation('shed'), invocation('shed2')));
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');

    held.end(body.subarray(10));
    expect(await heldResponse).toBe(202);
    expect(logLines().map((line) => JSON.parse(line).event_id)).toEqual(['held', 'held2']);
  });

  test('Avro container body: records validated and stored as JSON lines', async () => {
    const container = writeAvroContainer(
      asInvocations([invocation('a'), invocation('b', { cache_read_input_tokens: 500 })]),
      'invocation',
    );
    const res = await post(container, 'application/avro');
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body).toEqual({ accepted: 1, errors: [{ index: 1, error: expect.stringContaining('cache') }] });
    const lines = logLines().map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject(invocation('a'));
    expect(lines[1]).toMatchObject({ kind: 'invocation', event_id: 'b', cache_read_input_tokens: 500 });

    const scores = await post(writeAvroContainer(asScores([score('s')]), 'score'), 'application/avro');
    expect(scores.status).toBe(202);
    expect(await scores.json()).toEqual({ accepted: 1 });
    expect(JSON.parse(logLines()[2] as string)).toMatchObject({ kind: 'score', ...score('s') });
  });

  test('a broken Avro container is a 400 with one error and stores nothing', async () => {
    const container = writeAvroContainer(asInvocations([invocation('a'), invocation('b')]), 'invocation');
    const res = await post(container.subarray(0, container.length - 5), 'application/avro');
    expect(res.status).toBe(400);
    const body = await rejection(res);
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatch(/corrupt Avro object container/);
    expect(logLines()).toEqual([]);
  });
});

test('GET /healthz', async () => {
  const res = await fetch(`${collector.url}/healthz`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ status: 'ok' });
});

test('GET /metrics exposes the collector metrics', async () => {
  await post(ndjson(invocation('a'), 'bad'));
  const res = await fetch(`${collector.url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  for (const name of [
    'collector_http_requests_total{status="400"} 1',
    'collector_records_accepted_total 1',
    'collector_records_invalid_total 1',
    'collector_request_bytes_total',
    'collector_append_duration_seconds_bucket',
    'collector_in_flight_bytes 0',
    'collector_log_next_offset 2',
  ]) {
    expect(text).toContain(name);
  }
});
