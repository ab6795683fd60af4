/**
 * The benchmark legs. Each returns
 * `{ leg, input, records, status: 'ok' | 'skipped' | 'failed', seconds, eventsPerSecond, peakRssMb, ... }`.
 * Throughput is records in the input file / wall time of the whole child process (startup included,
 * for both sides alike).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runMeasured } from './measure.mjs';

const STDERR_TAIL_LINES = 20;

/** Our side: `genai-pipeline replay --input FILE --lake DIR` on a fresh lake; parses its summary line. */
export async function runReplayLeg({ leg, root, workDir, input, records, expected }) {
  const cli = join(root, 'processors/dist/cli/main.js');
  if (!existsSync(cli))
    return skipped(leg, input, records, `${cli} not built yet (the replay CLI is missing)`);
  const lake = freshDir(join(workDir, `${leg}-lake`));
  const run = await runMeasured(process.execPath, [cli, 'replay', '--input', input, '--lake', lake], {
    cwd: root,
  });
  const outputBytes = directoryBytes(lake);
  rmSync(lake, { recursive: true, force: true });
  if (run.code !== 0) return failed(leg, input, records, run);
  const summaryLine = run.stdout.trim().split('\n').at(-1) ?? '';
  const summary = parseSummary(summaryLine);
  return {
    ...measured(leg, input, records, run),
    outputBytes,
    summaryLine,
    summary,
    warnings: summaryWarnings(summary, records, expected),
  };
}

/** DuckDB side: duckdb-job.mjs in its own process on the same JSON lines file. */
export async function runDuckdbLeg({ root, workDir, input, records }) {
  const leg = 'duckdb';
  const out = freshDir(join(workDir, 'duckdb-out'));
  const job = join(root, 'test/bench/duckdb-job.mjs');
  const run = await runMeasured(process.execPath, [job, '--input', input, '--out', out], { cwd: root });
  const outputBytes = directoryBytes(out);
  rmSync(out, { recursive: true, force: true });
  if (run.code !== 0) return failed(leg, input, records, run);
  const jobResult = JSON.parse(run.stdout.trim().split('\n').at(-1));
  return { ...measured(leg, input, records, run), outputBytes, duckdb: jobResult };
}

function parseSummary(line) {
  try {
    const summary = JSON.parse(line);
    return typeof summary === 'object' && summary !== null ? summary : null;
  } catch {
    return null;
  }
}

/** Checks the CONTRACT.md §5 summary against what the generator wrote; mismatches are reported, not fatal. */
function summaryWarnings(summary, records, expected) {
  if (!summary) return ['last stdout line is not the JSON summary of CONTRACT.md §5'];
  const warnings = [];
  if (summary.events !== records)
    warnings.push(`summary.events ${summary.events} != ${records} records in the input`);
  if (summary.invalid + summary.duplicates + summary.accepted !== summary.events)
    warnings.push('summary: invalid + duplicates + accepted != events');
  for (const key of ['invalid', 'duplicates', 'late'])
    if (expected[key] !== undefined && summary[key] !== expected[key])
      warnings.push(`summary.${key} ${summary[key]}, generator wrote ${expected[key]}`);
  return warnings;
}

function measured(leg, input, records, run) {
  return {
    leg,
    input,
    records,
    status: 'ok',
    seconds: run.seconds,
    eventsPerSecond: records / run.seconds,
    peakRssMb: run.peakRssMb,
  };
}

export function skipped(leg, input, records, reason) {
  return { leg, input, records, status: 'skipped', reason };
}

function failed(leg, input, records, run) {
  const stderrTail = run.stderr.trim().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
  const how = run.signal ? `killed by ${run.signal}` : `exit code ${run.code}`;
  return { leg, input, records, status: 'failed', reason: how, seconds: run.seconds, stderrTail };
}

function freshDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

function directoryBytes(dir) {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += statSync(join(entry.parentPath ?? entry.path, entry.name)).size;
  return total;
}
