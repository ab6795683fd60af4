import {
  AVRO_TYPES,
  type EventKind,
  type InvocationEvent,
  type LakeRow,
  parseJsonLine,
  type ScoreEvent,
  type TelemetryEvent,
  type ValidationResult,
  validateEvent,
} from '@genai-pipeline/schemas';
import type { RollupDistributions, WindowResults } from '@genai-pipeline/sinks';
import { weightedDistribution } from '../aggregate/distribution.js';
import {
  type RollupAcc,
  type RollupSnapshot,
  restoreRollup,
  rollup,
  snapshotRollup,
} from '../aggregate/rollup.js';
import { type ScoreAcc, scoreRollup } from '../aggregate/score-rollup.js';
import type { AnomalyDetector, AnomalyFinding, ScorePolarity } from '../anomaly/detector.js';
import type { Pricer } from '../pricing/pricer.js';
import { DedupeIndex, type DedupeSnapshot } from './dedupe-index.js';
import { WINDOW_MS, windowStartOf } from './tumbling.js';

/**
 * One input record as a source delivers it: a JSON line, a record decoded from Avro (with the message
 * it came in, when it came alone: a dead letter carries those bytes), or bytes that could not be
 * decoded at all (a dead letter carrying the payload and the decoder's error).
 */
export type SourceRecord =
  | { format: 'json'; text: string }
  | { format: 'avro'; kind: EventKind; record: unknown; raw?: Uint8Array }
  | { format: 'undecodable'; payload: string; error: string };

/** Where a partition's results go; implementations buffer, they must not throw for ordinary rows. */
export interface ProcessorOutput {
  /** An accepted event (late ones included) as its raw-table row, at its source offset. */
  raw(table: 'invocations' | 'scores', offset: number, row: LakeRow): void;
  deadLetter(offset: number, row: LakeRow): void;
  windowClosed(window: WindowResults): void;
}

export interface ProcessorCounters {
  /** Records read (blank lines excluded). */
  events: number;
  accepted: number;
  duplicates: number;
  /** Accepted events whose window had already closed. */
  late: number;
  invalid: number;
}

export interface PartitionProcessorOptions {
  maxOutOfOrdernessMs: number;
  pricer: Pricer;
  detector: Pick<AnomalyDetector, 'judgeRollup' | 'judgeScore'>;
  output: ProcessorOutput;
  /** The processing clock: judges future event times and stamps dead letters. */
  clock?: () => number;
}

interface RollupCell {
  service: string;
  provider: string;
  model_id: string;
  tenant_id: string | null;
  acc: RollupAcc;
}

interface ScoreCell {
  service: string;
  model_id: string;
  tenant_id: string | null;
  name: string;
  acc: ScoreAcc;
}

type RollupKey = Omit<RollupCell, 'acc'>;

/**
 * A partition's whole processing state as plain JSON: checkpointed together with the source position
 * it belongs to, so a restart goes on exactly where the checkpoint was taken. The anomaly detector has
 * its own snapshot (it may serve several partitions).
 */
export interface PartitionSnapshot {
  version: 1;
  counters: ProcessorCounters;
  /** null before the first accepted event. */
  maxAcceptedEventTime: number | null;
  closedThrough: number | null;
  dedupe: DedupeSnapshot;
  openWindows: {
    windowStart: number;
    rollups: [string, RollupKey & { acc: RollupSnapshot }][];
    scores: [string, ScoreCell][];
  }[];
}

const finiteOrNull = (value: number): number | null => (Number.isFinite(value) ? value : null);

interface OpenWindow {
  rollups: Map<string, RollupCell>;
  scores: Map<string, ScoreCell>;
}

/** Score names for which a higher mean is worse (flags of bad outcomes); every other score drops when it falls. */
const LOWER_IS_BETTER_SCORES = new Set([
  'hallucination',
  'refusal',
  'toxicity',
  'bias',
  'jailbreak',
  'pii_leak',
]);

export const scorePolarity = (name: string): ScorePolarity =>
  LOWER_IS_BETTER_SCORES.has(name) ? 'lower_is_better' : 'higher_is_better';

/** Length-prefixed parts: no choice of strings can make two different keys collide. */
function keyOf(parts: readonly (string | null)[]): string {
  let key = '';
  for (const part of parts) key += part === null ? '-|' : `${part.length}:${part}|`;
  return key;
}

