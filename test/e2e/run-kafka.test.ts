/**
 * `genai-pipeline run --source kafka` end to end (issue #5): the producer SDK's kafka transport →
 * a Kafka broker → `run` → the lake, compared per partition with the independent oracle. Against the
 * project's Kafka wire-protocol test broker, and against a real cluster too when KAFKA_BROKERS is set.
 * Scenarios: a clean run; `run` killed with SIGKILL mid-stream and restarted; a second processor
 * joining the group mid-stream (a rebalance hands partitions over).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEmitter, KafkaTransport } from '@genai-pipeline/producers';
import { decodeSingleObject } from '@genai-pipeline/schemas';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KafkaBroker, startKafkaBroker } from '../kafka-broker/broker.js';
import { diffDeadLetters, diffLakeFiles } from '../support/compare.js';
import { generateDataset, smallDatasetOptions } from '../support/dataset.js';
import { computeExpected, InvalidEvent, parseLine } from '../support/expected.js';
import { listFiles } from '../support/lake.js';
import { Prng } from '../support/prng.js';
import {
  closedWindowsOnly,
  diffEventTables,
  expectNoMismatches,
  metricByPartition,
  rowsInFiles,
  stopCleanly,
  useE2eWorkspace,
} from '../support/run-lake.js';
import { type RunningPipeline, startRunProcess } from '../support/run-process.js';

const TIMEOUT_MS = 300_000;
const PARTITIONS = 3;
/** How long the processors may take to read what was produced before the test gives up. */
const READ_DEADLINE_MS = 120_000;

const workspace = useE2eWorkspace('genai-run-kafka-');
let testBroker: KafkaBroker;

beforeAll(async () => {
  testBroker = await startKafkaBroker();
});

afterAll(async () => {
  await testBroker?.stop();
});

const now = Date.now();
/** The valid events of a small dataset: the SDK refuses invalid ones before they reach Kafka. */
const events = generateDataset({ ...smallDatasetOptions(now), scale: 1 })
  .lines.filter((line) => line.trim() !== '')
  .flatMap((line) => {
    try {
      return [parseLine(line, now)];
    } catch (error) {
      if (error instanceof InvalidEvent) return [];
      throw error;
    }
  });

/** The producer SDK's form of a dataset event: scores carry their kind. */
const toEmit = ({ kind, event }: (typeof events)[number]) =>
  kind === 'score' ? { kind: 'score' as const, ...event } : event;

const kafkaClient = (brokers: string) =>
  new Kafka({ clientId: 'genai-run-kafka-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING });

async function createTopic(brokers: string, topic: string): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Sends events through the producer SDK (kafka transport: idempotent, gzip, keyed by service and model). */
async function produce(brokers: string, topic: string, batch: typeof events): Promise<void> {
  const emitter = createEmitter({
    transport: new KafkaTransport({ topic, kafka: kafkaClient(brokers) }),
    maxBatchEvents: 200,
    maxBufferedEvents: batch.length,
  });
  for (const entry of batch) emitter.emit(toEmit(entry));
  await emitter.close();
  const stats = emitter.stats();
  expect(stats.sent, JSON.stringify(stats)).toBe(batch.length);
}

/** What the broker holds, per partition in offset order, as JSON lines for the oracle. */
async function partitionContents(
  brokers: string,
  topic: string,
  count: number,
): Promise<Map<number, string[]>> {
  const consumer = kafkaClient(brokers).consumer({ groupId: `${topic}-oracle` });
  const byPartition = new Map<number, { offset: bigint; line: string }[]>();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        const { kind, record } = decodeSingleObject(message.value as Buffer);
        const line = JSON.stringify(kind === 'score' ? { kind, ...(record as object) } : record);
        const rows = byPartition.get(partition) ?? [];
        rows.push({ offset: BigInt(message.offset), line });
        byPartition.set(partition, rows);
        if (++seen === count) resolve();
      },
    });
  });
  await consumer.disconnect();
  return new Map(
    [...byPartition].map(([partition, rows]) => [
      partition,
      rows.sort((a, b) => (a.offset < b.offset ? -1 : 1)).map((row) => row.line),
    ]),
  );
}

