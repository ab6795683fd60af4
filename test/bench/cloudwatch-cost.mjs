/**
 * CloudWatch cost benchmark (issue 4, item 7): what our CloudWatch sink sends for 1 M events over
 * 20 minutes of event time (50,000 requests a minute) beside the seed approach (one PutMetricData call
 * and four new custom metrics, each with a RequestId dimension, per request), and a monthly list-price
 * estimate of both at that rate.
 *
 * The window results are the real processor's: the workload generator's records (workload.mjs, the
 * replay benchmark's input) go through PartitionProcessor, the pricer and the anomaly detector from
 * processors/dist, exactly as `replay` runs them; each closed window is written to the real
 * CloudWatchSink from sinks/dist and flushed (one flush per minute, as `run` does). The sink's client is
 * a counter in place of PutMetricData: calls, datums, distinct series and metric-hours are counted from
 * the requests the sink makes.
 *
 *   npm run bench -- --only cloudwatch-cost [--events N] [--seed S]
 *   node test/bench/cloudwatch-cost.mjs [--events N] [--seed S]     (after npx turbo run build)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PartitionProcessor, Pricer } from '@genai-pipeline/processors';
import { CloudWatchSink } from '@genai-pipeline/sinks';
import { generateRecords } from './workload.mjs';

const HOURS_PER_MONTH = 730;
const REQUESTS_PER_MINUTE = 50_000;
const SEED_METRICS_PER_REQUEST = 4;
const PRICE_PER_1000_REQUESTS = 0.01;
/** Custom-metric tiers: [metrics in the tier, USD per metric-month]. */
const METRIC_TIERS = [
  [10_000, 0.3],
  [240_000, 0.1],
  [750_000, 0.05],
  [Number.POSITIVE_INFINITY, 0.02],
];

/** Tiered monthly price of `metricMonths` metric-months (metric-hours / 730, i.e. prorated by hours with data). */
export function metricsPrice(metricMonths) {
  let left = metricMonths;
  let usd = 0;
  for (const [size, price] of METRIC_TIERS) {
    const inTier = Math.min(left, size);
    usd += inTier * price;
    left -= inTier;
    if (left <= 0) break;
  }
  return usd;
}

/** Counts what the sink would send to PutMetricData. */
class CountingCloudWatch {
  calls = 0;
  datums = 0;
  bytes = 0;
  series = new Set();
  metricHours = new Set();

  async putMetricData(namespace, datums) {
    this.calls++;
    this.datums += datums.length;
    this.bytes += Buffer.byteLength(JSON.stringify({ Namespace: namespace, MetricData: datums }));
    for (const datum of datums) {
      const dimensions = (datum.Dimensions ?? []).map((d) => `${d.Name}=${d.Value}`).join(',');
      const series = `${datum.MetricName}|${dimensions}`;
      this.series.add(series);
      this.metricHours.add(`${series}|${Math.floor(datum.Timestamp.getTime() / 3_600_000)}`);
    }
  }
}

function monthly({ callsPerMinute, metricHoursPerHour }) {
  const calls = callsPerMinute * 60 * HOURS_PER_MONTH;
  const metricMonths = (metricHoursPerHour * HOURS_PER_MONTH) / HOURS_PER_MONTH;
  const requestsUsd = (calls / 1000) * PRICE_PER_1000_REQUESTS;
  const metricsUsd = metricsPrice(metricMonths);
  return {
    calls,
    metric_months: metricMonths,
    requests_usd: requestsUsd,
    metrics_usd: metricsUsd,
    total_usd: requestsUsd + metricsUsd,
  };
}

