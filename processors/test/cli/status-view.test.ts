import { describe, expect, test } from 'vitest';
import {
  createStatusView,
  formatAnomalyRow,
  formatDuration,
  formatObservedVsBaseline,
  formatStatusBlock,
  formatStatusLine,
  lakeQueryCommands,
} from '../../src/cli/status-view.js';
import type { DemoStats } from '../../src/demo/demo.js';
import type { AnomalyNotice, PipelineStatus } from '../../src/run/status.js';

const NOW = Date.UTC(2025, 5, 1, 12, 40, 5);
const ESC = '\u001b';

const notice = (fields: Partial<AnomalyNotice> = {}): AnomalyNotice => ({
  windowStart: Date.UTC(2025, 5, 1, 12, 31),
  service: 'support-bot',
  modelId: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
  tenantId: 'globex',
  kind: 'token_spike',
  scoreName: null,
  severity: 'critical',
  observed: 22_410,
  baseline: 4_520,
  ...fields,
});

const status = (fields: Partial<PipelineStatus> = {}): PipelineStatus => ({
  startedAt: NOW - 192_000,
  source: 'log',
  collectorUrl: 'http://127.0.0.1:7070',
  lake: 'data/lake',
  eventsIn: 12_345,
  eventsPerSecond: 153.4,
  accepted: 12_300,
  duplicates: 12,
  deadLetters: { invalid: 3, late: 30 },
  lagRecords: 7,
  watermarkDelayMs: 31_200,
  windowsClosed: 17,
  anomaliesDetected: 0,
  recentAnomalies: [],
  lastCheckpointAt: NOW - 2_000,
  sinks: {
    lake: { sent: 34, failed: 0, retried: 0, breakerTrips: 0, breakerState: 'closed' },
    cloudwatch: { sent: 3, failed: 5, retried: 2, breakerTrips: 1, breakerState: 'open' },
  },
  ...fields,
});

const demo: DemoStats = {
  simulatedStart: NOW - 900_000,
  simulatedTime: Date.UTC(2025, 5, 1, 12, 34, 56),
  caughtUp: false,
  emitted: 9_000,
  sent: 8_990,
  dropped: 0,
  droppedByReason: {
    invalid: 0,
    rejected: 0,
    too_large: 0,
    buffer_full: 0,
    retries_exhausted: 0,
    closed: 0,
    internal: 0,
  },
  retried: 4,
  pending: 10,
  lastError: undefined,
  nextIncident: {
    number: 2,
    kind: 'latency',
    description: 'latency regression: 4x slower on search-summarizer gpt-4o-mini',
    target: { service: 'search-summarizer', provider: 'openai', modelId: 'gpt-4o-mini' },
    start: Date.UTC(2025, 5, 1, 12, 36),
    end: Date.UTC(2025, 5, 1, 12, 37),
    scoreName: null,
  },
};

/** Figures the terminal block and the log line both show for `status()`. */
const SHARED_FIGURES = [
  'accepted 12,300',
  'duplicates 12',
  'dead letters 33 (invalid 3, late 30)',
  'lag 7 records',
  'watermark delay 31 s',
  'windows closed 17',
  'checkpoint 2.0 s ago',
  'lake ok (34 sent)',
];

function fakeStream(isTTY: boolean, columns?: number) {
  const written: string[] = [];
  return { written, stream: { isTTY, columns, write: (text: string) => written.push(text) } };
}

