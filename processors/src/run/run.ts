import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LocalLakeStore,
  parseS3LakeConfig,
  type ReadableLakeStore,
  S3LakeStore,
  type WindowResults,
  WorkerPoolEncoder,
} from '@genai-pipeline/sinks';
import { DurableLog } from '../collector/durable-log.js';
import { type Collector, startCollector } from '../collector/http-collector.js';
import { LeaseCheckpointStore } from '../leases/lease-checkpoint-store.js';
import { LeaseCoordinator } from '../leases/lease-coordinator.js';
import { LeaseTable } from '../leases/lease-table.js';
import { openSinks } from '../output/sink-setup.js';
import { teeStore } from '../output/tee-store.js';
import { loadPriceOverrides } from '../pricing/override-file.js';
import { Pricer } from '../pricing/pricer.js';
import { KafkaSource } from '../sources/kafka-source.js';
import { KinesisSource } from '../sources/kinesis-source.js';
import { LogSource } from '../sources/log-source.js';
import type { Source } from '../sources/source.js';
import { CheckpointStore, type PartitionCheckpointStore } from './checkpoint-store.js';
import type { RunConfig } from './config.js';
import { startHealthServer } from './health-server.js';
import { createPipelineMetrics } from './metrics.js';
import { Pipeline } from './pipeline.js';
import type { AnomalyNotice, PipelineStatus } from './status.js';

/**
 * Records the embedded log may hold beyond what the processor has read before the collector sheds
 * load with 503 (backpressure to the producers instead of an ever-growing log).
 */
const MAX_LOG_LAG_RECORDS = 2_000_000;
const RECENT_ANOMALIES = 50;
/** How long a stop goes on processing what the log holds before its final checkpoint. */
const DRAIN_LIMIT_MS = 10_000;
const RATE_WINDOW_MS = 5_000;

export interface RunHandle {
  /** The collector's base URL (embedded source), else the health server's. */
  url: string;
  status(): PipelineStatus;
  /** The end of the newest closed window over all partitions (events before it would be late); undefined before any. */
  closedThrough(): number | undefined;
  /** Resolves when the processing loop ends: after stop(), or rejects on an operational failure. */
  done: Promise<void>;
  /**
   * SIGINT/SIGTERM: stops taking input, processes what the log already holds, delivers it, takes the
   * final checkpoint (open windows included), and closes everything.
   */
  stop(): Promise<void>;
}

export interface RunDependencies {
  log: (line: string) => void;
  clock?: () => number;
}

