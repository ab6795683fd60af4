/**
 * Acceptance test of `genai-pipeline run --source kinesis` (CONTRACT.md §2, §4, §5): the seeded dataset
 * goes into a 3-shard stream on kinesalite the way producers write it (single-object Avro, keyed by
 * service and model; unparseable lines as raw JSON text), `run` reads it into the lake, and the lake is
 * checked shard by shard against the independent oracle: every shard is its own partition, with its own
 * watermark, late decisions and closed windows. Then the same written in two halves with a restart in
 * between: the checkpointed sequence numbers must resume exactly, nothing lost, nothing counted twice.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  encodeSingleObject,
  type LakeRow,
  singleObjectFingerprint,
  type TelemetryEvent,
} from '@genai-pipeline/schemas';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { diffLakeFiles, judgeAnomalies } from '../support/compare.js';
import { type Dataset, generateDataset, mainDatasetOptions } from '../support/dataset.js';
import {
  computeExpected,
  type Expected,
  type ExpectedDeadLetter,
  InvalidEvent,
  parseLine,
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
import { listFiles } from '../support/lake.js';
import {
  closedWindowsOnly,
  diffDeadLettersByReason,
  diffEventTables,
  expectNoMismatches,
  incidentsInClosedWindows,
  metricByPartition,
  rowsInFiles,
  stopCleanly,
  useE2eWorkspace,
} from '../support/run-lake.js';
import { type RunningPipeline, startRunProcess } from '../support/run-process.js';

const SHARDS = 3;
const TIMEOUT_MS = 180_000;
/** How long `run` may take to read what was put before the test gives up. */
const READ_DEADLINE_MS = 60_000;
/** Lines that are not valid events go in as their raw text, all under this key. */
const RAW_LINES_PARTITION_KEY = 'unparsed-json-lines';
/** Lake files of `run` are `<storeId>-<shardId>-<first ordinal>-<last ordinal>.parquet`. */
const LAKE_FILE_NAME = /^([0-9a-f]{8})-(shardId-\d+)-n?\d+-n?\d+\.parquet$/;

const workspace = useE2eWorkspace('genai-run-kinesis-e2e-');
let kinesis: KinesaliteServer;
const started: RunningPipeline[] = [];

beforeAll(async () => {
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
  await kinesis?.close();
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
    const { expected, closedThrough } = closedWindowsOnly(
      computeExpected(
        lines.map((l) => l.line),
        options,
      ),
    );
    out.set(shardId, {
      expected,
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

interface Fixture {
  nowMs: number;
  incidents: Dataset['incidents'];
}

/** The lake holds, for every shard and only in that shard's files, exactly what the oracle says of it. */
async function expectLakeExact(lake: string, placed: readonly PlacedLine[], fixture: Fixture): Promise<void> {
  const shards = expectedByShard(placed, { nowMs: fixture.nowMs, pricing: workspace.pricing });
  const t = await workspace.readAllTables(lake);
  const files = listFiles(lake);
  const mismatches = [...diffLakeFiles(files), ...diffFileSources(files, new Set(shards.keys()))];
  for (const [shardId, { expected, closedThrough, keys }] of shards) {
    const rows = rowsInFiles(t, (file) => sourceOfFile(file)?.shardId === shardId);
    const incidents = fixture.incidents.filter((incident) =>
      keys.has(`${incident.service}|${incident.model_id}`),
    );
    mismatches.push(
      ...[
        ...diffEventTables(rows, expected),
        // Unparseable lines went in as raw text: dead-lettered as that text (or its base64).
        ...diffDeadLettersByReason(rows.dead_letters, expected.deadLetters),
        ...diffLatePayloads(
          rows.dead_letters.filter((row) => row.reason === 'late'),
          expected.deadLetters.filter((e) => e.reason === 'late'),
          fixture.nowMs,
        ),
        ...judgeAnomalies(rows.anomalies, incidentsInClosedWindows(incidents, closedThrough)).problems,
      ].map((mismatch) => `${shardId}: ${mismatch}`),
    );
  }
  expectNoMismatches(mismatches);
}

function startKinesisRun(stream: string, dir: string): Promise<RunningPipeline> {
  const pipeline = startRunProcess(
    ['--source', 'kinesis', '--kinesis-stream', stream, ...workspace.runDirArgs(dir)],
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
      // Records read by this `run` process per partition.
      got = await metricByPartition(pipeline.url, 'genai_pipeline_events_in_total');
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

describe('run --source kinesis', () => {
  const nowMs = Date.now();
  const dataset = generateDataset(mainDatasetOptions(nowMs));
  const lines = dataset.lines
    .filter((line) => line.trim() !== '')
    .map((line) => toKinesisRecord(line, nowMs));
  const fixture: Fixture = { nowMs, incidents: dataset.incidents };

  it(
    'reads every shard as its own partition into the lake, exactly; SIGTERM exits 0',
    async () => {
      const stream = 'genai-events-whole';
      await createStream(kinesis.client, stream, SHARDS);
      const placed = await putLines(stream, lines);
      const perShard = countByShard(placed);
      expect(perShard.size, 'the service+model keys spread over every shard').toBe(SHARDS);

      const dir = join(workspace.dir, 'whole');
      const pipeline = await startKinesisRun(stream, dir);
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
      const dir = join(workspace.dir, 'halves');
      const lake = join(dir, 'lake');
      const half = Math.floor(lines.length / 2);

      const first = await putLines(stream, lines.slice(0, half));
      const firstRun = await startKinesisRun(stream, dir);
      await waitUntilRead(firstRun, countByShard(first));
      await stopCleanly(firstRun);
      await expectLakeExact(lake, first, fixture);

      // Written while nothing reads: the next run must start each shard right after what it checkpointed.
      const second = await putLines(stream, lines.slice(half));
      const secondRun = await startKinesisRun(stream, dir);
      await waitUntilRead(secondRun, countByShard(second));
      await stopCleanly(secondRun);
      await expectLakeExact(lake, [...first, ...second], fixture);
    },
    TIMEOUT_MS,
  );
});
