/**
 * Kinesis scale-out benchmark (issue 6): `run --source kinesis` instances sharing a stream's shards
 * through leases in DynamoDB, on kinesalite and dynalite (both in this process).
 *
 * - Throughput: the same pre-loaded stream read to its end by one instance without leases (the
 *   single-reader peer), one instance with leases, and three instances with leases. Events/s are
 *   counted from the first record read to the last (the instances' /metrics), so start-up is apart.
 *   The three instances' leases are dealt out before they start (as balancing would leave them), so
 *   the leg measures three readers from its first record, not the minutes of balancing.
 * - Takeover: three instances read a stream a producer keeps writing to; the one holding the most
 *   leases is SIGKILLed; measured are the time until its shards' leases have new owners and until
 *   those shards are processed again (a survivor's records-read counter for the shard moves). A
 *   replacement instance joins and the next round kills another.
 *
 * On this 2-core machine the instances, kinesalite and dynalite share the CPU: more instances do not
 * add cores, so the three-instance figure shows the cost of coordination, not a speed-up.
 *
 *   npm run bench -- --only scale-out [--events N] [--shards S] [--failover-seconds F]
 *                                     [--takeover-rounds K] [--takeover-rate R] [--seed S]
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { partitionKeyFor } from '@genai-pipeline/producers';
import { encodeSingleObject, parseJsonLine } from '@genai-pipeline/schemas';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import { parseMetrics, startPipeline, stopPipeline } from './live.mjs';
import { machineInfo } from './report.mjs';
import { generateRecords } from './workload.mjs';

const PUT_BATCH = 500;
const POLL_MS = 100;
const READ_DEADLINE_MS = 600_000;
const TAKEOVER_DEADLINE_MS = 120_000;
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      events: { type: 'string', default: '100000' },
      shards: { type: 'string', default: '4' },
      'failover-seconds': { type: 'string', default: '5' },
      'takeover-rounds': { type: 'string', default: '3' },
      'takeover-rate': { type: 'string', default: '1000' },
      seed: { type: 'string', default: '42' },
    },
  });
  const integer = (name, min) => {
    const value = Number(String(values[name]).replaceAll('_', ''));
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return value;
  };
  return {
    events: integer('events', 1),
    shards: integer('shards', 1),
    failoverSeconds: integer('failover-seconds', 1),
    takeoverRounds: integer('takeover-rounds', 0),
    takeoverRate: integer('takeover-rate', 1),
    seed: integer('seed', 0),
  };
}

/** The workload as producers put it: single-object Avro keyed by service and model; invalid lines as their text. */
function* kinesisRecords(count, seed) {
  for (const record of generateRecords(count, seed)) {
    const parsed = record.kind === 'invalid' ? undefined : parseJsonLine(record.line, Date.now());
    if (parsed?.ok) {
      const { service, model_id } = parsed.value.event;
      yield { Data: encodeSingleObject(parsed.value), PartitionKey: partitionKeyFor(service, model_id) };
    } else {
      yield { Data: Buffer.from(record.line), PartitionKey: 'unparsed-lines' };
    }
  }
}

async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

async function createStream(kinesis, name, shards) {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (;;) {
    const { StreamDescriptionSummary } = await kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: name }),
    );
    if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(20);
  }
}

/** PutRecords in order, retrying what a call rejected. */
async function putAll(kinesis, stream, records) {
  for (let at = 0; at < records.length; at += PUT_BATCH) {
    let batch = records.slice(at, at + PUT_BATCH);
    while (batch.length > 0) {
      const out = await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: batch }));
      batch = batch.filter((_, i) => out.Records?.[i]?.ErrorCode !== undefined);
      if (batch.length > 0) await sleep(50);
    }
  }
}

