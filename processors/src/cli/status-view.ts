/**
 * The terminal status view of `genai-pipeline run`.
 *
 * On a terminal: a compact block redrawn in place (at most once per `intervalMs`, default 1 s) with the
 * pipeline's health, the latest anomalies, and where the lake is with a query to paste. Elsewhere (a
 * pipe, a log file, CI): one plain status line per `intervalMs` (default 10 s) and one line per new
 * anomaly as soon as it appears; no escape codes.
 *
 * The formatting functions are pure and exported, so they are tested without a terminal.
 */
import { DEFAULT_ANOMALY_PARAMS } from '../anomaly/detector.js';
import type { DemoStats } from '../demo/demo.js';
import type { AnomalyNotice, PipelineStatus } from '../run/status.js';

/** The part of a WriteStream the view needs (process.stdout is one). */
export interface StatusStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface StatusViewOptions {
  stream: StatusStream;
  /** Least time between redraws on a terminal (default 1000 ms), or between status lines (default 10 000 ms). */
  intervalMs?: number;
  /** The wall clock (epoch ms), for ages and the throttle. */
  clock?: () => number;
  /** Anomalies listed on a terminal. Default 8. */
  maxAnomalies?: number;
}

export interface StatusView {
  /**
   * The latest status (and the demo's, when it runs). Call it as often as convenient, at least once per
   * interval: it draws only when the interval has passed, but reports new anomalies at once off a terminal.
   */
  update(status: PipelineStatus, demo?: DemoStats): void;
  /** Draws the last status one final time; later updates are ignored. */
  close(): void;
}

const DEFAULT_MAX_ANOMALIES = 8;
const ESC = '\u001b[';

const count = (n: number): string => n.toLocaleString('en-US');

