/**
 * The embedded durable log between the HTTP collector and the processor (contract §6): an
 * append-only sequence of opaque records, numbered by consecutive integer offsets from 0 that go
 * on across restarts. One partition, as the contract says for the embedded log.
 *
 * Storage is lmdb (no file format of our own). Three sub-databases of one environment:
 * - `records`: offset (a number key; lmdb's ordered-binary keys sort numbers numerically, so
 *   iteration is in offset order) -> the record bytes;
 * - `batches`: first offset of each appended batch -> when it was received (epoch ms), so that
 *   whoever reads the log again after a crash judges each record by the same clock;
 * - `meta`: `firstOffset`, the retention low mark, so that truncating every record never lets a
 *   restart hand out offsets from 0 again.
 *
 * Durability: `noSync` is false, so lmdb syncs its commits. With `overlappingSync` (lmdb's default
 * on Linux) a write's promise resolves when the transaction is committed and visible, and the sync
 * to disk happens after; `db.flushed` resolves when the last commit is synced. `append` awaits
 * both, so a resolved append survives a crash (SIGKILL, power loss as far as the OS can promise).
 *
 * Group commit: at most one lmdb transaction is in flight. Appends arriving meanwhile are queued
 * and committed together in the next transaction (one sync for many requests). Offsets are handed
 * out when a group starts, in call order, and only kept when the group commits: a failed commit
 * leaves no gap, it rejects that group's appends (retriable: nothing of them was stored).
 */

import { type Database, open, type RootDatabase } from 'lmdb';

export interface AppendResult {
  /** Offset of the batch's first record. */
  firstOffset: number;
  /** Offset of the batch's last record (firstOffset - 1 for an empty batch). */
  lastOffset: number;
}

export interface LogEntry {
  offset: number;
  record: Uint8Array;
  /** When the batch holding the record was appended (epoch ms). */
  receivedAt: number;
}

interface PendingAppend {
  records: Uint8Array[];
  receivedAt: number;
  resolve: (result: AppendResult) => void;
  reject: (error: Error) => void;
}

const FIRST_OFFSET_KEY = 'firstOffset';

const toBytes = (record: Uint8Array | string): Uint8Array =>
  typeof record === 'string' ? Buffer.from(record, 'utf8') : record;

export class DurableLog {
  private pending: PendingAppend[] = [];
  private committing: Promise<void> | undefined;
  private closed = false;
  /** Readers waiting for records past an offset (waitForRecords). */
  private waiters = new Set<() => void>();

  private constructor(
    private readonly root: RootDatabase,
    private readonly records: Database<Uint8Array, number>,
    private readonly batches: Database<number, number>,
    private readonly meta: Database<number, string>,
    private next: number,
    private first: number,
  ) {}

  /** Opens (or creates) the log in directory `dir`. */
  static open(dir: string): DurableLog {
    const root = open({ path: dir, noSync: false, maxDbs: 3 });
    const records = root.openDB<Uint8Array, number>('records', { encoding: 'binary' });
    const batches = root.openDB<number, number>('batches', { encoding: 'json' });
    const meta = root.openDB<number, string>('meta', { encoding: 'json' });
    const first = meta.get(FIRST_OFFSET_KEY) ?? 0;
    let next = first;
    for (const lastKey of records.getKeys({ reverse: true, limit: 1 })) next = Math.max(next, lastKey + 1);
    return new DurableLog(root, records, batches, meta, next, first);
  }

  /** The offset the next appended record will get. */
  get nextOffset(): number {
    return this.next;
  }

  /** The oldest offset still kept (records before it were removed by retention). */
  get firstOffset(): number {
    return this.first;
  }

