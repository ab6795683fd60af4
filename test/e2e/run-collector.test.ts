/**
 * Acceptance test of `genai-pipeline run` on the embedded default (CONTRACT.md §2, §4, §6): a seeded
 * dataset goes through the HTTP collector, the durable log and the processor into the lake, which is
 * checked against the independent oracle. Then the same with `run` killed (SIGKILL) five times at
 * random moments and restarted: the lake must still be exact.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { LakeTableName } from '@genai-pipeline/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../support/cli.js';
import {
  diffDeadLetters,
  diffInvocations,
  diffLakeFiles,
  diffRollups,
  diffScoreRollups,
  diffScores,
  judgeAnomalies,
} from '../support/compare.js';
import { generateDataset, mainDatasetOptions, writePricingFile } from '../support/dataset.js';
import {
  computeExpected,
  DEFAULT_MAX_OUT_OF_ORDERNESS_MS,
  type Expected,
  InvalidEvent,
  parseLine,
  WINDOW_MS,
  windowStartOf,
} from '../support/expected.js';
import { type LakeRowWithFile, listFiles, openDuckDb, readTable, TABLE_NAMES } from '../support/lake.js';
import { Prng } from '../support/prng.js';
import { postBatches, type RunningPipeline, startRunProcess } from '../support/run-process.js';

const TIMEOUT_MS = 600_000;
const BATCH_LINES = 400;

let work: string;
let conn: DuckDBConnection;

beforeAll(async () => {
  expect(existsSync(CLI_PATH), `${CLI_PATH} is missing: build first (npx turbo run build)`).toBe(true);
  work = mkdtempSync(join(tmpdir(), 'genai-run-e2e-'));
  conn = await openDuckDb();
});

afterAll(() => {
  conn?.closeSync();
  if (work) rmSync(work, { recursive: true, force: true });
});

function expectNoMismatches(mismatches: readonly string[]): void {
  const shown = mismatches.slice(0, 15).join('\n');
  expect(mismatches, `${mismatches.length} mismatches:\n${shown}`).toEqual([]);
}

async function readAllTables(lake: string): Promise<Record<LakeTableName, LakeRowWithFile[]>> {
  const tables = {} as Record<LakeTableName, LakeRowWithFile[]>;
  for (const table of TABLE_NAMES) tables[table] = await readTable(conn, lake, table);
  return tables;
}

/**
 * `run` never closes a window at shutdown (CONTRACT.md §2): only windows the watermark passed are
 * in the lake. The oracle closes every window at the end of its input, so keep its closed ones.
 */
function closedWindowsOnly(expected: Expected): { expected: Expected; closedThrough: number } {
  const times = [...expected.invocations, ...expected.scores].map((e) => e.event_time);
  const maxAccepted = times.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  const closedThrough = windowStartOf(maxAccepted - DEFAULT_MAX_OUT_OF_ORDERNESS_MS);
  const closed = <T extends { window_start: number }>(rows: Map<string, T>) =>
    new Map([...rows].filter(([, row]) => row.window_start + WINDOW_MS <= closedThrough));
  return {
    expected: { ...expected, rollups: closed(expected.rollups), scoreRollups: closed(expected.scoreRollups) },
    closedThrough,
  };
}

async function expectLakeExact(
  lake: string,
  expected: Expected,
  incidents: ReturnType<typeof generateDataset>['incidents'],
): Promise<void> {
  const { expected: closed, closedThrough } = closedWindowsOnly(expected);
  const t = await readAllTables(lake);
  const byReason = (reason: string) => ({
    got: t.dead_letters.filter((row) => row.reason === reason),
    want: closed.deadLetters.filter((row) => row.reason === reason),
  });
  const [invalid, late] = [byReason('invalid'), byReason('late')];
  expectNoMismatches([
    ...diffInvocations(t.invocations, closed.invocations),
    ...diffScores(t.scores, closed.scores),
    ...diffRollups(t.rollups_1m, closed.rollups),
    ...diffScoreRollups(t.score_rollups_1m, closed.scoreRollups),
    // Invalid lines are dead-lettered as they came; a late event as the collector stored it
    // (normalised: unknown fields, which could hold prompt text, were never stored).
    ...diffDeadLetters(invalid.got, invalid.want, true),
    ...diffDeadLetters(late.got, late.want, false),
    ...diffLakeFiles(listFiles(lake)),
  ]);
  const judged = incidents
    .map((incident) => ({
      ...incident,
      windowStarts: incident.windowStarts.filter((start) => start + WINDOW_MS <= closedThrough),
    }))
    .filter((incident) => incident.windowStarts.length > 0);
  expectNoMismatches(judgeAnomalies(t.anomalies, judged).problems);
}