/** "850 ms", "3.2 s", "42 s", "3m 12s", "2h 05m". */
export function formatDuration(ms: number): string {
  const value = Math.max(0, ms);
  if (value < 1_000) return `${Math.round(value)} ms`;
  if (value < 10_000) return `${(value / 1_000).toFixed(1)} s`;
  const seconds = Math.round(value / 1_000);
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3_600)}h ${String(Math.floor((seconds % 3_600) / 60)).padStart(2, '0')}m`;
}

/** "12:31" (UTC) for a window start, "12:31:07" with seconds. */
export function formatUtcTime(epochMs: number, withSeconds = false): string {
  return new Date(epochMs).toISOString().slice(11, withSeconds ? 19 : 16);
}

const isoSeconds = (epochMs: number): string => `${new Date(epochMs).toISOString().slice(0, 19)}Z`;

function usd(value: number): string {
  if (value >= 100) return `$${value.toFixed(0)}`;
  if (value >= 1) return `$${value.toFixed(2)}`;
  return `$${Number(value.toPrecision(2))}`;
}

const ratio = (observed: number, baseline: number): string =>
  baseline > 0 ? ` (x${(observed / baseline).toFixed(1)})` : '';

/** What was measured against what was expected, in the anomaly kind's own units. */
export function formatObservedVsBaseline(notice: AnomalyNotice): string {
  const { observed, baseline } = notice;
  switch (notice.kind) {
    case 'token_spike':
      return `tokens/request ${count(Math.round(observed))} vs ${count(Math.round(baseline))}${ratio(observed, baseline)}`;
    case 'cost_spike':
      return `cost/min ${usd(observed)} vs ${usd(baseline)}${ratio(observed, baseline)}`;
    case 'error_rate':
      return `error rate ${(observed * 100).toFixed(1)}% vs ${(baseline * 100).toFixed(1)}%`;
    case 'latency':
      return `p95 ${formatDuration(observed)} vs ${formatDuration(baseline)}${ratio(observed, baseline)}`;
    case 'quality_drop':
      return `${notice.scoreName ?? 'score'} mean ${observed.toFixed(2)} vs ${baseline.toFixed(2)}`;
    default:
      return `${Number(observed.toPrecision(3))} vs ${Number(baseline.toPrecision(3))}`;
  }
}

const anomalyKey = (notice: AnomalyNotice): string =>
  `${notice.service} / ${notice.modelId} / ${notice.tenantId ?? '(no tenant)'}`;

/** One row of the terminal's anomaly list: window, severity, kind, key (padded to `keyWidth`), observed vs baseline. */
export function formatAnomalyRow(notice: AnomalyNotice, keyWidth = 0): string {
  return `${formatUtcTime(notice.windowStart)}  ${notice.severity.padEnd(8)} ${notice.kind.padEnd(12)} ${anomalyKey(notice).padEnd(keyWidth)}  ${formatObservedVsBaseline(notice)}`;
}

/** The log line for a new anomaly, off a terminal. */
export function formatAnomalyLogLine(notice: AnomalyNotice, now: number): string {
  return `${isoSeconds(now)} anomaly ${notice.severity} ${notice.kind} in window ${formatUtcTime(notice.windowStart)} UTC: ${anomalyKey(notice)}: ${formatObservedVsBaseline(notice)}`;
}

function sinksSummary(sinks: PipelineStatus['sinks']): string {
  const entries = Object.entries(sinks);
  if (entries.length === 0) return 'lake only';
  return entries
    .map(([name, health]) => {
      const state =
        health.breakerState !== 'closed'
          ? `breaker ${health.breakerState}`
          : health.failed > 0
            ? 'failing'
            : 'ok';
      const details = [`${count(health.sent)} sent`];
      if (health.failed > 0) details.push(`${count(health.failed)} failed`);
      if (health.retried > 0) details.push(`${count(health.retried)} retried`);
      return `${name} ${state} (${details.join(', ')})`;
    })
    .join(' · ');
}

function deadLetters(status: PipelineStatus): string {
  const { invalid, late } = status.deadLetters;
  return `dead letters ${count(invalid + late)} (invalid ${count(invalid)}, late ${count(late)})`;
}

const lag = (status: PipelineStatus): string =>
  status.lagRecords === null ? 'lag n/a' : `lag ${count(status.lagRecords)} records`;

const watermarkDelay = (status: PipelineStatus): string =>
  status.watermarkDelayMs === null
    ? 'watermark n/a (no events yet)'
    : `watermark delay ${formatDuration(status.watermarkDelayMs)}`;

const checkpointAge = (status: PipelineStatus, now: number): string =>
  status.lastCheckpointAt === null
    ? 'no checkpoint yet'
    : `checkpoint ${formatDuration(now - status.lastCheckpointAt)} ago`;

/** The demo's progress in one line: simulated clock, sent, dropped, retried, the next incident. */
export function demoSummary(demo: DemoStats): string {
  const clock = `simulated ${formatUtcTime(demo.simulatedTime, true)} UTC${demo.caughtUp ? '' : ' (catching up)'}`;
  const next =
    demo.nextIncident === undefined
      ? ''
      : ` · next ${formatUtcTime(demo.nextIncident.start)} ${demo.nextIncident.description}`;
  return `${clock} · sent ${count(demo.sent)} · dropped ${count(demo.dropped)} · retried ${count(demo.retried)}${next}`;
}

const isRemote = (lake: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(lake);

/** A POSIX shell word for `text`: as is when it is safe, else single-quoted. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * Ready-to-paste commands that query the lake: a DuckDB CLI one-liner (cost and traffic per model), and
 * for a local lake the repository's own script, which needs no DuckDB CLI.
 */
export function lakeQueryCommands(lake: string): string[] {
  const glob = `${lake.replace(/\/+$/, '')}/rollups_1m/**/*.parquet`.replaceAll("'", "''");
  const sql =
    'SELECT model_id, sum(requests) AS requests, round(sum(cost_usd), 4) AS cost_usd ' +
    `FROM read_parquet('${glob}') GROUP BY 1 ORDER BY 3 DESC`;
  const commands = [`duckdb -c "${sql.replace(/["$`\\]/g, '\\$&')}"`];
  if (!isRemote(lake)) {
    commands.push(
      `node examples/show-lake.mjs ${shellWord(lake)}   # from the repository root, no DuckDB CLI needed`,
    );
  }
  return commands;
}

export interface StatusBlockOptions {
  demo?: DemoStats;
  maxAnomalies?: number;
  /** Terminal width: longer lines are cut, except the commands (cut, they could not be pasted). */
  width?: number;
}

function fit(line: string, width: number | undefined): string {
  if (width === undefined || line.length <= width) return line;
  return `${line.slice(0, Math.max(0, width - 1))}…`;
}

