/**
 * Load generator of the live legs (test/bench/live.mjs), in its own process so that its CPU shows
 * apart from the measuring process. Sends the workload's valid invocations and scores (workload.mjs),
 * each with a fresh event_id and event_time = the real clock at send time, to a running collector
 * from `--start-at` (epoch ms) for `--seconds`:
 * - `--mode sdk`: through the producer SDK (createEmitter + the http transport, default options);
 * - `--mode fetch`: the peer, plain fetch() of x-ndjson batches of the SDK's default batch size, one
 *   request in flight like the SDK (the next batch is built meanwhile), no validation.
 * `--rate 0` (default) sends as fast as the collector acknowledges: the SDK leg keeps the emitter's
 * held events below 80% of its buffer bound, so nothing is dropped for want of room; `--rate N`
 * offers N events/s whatever happens (open loop: an SDK buffer that fills drops as `buffer_full`).
 * Prints one JSON line on stdout: counts at the end of the window, then after the final flush.
 */
import { setTimeout as sleep, setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createEmitter, HttpTransport } from '@genai-pipeline/producers';
import { generateRecords } from './workload.mjs';

const POOL_RECORDS = 20_000;
/** The SDK's defaults (maxBatchEvents 500, maxBufferedEvents 10 000): the fetch peer sends the same batches. */
const BATCH_EVENTS = 500;
const SDK_MAX_BUFFERED = 10_000;
const SDK_HELD_TARGET = Math.floor(SDK_MAX_BUFFERED * 0.8);
const EMITS_PER_TURN = 1000;
const RATE_TICK_MS = 5;
const CLOSE_TIMEOUT_MS = 30_000;

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    mode: { type: 'string', default: 'sdk' },
    seconds: { type: 'string' },
    'start-at': { type: 'string' },
    rate: { type: 'string', default: '0' },
    producer: { type: 'string', default: '0' },
  },
});
const startAt = Number(values['start-at']);
const endAt = startAt + Number(values.seconds) * 1000;
const rate = Number(values.rate);
const producer = Number(values.producer);

/** Event templates: the workload's valid records as JSON-lines objects (`kind` on scores, no nulls). */
const templates = [];
for (const record of generateRecords(POOL_RECORDS, 7 + producer))
  if (record.kind !== 'invalid' && !record.duplicate) templates.push(JSON.parse(record.line));

const runTag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
let made = 0;
function nextEvent() {
  const template = templates[made % templates.length];
  return { ...template, event_id: `live-${runTag}-${producer}-${made++}`, event_time: Date.now() };
}

/** Events that should have been offered by now at `rate` events/s (open loop). */
const dueByNow = () => Math.floor(((Math.min(Date.now(), endAt) - startAt) * rate) / 1000);

async function runSdk() {
  const emitter = createEmitter({ transport: new HttpTransport({ url: `${values.url}/v1/events` }) });
  while (Date.now() < endAt) {
    if (rate > 0) {
      const due = dueByNow() - made;
      for (let i = 0; i < due; i++) emitter.emit(nextEvent());
      await sleep(RATE_TICK_MS);
      continue;
    }
    const { buffered, inFlight } = emitter.stats();
    const room = Math.min(SDK_HELD_TARGET - buffered - inFlight, EMITS_PER_TURN);
    if (room <= 0) {
      await sleep(1);
      continue;
    }
    for (let i = 0; i < room; i++) emitter.emit(nextEvent());
    await yieldToLoop();
  }
  const atWindowEnd = sdkCounts(emitter.stats());
  const closeStarted = Date.now();
  await emitter.close({ timeoutMs: CLOSE_TIMEOUT_MS });
  const final = emitter.stats();
  return {
    atWindowEnd,
    final: sdkCounts(final),
    closeSeconds: (Date.now() - closeStarted) / 1000,
    retried: final.retried,
    lastError: final.lastError ?? null,
  };
}

function sdkCounts(stats) {
  const dropped = Object.fromEntries(Object.entries(stats.dropped).filter(([, count]) => count > 0));
  return { emitted: stats.emitted, acknowledged: stats.sent, dropped, held: stats.buffered + stats.inFlight };
}

async function runFetch() {
  let acknowledged = 0;
  let unavailable = 0;
  let lastError = null;
  /** Posts one body until the collector takes it: a 503 (load shedding) is retried after Retry-After, as the SDK does. */
  const post = async (body, count) => {
    for (;;) {
      const response = await fetch(`${values.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body,
      });
      await response.arrayBuffer();
      if (response.status === 202) {
        acknowledged += count;
        return;
      }
      if (response.status !== 503) {
        lastError = `HTTP ${response.status}`;
        return;
      }
      unavailable++;
      await sleep(Number(response.headers.get('retry-after') ?? 1) * 1000);
    }
  };
  let sending = Promise.resolve();
  while (Date.now() < endAt) {
    const count = rate > 0 ? Math.min(BATCH_EVENTS, dueByNow() - made) : BATCH_EVENTS;
    if (count <= 0) {
      await sleep(RATE_TICK_MS);
      continue;
    }
    const lines = [];
    for (let i = 0; i < count; i++) lines.push(JSON.stringify(nextEvent()));
    // The batch is built while the previous one is in flight (the SDK also encodes while it sends).
    await sending;
    sending = post(`${lines.join('\n')}\n`, count);
  }
  const atWindowEnd = { emitted: made, acknowledged, dropped: {}, held: 0 };
  await sending;
  const final = { emitted: made, acknowledged, dropped: {}, held: 0 };
  return { atWindowEnd, final, closeSeconds: 0, retried: unavailable, lastError };
}

const wait = startAt - Date.now();
if (wait > 0) await sleep(wait);
const result = values.mode === 'fetch' ? await runFetch() : await runSdk();
const { user, system } = process.cpuUsage();
console.log(
  JSON.stringify({ producer, mode: values.mode, rate, ...result, cpuSeconds: (user + system) / 1e6 }),
);
