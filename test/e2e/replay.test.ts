/**
 * Acceptance test of `genai-pipeline replay` (CONTRACT.md §1–§5): a seeded dataset is replayed by
 * the built CLI, and every lake table is checked against the independent oracle of
 * test/support/expected.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type InvocationEvent, writeAvroContainer } from '@genai-pipeline/schemas';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, lastJsonLine, replayArgs, runCli } from '../support/cli.js';
import {
  diffDeadLetters,
  diffInvocations,
  diffLakeFiles,
  diffPartitionPaths,
  diffRollups,
  diffSchema,
  diffScoreRollups,
  diffScores,
  judgeAnomalies,
} from '../support/compare.js';
import {
  type Dataset,
  generateDataset,
  mainDatasetOptions,
  smallDatasetOptions,
  writeJsonLines,
} from '../support/dataset.js';
import { computeExpected, type Expected, type OracleOptions, parseLine } from '../support/expected.js';
import { countRows, listFiles, readParquetSchema, TABLE_NAMES } from '../support/lake.js';
import {
  diffEventTables,
  expectNoMismatches,
  type LakeTables,
  useE2eWorkspace,
} from '../support/run-lake.js';

const RUN_TIMEOUT_MS = 300_000;
/** Share of key-windows that may carry an anomaly no incident explains. */
const MAX_FALSE_POSITIVE_RATE = 0.02;

const workspace = useE2eWorkspace('genai-replay-e2e-');

function expectSuccess(result: CliResult): void {
  expect(
    result.code,
    `exit ${result.code} ${result.signal ?? ''}\nstderr: ${result.stderr.slice(-3000)}`,
  ).toBe(0);
}

/** The lake of one run holds exactly what the oracle says (payloads only comparable for JSON input). */
async function expectLakeMatches(lake: string, expected: Expected, jsonPayloads: boolean): Promise<void> {
  const t = await workspace.readAllTables(lake);
  expectNoMismatches([
    ...diffEventTables(t, expected),
    ...diffDeadLetters(t.dead_letters, expected.deadLetters, jsonPayloads),
    ...diffLakeFiles(listFiles(lake)),
  ]);
}

