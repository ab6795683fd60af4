/**
 * What a time-series sink could not deliver for good (a non-retriable rejection, a row that cannot be
 * encoded), kept with its reason so an operator can see what was lost and why. Bounded: the newest
 * `capacity` entries are kept, all are counted.
 */
export interface SinkDeadLetter {
  /** Why it was not delivered: the endpoint's rejection reason or the encoding rule broken. */
  reason: string;
  /** The record as it would have been sent (Timestream record JSON, or a line / row JSON). */
  payload: string;
}

export const DEFAULT_DEAD_LETTER_CAPACITY = 1_000;

export class DeadLetterList {
  private readonly entries: SinkDeadLetter[] = [];
  private total = 0;

  constructor(private readonly capacity = DEFAULT_DEAD_LETTER_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`dead letter capacity must be an integer >= 0, got ${capacity}`);
    }
  }

  add(entry: SinkDeadLetter): void {
    this.total++;
    if (this.capacity === 0) return;
    if (this.entries.length === this.capacity) this.entries.shift();
    this.entries.push(entry);
  }

  /** All dead letters ever added, including those no longer kept. */
  get count(): number {
    return this.total;
  }

  /** The newest ones, oldest first. */
  list(): readonly SinkDeadLetter[] {
    return [...this.entries];
  }
}

/** The part of a logger the sinks use (pino's `logger.warn(details, message)` fits). */
export interface SinkLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

/** Default: one JSON line on stderr, like pino's default output. */
export const stderrLogger: SinkLogger = {
  warn(details, message) {
    process.stderr.write(
      `${JSON.stringify({ level: 'warn', time: Date.now(), msg: message, ...details })}\n`,
    );
  },
};
