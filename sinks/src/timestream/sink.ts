import type { _Record, RejectedRecord } from '@aws-sdk/client-timestream-write';
import { type SinkHealth, SinkResilience } from '../util/resilience.js';
import { isRetriable, SinkRequestError } from '../util/retriable.js';
import { SerialQueue } from '../util/serial-queue.js';
import type { WindowResults, WindowSink } from '../window-results.js';
import { type SdkTimestreamWriterOptions, sdkTimestreamWriter, type TimestreamWriter } from './client.js';
import {
  parseTimestreamSinkConfig,
  type TimestreamSinkConfig,
  type TimestreamSinkConfigInput,
  timestreamHorizon,
} from './config.js';
import { DeadLetterList, type SinkDeadLetter, type SinkLogger, stderrLogger } from './dead-letters.js';
import { recordLimitViolation, timestreamRecord, writeRecordsRequest } from './request-builder.js';
import { rejectionAction, VersionClock } from './retry.js';
import { windowSeries } from './series.js';

export interface TimestreamSinkDeps {
  /** Default: the real SDK client built from the config. */
  writer?: TimestreamWriter;
  /** Credentials for the default writer; default: the SDK's chain. */
  credentials?: SdkTimestreamWriterOptions['credentials'];
  /** Wall clock: the retention horizon and record versions. */
  clock?: () => number;
  logger?: SinkLogger;
}

export interface TimestreamSinkHealth extends SinkHealth {
  /** Records Timestream ingested. */
  recordsSent: number;
  /** Points older than the memory store retention, skipped (CONTRACT.md §5 `out_of_horizon`). */
  outOfHorizon: number;
  /** Records or rows given up for good, with their reasons in `deadLetters()`. */
  deadLettered: number;
  /** Records written to the sink and not yet acknowledged. */
  pendingRecords: number;
  /** Records in the last WriteRecords request, and how long it took. */
  lastBatchRecords: number;
  lastRequestMs: number;
}

/**
 * Window results to Timestream for LiveAnalytics: one multi-measure record per rollup, score rollup
 * and anomaly row (series.ts), at most 100 records per WriteRecords, sent one request at a time
 * under SinkResilience. `write` sends full batches and keeps the rest for `flush`; a request that
 * fails for good with a retriable error keeps its records queued (the call rejects, the next flush
 * re-sends them), so nothing acknowledged is lost across an outage. Rejected records are re-sent
 * alone when retriable, else dead-lettered with their reason.
 */
export class TimestreamSink implements WindowSink {
  readonly name = 'timestream';
  readonly config: TimestreamSinkConfig;
  private readonly writer: TimestreamWriter;
  private readonly resilience: SinkResilience;
  private readonly versions: VersionClock;
  private readonly clock: () => number;
  private readonly logger: SinkLogger;
  private readonly deadLetterList: DeadLetterList;
  private readonly pending: _Record[] = [];
  private readonly counters = { recordsSent: 0, outOfHorizon: 0, lastBatchRecords: 0, lastRequestMs: 0 };
  /** Sends run one at a time, in order. */
  private readonly sending = new SerialQueue();

  constructor(config: TimestreamSinkConfigInput, deps: TimestreamSinkDeps = {}) {
    this.config = parseTimestreamSinkConfig(config);
    this.clock = deps.clock ?? Date.now;
    this.versions = new VersionClock(this.clock);
    this.logger = deps.logger ?? stderrLogger;
    this.resilience = new SinkResilience(this.config.resilience);
    this.deadLetterList = new DeadLetterList(this.config.deadLetterCapacity);
    this.writer =
      deps.writer ??
      sdkTimestreamWriter({
        region: this.config.region,
        endpoint: this.config.endpoint,
        requestTimeoutMs: this.config.requestTimeoutMs,
        credentials: deps.credentials,
      });
  }

  async write(windows: readonly WindowResults[]): Promise<void> {
    const { points, failures } = windowSeries(windows);
    for (const failure of failures) this.deadLetter(failure.error.message, JSON.stringify(failure.row));
    const horizon = timestreamHorizon(this.config, this.clock());
    // One version for the whole call: higher than any earlier write of the same windows.
    const version = this.versions.next();
    for (const point of points) {
      if (point.time < horizon) {
        this.counters.outOfHorizon++;
        continue;
      }
      const record = timestreamRecord(point, version);
      const violation = recordLimitViolation(record);
      if (violation) this.deadLetter(violation, JSON.stringify(record));
      else this.pending.push(record);
    }
    await this.send(false);
  }

  flush(): Promise<void> {
    return this.send(true);
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.writer.close();
    }
  }

  health(): TimestreamSinkHealth {
    return {
      ...this.resilience.health(),
      ...this.counters,
      deadLettered: this.deadLetterList.count,
      pendingRecords: this.pending.length,
    };
  }

  deadLetters(): readonly SinkDeadLetter[] {
    return this.deadLetterList.list();
  }

  private send(all: boolean): Promise<void> {
    return this.sending.run(() => this.sendPending(all));
  }

  private async sendPending(all: boolean): Promise<void> {
    const max = this.config.maxRecordsPerRequest;
    while (this.pending.length >= max || (all && this.pending.length > 0)) {
      const batch = this.pending.splice(0, max);
      const failure = await this.sendBatch(batch);
      if (failure) {
        this.pending.unshift(...failure.undelivered);
        throw failure.error;
      }
    }
  }

  /** Sends one batch; on a retriable failure returns what is still undelivered, to be queued again. */
  private async sendBatch(batch: _Record[]): Promise<{ error: unknown; undelivered: _Record[] } | undefined> {
    let outstanding = batch;
    try {
      await this.resilience.execute(async () => {
        const started = performance.now();
        this.counters.lastBatchRecords = outstanding.length;
        const { rejected } = await this.writer.writeRecords(
          writeRecordsRequest(this.config.database, this.config.table, outstanding),
        );
        this.counters.lastRequestMs = performance.now() - started;
        this.counters.recordsSent += outstanding.length - rejected.length;
        outstanding = this.resolveRejections(outstanding, rejected);
        if (outstanding.length > 0) {
          throw new SinkRequestError(
            `Timestream rejected ${outstanding.length} records for a retriable reason; re-sending just those`,
            true,
          );
        }
      });
      return undefined;
    } catch (error) {
      if (isRetriable(error)) return { error, undelivered: outstanding };
      const reason = error instanceof Error ? error.message : String(error);
      for (const record of outstanding) this.deadLetter(reason, JSON.stringify(record));
      return undefined;
    }
  }

  /** The records to send again (with a new Version where one is needed); dead-letters the rest. */
  private resolveRejections(sent: _Record[], rejected: readonly RejectedRecord[]): _Record[] {
    const again: _Record[] = [];
    for (const rejection of rejected) {
      const record = rejection.RecordIndex === undefined ? undefined : sent[rejection.RecordIndex];
      if (!record) {
        throw new SinkRequestError(
          `Timestream rejected record index ${rejection.RecordIndex} of a ${sent.length}-record request`,
          false,
        );
      }
      const action = rejectionAction(rejection, this.versions);
      if (action.kind === 'retry') again.push(record);
      else if (action.kind === 'retry-with-version') again.push({ ...record, Version: action.version });
      else this.deadLetter(action.reason, JSON.stringify(record));
    }
    return again;
  }

  private deadLetter(reason: string, payload: string): void {
    this.deadLetterList.add({ reason, payload });
    this.logger.warn({ sink: this.name, reason, payload }, 'record dead-lettered: not retriable');
  }
}
