/**
 * What the end-to-end tests of `run` and `replay` share: their temporary directory and DuckDB
 * connection, reading the whole lake, comparing it with the oracle (whole or one source partition at a
 * time, closed windows only for `run`), stopping `run`, and reading its per-partition /metrics.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { LakeRow, LakeTableName } from '@genai-pipeline/schemas';
import { afterAll, beforeAll, expect } from 'vitest';
import { CLI_PATH } from './cli.js';
import { diffDeadLetters, diffInvocations, diffRollups, diffScoreRollups, diffScores } from './compare.js';
import { type Incident, writePricingFile } from './dataset.js';
import {
  DEFAULT_MAX_OUT_OF_ORDERNESS_MS,
  type Expected,
  type ExpectedDeadLetter,
  type PricingOverrides,
  WINDOW_MS,
  windowStartOf,
} from './expected.js';
import { type LakeRowWithFile, openDuckDb, readTable, TABLE_NAMES } from './lake.js';
import type { RunningPipeline } from './run-process.js';

export type LakeTables = Record<LakeTableName, LakeRowWithFile[]>;

export interface E2eWorkspace {
  /** A fresh temporary directory, removed after the file's tests. */
  readonly dir: string;
  readonly conn: DuckDBConnection;
  /** The test price file (in `dir`), for `--pricing`, and what it holds, for the oracle. */
  readonly pricingPath: string;
  readonly pricing: PricingOverrides;
  /** Every table of the lake, each row with the file it came from. */
  readAllTables(lake: string): Promise<LakeTables>;
  /** Options of `run` that put its lake in `<dir>/lake`, its state in `<dir>/state`, and price with the test file. */
  runDirArgs(dir: string): string[];
}

/**
 * Registers the hooks of an end-to-end test file: the built CLI must exist; a temporary directory
 * (named from `prefix`) holding the test price file, and a DuckDB connection, are opened before its
 * tests and removed after them. Call at the top of the file; the fields can be read once tests run.
 */
export function useE2eWorkspace(prefix: string): E2eWorkspace {
  let opened:
    | { dir: string; conn: DuckDBConnection; pricingPath: string; pricing: PricingOverrides }
    | undefined;
  const current = () => {
    if (!opened) throw new Error('the e2e workspace is only open while the tests run');
    return opened;
  };
  beforeAll(async () => {
    expect(existsSync(CLI_PATH), `${CLI_PATH} is missing: build first (npx turbo run build)`).toBe(true);
    const conn = await openDuckDb();
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const pricingPath = join(dir, 'pricing.json');
    writePricingFile(pricingPath);
    opened = { dir, conn, pricingPath, pricing: JSON.parse(readFileSync(pricingPath, 'utf8')) };
  });
  afterAll(() => {
    opened?.conn.closeSync();
    if (opened) rmSync(opened.dir, { recursive: true, force: true });
    opened = undefined;
  });
  return {
    get dir() {
      return current().dir;
    },
    get conn() {
      return current().conn;
    },
    get pricingPath() {
      return current().pricingPath;
    },
    get pricing() {
      return current().pricing;
    },
    async readAllTables(lake) {
      const tables = {} as LakeTables;
      for (const table of TABLE_NAMES) tables[table] = await readTable(current().conn, lake, table);
      return tables;
    },
    runDirArgs: (dir) => [
      '--lake',
      join(dir, 'lake'),
      '--state-dir',
      join(dir, 'state'),
      '--pricing',
      current().pricingPath,
    ],
  };
}

/** Shows at most a few mismatches, with the total, so a failure is readable. */
export function expectNoMismatches(mismatches: readonly string[]): void {
  const shown = mismatches.slice(0, 15).join('\n');
  expect(mismatches, `${mismatches.length} mismatches:\n${shown}`).toEqual([]);
}

/**
 * `run` never closes a window at shutdown (CONTRACT.md §2): only windows the watermark passed are
 * in the lake. The oracle closes every window at the end of its input, so keep its closed ones;
 * windows ending at or before `closedThrough` are closed.
 */
export function closedWindowsOnly(expected: Expected): { expected: Expected; closedThrough: number } {
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

/** The incidents cut to their closed windows (see closedWindowsOnly); those left with none are dropped. */
export function incidentsInClosedWindows(incidents: readonly Incident[], closedThrough: number): Incident[] {
  return incidents
    .map((incident) => ({
      ...incident,
      windowStarts: incident.windowStarts.filter((start) => start + WINDOW_MS <= closedThrough),
    }))
    .filter((incident) => incident.windowStarts.length > 0);
}

/** The event and rollup tables against the oracle (dead letters and anomalies are checked apart). */
export function diffEventTables(
  tables: Pick<LakeTables, 'invocations' | 'scores' | 'rollups_1m' | 'score_rollups_1m'>,
  expected: Expected,
): string[] {
  return [
    ...diffInvocations(tables.invocations, expected.invocations),
    ...diffScores(tables.scores, expected.scores),
    ...diffRollups(tables.rollups_1m, expected.rollups),
    ...diffScoreRollups(tables.score_rollups_1m, expected.scoreRollups),
  ];
}

/**
 * Dead letters of `run`: an invalid line is dead-lettered as it came (its payload is compared); a late
 * event as the source held it once parsed, so only counted here. Rows of any other reason go with the
 * invalid ones, where diffDeadLetters reports them.
 */
export function diffDeadLettersByReason(
  rows: readonly LakeRow[],
  expected: readonly ExpectedDeadLetter[],
): string[] {
  const late = (reason: unknown) => reason === 'late';
  return [
    ...diffDeadLetters(
      rows.filter((row) => !late(row.reason)),
      expected.filter((e) => !late(e.reason)),
      true,
    ),
    ...diffDeadLetters(
      rows.filter((row) => late(row.reason)),
      expected.filter((e) => late(e.reason)),
      false,
    ),
  ];
}

/** The rows of every table that lie in the files `holds` accepts (one source partition's files). */
export function rowsInFiles(tables: LakeTables, holds: (file: string) => boolean): LakeTables {
  return Object.fromEntries(
    Object.entries(tables).map(([table, rows]) => [table, rows.filter((row) => holds(row.__file))]),
  ) as LakeTables;
}

/** SIGTERM: `run` delivers what it processed, checkpoints and must exit 0. */
export async function stopCleanly(pipeline: RunningPipeline): Promise<void> {
  pipeline.child.kill('SIGTERM');
  const { code, signal } = await pipeline.exited;
  expect(code, `exit ${code} ${signal ?? ''}\nstderr: ${pipeline.stderr().slice(-3000)}`).toBe(0);
}

/** One per-partition series of `run`'s /metrics (e.g. genai_pipeline_events_in_total), by partition. */
export async function metricByPartition(url: string, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const series = new RegExp(`^${name}\\{partition="([^"]+)"\\} (\\d+)$`, 'gm');
  return new Map([...text.matchAll(series)].map((m) => [m[1] as string, Number(m[2])]));
}