async function scrape(run) {
  const response = await fetch(`${run.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return parseMetrics(await response.text());
}

/** Records read per shard by one instance. */
function readByShard(metrics) {
  const out = {};
  for (const [key, value] of Object.entries(metrics)) {
    const shard = /^genai_pipeline_events_in_total\{partition="([^"]+)"\}$/.exec(key)?.[1];
    if (shard) out[shard] = value;
  }
  return out;
}

export async function runScaleOut(argv, { root, log }) {
  const opts = options(argv);
  const cli = join(root, 'processors/dist/cli/main.js');
  const workDir = join(root, 'bench-results/work/scale-out');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });

  const kinesisServer = kinesalite({ createStreamMs: 0, updateStreamMs: 0, shardLimit: 1000 });
  const dynamoServer = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const kinesisEndpoint = await listen(kinesisServer);
  const dynamoEndpoint = await listen(dynamoServer);
  const client = (Client, endpoint) =>
    new Client({
      region: 'us-east-1',
      endpoint,
      credentials: CREDENTIALS,
      requestHandler: new NodeHttpHandler(),
    });
  const kinesis = client(KinesisClient, kinesisEndpoint);
  const dynamo = client(DynamoDBClient, dynamoEndpoint);
  const env = {
    AWS_ENDPOINT_URL_KINESIS: kinesisEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  };
  const running = new Set();
  const start = async (leg, name, stream, leaseTable) => {
    const dir = join(workDir, leg);
    const args = ['--source', 'kinesis', '--kinesis-stream', stream, '--instance-id', name];
    if (leaseTable) {
      args.push('--kinesis-lease-table', leaseTable, '--kinesis-shard-state', join(dir, 'shards'));
      args.push('--ownership-timeout-seconds', String(opts.failoverSeconds));
    }
    const run = await startPipeline(cli, join(dir, 'lake'), join(dir, 'state', name), root, args, env);
    running.add(run);
    return Object.assign(run, { name });
  };
  const stop = async (run) => {
    running.delete(run);
    return stopPipeline(run);
  };

  const results = { machine: machineInfo(root), options: opts, read: [], takeover: [] };
  try {
    const stream = 'bench-read';
    await createStream(kinesis, stream, opts.shards);
    log(`putting ${opts.events} records into ${opts.shards} shards`);
    const records = [...kinesisRecords(opts.events, opts.seed)];
    await putAll(kinesis, stream, records);

    for (const [leg, instances, leaseTable] of [
      ['single-reader', 1, undefined],
      ['leases-1', 1, 'bench-leases-1'],
      ['leases-3', 3, 'bench-leases-3'],
    ]) {
      log(`leg ${leg}: ${instances} instance(s) read ${records.length} records`);
      const names = Array.from({ length: instances }, (_, i) => `${leg}-${i + 1}`);
      if (leaseTable) await dealLeases({ root, dynamo, kinesis, stream, table: leaseTable, names });
      const runs = [];
      for (let i = 1; i <= instances; i++) runs.push(await start(leg, `${leg}-${i}`, stream, leaseTable));
      const startedAt = Date.now();
      let firstAt;
      let perInstance = [];
      for (;;) {
        perInstance = await Promise.all(
          runs.map(async (run) => scrape(run).then((m) => m.genai_pipeline_events_in_total ?? 0)),
        );
        const total = perInstance.reduce((a, b) => a + b, 0);
        if (total > 0) firstAt ??= Date.now();
        if (total >= records.length) break;
        if (Date.now() - startedAt > READ_DEADLINE_MS)
          throw new Error(`${leg}: read ${total} of ${records.length}`);
        await sleep(POLL_MS);
      }
      const doneAt = Date.now();
      for (const run of runs) await stop(run);
      const seconds = (doneAt - firstAt) / 1000;
      results.read.push({
        leg,
        instances,
        records: records.length,
        seconds,
        events_per_second: Math.round(records.length / seconds),
        seconds_from_start: (doneAt - startedAt) / 1000,
        records_per_instance: perInstance,
      });
      log(
        `  ${Math.round(records.length / seconds)} events/s (${seconds.toFixed(1)} s), per instance ${perInstance.join(', ')}`,
      );
    }
    const peer = results.read[0].events_per_second;
    for (const leg of results.read)
      leg.ratio_to_single_reader = Math.round((leg.events_per_second / peer) * 100) / 100;

    if (opts.takeoverRounds > 0)
      results.takeover = await takeoverRounds(opts, { kinesis, dynamo, start, stop, log });
  } finally {
    for (const run of [...running]) await stop(run).catch(() => undefined);
    kinesis.destroy();
    dynamo.destroy();
    await new Promise((resolve) => kinesisServer.close(resolve));
    await new Promise((resolve) => dynamoServer.close(resolve));
  }

  const out = join(root, 'bench-results/scale-out.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  print(results, log);
  log(`results: ${relative(root, out)}`);
  return 0;
}

/**
 * Creates the lease table and deals its leases round-robin to `names` with the product's own
 * LeaseTable: an instance finding leases under its name takes them at once.
 */
async function dealLeases({ root, dynamo, kinesis, stream, table, names }) {
  const { LeaseTable } = await import(
    pathToFileURL(join(root, 'processors/dist/leases/lease-table.js')).href
  );
  const leases = new LeaseTable({ tableName: table, client: dynamo });
  await leases.ensureTable();
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
  for (const [i, shard] of Shards.entries()) {
    const hashKeyRange = { start: shard.HashKeyRange.StartingHashKey, end: shard.HashKeyRange.EndingHashKey };
    await leases.create({
      shardId: shard.ShardId,
      checkpoint: 'TRIM_HORIZON',
      parentShardIds: [],
      hashKeyRange,
    });
    const created = await leases.get(shard.ShardId);
    await leases.take(created, names[i % names.length]);
  }
}

/** Owner of each lease (the meta item aside). */
async function leaseOwners(dynamo, table) {
  const owners = new Map();
  let start;
  do {
    const page = await dynamo.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    for (const item of page.Items ?? []) {
      if (item.leaseKey.S !== '__meta__') owners.set(item.leaseKey.S, item.leaseOwner?.S);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return owners;
}

async function takeoverRounds(opts, { kinesis, dynamo, start, stop, log }) {
  const stream = 'bench-takeover';
  const table = 'bench-takeover-leases';
  await createStream(kinesis, stream, opts.shards);
  // A producer keeps writing, so every shard always has records to process.
  const producing = new AbortController();
  const producer = (async () => {
    const perTick = Math.max(1, Math.round(opts.takeoverRate / 10));
    let seed = opts.seed + 1;
    while (!producing.signal.aborted) {
      await putAll(kinesis, stream, [...kinesisRecords(perTick, seed++)]);
      await sleep(100);
    }
  })();
  const live = [];
  let next = 1;
  const addInstance = async () => live.push(await start('takeover', `takeover-${next++}`, stream, table));
  for (let i = 0; i < 3; i++) await addInstance();
  const rounds = [];
  try {
    for (let round = 1; round <= opts.takeoverRounds; round++) {
      const owners = await waitForBalance(dynamo, table, live, opts.shards);
      await sleep(2_000);
      const counts = new Map(live.map((run) => [run.name, 0]));
      for (const owner of owners.values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
      const victim = live.reduce((a, b) => ((counts.get(b.name) ?? 0) > (counts.get(a.name) ?? 0) ? b : a));
      const shards = [...owners].filter(([, owner]) => owner === victim.name).map(([shard]) => shard);
      const survivors = live.filter((run) => run !== victim);
      const before = await Promise.all(survivors.map(async (run) => readByShard(await scrape(run))));
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      live.splice(live.indexOf(victim), 1);
      const taken = new Map();
      const processing = new Map();
      while (processing.size < shards.length) {
        if (Date.now() - killedAt > TAKEOVER_DEADLINE_MS)
          throw new Error(`round ${round}: shards ${shards} not taken over`);
        const now = await leaseOwners(dynamo, table);
        const read = await Promise.all(survivors.map(async (run) => readByShard(await scrape(run))));
        const at = Date.now();
        for (const shard of shards) {
          if (!taken.has(shard) && survivors.some((run) => run.name === now.get(shard)))
            taken.set(shard, at - killedAt);
          if (
            !processing.has(shard) &&
            read.some((counts, i) => (counts[shard] ?? 0) > (before[i][shard] ?? 0))
          ) {
            processing.set(shard, at - killedAt);
          }
        }
        await sleep(POLL_MS);
      }
      const result = {
        round,
        failover_seconds: opts.failoverSeconds,
        shards_of_killed_instance: shards.length,
        lease_taken_seconds: Math.max(...taken.values()) / 1000,
        processing_again_seconds: Math.max(...processing.values()) / 1000,
      };
      rounds.push(result);
      log(
        `  takeover round ${round}: ${shards.length} shard(s) of ${victim.name}: leases taken after ${result.lease_taken_seconds} s, processed again after ${result.processing_again_seconds} s (failover ${opts.failoverSeconds} s)`,
      );
      await addInstance();
    }
  } finally {
    producing.abort();
    await producer;
    for (const run of live) await stop(run);
  }
  return rounds;
}

/** Waits until every lease is held by a live instance and each live instance holds at least one. */
async function waitForBalance(dynamo, table, live, shards) {
  const deadline = Date.now() + TAKEOVER_DEADLINE_MS;
  for (;;) {
    const owners = await leaseOwners(dynamo, table).catch(() => new Map());
    const names = new Set(live.map((run) => run.name));
    const held = [...owners.values()].filter((owner) => names.has(owner));
    const everyone = live.every((run) => held.includes(run.name)) || shards < live.length;
    if (owners.size >= shards && held.length === owners.size && everyone) return owners;
    if (Date.now() > deadline) throw new Error(`leases never balanced: ${JSON.stringify([...owners])}`);
    await sleep(200);
  }
}

function print(results, log) {
  log('scale-out: throughput (events/s from the first record read to the last)');
  for (const leg of results.read) {
    log(
      `  ${leg.leg.padEnd(14)} ${String(leg.events_per_second).padStart(7)} events/s  ×${leg.ratio_to_single_reader} of single-reader  (${leg.instances} instance(s), ${leg.seconds.toFixed(1)} s)`,
    );
  }
  if (results.takeover.length > 0) {
    const taken = results.takeover.map((r) => r.processing_again_seconds);
    log(
      `scale-out: death → shards processed again: ${taken.map((s) => `${s} s`).join(', ')} (failover ${results.options.failoverSeconds} s)`,
    );
  }
}