/** The terminal block, one string per line. */
export function formatStatusBlock(
  status: PipelineStatus,
  now: number,
  options: StatusBlockOptions = {},
): string[] {
  const { width } = options;
  const maxAnomalies = options.maxAnomalies ?? DEFAULT_MAX_ANOMALIES;
  const header = [
    `genai-pipeline run · up ${formatDuration(now - status.startedAt)} · source ${status.source}`,
    status.collectorUrl === null ? '' : ` · collector ${status.collectorUrl}`,
    ' · times in UTC',
  ].join('');
  const lines = [
    header,
    `events     ${count(status.eventsIn)} read · ${count(Math.round(status.eventsPerSecond))}/s · accepted ${count(status.accepted)} · duplicates ${count(status.duplicates)} · ${deadLetters(status)}`,
    `progress   ${lag(status)} · ${watermarkDelay(status)} · windows closed ${count(status.windowsClosed)} · ${checkpointAge(status, now)}`,
    `sinks      ${sinksSummary(status.sinks)}`,
  ];
  if (options.demo !== undefined) lines.push(`demo       ${demoSummary(options.demo)}`);
  const shown = status.recentAnomalies.slice(-maxAnomalies);
  if (status.anomaliesDetected === 0) {
    lines.push(
      `anomalies  none yet (a key is judged once it has ${DEFAULT_ANOMALY_PARAMS.minHistory} windows of history)`,
    );
  } else {
    lines.push(
      `anomalies  ${count(status.anomaliesDetected)} detected${shown.length > 0 ? ', the latest:' : ''}`,
    );
    const keyWidth = Math.max(...shown.map((notice) => anomalyKey(notice).length));
    for (const notice of shown) lines.push(`  ${formatAnomalyRow(notice, keyWidth)}`);
  }
  const commands = lakeQueryCommands(status.lake);
  lines.push(`lake       ${status.lake}; query it with:`);
  return [...lines.map((line) => fit(line, width)), ...commands.map((command) => `  ${command}`)];
}

/** The periodic log line off a terminal. */
export function formatStatusLine(status: PipelineStatus, now: number, demo?: DemoStats): string {
  const parts = [
    `${isoSeconds(now)} status`,
    `events ${count(status.eventsIn)} (${count(Math.round(status.eventsPerSecond))}/s)`,
    `accepted ${count(status.accepted)}`,
    `duplicates ${count(status.duplicates)}`,
    deadLetters(status),
    lag(status),
    watermarkDelay(status),
    `windows closed ${count(status.windowsClosed)}`,
    checkpointAge(status, now),
    `anomalies ${count(status.anomaliesDetected)}`,
    `sinks ${sinksSummary(status.sinks)}`,
  ];
  if (demo !== undefined) {
    parts.push(
      `demo sent ${count(demo.sent)}, dropped ${count(demo.dropped)}, retried ${count(demo.retried)}`,
    );
  }
  return parts.join(' · ');
}

/** Terminal rows a line takes when the terminal wraps it. */
const rowsOf = (line: string, columns: number | undefined): number =>
  columns === undefined || columns <= 0 ? 1 : Math.max(1, Math.ceil(line.length / columns));

export function createStatusView(options: StatusViewOptions): StatusView {
  const { stream } = options;
  const clock = options.clock ?? Date.now;
  const terminal = stream.isTTY === true;
  const intervalMs = options.intervalMs ?? (terminal ? 1_000 : 10_000);
  let latest: { status: PipelineStatus; demo: DemoStats | undefined } | undefined;
  let lastOutputAt = Number.NEGATIVE_INFINITY;
  let drawnRows = 0;
  let reportedAnomalies = 0;
  let closed = false;

  const redraw = (now: number) => {
    if (latest === undefined) return;
    const lines = formatStatusBlock(latest.status, now, {
      demo: latest.demo,
      maxAnomalies: options.maxAnomalies,
      width: stream.columns,
    });
    // Back to the block's first row and clear below: one write, so the block never flickers.
    const back = drawnRows > 0 ? `${ESC}${drawnRows}A\r${ESC}0J` : '';
    stream.write(`${back}${lines.join('\n')}\n`);
    drawnRows = lines.reduce((rows, line) => rows + rowsOf(line, stream.columns), 0);
  };

  const reportNewAnomalies = (status: PipelineStatus, now: number) => {
    // A lower count means a new pipeline run: count afresh.
    if (status.anomaliesDetected < reportedAnomalies) reportedAnomalies = 0;
    const fresh = status.anomaliesDetected - reportedAnomalies;
    if (fresh <= 0) return;
    const shown = status.recentAnomalies.slice(-fresh);
    if (fresh > shown.length) {
      stream.write(
        `${isoSeconds(now)} ${count(fresh - shown.length)} more anomalies not listed (see the lake's anomalies table)\n`,
      );
    }
    for (const notice of shown) stream.write(`${formatAnomalyLogLine(notice, now)}\n`);
    reportedAnomalies = status.anomaliesDetected;
  };

  const output = (force: boolean) => {
    if (latest === undefined) return;
    const now = clock();
    if (!terminal) reportNewAnomalies(latest.status, now);
    if (!force && now - lastOutputAt < intervalMs) return;
    lastOutputAt = now;
    if (terminal) redraw(now);
    else stream.write(`${formatStatusLine(latest.status, now, latest.demo)}\n`);
  };

  return {
    update(status, demo) {
      if (closed) return;
      latest = { status, demo };
      output(false);
    },
    close() {
      if (closed) return;
      closed = true;
      output(true);
    },
  };
}