/**
 * The lake holds, for every partition of the topic and only in that partition's files, what the oracle
 * says of the partition's records (read back from the brokers, `events.length` of them in all).
 */
async function expectLakeExact(brokers: string, topic: string, lake: string): Promise<void> {
  const tables = await workspace.readAllTables(lake);
  const mismatches: string[] = [];
  for (const [partition, lines] of await partitionContents(brokers, topic, events.length)) {
    // Lake files carry the partition: `<store id>-<topic>.<partition>-<first>-<last>.parquet`.
    const rows = rowsInFiles(tables, (file) => file.includes(`-${topic}.${partition}-`));
    // Windows `run` has closed on one partition: those the partition's own watermark passed.
    const { expected } = closedWindowsOnly(
      computeExpected(lines, { nowMs: now, pricing: workspace.pricing }),
    );
    mismatches.push(
      ...[
        ...diffEventTables(rows, expected),
        ...diffDeadLetters(rows.dead_letters, expected.deadLetters, false),
      ].map((m) => `partition ${partition}: ${m}`),
    );
  }
  mismatches.push(...diffLakeFiles(listFiles(lake)));
  expectNoMismatches(mismatches);
}

/** Records this `run` process has read, over all its partitions. */
async function eventsIn(pipeline: RunningPipeline): Promise<number> {
  const byPartition = await metricByPartition(pipeline.url, 'genai_pipeline_events_in_total');
  return [...byPartition.values()].reduce((a, b) => a + b, 0);
}

/** Waits until the running processors together have read `count` records (each exactly once). */
async function waitForEvents(pipelines: readonly RunningPipeline[], count: number): Promise<void> {
  const deadline = Date.now() + READ_DEADLINE_MS;
  for (;;) {
    const seen = (await Promise.all(pipelines.map(eventsIn))).reduce((a, b) => a + b, 0);
    if (seen === count) return;
    if (seen > count) throw new Error(`processed ${seen} records, but only ${count} were produced`);
    if (Date.now() > deadline) {
      throw new Error(
        `processed ${seen} of ${count} records in time\n${pipelines.map((p) => p.stderr().slice(-1500)).join('\n')}`,
      );
    }
    await sleep(200);
  }
}

/** Waits until every partition of the topic reports no records left to read. */
async function waitForCaughtUp(pipeline: RunningPipeline): Promise<void> {
  const deadline = Date.now() + READ_DEADLINE_MS;
  for (;;) {
    const lags = [...(await metricByPartition(pipeline.url, 'genai_pipeline_consumer_lag_records')).values()];
    if (lags.length === PARTITIONS && lags.every((lag) => lag === 0)) return;
    if (Date.now() > deadline) throw new Error(`lags ${lags} in time\n${pipeline.stderr().slice(-1500)}`);
    await sleep(200);
  }
}

const brokerTargets = [
  { name: 'the test broker', brokers: () => testBroker.brokers },
  ...(process.env.KAFKA_BROKERS
    ? [{ name: 'KAFKA_BROKERS', brokers: () => process.env.KAFKA_BROKERS as string }]
    : []),
];