describe('replay of the acceptance dataset', () => {
  const now = Date.now();
  let dataset: Dataset;
  let expected: Expected;
  let inputPath: string;
  let lake: string;
  let firstRun: CliResult;
  let tables: LakeTables;

  beforeAll(async () => {
    dataset = generateDataset(mainDatasetOptions(now));
    const dir = join(workspace.dir, 'main');
    inputPath = join(dir, 'events.jsonl');
    lake = join(dir, 'lake');
    writeJsonLines(inputPath, dataset.lines);
    expected = computeExpected(dataset.lines, { nowMs: now, pricing: workspace.pricing });
    firstRun = await runCli(replayArgs([inputPath], lake, ['--pricing', workspace.pricingPath]));
    expectSuccess(firstRun);
    tables = await workspace.readAllTables(lake);
  }, RUN_TIMEOUT_MS);

  it('exits 0 and prints the summary as the last stdout line', () => {
    expect(lastJsonLine(firstRun.stdout)).toEqual(expected.summary);
    const s = expected.summary;
    expect(s.invalid + s.duplicates + s.accepted).toBe(s.events);
  });

  it('stores every accepted invocation once, late ones included, first copy winning, with its cost', () => {
    expect(tables.invocations.length).toBe(expected.invocations.length);
    expectNoMismatches(diffInvocations(tables.invocations, expected.invocations));
  });

  it('stores every accepted score once, late ones included', () => {
    expect(tables.scores.length).toBe(expected.scores.length);
    expectNoMismatches(diffScores(tables.scores, expected.scores));
  });

  it('writes exactly one rollup per window and key: exact counts, sums, averages and percentiles', () => {
    expect(tables.rollups_1m.length).toBe(expected.rollups.size);
    expectNoMismatches(diffRollups(tables.rollups_1m, expected.rollups));
  });

  it('writes exactly one score rollup per window, key and score name', () => {
    expect(tables.score_rollups_1m.length).toBe(expected.scoreRollups.size);
    expectNoMismatches(diffScoreRollups(tables.score_rollups_1m, expected.scoreRollups));
  });

  it('dead-letters each invalid line with an error naming the field, and each late event once', () => {
    expectNoMismatches(diffDeadLetters(tables.dead_letters, expected.deadLetters, true));
  });

  it("writes the contract's column names and Parquet types in every file", async () => {
    const mismatches: string[] = [];
    for (const table of TABLE_NAMES) {
      const columns = await readParquetSchema(workspace.conn, lake, table);
      expect(columns.length, `${table} has no files`).toBeGreaterThan(0);
      mismatches.push(...diffSchema(table, columns));
    }
    expectNoMismatches(mismatches);
  });

  it('partitions every row under the UTC dt/hour of its partition column, with no stray files', () => {
    expectNoMismatches([
      ...TABLE_NAMES.flatMap((table) => diffPartitionPaths(table, tables[table])),
      ...diffLakeFiles(listFiles(lake)),
    ]);
    // The dataset crosses a UTC midnight: rollups land in two dates and two hours.
    const partitions = new Set(tables.rollups_1m.map((r) => r.__file.split('/').slice(1, 3).join('/')));
    expect(partitions).toEqual(new Set(['dt=2025-05-31/hour=23', 'dt=2025-06-01/hour=00']));
  });

  it('flags each injected incident with its kind, key and window, and little else', () => {
    const judgement = judgeAnomalies(tables.anomalies, dataset.incidents);
    expectNoMismatches(judgement.problems);
    const keyWindows = tables.rollups_1m.length + tables.score_rollups_1m.length;
    const unexplained = judgement.unexplained.map((r) => JSON.stringify(r)).join('\n');
    expect(
      judgement.unexplained.length / keyWindows,
      `${judgement.unexplained.length} of ${keyWindows} key-windows flagged without an incident:\n${unexplained}`,
    ).toBeLessThanOrEqual(MAX_FALSE_POSITIVE_RATE);
  });

  // Last in this block: it replays into the same lake.
  it('replaying the same input again replaces files: only the dead_letters audit log grows', async () => {
    const before = await countRows(workspace.conn, lake);
    const again = await runCli(replayArgs([inputPath], lake, ['--pricing', workspace.pricingPath]));
    expectSuccess(again);
    expect(lastJsonLine(again.stdout)).toEqual(expected.summary);
    const after = await countRows(workspace.conn, lake);
    expect(after).toEqual({ ...before, dead_letters: 2 * before.dead_letters });
    expectNoMismatches(diffLakeFiles(listFiles(lake)));
  });
});