describe('formatting', () => {
  test('durations read naturally', () => {
    expect([850, 3_240, 42_000, 192_000, 7_500_000, -5].map(formatDuration)).toEqual([
      '850 ms',
      '3.2 s',
      '42 s',
      '3m 12s',
      '2h 05m',
      '0 ms',
    ]);
  });

  test('observed vs baseline in each kind of unit', () => {
    expect(formatObservedVsBaseline(notice())).toBe('tokens/request 22,410 vs 4,520 (x5.0)');
    expect(formatObservedVsBaseline(notice({ kind: 'cost_spike', observed: 1.234, baseline: 0.0412 }))).toBe(
      'cost/min $1.23 vs $0.041 (x30.0)',
    );
    expect(formatObservedVsBaseline(notice({ kind: 'error_rate', observed: 0.61, baseline: 0.012 }))).toBe(
      'error rate 61.0% vs 1.2%',
    );
    expect(formatObservedVsBaseline(notice({ kind: 'latency', observed: 14_200, baseline: 3_550 }))).toBe(
      'p95 14 s vs 3.5 s (x4.0)',
    );
    expect(
      formatObservedVsBaseline(
        notice({ kind: 'quality_drop', scoreName: 'helpfulness', observed: 0.381, baseline: 0.862 }),
      ),
    ).toBe('helpfulness mean 0.38 vs 0.86');
  });

  test('an anomaly row has the window, severity, kind and key', () => {
    expect(formatAnomalyRow(notice({ tenantId: null }))).toBe(
      '12:31  critical token_spike  support-bot / anthropic.claude-3-5-sonnet-20241022-v2:0 / (no tenant)  tokens/request 22,410 vs 4,520 (x5.0)',
    );
  });

  test('the block has every figure, the sinks, the demo, the anomalies and a query for the lake', () => {
    const anomalies = Array.from({ length: 10 }, (_, i) =>
      notice({ windowStart: Date.UTC(2025, 5, 1, 12, 20 + i), tenantId: `tenant-${i}` }),
    );
    const block = formatStatusBlock(status({ anomaliesDetected: 11, recentAnomalies: anomalies }), NOW, {
      demo,
    }).join('\n');
    for (const figure of [
      'up 3m 12s',
      'source log',
      'collector http://127.0.0.1:7070',
      '12,345 read',
      '153/s',
      ...SHARED_FIGURES,
      'cloudwatch breaker open (3 sent, 5 failed, 2 retried)',
      'simulated 12:34:56 UTC (catching up)',
      'sent 8,990',
      'next 12:36 latency regression',
      '11 detected',
    ]) {
      expect(block).toContain(figure);
    }
    // The latest 8, newest last.
    expect(block).not.toContain('tenant-1 ');
    expect(block).toContain(
      '12:22  critical token_spike  support-bot / anthropic.claude-3-5-sonnet-20241022-v2:0 / tenant-2',
    );
    expect(block.indexOf('tenant-8')).toBeLessThan(block.indexOf('tenant-9'));
    expect(block).toContain(
      `duckdb -c "SELECT model_id, sum(requests) AS requests, round(sum(cost_usd), 4) AS cost_usd FROM read_parquet('data/lake/rollups_1m/**/*.parquet') GROUP BY 1 ORDER BY 3 DESC"`,
    );
    expect(block).toContain('node examples/show-lake.mjs data/lake');
    expect(block).not.toContain(ESC);
  });

  test('before any event or anomaly it says so instead of showing zeros as news', () => {
    const block = formatStatusBlock(
      status({ watermarkDelayMs: null, lagRecords: null, lastCheckpointAt: null, sinks: {} }),
      NOW,
    ).join('\n');
    expect(block).toContain('watermark n/a (no events yet)');
    expect(block).toContain('lag n/a');
    expect(block).toContain('no checkpoint yet');
    expect(block).toContain('sinks      lake only');
    expect(block).toContain('anomalies  none yet (a key is judged once it has 10 windows of history)');
    expect(block).not.toContain('demo');
  });

  test('lines are cut to the terminal width, except the commands, which must stay pasteable', () => {
    const lines = formatStatusBlock(status({ anomaliesDetected: 1, recentAnomalies: [notice()] }), NOW, {
      width: 60,
    });
    const commands = lines.filter(
      (line) => line.trimStart().startsWith('duckdb') || line.includes('show-lake'),
    );
    expect(commands).toHaveLength(2);
    for (const line of lines.filter((l) => !commands.includes(l)))
      expect(line.length).toBeLessThanOrEqual(60);
    expect(lines.some((line) => line.endsWith('…'))).toBe(true);
    expect(commands[0]?.length).toBeGreaterThan(60);
  });

  test('lake paths are quoted for the shell and SQL; a remote lake gets no local script', () => {
    expect(lakeQueryCommands("/tmp/it's $HOME")).toEqual([
      `duckdb -c "SELECT model_id, sum(requests) AS requests, round(sum(cost_usd), 4) AS cost_usd FROM read_parquet('/tmp/it''s \\$HOME/rollups_1m/**/*.parquet') GROUP BY 1 ORDER BY 3 DESC"`,
      `node examples/show-lake.mjs '/tmp/it'\\''s $HOME'   # from the repository root, no DuckDB CLI needed`,
    ]);
    const remote = lakeQueryCommands('s3://bucket/lake/');
    expect(remote).toHaveLength(1);
    expect(remote[0]).toContain("read_parquet('s3://bucket/lake/rollups_1m/**/*.parquet')");
  });

  test('the log line has the same figures in one line', () => {
    const line = formatStatusLine(status({ anomaliesDetected: 2 }), NOW, demo);
    expect(line).toMatch(/^2025-06-01T12:40:05Z status · /);
    for (const figure of [
      'events 12,345 (153/s)',
      ...SHARED_FIGURES,
      'anomalies 2',
      'demo sent 8,990, dropped 0, retried 4',
    ]) {
      expect(line).toContain(figure);
    }
    expect(line).not.toContain('\n');
  });
});