describe.each(brokerTargets)('run --source kafka through $name', ({ brokers }) => {
  const runArgs = (topic: string, dir: string, extra: string[] = []) => [
    '--source',
    'kafka',
    '--no-demo',
    '--kafka-brokers',
    brokers(),
    '--kafka-topic',
    topic,
    '--kafka-group',
    `${topic}-processors`,
    ...workspace.runDirArgs(dir),
    '--checkpoint-interval-seconds',
    '1',
    // A killed processor's partitions go to the restarted one after these (the broker's minimum).
    '--kafka-session-timeout-seconds',
    '6',
    '--ownership-timeout-seconds',
    '6',
    ...extra,
  ];

  /** A new topic on these brokers, and a directory for the lakes and state of the runs that read it. */
  async function newTopic(name: string): Promise<{ topic: string; dir: string }> {
    const topic = `${name}-${Date.now()}`;
    await createTopic(brokers(), topic);
    return { topic, dir: join(workspace.dir, topic) };
  }

  it(
    'takes the SDK’s events through the broker into the lake, exactly, per partition',
    async () => {
      const { topic, dir } = await newTopic('clean');
      await produce(brokers(), topic, events);
      const pipeline = await startRunProcess(runArgs(topic, dir));
      await waitForEvents([pipeline], events.length);
      await stopCleanly(pipeline);
      await expectLakeExact(brokers(), topic, join(dir, 'lake'));
    },
    TIMEOUT_MS,
  );

  it(
    'is still exact after SIGKILL mid-stream and restarts',
    async () => {
      const { topic, dir } = await newTopic('crash');
      const prng = new Prng(5);
      const chunks = 6;
      const size = Math.ceil(events.length / chunks);
      for (let chunk = 0; chunk < chunks - 1; chunk++) {
        const pipeline = await startRunProcess(runArgs(topic, dir));
        await produce(brokers(), topic, events.slice(chunk * size, (chunk + 1) * size));
        await sleep(prng.int(200, 1_500));
        pipeline.child.kill('SIGKILL');
        await pipeline.exited;
      }
      // The last process resumes from the checkpoints the killed ones left and reads the rest.
      const last = await startRunProcess(runArgs(topic, dir));
      await produce(brokers(), topic, events.slice((chunks - 1) * size));
      await waitForCaughtUp(last);
      await stopCleanly(last);
      await expectLakeExact(brokers(), topic, join(dir, 'lake'));
    },
    TIMEOUT_MS,
  );

  it(
    'stays exact when a second processor joins the group mid-stream (a rebalance hands partitions over)',
    async () => {
      const { topic, dir } = await newTopic('rebalance');
      const half = Math.floor(events.length / 2);
      const first = await startRunProcess(runArgs(topic, dir, ['--instance-id', 'first']));
      await produce(brokers(), topic, events.slice(0, half));
      const second = await startRunProcess(runArgs(topic, dir, ['--instance-id', 'second']));
      await produce(brokers(), topic, events.slice(half));
      await waitForEvents([first, second], events.length);
      expect(await eventsIn(second), 'the second processor took partitions over').toBeGreaterThan(0);
      await stopCleanly(first);
      await stopCleanly(second);
      await expectLakeExact(brokers(), topic, join(dir, 'lake'));
    },
    TIMEOUT_MS,
  );
});

describe('the producer SDK’s kafka transport through the test broker’s faults', () => {
  it(
    'delivers every event exactly once when connections drop and acknowledgements are lost mid-stream',
    async () => {
      const topic = `faults-${Date.now()}`;
      await createTopic(testBroker.brokers, topic);
      const emitter = createEmitter({
        transport: new KafkaTransport({ topic, kafka: kafkaClient(testBroker.brokers) }),
        maxBatchEvents: 100,
        maxBufferedEvents: events.length,
        retry: { initialDelayMs: 20, maxDelayMs: 200 },
      });
      const sending = events.slice(0, 3_000);
      for (const [i, entry] of sending.entries()) {
        emitter.emit(toEmit(entry));
        if (i === 1_000) testBroker.faults.dropConnections();
        if (i === 2_000) testBroker.faults.loseProduceAcks(2);
        if (i % 250 === 0) await sleep(5);
      }
      await emitter.close();
      expect(emitter.stats().sent, JSON.stringify(emitter.stats())).toBe(sending.length);
      const contents = await partitionContents(testBroker.brokers, topic, sending.length);
      const ids = [...contents.values()]
        .flat()
        .map((line) => (JSON.parse(line) as { event_id: string }).event_id);
      expect(ids.length).toBe(sending.length);
      expect(new Set(ids)).toEqual(new Set(sending.map(({ event }) => event.event_id)));
    },
    TIMEOUT_MS,
  );
});
