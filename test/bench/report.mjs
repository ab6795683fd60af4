/** Prints the results table and goals, and builds the JSON result document. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';

export const THROUGHPUT_GOAL_RATIO = 0.5;
export const RSS_GOAL_MB = 500;
export const RSS_GOAL_EVENTS = 10_000_000;

export function machineInfo(root) {
  return {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    total_memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
    // Other work on these 2 cores skews the figures: keep the load beside them.
    load_average_1m: loadavg()[0],
    commit: gitCommit(root),
  };
}

function gitCommit(root) {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown';
  }
}

/** Our legs that run on the DuckDB leg's N (the 10 M leg does not). */
const COMPARED_LEGS = ['replay-jsonl', 'replay-avro'];

/** Adds `ratioToDuckdb` (ours events/s over DuckDB's) to our successful legs of the same N. */
export function withRatios(legs) {
  const duckdb = legs.find((leg) => leg.leg === 'duckdb' && leg.status === 'ok');
  return legs.map((leg) =>
    leg.status === 'ok' && duckdb && COMPARED_LEGS.includes(leg.leg)
      ? { ...leg, ratioToDuckdb: leg.eventsPerSecond / duckdb.eventsPerSecond }
      : leg,
  );
}

/** Each goal: `{ goal, status: 'met' | 'missed' | 'not measured', detail }`. */
export function evaluateGoals(legs) {
  const goals = [];
  const duckdb = legs.find((leg) => leg.leg === 'duckdb' && leg.status === 'ok');
  for (const leg of legs.filter((l) => COMPARED_LEGS.includes(l.leg))) {
    const goal = `${leg.leg}: >= ${THROUGHPUT_GOAL_RATIO}x DuckDB events/s`;
    if (leg.ratioToDuckdb === undefined) {
      goals.push({
        goal,
        status: 'not measured',
        detail: duckdb ? `leg ${leg.status}` : 'DuckDB leg did not run',
      });
      continue;
    }
    const needed = THROUGHPUT_GOAL_RATIO * duckdb.eventsPerSecond;
    goals.push({
      goal,
      status: leg.ratioToDuckdb >= THROUGHPUT_GOAL_RATIO ? 'met' : 'missed',
      detail: `${leg.ratioToDuckdb.toFixed(2)}x; ${fmtInt(leg.eventsPerSecond)} of ${fmtInt(needed)} events/s needed (gap ${fmtInt(Math.max(0, needed - leg.eventsPerSecond))})`,
    });
  }
  const goal = `replay-jsonl peak RSS < ${RSS_GOAL_MB} MB at ${RSS_GOAL_EVENTS / 1e6} M events`;
  const big = legs.find((leg) => leg.leg.startsWith('replay-jsonl') && leg.records >= RSS_GOAL_EVENTS);
  if (big?.status !== 'ok')
    goals.push({ goal, status: 'not measured', detail: big ? `leg ${big.status}` : 'run with --rss-10m' });
  else
    goals.push({
      goal,
      status: big.peakRssMb < RSS_GOAL_MB ? 'met' : 'missed',
      detail: `${big.peakRssMb.toFixed(0)} MB${big.peakRssMb < RSS_GOAL_MB ? '' : ` (over by ${(big.peakRssMb - RSS_GOAL_MB).toFixed(0)} MB)`}`,
    });
  return goals;
}

export function printReport(legs, goals, print) {
  const header = ['leg', 'events', 'seconds', 'events/s', 'peak RSS MB', 'ours/DuckDB'];
  const rows = legs.map((leg) =>
    leg.status === 'ok'
      ? [
          leg.leg,
          fmtInt(leg.records),
          leg.seconds.toFixed(2),
          fmtInt(leg.eventsPerSecond),
          leg.peakRssMb.toFixed(0),
          leg.ratioToDuckdb === undefined ? '' : `${leg.ratioToDuckdb.toFixed(2)}x`,
        ]
      : [leg.leg, fmtInt(leg.records), leg.status, '', '', ''],
  );
  printTable(header, rows, print);
  for (const leg of legs) {
    if (leg.summaryLine) print(`${leg.leg} summary: ${leg.summaryLine}`);
    for (const warning of leg.warnings ?? []) print(`${leg.leg} WARNING: ${warning}`);
    if (leg.duckdb) print(`duckdb: threads=${leg.duckdb.threads}, steps ${JSON.stringify(leg.duckdb.steps)}`);
    if (leg.status === 'skipped') print(`${leg.leg} SKIPPED: ${leg.reason}`);
    if (leg.status === 'failed') print(`${leg.leg} FAILED (${leg.reason}); stderr tail:\n${leg.stderrTail}`);
  }
  print('');
  printGoals(goals, print);
}

export function printGoals(goals, print) {
  for (const goal of goals) print(`goal ${goal.status.toUpperCase()}: ${goal.goal}: ${goal.detail}`);
}

/** A blank line, the header and rows (first column left-aligned, the others right-aligned), a blank line. */
export function printTable(header, rows, print) {
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => String(row[i]).length)));
  const line = (row) =>
    row
      .map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i])))
      .join('  ');
  print('');
  print(line(header));
  for (const row of rows) print(line(row));
  print('');
}

/** Nearest-rank percentile (q in (0, 1]) of ascending `sorted`: p99 of 3 samples is the largest. */
export function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Sorts `ns` (a Float64Array of per-call nanoseconds) in place; figures named as producers/bench/emit.mjs names them. */
export function latencyFigures(ns) {
  let sum = 0;
  for (const v of ns) sum += v;
  ns.sort();
  return {
    calls: ns.length,
    meanNs: Math.round(sum / ns.length),
    p50Ns: percentile(ns, 0.5),
    p99Ns: percentile(ns, 0.99),
    p999Ns: percentile(ns, 0.999),
    maxNs: ns[ns.length - 1],
  };
}

export function fmtInt(value) {
  return Math.round(value).toLocaleString('en-US');
}
