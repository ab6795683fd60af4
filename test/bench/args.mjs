/** Command-line options of `node test/bench/run.mjs`. */
import { parseArgs } from 'node:util';
import { RSS_GOAL_EVENTS } from './report.mjs';

export const USAGE = `usage: node test/bench/run.mjs [--events N] [--seed S] [--only replay|duckdb] [--repeat K] [--rss-10m]
  --events N   records in the generated input (default 1000000; 1_000_000 and 1e6 work too)
  --seed S     generator seed (default 42)
  --only LEG   run only our replay legs (JSONL + Avro) or only the DuckDB job
  --repeat K   run each leg K times and keep its fastest run (default 1; the machine is shared)
  --rss-10m    also replay 10 M JSONL records for the peak-RSS goal (slow: generates ~5 GB once)`;

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string', default: '1000000' },
      seed: { type: 'string', default: '42' },
      only: { type: 'string' },
      repeat: { type: 'string', default: '1' },
      'rss-10m': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const events = Number(values.events.replaceAll('_', ''));
  if (!Number.isInteger(events) || events < 1)
    throw new Error(`--events must be a positive integer, got ${values.events}`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new Error(`--repeat must be a positive integer, got ${values.repeat}`);
  if (values.only !== undefined && values.only !== 'replay' && values.only !== 'duckdb')
    throw new Error(`--only must be replay or duckdb, got ${values.only}`);
  return {
    help: values.help,
    events,
    seed,
    repeat,
    runReplay: values.only !== 'duckdb',
    runDuckdb: values.only !== 'replay',
    rssGoalEvents: values['rss-10m'] ? RSS_GOAL_EVENTS : null,
  };
}
