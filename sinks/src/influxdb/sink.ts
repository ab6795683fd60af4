import {
  DeadLetterList,
  type SinkDeadLetter,
  type SinkLogger,
  stderrLogger,
} from '../timestream/dead-letters.js';
import { windowSeries } from '../timestream/series.js';
import { type SinkHealth, SinkResilience } from '../util/resilience.js';
import { isRetriable } from '../util/retriable.js';
import { SerialQueue } from '../util/serial-queue.js';
import type { WindowResults, WindowSink } from '../window-results.js';
import { httpInfluxWriter, InfluxWriteError, type InfluxWriter } from './client.js';
import {
  type InfluxSinkConfig,
  type InfluxSinkConfigInput,
  influxWriteUrl,
  parseInfluxSinkConfig,
} from './config.js';
import { LineProtocolError, lineBatches, pointLine } from './line-protocol.js';

export interface InfluxSinkDeps {
  /** Default: HTTP to the configured URL and API. */
  writer?: InfluxWriter;
  /** Waits out a server's Retry-After before the next attempt. */
  sleep?: (ms: number) => Promise<void>;
  clock?: () => number;
  logger?: SinkLogger;
}

export interface InfluxSinkHealth extends SinkHealth {
  /** Lines the server accepted. */
  linesSent: number;
  /** Lines or rows given up for good, with their reasons in `deadLetters()`. */
  deadLettered: number;
  /** Lines written to the sink and not yet acknowledged. */
  pendingLines: number;
  /** Lines in the last write request, and how long it took. */
  lastBatchLines: number;
  lastRequestMs: number;
}

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Window results to InfluxDB (Timestream for InfluxDB, InfluxDB 2.x through `/api/v2/write`, InfluxDB
 * 1.x through `/write`): one line per rollup, score rollup and anomaly row (series.ts), measurement =
 * lake table, tags = the row's dimensions, timestamp = window start in ms. A re-sent window is
 * idempotent: the same measurement, tag set and timestamp overwrite the stored fields. Requests of at
 * most `maxLinesPerRequest` lines go one at a time under SinkResilience, honouring `Retry-After`; a
 * request failing for good with a retriable error keeps its lines queued (the call rejects, the next
 * flush re-sends them); one refused for good (400, 401, 404, ...) is dead-lettered with the reason.
 */
export class InfluxSink implements WindowSink {
  readonly name = 'influxdb';
  readonly config: InfluxSinkConfig;
  private readonly writer: InfluxWriter;
  private readonly resilience: SinkResilience;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly clock: () => number;
  private readonly logger: SinkLogger;
  private readonly deadLetterList: DeadLetterList;
  private readonly pending: string[] = [];
  private readonly counters = { linesSent: 0, lastBatchLines: 0, lastRequestMs: 0 };
  /** Earliest clock time of the next attempt, from the last Retry-After. */
  private notBefore = 0;
  private readonly sending = new SerialQueue();

  constructor(config: InfluxSinkConfigInput, deps: InfluxSinkDeps = {}) {
    this.config = parseInfluxSinkConfig(config);
    this.sleep = deps.sleep ?? sleepMs;
    this.clock = deps.clock ?? Date.now;
    this.logger = deps.logger ?? stderrLogger;
    this.resilience = new SinkResilience(this.config.resilience);
    this.deadLetterList = new DeadLetterList(this.config.deadLetterCapacity);
    this.writer =
      deps.writer ??
      httpInfluxWriter({
        url: influxWriteUrl(this.config),
        token: this.config.token,
        requestTimeoutMs: this.config.requestTimeoutMs,
      });
  }

  async write(windows: readonly WindowResults[]): Promise<void> {
    const { points, failures } = windowSeries(windows);
    for (const failure of failures) this.deadLetter(failure.error.message, JSON.stringify(failure.row));
    for (const point of points) {
      try {
        this.pending.push(pointLine(point));
      } catch (error) {
        if (!(error instanceof LineProtocolError)) throw error;
        this.deadLetter(error.message, JSON.stringify(point));
      }
    }
    await this.send(false);
  }

  flush(): Promise<void> {
    return this.send(true);
  }

  async close(): Promise<void> {
    await this.flush();
  }

  health(): InfluxSinkHealth {
    return {
      ...this.resilience.health(),
      ...this.counters,
      deadLettered: this.deadLetterList.count,
      pendingLines: this.pending.length,
    };
  }

  deadLetters(): readonly SinkDeadLetter[] {
    return this.deadLetterList.list();
  }

  private send(all: boolean): Promise<void> {
    return this.sending.run(() => this.sendPending(all));
  }

  private async sendPending(all: boolean): Promise<void> {
    const { maxLinesPerRequest, maxBytesPerRequest } = this.config;
    while (this.pending.length >= maxLinesPerRequest || (all && this.pending.length > 0)) {
      const [batch = []] = lineBatches(
        this.pending.slice(0, maxLinesPerRequest),
        maxLinesPerRequest,
        maxBytesPerRequest,
      );
      try {
        await this.resilience.execute(() => this.attempt(batch));
      } catch (error) {
        // Retriable: the lines stay queued for the next flush. Otherwise they would fail again.
        if (isRetriable(error)) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        for (const line of batch) this.deadLetter(reason, line);
      }
      this.pending.splice(0, batch.length);
    }
  }

  private async attempt(batch: string[]): Promise<void> {
    const wait = this.notBefore - this.clock();
    if (wait > 0) await this.sleep(wait);
    const started = performance.now();
    this.counters.lastBatchLines = batch.length;
    try {
      await this.writer.write(`${batch.join('\n')}\n`);
    } catch (error) {
      if (error instanceof InfluxWriteError && error.retryAfterMs !== undefined) {
        this.notBefore = this.clock() + Math.min(error.retryAfterMs, this.config.maxRetryAfterMs);
      }
      throw error;
    } finally {
      this.counters.lastRequestMs = performance.now() - started;
    }
    this.counters.linesSent += batch.length;
  }

  private deadLetter(reason: string, payload: string): void {
    this.deadLetterList.add({ reason, payload });
    this.logger.warn({ sink: this.name, reason, payload }, 'line dead-lettered: not retriable');
  }
}