describe('createStatusView', () => {
  test('on a terminal it redraws the block in place at most once per interval', () => {
    let now = NOW;
    const { written, stream } = fakeStream(true, 200);
    const view = createStatusView({ stream, clock: () => now });
    view.update(status());
    expect(written).toHaveLength(1);
    expect(written[0]).not.toContain(ESC);
    const rows = (written[0] as string).split('\n').length - 1;
    now += 500;
    view.update(status({ eventsIn: 20_000 }));
    expect(written).toHaveLength(1);
    now += 500;
    view.update(status({ eventsIn: 30_000 }));
    expect(written).toHaveLength(2);
    // Up to the first row of the previous block, clear below, draw again.
    expect(written[1]?.startsWith(`\u001b[${rows}A\r\u001b[0J`)).toBe(true);
    expect(written[1]).toContain('30,000 read');
    view.close();
    expect(written).toHaveLength(3);
    view.update(status());
    expect(written).toHaveLength(3);
  });

  test('on a terminal, wrapped lines count as the rows they take', () => {
    const { written, stream } = fakeStream(true, 40);
    let now = NOW;
    const view = createStatusView({ stream, clock: () => now });
    view.update(status({ sinks: {} }));
    const lines = (written[0] as string).split('\n').slice(0, -1);
    const rows = lines.reduce((sum, line) => sum + Math.max(1, Math.ceil(line.length / 40)), 0);
    expect(rows).toBeGreaterThan(lines.length);
    now += 1_000;
    view.update(status());
    expect(written[1]?.startsWith(`\u001b[${rows}A`)).toBe(true);
  });

  test('off a terminal: a plain status line per interval, one line per new anomaly at once, no escape codes', () => {
    let now = NOW;
    const { written, stream } = fakeStream(false);
    const view = createStatusView({ stream, clock: () => now });
    view.update(status());
    expect(written).toEqual([`${formatStatusLine(status(), NOW)}\n`]);

    now += 1_000;
    const first = notice();
    view.update(status({ anomaliesDetected: 1, recentAnomalies: [first] }));
    expect(written.slice(1)).toEqual([
      '2025-06-01T12:40:06Z anomaly critical token_spike in window 12:31 UTC: support-bot / anthropic.claude-3-5-sonnet-20241022-v2:0 / globex: tokens/request 22,410 vs 4,520 (x5.0)\n',
    ]);

    now += 1_000;
    const second = notice({ kind: 'latency', observed: 14_200, baseline: 3_550, tenantId: 'acme' });
    const third = notice({ kind: 'error_rate', observed: 0.6, baseline: 0.01, severity: 'warning' });
    view.update(status({ anomaliesDetected: 3, recentAnomalies: [first, second, third] }));
    view.update(status({ anomaliesDetected: 3, recentAnomalies: [first, second, third] }));
    expect(written.slice(2).map((line) => line.split(' ').slice(1, 4).join(' '))).toEqual([
      'anomaly critical latency',
      'anomaly warning error_rate',
    ]);

    now += 8_000;
    view.update(status({ anomaliesDetected: 3, recentAnomalies: [first, second, third], eventsIn: 99_999 }));
    expect(written).toHaveLength(5);
    expect(written[4]).toMatch(/^2025-06-01T12:40:15Z status · events 99,999/);
    for (const line of written) {
      expect(line).not.toContain(ESC);
      expect(line.endsWith('\n')).toBe(true);
    }
  });

  test('off a terminal, anomalies beyond the recent list are counted, not lost silently', () => {
    const { written, stream } = fakeStream(false);
    const view = createStatusView({ stream, clock: () => NOW, intervalMs: 60_000 });
    view.update(status({ anomaliesDetected: 5, recentAnomalies: [notice(), notice()] }));
    expect(written[0]).toBe(
      "2025-06-01T12:40:05Z 3 more anomalies not listed (see the lake's anomalies table)\n",
    );
    expect(written.filter((line) => line.includes(' anomaly '))).toHaveLength(2);
    view.close();
    expect(written.at(-1)).toMatch(/ status · /);
  });
});
