/**
 * Acceptance test of `genai-pipeline run --source kinesis` (CONTRACT.md §2, §4, §5): the seeded dataset
 * goes into a 3-shard stream on kinesalite the way producers write it (single-object Avro, keyed by
 * service and model; unparseable lines as raw JSON text), `run` reads it into the lake, and the lake is
 * checked shard by shard against the independent oracle: every shard is its own partition, with its own
 * watermark, late decisions and closed windows. Then the same written in two halves with a restart in
 * between: the checkpointed sequence numbers must resume exactly, nothing lost, nothing counted twice.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  encodeSingleObject,
  type LakeRow,
  type LakeTableName,
  singleObjectFingerprint,
  type TelemetryEvent,
} from '@genai-pipeline/schemas';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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
import { type Dataset, generateDataset, mainDatasetOptions, writePricingFile } from '../support/dataset.js';
import {
  computeExpected,
  DEFAULT_MAX_OUT_OF_ORDERNESS_MS,
  type Expected,
  type ExpectedDeadLetter,
  InvalidEvent,
  parseLine,
  WINDOW_MS,
  windowStartOf,
} from '../support/expected.js';
import {
  compareSequenceNumbers,
  createStream,
  type KinesaliteServer,
  type KinesisPut,
  type Placement,
  putRecordsInOrder,
  startKinesalite,
} from '../support/kinesis.js';
import { type LakeRowWithFile, listFiles, openDuckDb, readTable, TABLE_NAMES } from '../support/lake.js';
import { type RunningPipeline, startRunProcess } from '../support/run-process.js';

const SHARDS = 3;
const TIMEOUT_MS = 180_000;
/** How long `run` may take to read what was put before the test gives up. */
const READ_DEADLINE_MS = 60_000;
/** Lines that are not valid events go in as their raw text, all under this key. */
const RAW_LINES_PARTITION_KEY = 'unparsed-json-lines';
/** Lake files of `run` are `<storeId>-<shardId>-<first ordinal>-<last ordinal>.parquet`. */
const LAKE_FILE_NAME = /^([0-9a-f]{8})-(shardId-\d+)-n?\d+-n?\d+\.parquet$/;

let work: string;
let conn: DuckDBConnection;
let kinesis: KinesaliteServer;
const started: RunningPipeline[] = [];

beforeAll(async () => {
  expect(existsSync(CLI_PATH), `${CLI_PATH} is missing: build first (npx turbo run build)`).toBe(true);
  work = mkdtempSync(join(tmpdir(), 'genai-run-kinesis-e2e-'));
  conn = await openDuckDb();
  kinesis = await startKinesalite();
});

afterEach(() => {
  // A failed test may leave its `run` going: it would hold kinesalite's connections open.
  for (const pipeline of started.splice(0)) {
    if (pipeline.child.exitCode === null && pipeline.child.signalCode === null)
      pipeline.child.kill('SIGKILL');
  }
});

afterAll(async () => {
  conn?.closeSync();
  await kinesis?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** One dataset line as a Kinesis record, with the service+model key of a valid event. */
interface PutLine {
  line: string;
  put: KinesisPut;
  /** `service|model_id` of a valid event (its partition key); null for a raw line. */
  key: string | null;
}

type PlacedLine = PutLine & Placement;

/** What producers send: valid events as single-object Avro keyed by service and model (CONTRACT.md §2). */
function toKinesisRecord(line: string, nowMs: number): PutLine {
  let event: TelemetryEvent;
  try {
    event = parseLine(line, nowMs);
  } catch (error) {
    if (!(error instanceof InvalidEvent)) throw error;
    return {
      line,
      put: { data: Buffer.from(line, 'utf8'), partitionKey: RAW_LINES_PARTITION_KEY },
      key: null,
    };
  }
  const key = `${event.event.service}|${event.event.model_id}`;
  return { line, put: { data: encodeSingleObject(event), partitionKey: key }, key };
}

async function putLines(stream: string, lines: readonly PutLine[]): Promise<PlacedLine[]> {
  const placements = await putRecordsInOrder(
    kinesis.client,
    stream,
    lines.map((line) => line.put),
  );
  return lines.map((line, index) => ({ ...line, ...(placements[index] as Placement) }));
}

const countByShard = (placed: readonly PlacedLine[]): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const { shardId } of placed) counts.set(shardId, (counts.get(shardId) ?? 0) + 1);
  return counts;
};