/** Starts `genai-pipeline run`: sources → windows → sinks, continuously, checkpointed. */
export async function startRun(config: RunConfig, deps: RunDependencies): Promise<RunHandle> {
  const clock = deps.clock ?? Date.now;
  const startedAt = clock();
  const lake = new LocalLakeStore(config.lake);
  await lake.ensureWritable();
  await mkdir(config.stateDir, { recursive: true });
  const pricer = new Pricer(config.pricing ? await loadPriceOverrides(config.pricing) : new Map());
  const sinks = await openSinks({
    sinks: config.sink,
    s3Uri: config.s3Uri,
    cloudwatchNamespace: config.cloudwatchNamespace,
    timestreamDatabase: config.timestreamDatabase,
    timestreamTable: config.timestreamTable,
    influxUrl: config.influxUrl,
    influxToken: config.influxToken,
    influxBucket: config.influxBucket,
    influxOrg: config.influxOrg,
    influxDb: config.influxDb,
  });
  const closers: (() => Promise<void> | void)[] = [() => sinks.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close();
  };
  try {
    const encoder = new WorkerPoolEncoder();
    closers.push(() => encoder.close());

    let pipeline: Pipeline | undefined;
    let sourceFigures: () => Record<string, number> = () => ({});
    const metrics = createPipelineMetrics({
      pipeline: () => pipeline,
      sinks: () => sinks.health(),
      source: () => sourceFigures(),
      clock,
    });
    // CloudWatch sums the health datums: each report carries what this process did since the last
    // one (counted per batch, so partitions restored, claimed or handed over do not skew it).
    const sinceReport = { eventsIn: 0, windowsClosed: 0, invalid: 0, late: 0 };
    const reportHealth = () => {
      sinks.recordPipelineHealth({
        eventsIn: sinceReport.eventsIn,
        windowsClosed: sinceReport.windowsClosed,
        deadLetters: { invalid: sinceReport.invalid, late: sinceReport.late },
      });
      Object.assign(sinceReport, { eventsIn: 0, windowsClosed: 0, invalid: 0, late: 0 });
    };

    const recentAnomalies: AnomalyNotice[] = [];
    let anomaliesDetected = 0;
    let failure: Error | undefined;
    const onWindowClosed = (partition: string, window: WindowResults) => {
      metrics.onWindowClosed(partition, window);
      sinceReport.windowsClosed++;
      for (const row of window.anomalies) {
        anomaliesDetected++;
        recentAnomalies.push(anomalyNotice(row));
        if (recentAnomalies.length > RECENT_ANOMALIES) recentAnomalies.shift();
      }
    };

    let source: Source;
    let leases: ShardLeases | undefined;
    let collector: Collector | undefined;
    let url: string;
    let log: DurableLog | undefined;
    let logSource: LogSource | undefined;
    if (config.source === 'embedded') {
      const durableLog = DurableLog.open(join(config.stateDir, 'log'));
      log = durableLog;
      closers.push(() => durableLog.close());
      logSource = new LogSource(durableLog);
      source = logSource;
    } else if (config.source === 'kinesis' && config.kinesisLeaseTable !== undefined) {
      const shared = await openShardLeases(config, deps.log);
      closers.push(() => shared.close());
      leases = shared;
      sourceFigures = () => ({ ...kinesisFigures(shared.source), ...leaseFigures(shared.coordinator) });
      source = shared.source;
    } else if (config.source === 'kinesis') {
      const kinesis = new KinesisSource({ streamName: config.kinesisStream as string });
      sourceFigures = () => kinesisFigures(kinesis);
      source = kinesis;
    } else {
      source = new KafkaSource({
        brokers: config.kafkaBrokers as string[],
        topic: config.kafkaTopic as string,
        groupId: config.kafkaGroup,
        sessionTimeoutMs: config.kafkaSessionTimeoutSeconds * 1000,
      });
    }

    let checkpoints: PartitionCheckpointStore;
    let storeId: string;
    if (leases === undefined) {
      const local = CheckpointStore.open(join(config.stateDir, 'checkpoints'));
      closers.push(() => local.close());
      checkpoints = local;
      storeId = local.storeId;
    } else {
      checkpoints = leases.checkpoints;
      storeId = leases.storeId;
    }

    pipeline = new Pipeline({
      source,
      sourceIdOf: (partition) => `${storeId}-${partition}`,
      store: teeStore([lake, ...sinks.lakeStores]),
      prunableStores: [lake, ...sinks.lakeStores],
      encoder,
      windowSinks: sinks.windowSinks,
      checkpoints,
      pricer,
      maxOutOfOrdernessMs: Math.round(config.maxOutOfOrdernessSeconds * 1000),
      checkpointIntervalMs: config.checkpointIntervalSeconds * 1000,
      instanceId: config.instanceId,
      ownershipTimeoutMs: config.ownershipTimeoutSeconds * 1000,
      clock,
      log: deps.log,
      onBatch: (batch, delta) => {
        metrics.onBatch(batch, delta);
        sinceReport.eventsIn += delta.events;
        sinceReport.invalid += delta.invalid;
        sinceReport.late += delta.late;
      },
      onWindowClosed,
      onCheckpoint: metrics.onCheckpoint,
      beforeCheckpoint: () => reportHealth(),
    });
    await pipeline.start();
    const running = pipeline;

    const unhealthyReason = () => (failure ? `processing stopped: ${failure.message}` : undefined);
    if (log !== undefined && logSource !== undefined) {
      const durableLog = log;
      const readFrom = logSource;
      collector = await startCollector({
        host: config.host,
        port: config.port,
        log: durableLog,
        maxBodyBytes: config.maxBodyBytes,
        clock,
        registries: [metrics.registry],
        unhealthyReason,
        shedReason: () => {
          const behind = durableLog.nextOffset - readFrom.readOffset;
          return behind > MAX_LOG_LAG_RECORDS ? `the processor is ${behind} records behind` : undefined;
        },
      });
      url = collector.url;
    } else {
      const server = await startHealthServer({
        host: config.host,
        port: config.port,
        registry: metrics.registry,
        unhealthyReason,
      });
      closers.push(() => server.close());
      url = server.url;
    }

    const rate = eventRate(clock);
    const stopLoop = new AbortController();
    const done = running.run(stopLoop.signal).catch((error: Error) => {
      failure = error;
      throw error;
    });
    // The loop's failure is reported through `done`; keep Node from flagging it as unhandled meanwhile.
    done.catch(() => undefined);

    let stopping: Promise<void> | undefined;
    const stop = async () => {
      await collector?.close();
      stopLoop.abort();
      await done.catch(() => undefined);
      try {
        // Everything the collector acknowledged is in the log: process it before the final checkpoint.
        // Bounded: what is left stays in the log for the next start (it was stored before its 202).
        if (failure === undefined && config.source === 'embedded')
          await running.drain(clock() + DRAIN_LIMIT_MS);
        await running.stop();
      } finally {
        await closeAll();
      }
      if (failure) throw failure;
    };

    return {
      url,
      done,
      stop: () => {
        stopping ??= stop();
        return stopping;
      },
      closedThrough: () => {
        const ends = running
          .partitionStats()
          .map((s) => s.closedThrough)
          .filter(Number.isFinite);
        return ends.length > 0 ? Math.max(...ends) : undefined;
      },
      status: () => {
        const stats = running.partitionStats();
        const sum = (pick: (s: (typeof stats)[number]) => number) => stats.reduce((t, s) => t + pick(s), 0);
        const events = sum((s) => s.counters.events);
        const lags = stats.map((s) => s.lagRecords).filter((lag): lag is number => lag !== undefined);
        const watermarks = stats.map((s) => s.watermark).filter(Number.isFinite);
        return {
          startedAt,
          source: source.name,
          collectorUrl: collector?.url ?? null,
          lake: lake.describe(),
          eventsIn: events,
          eventsPerSecond: rate(events),
          accepted: sum((s) => s.counters.accepted),
          duplicates: sum((s) => s.counters.duplicates),
          deadLetters: { invalid: sum((s) => s.counters.invalid), late: sum((s) => s.counters.late) },
          lagRecords: lags.length > 0 ? lags.reduce((a, b) => a + b, 0) : null,
          watermarkDelayMs: watermarks.length > 0 ? clock() - Math.min(...watermarks) : null,
          windowsClosed: sum((s) => s.windowsClosed),
          anomaliesDetected,
          recentAnomalies: [...recentAnomalies],
          lastCheckpointAt: running.lastCheckpoint,
          sinks: sinks.health(),
        };
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

interface ShardLeases {
  source: KinesisSource;
  coordinator: LeaseCoordinator;
  checkpoints: LeaseCheckpointStore;
  /** The lease table's id: lake files of a shard have the same name whichever instance writes them. */
  storeId: string;
  close(): Promise<void>;
}

/**
 * Kinesis shared by several instances: the shards are leased in DynamoDB and each shard's state is
 * checkpointed to a store every instance reaches, so a shard moves with its state.
 */
async function openShardLeases(config: RunConfig, log: (line: string) => void): Promise<ShardLeases> {
  const table = new LeaseTable({ tableName: config.kinesisLeaseTable as string });
  const stateUri = config.kinesisShardState as string;
  const state: ReadableLakeStore & { ensureWritable(): Promise<void>; destroy?: () => void } =
    stateUri.startsWith('s3://')
      ? S3LakeStore.fromConfig(parseS3LakeConfig({ uri: stateUri }))
      : new LocalLakeStore(stateUri);
  const source: KinesisSource = new KinesisSource({
    streamName: config.kinesisStream as string,
    assignment: { assigned: () => coordinator.assigned() },
  });
  const coordinator: LeaseCoordinator = new LeaseCoordinator({
    table,
    worker: config.instanceId,
    listShards: () => source.describeShards(),
    failoverMs: config.ownershipTimeoutSeconds * 1000,
    log,
    onLeaseDeleted: (lease) => checkpoints.forget(lease),
  });
  const checkpoints = new LeaseCheckpointStore({ coordinator, table, state, log });
  const close = async () => {
    // The pipeline released the shards it had open; the coordinator lets go of the rest.
    await coordinator.stop();
    table.close();
    state.destroy?.();
  };
  try {
    await state.ensureWritable();
    await coordinator.start();
    const storeId = await table.storeId();
    log(
      `shard leases in DynamoDB table ${table.tableName} (store ${storeId}), shard state in ${state.describe()}, as ${config.instanceId}`,
    );
    return {
      source,
      coordinator,
      checkpoints,
      storeId,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function kinesisFigures(source: KinesisSource): Record<string, number> {
  const { shardsKnown, shardsEnded, retriedErrors } = source.stats();
  return { shards_known: shardsKnown, shards_ended: shardsEnded, retried_errors: retriedErrors };
}

function leaseFigures(coordinator: LeaseCoordinator): Record<string, number> {
  const stats = coordinator.stats();
  return {
    leases_held: stats.leasesHeld,
    lease_takeovers: stats.takeovers,
    lease_handoffs_requested: stats.handoffsRequested,
    leases_handed_over: stats.handedOver,
    leases_lost: stats.lost,
    lease_workers: stats.workers,
  };
}

/** Events per second over the last few seconds, from successive totals. */
function eventRate(clock: () => number): (total: number) => number {
  const samples: { at: number; total: number }[] = [];
  return (total) => {
    const now = clock();
    samples.push({ at: now, total });
    while (samples.length > 2 && (samples[1]?.at ?? now) <= now - RATE_WINDOW_MS) samples.shift();
    const first = samples[0] as { at: number; total: number };
    const seconds = (now - first.at) / 1000;
    return seconds > 0 ? (total - first.total) / seconds : 0;
  };
}

function anomalyNotice(row: Record<string, unknown>): AnomalyNotice {
  return {
    windowStart: row.window_start as number,
    service: row.service as string,
    modelId: row.model_id as string,
    tenantId: (row.tenant_id as string | null) ?? null,
    kind: row.kind as string,
    scoreName: (row.score_name as string | null) ?? null,
    severity: row.severity as string,
    observed: row.observed as number,
    baseline: row.baseline as number,
  };
}
