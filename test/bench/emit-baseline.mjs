/**
 * The naive peer of the emit() benchmark (producers/bench/emit.mjs), in its own process: what a
 * caller pays for `lines.push(JSON.stringify(event))`, timed the way emit.mjs times emit() (one
 * process.hrtime.bigint() pair around each call, groups of 1000 calls with a setImmediate between
 * groups; the array is emptied after each group, as a sender would; emit.mjs's timer overhead
 * applies alike), on emit.mjs's own events (its exported generator).
 * `node test/bench/emit-baseline.mjs --calls N` prints one JSON line of figures.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { GROUP, makeEvents } from '../../producers/bench/emit.mjs';
import { latencyFigures } from './report.mjs';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '1000000' } } });
const calls = Math.ceil(Number(values.calls) / GROUP) * GROUP;

const events = makeEvents(GROUP);

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
