/**
 * The live legs: the built `genai-pipeline run` (embedded collector, local lake) as a child process,
 * driven by live-load.mjs child processes for a fixed window, event_time = the real clock.
 * - live-sdk: through the producer SDK, as fast as the collector acknowledges;
 * - live-fetch: the peer, the same events as plain fetch() x-ndjson batches (no SDK);
 * - live-freshness: the SDK at a steady rate for a few minutes; each new file under
 *   `<lake>/rollups_1m/**` gives, for every window start its name covers, (time the file appeared -
 *   window end).
 * Every leg reports events/s emitted, acknowledged (by the collector) and processed (the run's
 * /metrics), drops, consumer lag, the time to drain what was acknowledged, and the run's peak RSS.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipped } from './legs.mjs';
import { fmtInt, percentile, printGoals, printTable } from './report.mjs';

export const MAX_OUT_OF_ORDERNESS_MS = 30_000;
export const FRESHNESS_GOAL_MS = MAX_OUT_OF_ORDERNESS_MS + 2_000;
const WINDOW_MS = 60_000;
/** Time the load processes get to load modules and build their event pool before the window opens. */
const LOAD_START_LEAD_MS = 2_000;
const POLL_MS = 250;
const METRICS_EVERY_POLLS = 4;
const DRAIN_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;
const STDERR_TAIL_CHARS = 4000;
const READY = /listening on (http:\/\/[\w.:[\]-]+)/;
const ROLLUP_FILE = /-(n?\d+)-(n?\d+)\.parquet$/;
const CLOCK_TICKS_PER_SECOND = clockTicks();

/** The three legs in order; `live-freshness` only when `freshnessSeconds` > 0. */
export async function runLiveLegs({ root, workDir, options, log }) {
  const cli = join(root, 'processors/dist/cli/main.js');
  const producersDist = join(root, 'producers/dist/index.js');
  const missing = [cli, producersDist].find((file) => !existsSync(file));
  const plans = [
    { leg: 'live-sdk', mode: 'sdk', seconds: options.liveSeconds, rate: options.liveRate },
    { leg: 'live-fetch', mode: 'fetch', seconds: options.liveSeconds, rate: options.liveRate },
  ];
  if (options.freshnessSeconds > 0)
    plans.push({
      leg: 'live-freshness',
      mode: 'sdk',
      seconds: options.freshnessSeconds,
      rate: options.freshnessRate,
    });
  const legs = [];
  for (const plan of plans) {
    if (missing) {
      legs.push(skipped(plan.leg, null, 0, `${missing} not built yet (npx turbo run build)`));
      continue;
    }
    const producers = plan.leg === 'live-freshness' ? 1 : options.liveProducers;
    const how = plan.rate > 0 ? `${fmtInt(plan.rate)} events/s offered` : 'as fast as acknowledged';
    log(`leg ${plan.leg} (${plan.seconds} s, ${producers} load process${producers > 1 ? 'es' : ''}, ${how})`);
    legs.push(await runLiveLeg({ ...plan, producers }, { root, cli, workDir }));
  }
  return withPeerRatio(legs);
}

