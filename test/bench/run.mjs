/**
 * Benchmarks (see test/bench/README.md): our `genai-pipeline replay` on generated JSONL and Avro
 * inputs beside a DuckDB batch job doing comparable work on the same JSONL; emit() cost on the
 * caller's thread beside a naive peer; the live `run` pipeline fed by the producer SDK (throughput
 * beside plain fetch() batches, window freshness).
 * Exits non-zero when a leg fails; a missed goal is reported, not an error.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions, USAGE } from './args.mjs';
import { ensureAvro, ensureJsonl } from './dataset.mjs';
import { evaluateEmitGoals, printEmitReport, runEmitLeg } from './emit-leg.mjs';
import { runDuckdbLeg, runReplayLeg, skipped } from './legs.mjs';
import { evaluateLiveGoals, printLiveReport, runLiveLegs } from './live.mjs';
import { rssMethod } from './measure.mjs';
import { evaluateGoals, machineInfo, printReport, withRatios } from './report.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const resultsDir = join(root, 'bench-results');
const dataDir = join(resultsDir, 'data');
const workDir = join(resultsDir, 'work');
const log = (message) => console.log(`[bench] ${message}`);

/** Runs a leg `repeat` times; keeps the fastest successful run (with every run's seconds), or the first failure. */
async function bestOf(repeat, name, runLeg) {
  const runs = [];
  for (let i = 1; i <= repeat; i++) {
    log(`leg ${name}${repeat > 1 ? ` (run ${i}/${repeat})` : ''}`);
    const result = await runLeg();
    if (result.status !== 'ok') return result;
    runs.push(result);
  }
  const fastest = runs.reduce((best, run) => (run.seconds < best.seconds ? run : best));
  return repeat > 1 ? { ...fastest, runSeconds: runs.map((run) => run.seconds) } : fastest;
}

/** Benchmarks run alone with their own options: `--only <name>` and the module that runs it. */
const STANDALONE = {
  'cloudwatch-cost': async (args) =>
    (await import('./cloudwatch-cost.mjs')).runCloudWatchCost(args, { root, log }),
  'scale-out': async (args) => (await import('./scale-out.mjs')).runScaleOut(args, { root, log }),
};

/** `--only <standalone benchmark>`: its name and the other arguments (its own options), else null. */
function standaloneArgs(argv) {
  for (const name of Object.keys(STANDALONE)) {
    const at = argv.findIndex(
      (arg, i) => arg === `--only=${name}` || (arg === '--only' && argv[i + 1] === name),
    );
    if (at >= 0)
      return { name, args: argv.filter((_, i) => i !== at && !(argv[at] === '--only' && i === at + 1)) };
  }
  return null;
}

async function main() {
  const standalone = standaloneArgs(process.argv.slice(2));
  if (standalone) return STANDALONE[standalone.name](standalone.args);
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  mkdirSync(workDir, { recursive: true });
  const failures = [];
  if (options.runReplay || options.runDuckdb) failures.push(await runReplayBenchmark(options));
  if (options.runEmit) failures.push(await runEmitBenchmark(options));
  if (options.runLive) failures.push(await runLiveBenchmark(options));
  return failures.some(Boolean) ? 1 : 0;
}

/** Our replay legs and the DuckDB job on the same generated input; writes replay.json. True if a leg failed. */
async function runReplayBenchmark(options) {
  const jsonl = ensureJsonl(dataDir, options.events, options.seed, log);
  const expectedJsonl = { invalid: jsonl.counts.invalid, duplicates: jsonl.counts.duplicates, late: 0 };
  const legs = [];
  if (options.runReplay) {
    legs.push(
      await bestOf(options.repeat, 'replay-jsonl', () =>
        runReplayLeg({
          leg: 'replay-jsonl',
          root,
          workDir,
          input: jsonl.path,
          records: jsonl.counts.records,
          expected: expectedJsonl,
        }),
      ),
    );
    const avro = await ensureAvro(dataDir, options.events, options.seed, log);
    if (avro.skipped) {
      log(`leg replay-avro skipped: ${avro.skipped}`);
      legs.push(skipped('replay-avro', null, 0, avro.skipped));
    } else {
      const expected = { invalid: 0, duplicates: avro.duplicates, late: 0 };
      legs.push(
        await bestOf(options.repeat, 'replay-avro', () =>
          runReplayLeg({
            leg: 'replay-avro',
            root,
            workDir,
            input: avro.path,
            records: avro.records,
            expected,
          }),
        ),
      );
    }
  }
  if (options.runDuckdb) {
    legs.push(
      await bestOf(options.repeat, 'duckdb', () =>
        runDuckdbLeg({ root, workDir, input: jsonl.path, records: jsonl.counts.records }),
      ),
    );
  }
  if (options.rssGoalEvents && options.runReplay) {
    const big = ensureJsonl(dataDir, options.rssGoalEvents, options.seed, log);
    const expected = { invalid: big.counts.invalid, duplicates: big.counts.duplicates, late: 0 };
    log('leg replay-jsonl-10m');
    legs.push(
      await runReplayLeg({
        leg: 'replay-jsonl-10m',
        root,
        workDir,
        input: big.path,
        records: big.counts.records,
        expected,
      }),
    );
  }

  const results = withRatios(legs);
  const goals = evaluateGoals(results);
  printReport(results, goals, console.log);
  const resultFile = join(resultsDir, 'replay.json');
  const document = {
    machine: machineInfo(root),
    options: { events: options.events, seed: options.seed, repeat: options.repeat, rss_method: rssMethod },
    dataset: { jsonl: relative(root, jsonl.path), counts: jsonl.counts },
    legs: results.map((leg) => ({ ...leg, input: leg.input && relative(root, leg.input) })),
    goals,
  };
  writeResult(resultFile, document);
  return results.some((leg) => leg.status === 'failed');
}

/** emit() cost: producers/bench/emit.mjs beside a naive peer; writes emit-leg.json. True if it failed. */
async function runEmitBenchmark(options) {
  const result = await runEmitLeg({ root, calls: options.emitCalls, log });
  const goals = evaluateEmitGoals(result);
  printEmitReport(result, goals, console.log);
  writeResult(join(resultsDir, 'emit-leg.json'), { machine: machineInfo(root), ...result, goals });
  return result.status === 'failed';
}

/** The live pipeline under SDK load, its fetch peer and the freshness run; writes live.json. True if a leg failed. */
async function runLiveBenchmark(options) {
  const legs = await runLiveLegs({ root, workDir, options, log });
  const goals = evaluateLiveGoals(legs);
  printLiveReport(legs, goals, console.log);
  const liveOptions = {
    live_seconds: options.liveSeconds,
    live_rate: options.liveRate,
    live_producers: options.liveProducers,
    freshness_seconds: options.freshnessSeconds,
    freshness_rate: options.freshnessRate,
  };
  writeResult(join(resultsDir, 'live.json'), {
    machine: machineInfo(root),
    options: liveOptions,
    legs,
    goals,
  });
  return legs.some((leg) => leg.status === 'failed');
}

function writeResult(file, document) {
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
  log(`wrote ${relative(root, file)}`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`[bench] ${error instanceof Error ? error.message : error}`);
    console.error(USAGE);
    process.exitCode = 2;
  },
);