function partsOf(key: string): (string | null)[] {
  const parts: (string | null)[] = [];
  let at = 0;
  while (at < key.length) {
    if (key.startsWith('-|', at)) {
      parts.push(null);
      at += 2;
      continue;
    }
    const colon = key.indexOf(':', at);
    const length = Number(key.slice(at, colon));
    if (colon < 0 || !Number.isInteger(length))
      throw new TypeError(`not a window key: ${JSON.stringify(key)}`);
    parts.push(key.slice(colon + 1, colon + 1 + length));
    at = colon + 2 + length;
  }
  return parts;
}

/**
 * The service and model of a rollup key (service, provider, model, tenant) or a score key (service,
 * model, tenant, name): what the partition key, and so the shard, of the key's events is made of.
 */
export function serviceAndModelOfKey(
  type: 'rollup' | 'score',
  key: string,
): { service: string; modelId: string } {
  const parts = partsOf(key);
  const [service, modelId] = type === 'rollup' ? [parts[0], parts[2]] : [parts[0], parts[1]];
  if (typeof service !== 'string' || typeof modelId !== 'string') {
    throw new TypeError(`not a ${type} key: ${JSON.stringify(key)}`);
  }
  return { service, modelId };
}

/**
 * Event-time processing of one source partition (CONTRACT.md §2): validation, dedupe, watermark,
 * late detection, tumbling-window aggregation, window closing and anomaly judgement.
 */
export class PartitionProcessor {
  readonly counters: ProcessorCounters = { events: 0, accepted: 0, duplicates: 0, late: 0, invalid: 0 };
  private dedupe = new DedupeIndex();
  private readonly openWindows = new Map<number, OpenWindow>();
  private maxAcceptedEventTime = Number.NEGATIVE_INFINITY;
  /** Every window ending at or before this is closed. */
  private closedThrough = Number.NEGATIVE_INFINITY;
  private readonly clock: () => number;