/** Runs one leg; `plan` ({ leg, mode, seconds, rate, producers }) goes on into its summary. */
async function runLiveLeg(plan, { root, cli, workDir }) {
  const { leg, mode, seconds, rate, producers } = plan;
  const dir = join(workDir, leg);
  rmSync(dir, { recursive: true, force: true });
  const lake = join(dir, 'lake');
  const stateDir = join(dir, 'state');
  mkdirSync(lake, { recursive: true });
  let run;
  try {
    run = await startPipeline(cli, lake, stateDir, root);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return { leg, status: 'failed', reason: error.message };
  }
  const monitor = startMonitor(run, lake);
  const startAt = Date.now() + LOAD_START_LEAD_MS;
  const endAt = startAt + seconds * 1000;
  const loads = [];
  try {
    loads.push(
      ...Array.from({ length: producers }, (_, producer) =>
        runLoad(root, { url: run.url, mode, seconds, rate, startAt, producer }),
      ),
    );
    await sleep(startAt - Date.now());
    const atStart = { metrics: await monitor.scrape(), cpu: cpuSeconds(run.child.pid) };
    await sleep(Math.max(0, endAt - Date.now()));
    const atEnd = { metrics: await monitor.scrape(), cpu: cpuSeconds(run.child.pid) };
    if (run.child.exitCode !== null || run.child.signalCode !== null)
      throw new Error(
        `the run exited (${run.child.exitCode ?? run.child.signalCode}) during the load window`,
      );
    for (const sample of [atStart.metrics, atEnd.metrics])
      if (sample.error) throw new Error(`reading the run's /metrics: ${sample.error}`);
    const results = await Promise.all(loads.map((load) => load.done));
    const failedLoad = results.find((result) => result.error);
    if (failedLoad) throw new Error(`load process ${failedLoad.producer}: ${failedLoad.error}`);
    const drain = await waitForDrain(monitor, run, endAt);
    // Windows still open are written at shutdown, not by the watermark: they are no freshness figure.
    monitor.stopWatchingLake();
    const stop = await stopPipeline(run);
    monitor.stop();
    return summarise(plan, { atStart, atEnd, results, drain, stop, monitor, run });
  } catch (error) {
    monitor.stop();
    for (const load of loads) load.child.kill('SIGKILL');
    run.child.kill('SIGKILL');
    await run.exited;
    return {
      leg,
      status: 'failed',
      reason: error.message,
      stderrTail: run.stderr().slice(-STDERR_TAIL_CHARS),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts `run --no-demo` on a lake and state dir (with `extraArgs`, and `env` added to the
 * environment); resolves once its log says where it listens.
 */
export function startPipeline(cli, lake, stateDir, root, extraArgs = [], env = {}) {
  const args = [
    cli,
    'run',
    '--no-demo',
    '--port',
    '0',
    '--lake',
    lake,
    '--state-dir',
    stateDir,
    ...extraArgs,
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-2 * STDERR_TAIL_CHARS);
      const url = READY.exec(stderr)?.[1];
      if (url) resolve({ child, url, exited, stderr: () => stderr });
    });
    exited.then(({ code, signal }) =>
      reject(
        new Error(`run exited (${code ?? signal}) before listening:\n${stderr.slice(-STDERR_TAIL_CHARS)}`),
      ),
    );
  });
}

/** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; resolves `{ code, signal, seconds, killed }`. */
export async function stopPipeline(run) {
  const started = Date.now();
  run.child.kill('SIGTERM');
  const waiting = new AbortController();
  const timedOut = sleep(STOP_TIMEOUT_MS, 'timeout', { signal: waiting.signal }).catch(() => undefined);
  let exit = await Promise.race([run.exited, timedOut]);
  waiting.abort();
  const killed = exit === 'timeout';
  if (killed) {
    run.child.kill('SIGKILL');
    exit = await run.exited;
  }
  return { ...exit, seconds: (Date.now() - started) / 1000, killed };
}

/**
 * Polls the run every POLL_MS: peak RSS (VmHWM), new rollup files (freshness), and every
 * METRICS_EVERY_POLLS polls its /metrics (kept as a series, for lag growth).
 */
