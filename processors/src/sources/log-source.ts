import type { DurableLog } from '../collector/durable-log.js';
import { bufferView } from './decode.js';
import type { Source, SourceBatch } from './source.js';

/** The one partition of the embedded log (CONTRACT.md §2). */
export const LOG_PARTITION = 'log';

/**
 * The embedded durable log as a source: one partition; a position is the offset of the next record
 * to read. The collector stores records as JSON lines. A commit truncates the log before the
 * committed offset (retention): those records are covered by a durable checkpoint.
 */
export class LogSource implements Source {
  readonly name = 'log';
  private next = 0;
  private closed = false;

  constructor(private readonly log: DurableLog) {}

  /** The offset of the next record a poll returns. */
  get readOffset(): number {
    return this.next;
  }

  async start(positions: ReadonlyMap<string, string>): Promise<void> {
    const position = positions.get(LOG_PARTITION);
    this.next = position === undefined ? this.log.firstOffset : parseOffset(position);
    if (this.next > this.log.nextOffset) {
      throw new Error(
        `checkpoint resumes the embedded log at offset ${this.next}, but the log ends at ${this.log.nextOffset}: the log was replaced while its checkpoints were kept (not retriable: remove both, or neither)`,
      );
    }
    if (this.next < this.log.firstOffset) {
      throw new Error(
        `checkpoint resumes the embedded log at offset ${this.next}, but the log starts at ${this.log.firstOffset}: records were removed before a checkpoint covered them (not retriable)`,
      );
    }
  }

  async poll(maxRecords: number, maxWaitMs: number): Promise<SourceBatch[]> {
    if (this.closed || !(await this.log.waitForRecords(this.next, maxWaitMs)) || this.closed) return [];
    const entries = this.log.read(this.next, maxRecords);
    const last = entries.at(-1);
    if (last === undefined) return [];
    this.next = last.offset + 1;
    return [
      {
        partition: LOG_PARTITION,
        entries: entries.map(({ record, receivedAt }) => ({
          record: { format: 'json', text: bufferView(record).toString('utf8') },
          receivedAt,
        })),
        position: String(this.next),
        lagRecords: this.log.nextOffset - this.next,
      },
    ];
  }

  currentLagRecords(partition: string): number | undefined {
    return partition === LOG_PARTITION ? this.log.nextOffset - this.next : undefined;
  }

  async commit(positions: ReadonlyMap<string, string>): Promise<void> {
    const position = positions.get(LOG_PARTITION);
    if (position !== undefined) await this.log.truncateBefore(parseOffset(position));
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function parseOffset(position: string): number {
  // Decimal digits only: Number() would also take '', ' 3', '0x10' and '1e3'.
  const offset = /^\d+$/.test(position) ? Number(position) : Number.NaN;
  if (!Number.isSafeInteger(offset)) {
    throw new Error(
      `embedded log position must be a non-negative integer offset, got ${JSON.stringify(position)}`,
    );
  }
  return offset;
}
