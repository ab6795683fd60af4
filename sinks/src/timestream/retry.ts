import type { RejectedRecord } from '@aws-sdk/client-timestream-write';

/**
 * Record versions that grow with every write: the wall clock in milliseconds, forced strictly
 * increasing within the process. A window written again (a restart re-sending what was not
 * acknowledged, a replay after a fix) therefore carries a higher Version than the stored record and
 * upserts it; an identical re-send is accepted too. Across processes the clock orders writes, so the
 * newest computation of a window wins.
 */
export class VersionClock {
  private last = 0;

  constructor(private readonly now: () => number = Date.now) {}

  next(): number {
    this.last = Math.max(this.now(), this.last + 1);
    return this.last;
  }

  /** A version above `existing` (and above every version handed out so far). */
  above(existing: number): number {
    this.last = Math.max(existing, this.last);
    return this.next();
  }
}

/** What to do with one rejected record of a WriteRecords response. */
export type RejectionAction =
  /** Re-send it unchanged: the reason names a transient condition. */
  | { kind: 'retry' }
  /** Re-send it with this Version: a stored record of the same series and time has a higher one. */
  | { kind: 'retry-with-version'; version: number }
  /** Not retriable (outside the retention, over a limit, invalid): dead-letter with the reason. */
  | { kind: 'dead-letter'; reason: string };

/** Reasons of a condition that passes by itself (the service under load or restarting a cell). */
const TRANSIENT_REASON =
  /throttl|rate exceeded|timed? ?out|temporar|unavailable|internal (server )?error|try again/i;

/**
 * Timestream rejects a record for a version conflict (ExistingVersion set: the same dimensions, time
 * and measure name with a different value at a higher or equal Version), for a time outside the
 * memory store retention, or for breaking a limit. Only the conflict and transient reasons are worth
 * re-sending; the conflict is resolved by writing above the existing version, so the newest write of
 * a window wins (each key has a single writer: CONTRACT.md §2 partitions by service and model).
 */
export function rejectionAction(rejected: RejectedRecord, versions: VersionClock): RejectionAction {
  const reason = rejected.Reason ?? 'rejected without a reason';
  if (typeof rejected.ExistingVersion === 'number') {
    return { kind: 'retry-with-version', version: versions.above(rejected.ExistingVersion) };
  }
  if (TRANSIENT_REASON.test(reason)) return { kind: 'retry' };
  return { kind: 'dead-letter', reason };
}