function startMonitor(run, lake) {
  const rollups = join(lake, 'rollups_1m');
  const seenFiles = new Set();
  const windowSeen = new Map();
  const series = [];
  const peakKb = { VmHWM: 0, VmRSS: 0, RssAnon: 0, RssFile: 0 };
  let watchingLake = true;
  let polls = 0;
  let scraping = false;

  const scrape = async () => {
    try {
      const response = await fetch(`${run.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
      const figures = pipelineFigures(parseMetrics(await response.text()));
      const sample = { at: Date.now(), ...figures, rssMb: (procStatusKb(run.child.pid).VmRSS ?? 0) / 1024 };
      series.push(sample);
      return sample;
    } catch (error) {
      return { at: Date.now(), error: error.message };
    }
  };
  const watchLake = () => {
    if (!existsSync(rollups)) return;
    const now = Date.now();
    for (const entry of readdirSync(rollups, { recursive: true })) {
      const name = String(entry);
      const match = ROLLUP_FILE.exec(name);
      if (!match || seenFiles.has(name) || name.split('/').at(-1).startsWith('.')) continue;
      seenFiles.add(name);
      const [first, last] = [match[1], match[2]].map((o) =>
        o.startsWith('n') ? -Number(o.slice(1)) : Number(o),
      );
      for (let start = first; start <= last; start += WINDOW_MS)
        if (!windowSeen.has(start)) windowSeen.set(start, now);
    }
  };
  const timer = setInterval(() => {
    for (const [field, kb] of Object.entries(procStatusKb(run.child.pid)))
      peakKb[field] = Math.max(peakKb[field], kb);
    if (watchingLake) watchLake();
    if (++polls % METRICS_EVERY_POLLS === 0 && !scraping) {
      scraping = true;
      scrape().finally(() => {
        scraping = false;
      });
    }
  }, POLL_MS);

  return {
    scrape,
    series,
    /** Peak RSS (VmHWM), and the largest anonymous (heap, buffers) and file-backed (the log's LMDB map) parts seen. */
    peakRssMb: () => ({
      total: peakKb.VmHWM / 1024,
      anon: peakKb.RssAnon / 1024,
      file: peakKb.RssFile / 1024,
    }),
    /** `[{ windowStart, delayMs }]`: file seen - window end, for each window start in a new file. */
    freshness: () =>
      [...windowSeen].map(([windowStart, seen]) => ({
        windowStart,
        delayMs: seen - windowStart - WINDOW_MS,
      })),
    stopWatchingLake() {
      watchLake();
      watchingLake = false;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/**
 * Waits until the run has processed every record in its log; resolves `{ seconds, drained, metrics }`,
 * seconds counted from the end of the load window.
 */
async function waitForDrain(monitor, run, endAt) {
  for (;;) {
    const metrics = await monitor.scrape();
    const drained = !metrics.error && metrics.eventsIn >= metrics.logRecords;
    if (drained || Date.now() - endAt > DRAIN_TIMEOUT_MS || run.child.exitCode !== null)
      return { seconds: Math.max(0, metrics.at - endAt) / 1000, drained, metrics };
    await sleep(POLL_MS);
  }
}

/** Starts one load process; `done` resolves with its JSON result line, or `{ producer, error }`. */
function runLoad(root, { url, mode, seconds, rate, startAt, producer }) {
  const args = [
    join(root, 'test/bench/live-load.mjs'),
    ...['--url', url, '--mode', mode, '--seconds', String(seconds), '--rate', String(rate)],
    ...['--start-at', String(startAt), '--producer', String(producer)],
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr
    .setEncoding('utf8')
    .on('data', (chunk) => (stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS)));
  const done = new Promise((resolve) =>
    child.on('close', (code, signal) => {
      if (code !== 0) resolve({ producer, error: `exit ${code ?? signal}: ${stderr.trim()}` });
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)));
    }),
  );
  return { child, done };
}

function summarise(
  { leg, mode, seconds, rate, producers },
  { atStart, atEnd, results, drain, stop, monitor, run },
) {
  const total = (pick) => results.reduce((sum, result) => sum + pick(result), 0);
  const dropped = {};
  for (const result of results)
    for (const [reason, count] of Object.entries(result.final.dropped))
      dropped[reason] = (dropped[reason] ?? 0) + count;
  const acknowledged = total((r) => r.final.acknowledged);
  const processedInWindow = atEnd.metrics.eventsIn - atStart.metrics.eventsIn;
  const delays = monitor.freshness().map((w) => w.delayMs);
  const sorted = [...delays].sort((a, b) => a - b);
  const rss = monitor.peakRssMb();
  const scraped = monitor.series.filter((s) => !s.error);
  const largest = (pick) => (scraped.length > 0 ? Math.max(...scraped.map(pick)) : null);
  const warnings = [];
  if (!drain.drained)
    warnings.push(`the run had not read its whole log ${DRAIN_TIMEOUT_MS / 1000} s after the load stopped`);
  if (drain.metrics.eventsIn < acknowledged)
    warnings.push(`processed ${drain.metrics.eventsIn} < ${acknowledged} acknowledged to the load processes`);
  if (stop.code !== 0)
    warnings.push(
      `run exited with ${stop.code ?? stop.signal}${stop.killed ? ' (SIGKILL after timeout)' : ''}`,
    );
  if (total((r) => r.final.held) > 0) warnings.push('events were still held by an emitter after close()');
  for (const result of results)
    if (result.lastError) warnings.push(`load process ${result.producer} last error: ${result.lastError}`);
  return {
    leg,
    status: 'ok',
    mode,
    producers,
    offeredRate: rate,
    seconds,
    emitted: total((r) => r.final.emitted),
    acknowledged,
    acknowledgedInWindow: total((r) => r.atWindowEnd.acknowledged),
    processedInWindow,
    emittedPerSecond: total((r) => r.atWindowEnd.emitted) / seconds,
    acknowledgedPerSecond: total((r) => r.atWindowEnd.acknowledged) / seconds,
    processedPerSecond: processedInWindow / seconds,
    dropped,
    droppedTotal: Object.values(dropped).reduce((a, b) => a + b, 0),
    retried: total((r) => r.retried),
    closeSeconds: Math.max(...results.map((r) => r.closeSeconds)),
    loadCpuSeconds: total((r) => r.cpuSeconds ?? 0),
    runCpuSecondsInWindow: atEnd.cpu - atStart.cpu,
    lagRecordsAtEnd: atEnd.metrics.lagRecords,
    lagRecordsMax: largest((s) => s.lagRecords ?? 0),
    unprocessedAtEnd: atEnd.metrics.unprocessed,
    unprocessedMax: largest((s) => s.unprocessed),
    drainSeconds: drain.drained ? drain.seconds : null,
    processedTotal: drain.metrics.eventsIn,
    collectorUnavailable: drain.metrics.unavailable,
    windowsClosed: drain.metrics.windowsClosed,
    peakRssMb: rss.total,
    peakRssAnonMb: rss.anon,
    peakRssFileMb: rss.file,
    stop,
    freshness: {
      windows: delays.length,
      p50Ms: delays.length > 0 ? percentile(sorted, 0.5) : null,
      p99Ms: delays.length > 0 ? percentile(sorted, 0.99) : null,
      maxMs: delays.length > 0 ? sorted.at(-1) : null,
      perWindow: monitor.freshness(),
      pollMs: POLL_MS,
    },
    // Every 5th scrape (~5 s): seconds since the window opened, processed so far, lag, log size, RSS.
    series: monitor.series
      .filter((_, i) => i % 5 === 0)
      .map((s) => ({ ...s, at: (s.at - atStart.metrics.at) / 1000 })),
    warnings,
    stderrTail: stop.code === 0 ? undefined : run.stderr().slice(-STDERR_TAIL_CHARS),
  };
}

/** Adds `ratioToPeer`: live-sdk processed events/s over live-fetch's (same duration, producers and rate). */
function withPeerRatio(legs) {
  const peer = legs.find((leg) => leg.leg === 'live-fetch' && leg.status === 'ok');
  return legs.map((leg) =>
    leg.leg === 'live-sdk' && leg.status === 'ok' && peer
      ? {
          ...leg,
          ratioToPeer: leg.processedPerSecond / peer.processedPerSecond,
          acknowledgedRatioToPeer: leg.acknowledgedPerSecond / peer.acknowledgedPerSecond,
        }
      : leg,
  );
}

export function evaluateLiveGoals(legs) {
  const goal = `live-freshness: window end -> rollup in the lake p99 <= ${FRESHNESS_GOAL_MS / 1000} s (out-of-orderness + 2 s)`;
  const leg = legs.find((l) => l.leg === 'live-freshness');
  if (leg?.status !== 'ok')
    return [
      {
        goal,
        status: 'not measured',
        detail: leg ? `leg ${leg.status}` : 'run with --freshness-seconds > 0',
      },
    ];
  const { windows, p50Ms, p99Ms } = leg.freshness;
  if (windows === 0)
    return [{ goal, status: 'not measured', detail: 'no window closed during the run (run it longer)' }];
  const met = p99Ms <= FRESHNESS_GOAL_MS;
  const gap = met ? `${sec(FRESHNESS_GOAL_MS - p99Ms)} under` : `over by ${sec(p99Ms - FRESHNESS_GOAL_MS)}`;
  return [
    {
      goal,
      status: met ? 'met' : 'missed',
      detail: `p99 ${sec(p99Ms)} (${gap}), p50 ${sec(p50Ms)}, over ${windows} window${windows === 1 ? '' : 's'}`,
    },
  ];
}

export function printLiveReport(legs, goals, print) {
  const header = [
    'leg',
    'seconds',
    'emitted/s',
    'acked/s',
    'processed/s',
    'dropped',
    'lag end',
    'backlog end',
    'backlog max',
    'drain s',
    'peak RSS MB',
    '503s',
    'sdk/peer',
  ];
  const rows = legs.map((leg) =>
    leg.status === 'ok'
      ? [
          leg.leg,
          String(leg.seconds),
          fmtInt(leg.emittedPerSecond),
          fmtInt(leg.acknowledgedPerSecond),
          fmtInt(leg.processedPerSecond),
          fmtInt(leg.droppedTotal),
          leg.lagRecordsAtEnd === null ? '' : fmtInt(leg.lagRecordsAtEnd),
          fmtInt(leg.unprocessedAtEnd),
          leg.unprocessedMax === null ? '' : fmtInt(leg.unprocessedMax),
          leg.drainSeconds === null ? 'no' : leg.drainSeconds.toFixed(1),
          leg.peakRssMb.toFixed(0),
          fmtInt(leg.collectorUnavailable),
          leg.ratioToPeer === undefined ? '' : `${leg.ratioToPeer.toFixed(2)}x`,
        ]
      : [leg.leg, leg.status, '', '', '', '', '', '', '', '', '', '', ''],
  );
  printTable(header, rows, print);
  for (const leg of legs) {
    if (leg.status === 'ok') {
      print(
        `${leg.leg}: ${fmtInt(leg.emitted)} emitted, ${fmtInt(leg.acknowledged)} acknowledged, ${fmtInt(leg.processedTotal)} processed ` +
          `after drain, dropped ${JSON.stringify(leg.dropped)}, ${fmtInt(leg.retried)} retried; CPU s in the window: run ` +
          `${leg.runCpuSecondsInWindow.toFixed(1)}, load ${leg.loadCpuSeconds.toFixed(1)} (whole load process); ` +
          `peak RSS ${leg.peakRssMb.toFixed(0)} MB (largest anon ${leg.peakRssAnonMb.toFixed(0)}, file-backed ${leg.peakRssFileMb.toFixed(0)}); ` +
          `${leg.windowsClosed} windows closed; stopped in ${leg.stop.seconds.toFixed(1)} s`,
      );
      const { freshness } = leg;
      if (freshness.windows > 0)
        print(
          `${leg.leg} freshness: ${freshness.windows} windows, p50 ${sec(freshness.p50Ms)}, p99 ${sec(freshness.p99Ms)}, ` +
            `max ${sec(freshness.maxMs)} (window end -> file seen, polled every ${freshness.pollMs} ms)`,
        );
    }
    for (const warning of leg.warnings ?? []) print(`${leg.leg} WARNING: ${warning}`);
    if (leg.status === 'skipped') print(`${leg.leg} SKIPPED: ${leg.reason}`);
    if (leg.status === 'failed' || leg.stderrTail)
      print(
        `${leg.leg} ${leg.status === 'failed' ? `FAILED (${leg.reason})` : 'run'} stderr tail:\n${leg.stderrTail ?? ''}`,
      );
  }
  print('');
  printGoals(goals, print);
}

/** Prometheus text -> sums by metric name, plus each labelled series as `name{labels}`. */
export function parseMetrics(text) {
  const values = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    values[match[1]] = (values[match[1]] ?? 0) + value;
    if (match[2]) values[`${match[1]}{${match[2]}}`] = value;
  }
  return values;
}

function pipelineFigures(values) {
  return {
    eventsIn: values.genai_pipeline_events_in_total ?? 0,
    lagRecords: values.genai_pipeline_consumer_lag_records ?? null,
    /** Records in the log the processor has not counted yet (read or not). */
    unprocessed: (values.collector_log_next_offset ?? 0) - (values.genai_pipeline_events_in_total ?? 0),
    logRecords: values.collector_log_next_offset ?? 0,
    accepted: values.collector_records_accepted_total ?? 0,
    unavailable: values['collector_http_requests_total{status="503"}'] ?? 0,
    windowsClosed: values.genai_pipeline_windows_closed_total ?? 0,
  };
}

/** VmHWM, VmRSS, RssAnon and RssFile of a process in kB ({} once it has exited). */
function procStatusKb(pid) {
  let status;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return {};
  }
  const kb = {};
  for (const match of status.matchAll(/^(VmHWM|VmRSS|RssAnon|RssFile):\s+(\d+) kB/gm))
    kb[match[1]] = Number(match[2]);
  return kb;
}

/** User + system CPU seconds of a process so far (all its threads), from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function clockTicks() {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

const sec = (ms) => `${(ms / 1000).toFixed(1)} s`;
