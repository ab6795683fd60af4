import { setTimeout as sleep } from 'node:timers/promises';
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { type ResilienceOptions, type SinkHealth, SinkResilience } from '../util/resilience.js';
import { isRetriable, SinkRequestError } from '../util/retriable.js';
import { SerialQueue } from '../util/serial-queue.js';
import type { WindowResults, WindowSink } from '../window-results.js';
import { CardinalityGuard, type GuardedKey } from './cardinality-guard.js';
import { type CloudWatchMetricsClient, SdkCloudWatchClient } from './client.js';
import {
  type CloudWatchSinkConfig,
  type CloudWatchSinkConfigInput,
  parseCloudWatchSinkConfig,
} from './config.js';
import { EmfWriter } from './emf.js';
import { healthDatums, type PipelineHealthReport } from './health-datums.js';
import { batchDatums, buildDatums, withinHorizon } from './request-builder.js';

export interface CloudWatchSinkOptions {
  config?: CloudWatchSinkConfigInput;
  /** Defaults to an EmfWriter when `config.emf` is not `off`, else the SDK client (standard AWS config). */
  client?: CloudWatchMetricsClient;
  resilience?: Partial<ResilienceOptions>;
  /** The clock the 14-day horizon is measured from. */
  clock?: () => number;
  /** Operational messages (rejections, datums past the horizon); default stderr. */
  log?: (message: string) => void;
  /** Pause between delivery attempts while `write` waits for room and the endpoint is down. Default 1 s. */
  backpressurePauseMs?: number;
}

export interface CloudWatchSinkHealth extends SinkHealth {
  datumsSent: number;
  datumsQueued: number;
  /** Datums CloudWatch rejected as invalid (not retriable): logged with the reason and dropped. */
  datumsRejected: number;
  /** Datums skipped because their window is older than the horizon (at build time or while queued). */
  outOfHorizon: number;
  /** Series skipped because a value was NaN or infinite. */
  nonFinite: number;
  guardFolds: Partial<Record<GuardedKey, number>>;
  lastBatchSize: number;
  lastRequestLatencyMs: number;
}

/**
 * Window results to CloudWatch (CONTRACT.md §7), by PutMetricData or as EMF lines. `write` builds datums
 * and queues them; `flush` delivers the queue in requests of ≤ 1000 datums and ≤ 1 MB and resolves only
 * when every datum written so far is delivered (Vector's rule: acknowledge after delivery). What cannot
 * be delivered now (retries exhausted, breaker open) stays queued and flush rejects with a retriable
 * error; later flushes send it. A request CloudWatch rejects as invalid is split in halves until the bad
 * datum is isolated, which is logged and dropped (CloudWatch will never take it); the rest is delivered.
 */
export class CloudWatchSink implements WindowSink {
  readonly name = 'cloudwatch';
  readonly config: CloudWatchSinkConfig;
  private readonly client: CloudWatchMetricsClient;
  private readonly resilience: SinkResilience;
  private readonly guard: CardinalityGuard;
  private readonly clock: () => number;
  private readonly log: (message: string) => void;
  private readonly backpressurePauseMs: number;
  /** Datums written and not yet delivered, oldest first; requests always take a prefix. */
  private queue: MetricDatum[] = [];
  private readonly deliveries = new SerialQueue();
  private readonly counters = {
    datumsSent: 0,
    datumsRejected: 0,
    outOfHorizon: 0,
    nonFinite: 0,
    lastBatchSize: 0,
    lastRequestLatencyMs: 0,
  };

  constructor(options: CloudWatchSinkOptions = {}) {
    this.config = parseCloudWatchSinkConfig(options.config);
    const { emf, region } = this.config;
    this.client =
      options.client ??
      (emf === 'off' ? new SdkCloudWatchClient(region === undefined ? {} : { region }) : new EmfWriter(emf));
    this.resilience = new SinkResilience(options.resilience);
    this.guard = new CardinalityGuard(this.config);
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? ((message) => process.stderr.write(`[cloudwatch] ${message}\n`));
    this.backpressurePauseMs = options.backpressurePauseMs ?? 1000;
  }

