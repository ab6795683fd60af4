/**
 * The emit leg: emit() cost on the caller's thread. Runs the SDK's own benchmark,
 * producers/bench/emit.mjs (its transports: noop, http-ndjson, kafka-avro, slow; it writes
 * bench-results/emit.json), then the naive peer emit-baseline.mjs (`JSON.stringify` + `push`), each
 * in its own process, one after the other, and relates their p50/p99. Goal: p99 <= 20 us per transport.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runMeasured } from './measure.mjs';
import { fmtInt, printGoals, printTable } from './report.mjs';

export const EMIT_GOAL_P99_NS = 20_000;
const STDERR_TAIL_LINES = 20;

/** Resolves `{ status: 'ok', calls, timerOverheadNs, legs: [{ name, p50Ns, p99Ns, ..., p99ToBaseline }], baseline }` or a skip/failure. */
export async function runEmitLeg({ root, calls, log }) {
  const script = join(root, 'producers/bench/emit.mjs');
  if (!existsSync(join(root, 'producers/dist/index.js')))
    return { status: 'skipped', reason: 'producers/dist is not built (npx turbo run build)' };
  const resultFile = join(root, 'bench-results/emit.json');
  const startedAt = Date.now();
  log(`leg emit (producers/bench/emit.mjs, ${fmtInt(calls)} calls per transport)`);
  const sdk = await runMeasured(process.execPath, [script], {
    cwd: root,
    env: { EMIT_BENCH_CALLS: String(calls) },
  });
  if (sdk.code !== 0) return failed('producers/bench/emit.mjs', sdk);
  if (!existsSync(resultFile) || statSync(resultFile).mtimeMs < startedAt)
    return { status: 'failed', reason: `producers/bench/emit.mjs did not write ${resultFile}` };
  const figures = JSON.parse(readFileSync(resultFile, 'utf8'));

  log('leg emit-baseline (JSON.stringify + push)');
  const peer = await runMeasured(
    process.execPath,
    [join(root, 'test/bench/emit-baseline.mjs'), '--calls', String(calls)],
    { cwd: root },
  );
  if (peer.code !== 0) return failed('test/bench/emit-baseline.mjs', peer);
  const baseline = JSON.parse(peer.stdout.trim().split('\n').at(-1));

  const legs = Object.entries(figures.legs).map(([name, leg]) => ({
    name,
    ...leg,
    p50ToBaseline: leg.p50Ns / baseline.p50Ns,
    p99ToBaseline: leg.p99Ns / baseline.p99Ns,
  }));
  return {
    status: 'ok',
    calls,
    method: figures.method,
    timerOverheadNs: figures.timerOverheadNs,
    legs,
    baseline: { name: 'json-push', ...baseline },
  };
}

function failed(what, run) {
  const stderrTail = run.stderr.trim().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
  return { status: 'failed', reason: `${what}: exit code ${run.code ?? run.signal}`, stderrTail };
}

export function evaluateEmitGoals(result) {
  const goal = (name) => `emit() p99 <= ${EMIT_GOAL_P99_NS / 1000} us (${name} transport)`;
  if (result.status !== 'ok')
    return [{ goal: goal('any'), status: 'not measured', detail: `emit leg ${result.status}` }];
  return result.legs.map((leg) => {
    const met = leg.p99Ns <= EMIT_GOAL_P99_NS;
    const gap = met
      ? `${us(EMIT_GOAL_P99_NS - leg.p99Ns)} under`
      : `over by ${us(leg.p99Ns - EMIT_GOAL_P99_NS)}`;
    return {
      goal: goal(leg.name),
      status: met ? 'met' : 'missed',
      detail: `p99 ${us(leg.p99Ns)} (${gap}); ${leg.p99ToBaseline.toFixed(1)}x the JSON.stringify + push p99`,
    };
  });
}

export function printEmitReport(result, goals, print) {
  if (result.status !== 'ok') {
    print(
      `emit ${result.status.toUpperCase()}: ${result.reason}${result.stderrTail ? `\n${result.stderrTail}` : ''}`,
    );
    printGoals(goals, print);
    return;
  }
  const header = [
    'emit()',
    'calls',
    'mean ns',
    'p50 ns',
    'p99 ns',
    'p99.9 ns',
    'p50/peer',
    'p99/peer',
    'dropped',
  ];
  const row = (leg, ratios) => [
    leg.name,
    fmtInt(leg.calls),
    fmtInt(leg.meanNs),
    fmtInt(leg.p50Ns),
    fmtInt(leg.p99Ns),
    fmtInt(leg.p999Ns),
    ratios ? `${leg.p50ToBaseline.toFixed(1)}x` : '',
    ratios ? `${leg.p99ToBaseline.toFixed(1)}x` : '',
    ratios ? JSON.stringify(leg.dropped) : '',
  ];
  printTable(
    header,
    [
      ...result.legs.map((leg) => row(leg, true)),
      row({ ...result.baseline, name: 'peer: json-push' }, false),
    ],
    print,
  );
  print(
    `emit: timer overhead ${result.timerOverheadNs} ns in every figure; peer = JSON.stringify + array.push`,
  );
  printGoals(goals, print);
}

const us = (ns) => `${(ns / 1000).toFixed(1)} us`;
