/**
 * emit() cost on the caller's thread, over the built dist (run `npx turbo run build` first).
 * Each call is timed alone with process.hrtime.bigint() (the figures include one hrtime call,
 * measured and printed as `timerOverheadNs`). Calls run in groups of 1000 with a setImmediate
 * between groups, so the emitter's own sending (microtasks, timers, I/O) happens as in an app,
 * outside the timed calls. Legs:
 * - noop: a transport whose encode and send do nothing (the emitter's own cost: validate + enqueue);
 * - http-ndjson: the real http transport's encode (JSON line), send a no-op;
 * - kafka-avro: the real single-object Avro encode + partition key, send a no-op;
 * - slow: sends take 50 ms, so the buffer fills and most calls take the drop path.
 * Writes bench-results/emit.json at the repository root. Goal: p99 <= 20 us.
 * Exports its event generator and group size for test/bench/emit-baseline.mjs, its naive peer; run as
 * a script (`node producers/bench/emit.mjs`) it runs the legs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createEmitter, HttpTransport, KafkaTransport } from '../dist/index.js';

const CALLS = Number(process.env.EMIT_BENCH_CALLS ?? 1_000_000);
/** Calls timed between two turns of the event loop. */
export const GROUP = 1000;
const GOAL_P99_NS = 20_000;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outFile = join(root, 'bench-results', 'emit.json');

const noopLimits = { maxBatchEvents: 10_000, maxBatchBytes: 64 * 1024 * 1024, maxRecordBytes: 1024 * 1024 };
const delivered = Promise.resolve({ failures: [] });

const transports = {
  noop: () => ({ name: 'noop', limits: noopLimits, encode: () => ({ bytes: 1 }), send: () => delivered }),
  'http-ndjson': () => {
    const t = new HttpTransport({ url: 'http://127.0.0.1:9/v1/events' });
    t.send = () => delivered;
    return t;
  },
  'kafka-avro': () => {
    const producer = { connect: async () => {}, send: async () => [], disconnect: async () => {} };
    return new KafkaTransport({ topic: 'bench', producer });
  },
  slow: () => ({
    name: 'slow',
    limits: noopLimits,
    encode: () => ({ bytes: 1 }),
    send: () => new Promise((r) => setTimeout(() => r({ failures: [] }), 50)),
  }),
};

/** `n` invocation events with every common field set, spread over a few services, models and tenants. */
export function makeEvents(n) {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    event_id: `bench-${i}`,
    event_time: now,
    service: `svc-${i % 7}`,
    provider: 'aws.bedrock',
    model_id: `model-${i % 5}`,
    operation: 'chat',
    input_tokens: 1000 + i,
    output_tokens: 200,
    cache_read_input_tokens: 500,
    latency_ms: 812.5,
    ttft_ms: 120,
    status: 'OK',
    finish_reason: 'end_turn',
    tenant_id: `tenant-${i % 11}`,
  }));
}

function timerOverheadNs() {
  const samples = new Float64Array(100_000);
  for (let i = 0; i < samples.length; i++) {
    const t0 = process.hrtime.bigint();
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  samples.sort();
  return samples[samples.length >> 1];
}

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))];

async function runLeg(name) {
  const emitter = createEmitter({ transport: transports[name](), maxBatchAgeMs: 50 });
  const events = makeEvents(GROUP);
  const ns = new Float64Array(CALLS);
  for (let done = 0; done < CALLS; done += GROUP) {
    for (let i = 0; i < GROUP; i++) {
      const event = events[i];
      const t0 = process.hrtime.bigint();
      emitter.emit(event);
      ns[done + i] = Number(process.hrtime.bigint() - t0);
    }
    await yieldToLoop();
  }
  const stats = emitter.stats();
  await emitter.close({ timeoutMs: 1000 });
  let sum = 0;
  for (const v of ns) sum += v;
  ns.sort();
  return {
    calls: CALLS,
    meanNs: Math.round(sum / CALLS),
    p50Ns: percentile(ns, 0.5),
    p99Ns: percentile(ns, 0.99),
    p999Ns: percentile(ns, 0.999),
    maxNs: ns[ns.length - 1],
    sent: stats.sent,
    dropped: Object.fromEntries(Object.entries(stats.dropped).filter(([, v]) => v > 0)),
  };
}

async function main() {
  const overhead = timerOverheadNs();
  const legs = {};
  for (const name of Object.keys(transports)) {
    legs[name] = await runLeg(name);
    const l = legs[name];
    console.log(
      `[emit] ${name.padEnd(12)} mean ${l.meanNs} ns  p50 ${l.p50Ns} ns  p99 ${l.p99Ns} ns  p99.9 ${l.p999Ns} ns  ` +
        `sent ${l.sent}  dropped ${JSON.stringify(l.dropped)}`,
    );
  }
  const worstP99 = Math.max(...Object.values(legs).map((l) => l.p99Ns));
  const result = {
    benchmark: 'emit',
    method:
      'process.hrtime.bigint() around every call; groups of 1000 calls with setImmediate between groups',
    node: process.version,
    timerOverheadNs: overhead,
    goal: { p99Ns: GOAL_P99_NS, met: worstP99 <= GOAL_P99_NS },
    legs,
  };
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `[emit] timer overhead ${overhead} ns; worst p99 ${worstP99} ns (goal <= ${GOAL_P99_NS}): ${result.goal.met ? 'met' : 'MISSED'}`,
  );
  console.log(`[emit] wrote ${outFile}`);
}

// Imported (by the baseline) for its events only: the legs run when this file is the script.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