interface ShardExpectation {
  /** The oracle on this shard's records in shard order, its rollups cut to the windows it closed. */
  expected: Expected;
  /** Windows ending at or before this are closed on the shard. */
  closedThrough: number;
  /** `service|model_id` keys whose events the shard holds. */
  keys: Set<string>;
}

/**
 * Each shard is one partition of CONTRACT.md §2: the oracle runs on its records alone, in the order
 * Kinesis holds them. `run` never closes a window at shutdown, so only windows the shard's own
 * watermark passed are expected (the oracle closes every window at the end of its input).
 */
function expectedByShard(
  placed: readonly PlacedLine[],
  options: Parameters<typeof computeExpected>[1],
): Map<string, ShardExpectation> {
  const byShard = new Map<string, PlacedLine[]>();
  for (const line of placed) {
    const lines = byShard.get(line.shardId) ?? [];
    lines.push(line);
    byShard.set(line.shardId, lines);
  }
  const out = new Map<string, ShardExpectation>();
  for (const [shardId, lines] of byShard) {
    lines.sort((a, b) => compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber));
    const all = computeExpected(
      lines.map((l) => l.line),
      options,
    );
    const times = [...all.invocations, ...all.scores].map((e) => e.event_time);
    const maxAccepted = times.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
    const closedThrough = windowStartOf(maxAccepted - DEFAULT_MAX_OUT_OF_ORDERNESS_MS);
    const closed = <T extends { window_start: number }>(rows: Map<string, T>) =>
      new Map([...rows].filter(([, row]) => row.window_start + WINDOW_MS <= closedThrough));
    out.set(shardId, {
      expected: { ...all, rollups: closed(all.rollups), scoreRollups: closed(all.scoreRollups) },
      closedThrough,
      keys: new Set(lines.flatMap((l) => (l.key === null ? [] : [l.key]))),
    });
  }
  return out;
}

/** The store and the shard a lake file's name says it holds rows of. */
function sourceOfFile(file: string): { storeId: string; shardId: string } | undefined {
  const match = LAKE_FILE_NAME.exec(file.split('/').at(-1) ?? '');
  return match ? { storeId: match[1] as string, shardId: match[2] as string } : undefined;
}

/** Every file is named for one store and one shard that was written to, and every such shard has files. */
function diffFileSources(files: readonly string[], shards: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const storeIds = new Set<string>();
  const seen = new Set<string>();
  for (const file of files) {
    const source = sourceOfFile(file);
    if (!source) {
      out.push(`lake file not named <storeId>-<shardId>-<first>-<last>.parquet: ${file}`);
      continue;
    }
    storeIds.add(source.storeId);
    seen.add(source.shardId);
    if (!shards.has(source.shardId)) out.push(`lake file of a shard that holds no records: ${file}`);
  }
  if (storeIds.size > 1) out.push(`lake files of ${storeIds.size} stores, one expected: ${[...storeIds]}`);
  for (const shard of shards) if (!seen.has(shard)) out.push(`no lake file of ${shard}`);
  return out;
}

/**
 * A late event came in as single-object Avro: its dead letter holds that input in base64, the whole
 * message or its Avro body (the record in the v1 schema without the 10-byte header).
 */
function diffLatePayloads(rows: readonly LakeRow[], expected: readonly ExpectedDeadLetter[], nowMs: number) {
  const unmatched = expected.map(({ payload: line }) => {
    const event = parseLine(line, nowMs);
    const message = encodeSingleObject(event);
    const header = 2 + singleObjectFingerprint(event.kind).length;
    return { line, accepted: [message.toString('base64'), message.subarray(header).toString('base64')] };
  });
  const out: string[] = [];
  for (const row of rows) {
    const index = unmatched.findIndex((e) => e.accepted.includes(String(row.payload)));
    if (index < 0) out.push(`dead_letters (late): payload is no late input's Avro: ${String(row.payload)}`);
    else unmatched.splice(index, 1);
  }
  for (const e of unmatched) out.push(`dead_letters (late): no row with the Avro of ${e.line.slice(0, 200)}`);
  return out;
}

