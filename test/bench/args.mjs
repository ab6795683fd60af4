/** Command-line options of `node test/bench/run.mjs`. */
import { parseArgs } from 'node:util';
import { RSS_GOAL_EVENTS } from './report.mjs';

const LEGS = ['replay', 'duckdb', 'emit', 'live'];

export const USAGE = `usage: node test/bench/run.mjs [--events N] [--seed S] [--only ${LEGS.join('|')}] [--repeat K] [--rss-10m]
         [--emit-calls N] [--live-seconds S] [--live-rate R] [--live-producers P]
         [--freshness-seconds S] [--freshness-rate R]
  --events N   records in the generated input (default 1000000; 1_000_000 and 1e6 work too)
  --seed S     generator seed (default 42)
  --only LEG   run only our replay legs (JSONL + Avro), only the DuckDB job, only the emit() cost, or
               only the live legs (run + SDK load; default: all of them); --only cloudwatch-cost and
               --only scale-out: see test/bench/cloudwatch-cost.mjs and test/bench/scale-out.mjs
  --repeat K   run each replay/DuckDB leg K times and keep its fastest run (default 1; the machine is shared)
  --rss-10m    also replay 10 M JSONL records for the peak-RSS goal (slow: generates ~5 GB once)
  --emit-calls N        emit() calls timed per transport (default 1000000)
  --live-seconds S      load window of the live-sdk and live-fetch legs (default 30)
  --live-rate R         events/s each load process offers in those legs (default 0: as fast as acknowledged)
  --live-producers P    load processes in those legs (default 1)
  --freshness-seconds S load window of the live-freshness leg (default 150; 0 skips it)
  --freshness-rate R    events/s of the live-freshness leg (default 1000)`;

function integer(name, text, min) {
  const value = Number(text.replaceAll('_', ''));
  if (!Number.isInteger(value) || value < min)
    throw new Error(`--${name} must be an integer >= ${min}, got ${text}`);
  return value;
}

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string', default: '1000000' },
      seed: { type: 'string', default: '42' },
      only: { type: 'string' },
      repeat: { type: 'string', default: '1' },
      'rss-10m': { type: 'boolean', default: false },
      'emit-calls': { type: 'string', default: '1000000' },
      'live-seconds': { type: 'string', default: '30' },
      'live-rate': { type: 'string', default: '0' },
      'live-producers': { type: 'string', default: '1' },
      'freshness-seconds': { type: 'string', default: '150' },
      'freshness-rate': { type: 'string', default: '1000' },
      help: { type: 'boolean', default: false },
    },
  });
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  if (values.only !== undefined && !LEGS.includes(values.only))
    throw new Error(
      `--only must be one of ${LEGS.join(', ')} or cloudwatch-cost or scale-out, got ${values.only}`,
    );
  const runs = (leg) => values.only === undefined || values.only === leg;
  return {
    help: values.help,
    events: integer('events', values.events, 1),
    seed,
    repeat: integer('repeat', values.repeat, 1),
    runReplay: runs('replay'),
    runDuckdb: runs('duckdb'),
    runEmit: runs('emit'),
    runLive: runs('live'),
    rssGoalEvents: values['rss-10m'] ? RSS_GOAL_EVENTS : null,
    emitCalls: integer('emit-calls', values['emit-calls'], 1000),
    liveSeconds: integer('live-seconds', values['live-seconds'], 1),
    liveRate: integer('live-rate', values['live-rate'], 0),
    liveProducers: integer('live-producers', values['live-producers'], 1),
    freshnessSeconds: integer('freshness-seconds', values['freshness-seconds'], 0),
    freshnessRate: integer('freshness-rate', values['freshness-rate'], 1),
  };
}