async function stopCleanly(pipeline: RunningPipeline): Promise<void> {
  pipeline.child.kill('SIGTERM');
  const { code, signal } = await pipeline.exited;
  expect(code, `exit ${code} ${signal ?? ''}\nstderr: ${pipeline.stderr().slice(-3000)}`).toBe(0);
}

describe('run on the embedded default', () => {
  const now = Date.now();
  const dataset = generateDataset(mainDatasetOptions(now));
  let pricingPath: string;
  let pricing: Parameters<typeof computeExpected>[1]['pricing'];

  beforeAll(() => {
    pricingPath = join(work, 'pricing.json');
    writePricingFile(pricingPath);
    pricing = JSON.parse(readFileSync(pricingPath, 'utf8'));
  });

  it(
    'takes the dataset through the collector into the lake, exactly; SIGTERM flushes and exits 0',
    async () => {
      const dir = join(work, 'clean');
      const lake = join(dir, 'lake');
      const pipeline = await startRunProcess([
        '--no-demo',
        '--lake',
        lake,
        '--state-dir',
        join(dir, 'state'),
        '--pricing',
        pricingPath,
      ]);
      const lines = dataset.lines.filter((line) => line.trim() !== '');
      expect(await postBatches(pipeline.url, lines, 0, BATCH_LINES)).toBe(lines.length);
      const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
      expect(metrics).toContain('collector_records_accepted_total');
      expect(metrics).toContain('genai_pipeline_events_in_total');
      expect((await fetch(`${pipeline.url}/healthz`)).status).toBe(200);
      await stopCleanly(pipeline);
      await expectLakeExact(lake, computeExpected(lines, { nowMs: now, pricing }), dataset.incidents);
    },
    TIMEOUT_MS,
  );

  it(
    'is still exact after being killed with SIGKILL five times at random moments and restarted',
    async () => {
      const dir = join(work, 'crash');
      const lake = join(dir, 'lake');
      const args = [
        '--no-demo',
        '--lake',
        lake,
        '--state-dir',
        join(dir, 'state'),
        '--pricing',
        pricingPath,
        '--checkpoint-interval-seconds',
        '0.5',
      ];
      // Valid lines only: a batch whose answer was lost is sent again, and its events come back as
      // duplicates, which are dropped; a resent invalid line would be a second dead letter (correctly).
      const lines = dataset.lines.filter((line) => {
        if (line.trim() === '') return false;
        try {
          parseLine(line, now);
          return true;
        } catch (error) {
          if (error instanceof InvalidEvent) return false;
          throw error;
        }
      });
      const prng = new Prng(20261124);
      let next = 0;
      const kills: number[] = [];
      for (let round = 0; round < 5; round++) {
        const pipeline = await startRunProcess(args);
        let killed = false;
        const killAfterMs = prng.int(300, 1_500);
        const timer = setTimeout(() => {
          killed = true;
          pipeline.child.kill('SIGKILL');
        }, killAfterMs);
        next = await postBatches(pipeline.url, lines, next, 100, { shouldStop: () => killed, pauseMs: 20 });
        // All posted before the kill: keep the process busy until it comes.
        await pipeline.exited;
        clearTimeout(timer);
        expect(pipeline.child.signalCode, pipeline.stderr().slice(-2000)).toBe('SIGKILL');
        kills.push(next);
      }
      expect(kills.at(-1), 'the kills came while the dataset was still flowing').toBeLessThan(lines.length);
      const last = await startRunProcess(args);
      expect(await postBatches(last.url, lines, next, BATCH_LINES)).toBe(lines.length);
      await stopCleanly(last);
      await expectLakeExact(lake, computeExpected(lines, { nowMs: now, pricing }), dataset.incidents);
    },
    TIMEOUT_MS,
  );
});
