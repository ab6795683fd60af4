/**
 * The naive peer of the emit() benchmark (producers/bench/emit.mjs), in its own process: what a
 * caller pays for `lines.push(JSON.stringify(event))`, timed the way emit.mjs times emit() (one
 * process.hrtime.bigint() pair around each call, groups of 1000 calls with a setImmediate between
 * groups; the array is emptied after each group, as a sender would; emit.mjs's timer overhead
 * applies alike). The events have the fields and
 * values of emit.mjs's events (its generator is not exported, see test/bench/README.md).
 * `node test/bench/emit-baseline.mjs --calls N` prints one JSON line of figures.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { latencyFigures } from './report.mjs';

const GROUP = 1000;

const { values } = parseArgs({ options: { calls: { type: 'string', default: '1000000' } } });
const calls = Math.ceil(Number(values.calls) / GROUP) * GROUP;

const now = Date.now();
const events = Array.from({ length: GROUP }, (_, i) => ({
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

const ns = new Float64Array(calls);
const lines = [];
let bytes = 0;
for (let done = 0; done < calls; done += GROUP) {
  for (let i = 0; i < GROUP; i++) {
    const event = events[i];
    const t0 = process.hrtime.bigint();
    lines.push(JSON.stringify(event));
    ns[done + i] = Number(process.hrtime.bigint() - t0);
  }
  // Keeps the work observable (so it cannot be optimised away) and the array bounded.
  for (const line of lines) bytes += line.length;
  lines.length = 0;
  await yieldToLoop();
}
console.log(JSON.stringify({ bytes, ...latencyFigures(ns) }));