export async function runCloudWatchCost(argv, { root, log = console.log }) {
  const { values } = parseArgs({
    args: argv,
    options: { events: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '42' } },
  });
  const events = Number(values.events.replaceAll('_', ''));
  const seed = Number(values.seed);
  if (!Number.isInteger(events) || events < 1)
    throw new Error(`--events must be a positive integer, got ${values.events}`);
  // The detector is not part of the processors package's API; the bench loads the built module as `replay` uses it.
  const { AnomalyDetector } = await import(
    pathToFileURL(join(root, 'processors/dist/anomaly/detector.js')).href
  );

  // The workload starts at 08:00 UTC on 2025-01-15 and advances 1.2 ms a record.
  const lastMs = Date.UTC(2025, 0, 15, 8, 0, 0) + Math.ceil(events * 1.2);
  // The sink's clock sits just after the data, so nothing is past CloudWatch's 14-day horizon.
  const now = lastMs + 10 * 60_000;
  const cloudwatch = new CountingCloudWatch();
  const sink = new CloudWatchSink({ client: cloudwatch, clock: () => now, log });
  const closed = [];
  const processor = new PartitionProcessor({
    maxOutOfOrdernessMs: 30_000,
    pricer: new Pricer(),
    detector: new AnomalyDetector(),
    output: {
      raw: () => undefined,
      deadLetter: () => undefined,
      windowClosed: (window) => closed.push(window),
    },
    clock: () => now,
  });
  const started = performance.now();
  const callsPerFlush = [];
  let requests = 0;
  let firstMs = Number.POSITIVE_INFINITY;
  const deliver = async () => {
    while (closed.length > 0) {
      firstMs = Math.min(firstMs, closed[0].windowStart);
      for (const row of closed[0].rollups) requests += row.requests;
      const before = { calls: cloudwatch.calls, datums: cloudwatch.datums };
      await sink.write(closed.splice(0, 1));
      await sink.flush();
      callsPerFlush.push({
        calls: cloudwatch.calls - before.calls,
        datums: cloudwatch.datums - before.datums,
      });
    }
  };
  let offset = 0;
  for (const record of generateRecords(events, seed)) {
    processor.process({ format: 'json', text: record.line }, offset++);
    if (closed.length > 0) await deliver();
  }
  processor.closeAll();
  await deliver();
  await sink.close();
  const seconds = (performance.now() - started) / 1000;

  const minutes = callsPerFlush.length;
  const health = sink.health();
  const ours = {
    windows: minutes,
    calls: cloudwatch.calls,
    datums: cloudwatch.datums,
    request_bytes: cloudwatch.bytes,
    distinct_series: cloudwatch.series.size,
    metric_hours: cloudwatch.metricHours.size,
    max_calls_per_flush: Math.max(...callsPerFlush.map((f) => f.calls)),
    flushes_within_ceil_datums_over_1000: callsPerFlush.every((f) => f.calls <= Math.ceil(f.datums / 1000)),
    guard_folds: health.guardFolds,
    out_of_horizon: health.outOfHorizon,
  };
  const seedApproach = {
    calls: requests,
    datums: requests * SEED_METRICS_PER_REQUEST,
    distinct_series: requests * SEED_METRICS_PER_REQUEST,
    // Each RequestId metric receives data in exactly one hour.
    metric_hours: requests * SEED_METRICS_PER_REQUEST,
  };
  // Monthly at a sustained 50,000 requests a minute. Ours: every series gets data every hour, so its
  // metric-hours per hour equal its distinct series (which do not grow with traffic); calls per minute
  // as measured. Seed: 4 new metrics per request, each with data in one hour.
  const ourCallsPerMinute = ours.calls / minutes;
  const estimate = {
    hours_per_month: HOURS_PER_MONTH,
    requests_per_minute: REQUESTS_PER_MINUTE,
    formula:
      'requests_usd = calls_per_month / 1000 * 0.01; metric_months = metric_hours_per_month / 730 (custom metrics prorated by the hours in which they receive data); metrics_usd = tiered(metric_months: first 10k at $0.30, next 240k at $0.10, next 750k at $0.05, beyond at $0.02); total = requests_usd + metrics_usd',
    ours: monthly({ callsPerMinute: ourCallsPerMinute, metricHoursPerHour: ours.distinct_series }),
    seed: monthly({
      callsPerMinute: REQUESTS_PER_MINUTE,
      metricHoursPerHour: REQUESTS_PER_MINUTE * 60 * SEED_METRICS_PER_REQUEST,
    }),
  };
  const ratios = {
    calls: seedApproach.calls / ours.calls,
    datums: seedApproach.datums / ours.datums,
    distinct_series: seedApproach.distinct_series / ours.distinct_series,
    metric_hours: seedApproach.metric_hours / ours.metric_hours,
    monthly_usd: estimate.seed.total_usd / estimate.ours.total_usd,
  };
  const goals = {
    calls_ratio_at_least_10000: ratios.calls >= 10_000,
    // Series come from metrics × dimension values (capped per day by the guard), never from request counts.
    series_per_request: ours.distinct_series / requests,
  };

  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const usd = (n) => `$${n.toLocaleString('en-US', { maximumFractionDigits: 2, minimumFractionDigits: 2 })}`;
  log(
    `cloudwatch-cost: ${fmt(events)} records, ${fmt(requests)} model requests, ${minutes} windows of event time from ${new Date(firstMs).toISOString()}, ${seconds.toFixed(1)} s`,
  );
  log('                         ours        seed approach      seed / ours');
  for (const [label, key] of [
    ['PutMetricData calls', 'calls'],
    ['datums', 'datums'],
    ['distinct series', 'distinct_series'],
    ['metric-hours', 'metric_hours'],
  ]) {
    log(
      `  ${label.padEnd(20)} ${fmt(ours[key]).padStart(10)} ${fmt(seedApproach[key]).padStart(18)} ${ratios[key].toFixed(0).padStart(14)}x`,
    );
  }
  log(
    `  max calls per flush: ${ours.max_calls_per_flush}; every flush <= ceil(datums/1000): ${ours.flushes_within_ceil_datums_over_1000}`,
  );
  log(`monthly at ${fmt(REQUESTS_PER_MINUTE)} requests/minute (${HOURS_PER_MONTH} h):`);
  for (const [label, e] of [
    ['ours', estimate.ours],
    ['seed', estimate.seed],
  ]) {
    log(
      `  ${label}: ${fmt(e.calls)} calls -> ${usd(e.requests_usd)}; ${fmt(e.metric_months)} metric-months -> ${usd(e.metrics_usd)}; total ${usd(e.total_usd)}`,
    );
  }
  log(`  ratio ${ratios.monthly_usd.toFixed(0)}x; ${estimate.formula}`);
  log(
    `goal >= 10,000x fewer calls: ${goals.calls_ratio_at_least_10000 ? 'met' : 'MISSED'} (${ratios.calls.toFixed(0)}x)`,
  );

  const resultsDir = join(root, 'bench-results');
  mkdirSync(resultsDir, { recursive: true });
  const resultFile = join(resultsDir, 'cloudwatch-cost.json');
  const document = {
    options: { events, seed },
    input: {
      records: events,
      model_requests: requests,
      requests_counted_from: 'the requests column of the rollups the processor emitted',
      windows: minutes,
      first_window_start: new Date(firstMs).toISOString(),
      window_results:
        'PartitionProcessor + Pricer + AnomalyDetector from processors/dist over workload.mjs records',
    },
    seconds,
    ours,
    seed_approach: seedApproach,
    ratios,
    monthly_estimate: estimate,
    goals,
  };
  writeFileSync(resultFile, `${JSON.stringify(document, null, 2)}\n`);
  log(`wrote ${relative(root, resultFile)}`);
  // A missed goal is reported, not a failure (as in the replay benchmark).
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  runCloudWatchCost(process.argv.slice(2), { root }).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(`[bench] ${error instanceof Error ? error.message : error}`);
      process.exitCode = 2;
    },
  );
}