function expectNoMismatches(mismatches: readonly string[]): void {
  const shown = mismatches.slice(0, 15).join('\n');
  expect(mismatches, `${mismatches.length} mismatches:\n${shown}`).toEqual([]);
}

async function readAllTables(lake: string): Promise<Record<LakeTableName, LakeRowWithFile[]>> {
  const tables = {} as Record<LakeTableName, LakeRowWithFile[]>;
  for (const table of TABLE_NAMES) tables[table] = await readTable(conn, lake, table);
  return tables;
}

interface Fixture {
  nowMs: number;
  incidents: Dataset['incidents'];
  pricing: Parameters<typeof computeExpected>[1]['pricing'];
}

/** The lake holds, for every shard and only in that shard's files, exactly what the oracle says of it. */
async function expectLakeExact(lake: string, placed: readonly PlacedLine[], fixture: Fixture): Promise<void> {
  const shards = expectedByShard(placed, { nowMs: fixture.nowMs, pricing: fixture.pricing });
  const t = await readAllTables(lake);
  const files = listFiles(lake);
  const mismatches = [...diffLakeFiles(files), ...diffFileSources(files, new Set(shards.keys()))];
  const withReason = <T extends object>(rows: readonly T[], reason: 'invalid' | 'late'): T[] =>
    rows.filter((row) => 'reason' in row && row.reason === reason);
  for (const [shardId, { expected, closedThrough, keys }] of shards) {
    const of = (table: LakeTableName) =>
      t[table].filter((row) => sourceOfFile(row.__file)?.shardId === shardId);
    const deadLetters = of('dead_letters');
    const lateExpected = withReason(expected.deadLetters, 'late');
    const incidents = fixture.incidents
      .filter((incident) => keys.has(`${incident.service}|${incident.model_id}`))
      .map((incident) => ({
        ...incident,
        windowStarts: incident.windowStarts.filter((start) => start + WINDOW_MS <= closedThrough),
      }))
      .filter((incident) => incident.windowStarts.length > 0);
    mismatches.push(
      ...[
        ...diffInvocations(of('invocations'), expected.invocations),
        ...diffScores(of('scores'), expected.scores),
        ...diffRollups(of('rollups_1m'), expected.rollups),
        ...diffScoreRollups(of('score_rollups_1m'), expected.scoreRollups),
        // Unparseable lines went in as raw text: dead-lettered as that text (or its base64).
        ...diffDeadLetters(
          withReason(deadLetters, 'invalid'),
          withReason(expected.deadLetters, 'invalid'),
          true,
        ),
        ...diffDeadLetters(withReason(deadLetters, 'late'), lateExpected, false),
        ...diffLatePayloads(withReason(deadLetters, 'late'), lateExpected, fixture.nowMs),
        ...judgeAnomalies(of('anomalies'), incidents).problems,
      ].map((mismatch) => `${shardId}: ${mismatch}`),
    );
  }
  expectNoMismatches(mismatches);
}

function startKinesisRun(stream: string, dir: string, pricingPath: string): Promise<RunningPipeline> {
  const pipeline = startRunProcess(
    [
      '--source',
      'kinesis',
      '--kinesis-stream',
      stream,
      '--lake',
      join(dir, 'lake'),
      '--state-dir',
      join(dir, 'state'),
      '--pricing',
      pricingPath,
    ],
    {
      AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    },
  );
  return pipeline.then((running) => {
    started.push(running);
    return running;
  });
}

const EVENTS_IN = /^genai_pipeline_events_in_total\{partition="([^"]+)"\} (\d+)$/gm;

