import { WINDOW_MS, windowStartOf } from './tumbling.js';

/** CONTRACT.md §2: an id is a duplicate while its first copy's event_time is within 10 minutes of the partition's largest accepted event_time. */
export const DEDUPE_HORIZON_MS = 10 * 60_000;

export interface DedupeSnapshot {
  ids: [string, number][];
  forgottenEarly: number;
}

/**
 * Accepted event ids of one partition, forgotten once they fall out of the dedupe horizon.
 * Ids are bucketed by the minute of their event_time so forgetting is a walk over whole buckets.
 * `maxIds` bounds memory against a flood inside the horizon: past it the oldest minutes are forgotten
 * early and counted (a duplicate of those could then pass).
 */
export class DedupeIndex {
  private readonly firstSeen = new Map<string, number>();
  private readonly byMinute = new Map<number, string[]>();
  private forgottenEarly = 0;

  constructor(private readonly maxIds = 5_000_000) {}

  isDuplicate(eventId: string, maxAcceptedEventTime: number): boolean {
    const seen = this.firstSeen.get(eventId);
    return seen !== undefined && seen >= maxAcceptedEventTime - DEDUPE_HORIZON_MS;
  }

  remember(eventId: string, eventTime: number): void {
    this.firstSeen.set(eventId, eventTime);
    const minute = windowStartOf(eventTime);
    const bucket = this.byMinute.get(minute);
    if (bucket === undefined) this.byMinute.set(minute, [eventId]);
    else bucket.push(eventId);
    if (this.firstSeen.size > this.maxIds) this.forgetOldestMinute();
  }

  /** Forgets ids whose event_time is older than the horizon below `maxAcceptedEventTime`. */
  forgetBefore(maxAcceptedEventTime: number): void {
    const threshold = maxAcceptedEventTime - DEDUPE_HORIZON_MS;
    for (const minute of this.byMinute.keys()) {
      if (minute + WINDOW_MS <= threshold) this.forgetMinute(minute, threshold);
    }
  }

  /** Remembered ids with their event times, for a checkpoint. */
  snapshot(): DedupeSnapshot {
    return { ids: [...this.firstSeen], forgottenEarly: this.forgottenEarly };
  }

  static restore(snapshot: DedupeSnapshot, maxIds?: number): DedupeIndex {
    const index = new DedupeIndex(maxIds);
    for (const [id, eventTime] of snapshot.ids) index.remember(id, eventTime);
    index.forgottenEarly = snapshot.forgottenEarly;
    return index;
  }

  get size(): number {
    return this.firstSeen.size;
  }

  /** Ids forgotten before their horizon because of `maxIds`. */
  get idsForgottenEarly(): number {
    return this.forgottenEarly;
  }

  private forgetOldestMinute(): void {
    let oldest = Number.POSITIVE_INFINITY;
    for (const minute of this.byMinute.keys()) oldest = Math.min(oldest, minute);
    const before = this.firstSeen.size;
    this.forgetMinute(oldest, Number.POSITIVE_INFINITY);
    this.forgottenEarly += before - this.firstSeen.size;
  }

  private forgetMinute(minute: number, threshold: number): void {
    for (const id of this.byMinute.get(minute) ?? []) {
      // The id may have been accepted again later (after being forgotten) under a newer time.
      const seen = this.firstSeen.get(id);
      if (seen !== undefined && seen < threshold && windowStartOf(seen) === minute) this.firstSeen.delete(id);
    }
    this.byMinute.delete(minute);
  }
}