describe('replay input formats and options', () => {
  const now = Date.now();
  let dataset: Dataset;
  let dir: string;
  const oracle = (lines: readonly string[], extra: Partial<OracleOptions> = {}) =>
    computeExpected(lines, { nowMs: now, ...extra });

  beforeAll(() => {
    dataset = generateDataset(smallDatasetOptions(now));
    dir = join(workspace.dir, 'small');
    writeJsonLines(join(dir, 'events.jsonl'), dataset.lines);
  });

  it('honours --max-out-of-orderness-seconds (5 s makes many in-bound events late)', async () => {
    const expected = oracle(dataset.lines, { maxOutOfOrdernessMs: 5000 });
    expect(expected.summary.late).toBeGreaterThan(oracle(dataset.lines).summary.late);
    const lake = join(dir, 'lake-ooo5');
    const result = await runCli(
      replayArgs([join(dir, 'events.jsonl')], lake, ['--max-out-of-orderness-seconds', '5']),
    );
    expectSuccess(result);
    expect(lastJsonLine(result.stdout)).toEqual(expected.summary);
    await expectLakeMatches(lake, expected, true);
  });

  it('reads two --input files, the second gzip-compressed, in order as one partition', async () => {
    const middle = Math.floor(dataset.lines.length / 2);
    const first = join(dir, 'part-1.jsonl');
    const second = join(dir, 'part-2.jsonl.gz');
    writeJsonLines(first, dataset.lines.slice(0, middle));
    writeJsonLines(second, dataset.lines.slice(middle));
    const expected = oracle(dataset.lines);
    const lake = join(dir, 'lake-two-inputs');
    const result = await runCli(replayArgs([first, second], lake));
    expectSuccess(result);
    expect(lastJsonLine(result.stdout)).toEqual(expected.summary);
    await expectLakeMatches(lake, expected, true);
  });

  it('gives the same tables from an Avro container as from the equivalent JSON lines', async () => {
    // A container holds one record type, so this run carries the dataset's valid invocations only
    // (duplicates and late ones included), normalised, in arrival order.
    const events: InvocationEvent[] = [];
    for (const line of dataset.lines) {
      try {
        const parsed = parseLine(line, now);
        if (parsed.kind === 'invocation') events.push(parsed.event);
      } catch {
        // invalid lines have no Avro form
      }
    }
    const jsonLines = events.map((e) => JSON.stringify(e));
    const expected = oracle(jsonLines);
    expect(expected.summary.duplicates).toBeGreaterThan(0);
    expect(expected.summary.late).toBeGreaterThan(0);

    const avroPath = join(dir, 'invocations.avro');
    writeFileSync(avroPath, writeAvroContainer(events, 'invocation', { codec: 'deflate', blockSize: 200 }));
    const jsonPath = join(dir, 'invocations.jsonl');
    writeJsonLines(jsonPath, jsonLines);

    for (const [input, lake, jsonPayloads] of [
      [avroPath, join(dir, 'lake-avro'), false],
      [jsonPath, join(dir, 'lake-avro-as-json'), true],
    ] as const) {
      const result = await runCli(replayArgs([input], lake));
      expectSuccess(result);
      expect(lastJsonLine(result.stdout), input).toEqual(expected.summary);
      await expectLakeMatches(lake, expected, jsonPayloads);
    }
  });
});

describe('replay operational failures', () => {
  let dir: string;
  let goodInput: string;

  beforeAll(() => {
    dir = join(workspace.dir, 'failures');
    goodInput = join(dir, 'good.jsonl');
    const dataset = generateDataset(smallDatasetOptions(Date.now()));
    writeJsonLines(goodInput, dataset.lines);
  });

  /** Non-zero exit (not a crash by signal) and exactly one non-empty line on stderr. */
  function expectOperationalFailure(result: CliResult): void {
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).not.toBe(0);
    const reason = result.stderr.trim();
    expect(reason, 'a reason on stderr').not.toBe('');
    expect(reason.split('\n'), `one-line reason, got:\n${reason}`).toHaveLength(1);
  }

  it('rejects an unknown option', async () => {
    expectOperationalFailure(
      await runCli([...replayArgs([goodInput], join(dir, 'lake-a')), '--no-such-option']),
    );
  });

  it('fails on an input file that cannot be read', async () => {
    expectOperationalFailure(await runCli(replayArgs([join(dir, 'missing.jsonl')], join(dir, 'lake-b'))));
  });

  it('fails on a truncated gzip stream', async () => {
    const gz = join(dir, 'truncated.jsonl.gz');
    writeJsonLines(gz, readFileSync(goodInput, 'utf8').split('\n'));
    const bytes = readFileSync(gz);
    writeFileSync(gz, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expectOperationalFailure(await runCli(replayArgs([gz], join(dir, 'lake-c'))));
  });

  it('fails on a broken Avro container', async () => {
    const events: InvocationEvent[] = [];
    for (const line of readFileSync(goodInput, 'utf8').split('\n')) {
      try {
        const parsed = parseLine(line, Date.now());
        if (parsed.kind === 'invocation') events.push(parsed.event);
      } catch {
        // only valid invocations go into the container
      }
    }
    const bytes = writeAvroContainer(events, 'invocation', { blockSize: 50 });
    const avro = join(dir, 'broken.avro');
    writeFileSync(avro, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    expectOperationalFailure(await runCli(replayArgs([avro], join(dir, 'lake-d'))));
  });

  it('fails when the lake cannot be written (its path runs through a regular file)', async () => {
    mkdirSync(dir, { recursive: true });
    const blocker = join(dir, 'not-a-directory');
    writeFileSync(blocker, 'x');
    expectOperationalFailure(await runCli(replayArgs([goodInput], join(blocker, 'lake'))));
  });
});