/** Records read by this `run` process per partition, from its /metrics. */
async function eventsIn(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return new Map([...text.matchAll(EVENTS_IN)].map((m) => [m[1] as string, Number(m[2])]));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until this `run` has read exactly `want` records of each shard (more is a failure at once). */
async function waitUntilRead(pipeline: RunningPipeline, want: ReadonlyMap<string, number>): Promise<void> {
  const deadline = Date.now() + READ_DEADLINE_MS;
  let exited = false;
  pipeline.exited.then(() => {
    exited = true;
  });
  for (;;) {
    let got = new Map<string, number>();
    try {
      got = await eventsIn(pipeline.url);
    } catch (error) {
      // Most likely the process died: wait for its exit so that its stderr is reported below.
      await Promise.race([pipeline.exited, sleep(2_000)]);
      if (!exited) throw error;
    }
    const context = `read ${JSON.stringify(Object.fromEntries(got))} of ${JSON.stringify(Object.fromEntries(want))}\nstderr: ${pipeline.stderr().slice(-3000)}`;
    expect(exited, `run exited before reading everything: ${context}`).toBe(false);
    const over = [...got].filter(([shard, n]) => n > (want.get(shard) ?? 0));
    expect(over, `run read more records than were put: ${context}`).toEqual([]);
    if ([...want].every(([shard, n]) => got.get(shard) === n)) return;
    expect(
      Date.now() < deadline,
      `run did not read everything within ${READ_DEADLINE_MS} ms: ${context}`,
    ).toBe(true);
    await sleep(100);
  }
}

async function stopCleanly(pipeline: RunningPipeline): Promise<void> {
  pipeline.child.kill('SIGTERM');
  const { code, signal } = await pipeline.exited;
  expect(code, `exit ${code} ${signal ?? ''}\nstderr: ${pipeline.stderr().slice(-3000)}`).toBe(0);
}

describe('run --source kinesis', () => {
  const nowMs = Date.now();
  const dataset = generateDataset(mainDatasetOptions(nowMs));
  const lines = dataset.lines
    .filter((line) => line.trim() !== '')
    .map((line) => toKinesisRecord(line, nowMs));
  let pricingPath: string;
  let fixture: Fixture;

  beforeAll(() => {
    pricingPath = join(work, 'pricing.json');
    writePricingFile(pricingPath);
    fixture = { nowMs, incidents: dataset.incidents, pricing: JSON.parse(readFileSync(pricingPath, 'utf8')) };
  });

  it(
    'reads every shard as its own partition into the lake, exactly; SIGTERM exits 0',
    async () => {
      const stream = 'genai-events-whole';
      await createStream(kinesis.client, stream, SHARDS);
      const placed = await putLines(stream, lines);
      const perShard = countByShard(placed);
      expect(perShard.size, 'the service+model keys spread over every shard').toBe(SHARDS);

      const dir = join(work, 'whole');
      const pipeline = await startKinesisRun(stream, dir, pricingPath);
      await waitUntilRead(pipeline, perShard);
      expect((await fetch(`${pipeline.url}/healthz`)).status).toBe(200);
      await stopCleanly(pipeline);
      await expectLakeExact(join(dir, 'lake'), placed, fixture);
    },
    TIMEOUT_MS,
  );

  it(
    'resumes every shard right after its checkpointed sequence number when restarted',
    async () => {
      const stream = 'genai-events-halves';
      await createStream(kinesis.client, stream, SHARDS);
      const dir = join(work, 'halves');
      const lake = join(dir, 'lake');
      const half = Math.floor(lines.length / 2);

      const first = await putLines(stream, lines.slice(0, half));
      const firstRun = await startKinesisRun(stream, dir, pricingPath);
      await waitUntilRead(firstRun, countByShard(first));
      await stopCleanly(firstRun);
      await expectLakeExact(lake, first, fixture);

      // Written while nothing reads: the next run must start each shard right after what it checkpointed.
      const second = await putLines(stream, lines.slice(half));
      const secondRun = await startKinesisRun(stream, dir, pricingPath);
      await waitUntilRead(secondRun, countByShard(second));
      await stopCleanly(secondRun);
      await expectLakeExact(lake, [...first, ...second], fixture);
    },
    TIMEOUT_MS,
  );
});
