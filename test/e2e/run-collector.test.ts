/**
 * Acceptance test of `genai-pipeline run` on the embedded default (CONTRACT.md §2, §4, §6): a seeded
 * dataset goes through the HTTP collector, the durable log and the processor into the lake, which is
 * checked against the independent oracle. Then the same with `run` killed (SIGKILL) five times at
 * random moments and restarted: the lake must still be exact.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffLakeFiles, judgeAnomalies } from '../support/compare.js';
import { generateDataset, mainDatasetOptions } from '../support/dataset.js';
import { computeExpected, InvalidEvent, parseLine } from '../support/expected.js';
import { listFiles } from '../support/lake.js';
import { Prng } from '../support/prng.js';
import {
  closedWindowsOnly,
  diffDeadLettersByReason,
  diffEventTables,
  expectNoMismatches,
  incidentsInClosedWindows,
  stopCleanly,
  useE2eWorkspace,
} from '../support/run-lake.js';
import { postBatches, startRunProcess } from '../support/run-process.js';

const TIMEOUT_MS = 600_000;
const BATCH_LINES = 400;

const workspace = useE2eWorkspace('genai-run-e2e-');

describe('run on the embedded default', () => {
  const now = Date.now();
  const dataset = generateDataset(mainDatasetOptions(now));

  /** `run` on the embedded collector and log, without the demo, its lake and state under `dir`. */
  const runArgs = (dir: string, extra: readonly string[] = []) => [
    '--no-demo',
    ...workspace.runDirArgs(dir),
    ...extra,
  ];

  /** The lake under `dir` holds what the oracle says of `lines`, in the windows `run` closed. */
  async function expectLakeExact(dir: string, lines: readonly string[]): Promise<void> {
    const lake = join(dir, 'lake');
    const { expected, closedThrough } = closedWindowsOnly(
      computeExpected(lines, { nowMs: now, pricing: workspace.pricing }),
    );
    const t = await workspace.readAllTables(lake);
    expectNoMismatches([
      ...diffEventTables(t, expected),
      // Invalid lines are dead-lettered as they came; a late event as the collector stored it
      // (normalised: unknown fields, which could hold prompt text, were never stored).
      ...diffDeadLettersByReason(t.dead_letters, expected.deadLetters),
      ...diffLakeFiles(listFiles(lake)),
    ]);
    expectNoMismatches(
      judgeAnomalies(t.anomalies, incidentsInClosedWindows(dataset.incidents, closedThrough)).problems,
    );
  }

  it(
    'takes the dataset through the collector into the lake, exactly; SIGTERM flushes and exits 0',
    async () => {
      const dir = join(workspace.dir, 'clean');
      const pipeline = await startRunProcess(runArgs(dir));
      const lines = dataset.lines.filter((line) => line.trim() !== '');
      expect(await postBatches(pipeline.url, lines, 0, BATCH_LINES)).toBe(lines.length);
      const metrics = await (await fetch(`${pipeline.url}/metrics`)).text();
      expect(metrics).toContain('collector_records_accepted_total');
      expect(metrics).toContain('genai_pipeline_events_in_total');
      expect((await fetch(`${pipeline.url}/healthz`)).status).toBe(200);
      await stopCleanly(pipeline);
      await expectLakeExact(dir, lines);
    },
    TIMEOUT_MS,
  );

  it(
    'is still exact after being killed with SIGKILL five times at random moments and restarted',
    async () => {
      const dir = join(workspace.dir, 'crash');
      const args = runArgs(dir, ['--checkpoint-interval-seconds', '0.5']);
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
      await expectLakeExact(dir, lines);
    },
    TIMEOUT_MS,
  );
});