  async write(windows: readonly WindowResults[]): Promise<void> {
    const built = buildDatums(windows, {
      dimensionSets: this.config.dimensionSets,
      mapper: this.guard,
      now: this.clock(),
      horizonMs: this.config.horizonMs,
    });
    this.counters.outOfHorizon += built.outOfHorizon;
    this.counters.nonFinite += built.nonFinite;
    if (built.outOfHorizon > 0) {
      this.log(
        `skipped ${built.outOfHorizon} datums older than the ${this.config.horizonMs / 3_600_000} h horizon`,
      );
    }
    // Backpressure: a full queue is delivered (or waited on) before more is taken, so memory stays bounded.
    while (this.queue.length > 0 && this.queue.length + built.datums.length > this.config.maxQueuedDatums) {
      try {
        await this.serialized(() => this.deliverQueued());
      } catch (error) {
        if (!isRetriable(error)) throw error;
        await sleep(this.backpressurePauseMs);
      }
    }
    for (const datum of built.datums) this.queue.push(datum);
  }

  /** Queues the pipeline's own health metrics (PIPELINE_HEALTH_METRICS), delivered with the next flush. */
  recordHealth(report: PipelineHealthReport): void {
    for (const datum of healthDatums(report, this.clock())) this.queue.push(datum);
  }

  /** Resolves when every datum written so far is delivered; rejects (retriable) while some stay queued. */
  flush(): Promise<void> {
    return this.serialized(() => this.deliverQueued());
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.client instanceof SdkCloudWatchClient) this.client.destroy();
  }

  health(): CloudWatchSinkHealth {
    return {
      ...this.resilience.health(),
      ...this.counters,
      datumsQueued: this.queue.length,
      guardFolds: this.guard.folds(),
    };
  }

  /** One delivery at a time: requests always take the queue's prefix. */
  private serialized(task: () => Promise<void>): Promise<void> {
    return this.deliveries.run(task);
  }

  private async deliverQueued(): Promise<void> {
    this.dropExpired();
    const limits = {
      namespace: this.config.namespace,
      maxDatumsPerRequest: this.config.maxDatumsPerRequest,
      maxRequestBytes: this.config.maxRequestBytes,
    };
    while (this.queue.length > 0) {
      const [batch] = batchDatums(this.queue.slice(0, this.config.maxDatumsPerRequest), limits);
      try {
        await this.deliver(batch as MetricDatum[]);
      } catch (error) {
        throw new SinkRequestError(
          `CloudWatch delivery stopped, ${this.queue.length} datums stay queued for the next flush`,
          true,
          { cause: error },
        );
      }
    }
  }

  /** Sends a queue prefix; on an invalid-request rejection, bisects to deliver all but the bad datum. */
  private async deliver(batch: MetricDatum[]): Promise<void> {
    try {
      await this.resilience.execute(async () => {
        const started = performance.now();
        await this.client.putMetricData(this.config.namespace, batch);
        this.counters.lastRequestLatencyMs = performance.now() - started;
      });
      this.counters.lastBatchSize = batch.length;
      this.counters.datumsSent += batch.length;
      this.queue.splice(0, batch.length);
    } catch (error) {
      if (isRetriable(error)) throw error;
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await this.deliver(batch.slice(0, half));
        await this.deliver(batch.slice(half));
        return;
      }
      this.counters.datumsRejected++;
      this.queue.splice(0, 1);
      const reason = error instanceof Error ? error.message : String(error);
      this.log(`dropped a datum CloudWatch will never accept (${reason}): ${JSON.stringify(batch[0])}`);
    }
  }

  /** Datums that aged past the horizon while queued (a long outage) would fail the whole request. */
  private dropExpired(): void {
    const now = this.clock();
    const kept = this.queue.filter((datum) =>
      withinHorizon(datum.Timestamp?.getTime() ?? now, now, this.config.horizonMs),
    );
    const expired = this.queue.length - kept.length;
    if (expired === 0) return;
    this.queue = kept;
    this.counters.outOfHorizon += expired;
    this.log(`skipped ${expired} queued datums that passed the horizon before CloudWatch took them`);
  }
}