  constructor(private readonly options: PartitionProcessorOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** W = largest accepted event_time − max out-of-orderness; −∞ before the first accepted event. */
  get watermark(): number {
    return this.maxAcceptedEventTime - this.options.maxOutOfOrdernessMs;
  }

  /**
   * `receivedAt` is when the source took the record in (epoch ms); it judges "too far in the future"
   * and stamps dead letters, so processing the same records again after a crash gives the same rows.
   * Without it, the processor's clock.
   */
  process(record: SourceRecord, offset: number, receivedAt?: number): void {
    this.counters.events += 1;
    const now = receivedAt ?? this.clock();
    const result = validate(record, now);
    if (!result.ok) {
      this.counters.invalid += 1;
      this.deadLetter(offset, 'invalid', result.error, record, now);
      return;
    }
    const { event } = result.value;
    if (this.dedupe.isDuplicate(event.event_id, this.maxAcceptedEventTime)) {
      this.counters.duplicates += 1;
      return;
    }
    this.counters.accepted += 1;
    this.dedupe.remember(event.event_id, event.event_time);
    const windowStart = windowStartOf(event.event_time);
    const late = windowStart + WINDOW_MS <= this.closedThrough;
    if (result.value.kind === 'invocation')
      this.acceptInvocation(result.value.event, windowStart, late, offset);
    else this.acceptScore(result.value.event, windowStart, late, offset);
    if (late) {
      this.counters.late += 1;
      this.deadLetter(
        offset,
        'late',
        `window ${new Date(windowStart).toISOString()} had already closed`,
        record,
        now,
      );
    }
    if (event.event_time > this.maxAcceptedEventTime) this.advanceTo(event.event_time);
  }

  /** Every window ending at or before this has closed (−∞ before the first). */
  get closedWindowsThrough(): number {
    return this.closedThrough;
  }

  snapshot(): PartitionSnapshot {
    return {
      version: 1,
      counters: { ...this.counters },
      maxAcceptedEventTime: finiteOrNull(this.maxAcceptedEventTime),
      closedThrough: finiteOrNull(this.closedThrough),
      dedupe: this.dedupe.snapshot(),
      openWindows: [...this.openWindows].map(([windowStart, window]) => ({
        windowStart,
        rollups: [...window.rollups].map(([key, { acc, ...columns }]) => [
          key,
          { ...columns, acc: snapshotRollup(acc) },
        ]),
        scores: [...window.scores].map(([key, { acc, ...columns }]) => [
          key,
          { ...columns, acc: { ...acc, sum: { ...acc.sum } } },
        ]),
      })),
    };
  }

  /** A processor that goes on exactly as the one that took the snapshot would have. */
  static restore(snapshot: PartitionSnapshot, options: PartitionProcessorOptions): PartitionProcessor {
    if (snapshot.version !== 1) throw new Error(`unsupported partition snapshot version ${snapshot.version}`);
    const processor = new PartitionProcessor(options);
    Object.assign(processor.counters, snapshot.counters);
    processor.maxAcceptedEventTime = snapshot.maxAcceptedEventTime ?? Number.NEGATIVE_INFINITY;
    processor.closedThrough = snapshot.closedThrough ?? Number.NEGATIVE_INFINITY;
    processor.dedupe = DedupeIndex.restore(snapshot.dedupe);
    for (const { windowStart, rollups, scores } of snapshot.openWindows) {
      processor.openWindows.set(windowStart, {
        rollups: new Map(
          rollups.map(([key, { acc, ...columns }]) => [key, { ...columns, acc: restoreRollup(acc) }]),
        ),
        scores: new Map(
          scores.map(([key, { acc, ...columns }]) => [
            key,
            { ...columns, acc: { ...acc, sum: { ...acc.sum } } },
          ]),
        ),
      });
    }
    return processor;
  }

  /**
   * Closes the open windows ending at or before the closed-through mark. Only state merged from two
   * partitions has such windows (one parent's, which the other parent's watermark had passed): they
   * close now, as they would have in one partition.
   */
  closeOverdueWindows(): void {
    if (Number.isFinite(this.closedThrough)) this.closeWindowsThrough(this.closedThrough);
  }

  /** End of a finite input: every open window closes, in event-time order. */
  closeAll(): void {
    this.closeWindowsThrough(Number.POSITIVE_INFINITY);
  }

  private acceptInvocation(event: InvocationEvent, windowStart: number, late: boolean, offset: number): void {
    const { cost_usd, priced } = this.options.pricer.cost(event);
    const row = event as InvocationEvent & { cost_usd: number };
    row.cost_usd = cost_usd;
    this.options.output.raw('invocations', offset, row as unknown as LakeRow);
    if (late) return;
    const cells = this.windowAt(windowStart).rollups;
    const key = keyOf([event.service, event.provider, event.model_id, event.tenant_id]);
    let cell = cells.get(key);
    if (cell === undefined) {
      cell = {
        service: event.service,
        provider: event.provider,
        model_id: event.model_id,
        tenant_id: event.tenant_id,
        acc: rollup.create(),
      };
      cells.set(key, cell);
    }
    rollup.add(cell.acc, { event: row, priced });
  }

  private acceptScore(event: ScoreEvent, windowStart: number, late: boolean, offset: number): void {
    this.options.output.raw('scores', offset, event as unknown as LakeRow);
    if (late) return;
    const cells = this.windowAt(windowStart).scores;
    const key = keyOf([event.service, event.model_id, event.tenant_id, event.name]);
    let cell = cells.get(key);
    if (cell === undefined) {
      cell = {
        service: event.service,
        model_id: event.model_id,
        tenant_id: event.tenant_id,
        name: event.name,
        acc: scoreRollup.create(),
      };
      cells.set(key, cell);
    }
    scoreRollup.add(cell.acc, event.value);
  }

  private windowAt(windowStart: number): OpenWindow {
    let window = this.openWindows.get(windowStart);
    if (window === undefined) {
      window = { rollups: new Map(), scores: new Map() };
      this.openWindows.set(windowStart, window);
    }
    return window;
  }

  private advanceTo(eventTime: number): void {
    const previousMinute = windowStartOf(this.maxAcceptedEventTime);
    this.maxAcceptedEventTime = eventTime;
    if (windowStartOf(eventTime) !== previousMinute) this.dedupe.forgetBefore(eventTime);
    // A window [s, e) closes as soon as W >= e.
    const closeThrough = windowStartOf(this.watermark);
    if (closeThrough > this.closedThrough) this.closeWindowsThrough(closeThrough);
  }

  private closeWindowsThrough(end: number): void {
    this.closedThrough = end;
    const closing = [...this.openWindows.keys()]
      .filter((start) => start + WINDOW_MS <= end)
      .sort((a, b) => a - b);
    for (const windowStart of closing) {
      const window = this.openWindows.get(windowStart) as OpenWindow;
      this.openWindows.delete(windowStart);
      this.options.output.windowClosed(this.results(windowStart, window));
    }
  }

  private results(windowStart: number, window: OpenWindow): WindowResults {
    const { detector } = this.options;
    const windowEnd = windowStart + WINDOW_MS;
    const rollups: LakeRow[] = [];
    const rollupDistributions: RollupDistributions[] = [];
    const scoreRollups: LakeRow[] = [];
    const anomalies: LakeRow[] = [];
    for (const [key, cell] of window.rollups) {
      const metrics = rollup.result(cell.acc);
      const keyColumns = {
        service: cell.service,
        provider: cell.provider,
        model_id: cell.model_id,
        tenant_id: cell.tenant_id,
      };
      rollups.push({ window_start: windowStart, window_end: windowEnd, ...keyColumns, ...metrics });
      rollupDistributions.push({
        latency: weightedDistribution(cell.acc.latency),
        ttft: cell.acc.ttft.count > 0 ? weightedDistribution(cell.acc.ttft) : null,
      });
      const findings = detector.judgeRollup(key, {
        requests: metrics.requests,
        errors: metrics.errors,
        inputTokens: metrics.input_tokens,
        outputTokens: metrics.output_tokens,
        costUsd: metrics.cost_usd,
        latencyP95Ms: metrics.latency_ms_p95,
      });
      for (const finding of findings) anomalies.push(anomalyRow(windowStart, keyColumns, null, finding));
    }
    for (const [key, cell] of window.scores) {
      const metrics = scoreRollup.result(cell.acc);
      const keyColumns = { service: cell.service, model_id: cell.model_id, tenant_id: cell.tenant_id };
      scoreRollups.push({
        window_start: windowStart,
        window_end: windowEnd,
        ...keyColumns,
        name: cell.name,
        ...metrics,
      });
      const findings = detector.judgeScore(
        key,
        { count: metrics.count, mean: metrics.avg },
        scorePolarity(cell.name),
      );
      for (const finding of findings) {
        anomalies.push(anomalyRow(windowStart, { ...keyColumns, provider: null }, cell.name, finding));
      }
    }
    return { windowStart, rollups, rollupDistributions, scoreRollups, anomalies };
  }

  private deadLetter(
    offset: number,
    reason: 'invalid' | 'late',
    error: string,
    record: SourceRecord,
    now: number,
  ): void {
    const payload =
      record.format === 'json'
        ? record.text
        : record.format === 'avro'
          ? record.raw
            ? Buffer.from(record.raw).toString('base64')
            : avroPayload(record.kind, record.record)
          : record.payload;
    this.options.output.deadLetter(offset, { received_at: now, reason, error, payload });
  }
}

function validate(record: SourceRecord, now: number): ValidationResult<TelemetryEvent> {
  switch (record.format) {
    case 'json':
      return parseJsonLine(record.text, now);
    case 'avro':
      return validateEvent(record.record, record.kind, now);
    case 'undecodable':
      return { ok: false, error: record.error };
  }
}

/**
 * A dead letter's payload is the raw input (CONTRACT.md §4): for an Avro record, its binary encoding
 * in base64 (Avro's encoding is deterministic, so this is the record's bytes in the v1 schema; values
 * JSON cannot hold, such as NaN, survive).
 */
function avroPayload(kind: EventKind, record: unknown): string {
  try {
    return AVRO_TYPES[kind].toBuffer(record).toString('base64');
  } catch {
    // Only a record built outside a decoder can miss fields of the schema: keep what it has.
    return JSON.stringify(record);
  }
}

function anomalyRow(
  windowStart: number,
  key: { service: string; provider: string | null; model_id: string; tenant_id: string | null },
  scoreName: string | null,
  finding: AnomalyFinding,
): LakeRow {
  return {
    window_start: windowStart,
    service: key.service,
    provider: key.provider,
    model_id: key.model_id,
    tenant_id: key.tenant_id,
    kind: finding.kind,
    score_name: scoreName,
    observed: finding.observed,
    baseline: finding.baseline,
    score: finding.score,
    severity: finding.severity,
  };
}