  /**
   * Appends the records as one atomic batch; resolves once they are durable, with their offsets.
   * Strings are stored as UTF-8. Concurrent appends get offsets in call order. `receivedAt` (epoch
   * ms, default now) is kept with the batch and read back with each of its records.
   */
  append(records: readonly (Uint8Array | string)[], receivedAt = Date.now()): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('durable log is closed (not retriable: reopen it)'));
    return new Promise((resolve, reject) => {
      this.pending.push({ records: records.map(toBytes), receivedAt, resolve, reject });
      this.committing ??= this.commitPending();
    });
  }

  private async commitPending(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      const start = this.next;
      let offset = start;
      const results = group.map(({ records }) => {
        const result = { firstOffset: offset, lastOffset: offset + records.length - 1 };
        offset += records.length;
        return result;
      });
      try {
        await this.records.transaction(() => {
          let key = start;
          for (const { records, receivedAt } of group) {
            if (records.length > 0) this.batches.put(key, receivedAt);
            for (const record of records) this.records.put(key++, record);
          }
        });
        await this.root.flushed;
        this.next = offset;
        for (const [i, append] of group.entries()) append.resolve(results[i] as AppendResult);
        this.wakeReaders();
      } catch (error) {
        const failure = new Error(
          `durable log append failed, nothing of the batch was stored (retriable): ${(error as Error).message}`,
          { cause: error },
        );
        for (const append of group) append.reject(failure);
      }
    }
    this.committing = undefined;
  }

  /** Up to `maxRecords` records from `fromOffset` on, in offset order (fewer at the end of the log). */
  read(fromOffset: number, maxRecords: number): LogEntry[] {
    const entries: LogEntry[] = [];
    for (const { key, value } of this.records.getRange({ start: fromOffset, limit: maxRecords })) {
      entries.push({ offset: key, record: value, receivedAt: 0 });
    }
    const first = entries[0];
    const last = entries.at(-1);
    if (first === undefined || last === undefined) return entries;
    // The batch holding the first entry starts at or before it; later ones start inside the range.
    const batches = [
      ...this.batches.getRange({ start: this.batchStartAtOrBefore(first.offset), end: last.offset + 1 }),
    ];
    let batch = 0;
    for (const entry of entries) {
      while ((batches[batch + 1]?.key ?? Number.POSITIVE_INFINITY) <= entry.offset) batch++;
      entry.receivedAt = batches[batch]?.value ?? 0;
    }
    return entries;
  }

  /**
   * Resolves once records at or after `offset` exist, or after `timeoutMs`, or when the log closes;
   * true when there are records to read.
   */
  async waitForRecords(offset: number, timeoutMs: number): Promise<boolean> {
    if (this.next > offset) return true;
    if (this.closed) return false;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.waiters.add(wake);
    });
    return this.next > offset;
  }

  private wakeReaders(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private batchStartAtOrBefore(offset: number): number {
    for (const key of this.batches.getKeys({ start: offset, reverse: true, limit: 1 })) return key;
    return offset;
  }

  /**
   * Retention: removes every record before `offset` (durably). Offsets of the remaining and later
   * records do not change. `offset` may not pass nextOffset.
   */
  async truncateBefore(offset: number): Promise<void> {
    if (!Number.isInteger(offset) || offset < 0 || offset > this.next) {
      throw new RangeError(`truncateBefore: offset must be an integer in 0..${this.next} (got ${offset})`);
    }
    if (offset <= this.first) return;
    // The batch holding `offset` keeps its entry: its later records are still read.
    const keptBatch = this.batchStartAtOrBefore(offset);
    await this.records.transaction(() => {
      for (const key of this.records.getKeys({ start: this.first, end: offset })) this.records.remove(key);
      for (const key of this.batches.getKeys({ end: keptBatch })) this.batches.remove(key);
      this.meta.put(FIRST_OFFSET_KEY, offset);
    });
    await this.root.flushed;
    this.first = offset;
  }

  /** Waits for appends in progress, then closes the store. Later appends reject. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeReaders();
    while (this.committing) await this.committing;
    await this.root.close();
  }
}
