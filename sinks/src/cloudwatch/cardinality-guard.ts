import { type DimensionName, OTHER_DIMENSION_VALUE, SCORE_METRIC_PREFIX } from '@genai-pipeline/schemas';
import { CLOUDWATCH_LIMITS } from './config.js';

const DAY_MS = 86_400_000;

/** The guard's own key for score names, beside the dimension names. */
export const SCORE_NAME_KEY = 'ScoreName';
export type GuardedKey = DimensionName | typeof SCORE_NAME_KEY;

export interface CardinalityGuardOptions {
  maxValuesPerDimensionPerDay: number;
  maxScoreNames: number;
  /** UTC days remembered at once (the 14-day horizon, today and a day of clock skew by default). */
  maxDaysTracked?: number;
}

/** Printable ASCII with at least one non-blank character, as CloudWatch requires. */
const PUBLISHABLE = /^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$/;

/**
 * Caps the distinct values of each dimension (and the distinct score names) per UTC day of the datum's
 * window, so a buggy or hostile producer cannot grow the CloudWatch bill: the first N values of a day
 * pass, later new ones fold into `__other__`, and every fold is counted. Values CloudWatch would reject
 * (empty, non-ASCII, too long) fold too. Memory is bounded: at most `maxDaysTracked` days of at most N
 * values per key.
 */
export class CardinalityGuard {
  private readonly days = new Map<number, Map<GuardedKey, Set<string>>>();
  private readonly foldCounts = new Map<GuardedKey, number>();
  private readonly maxDaysTracked: number;

  constructor(private readonly options: CardinalityGuardOptions) {
    this.maxDaysTracked = options.maxDaysTracked ?? Math.ceil(CLOUDWATCH_LIMITS.horizonMs / DAY_MS) + 2;
  }

  /** The value to publish for `value` of `dimension` in a datum timestamped `timestampMs`. */
  dimensionValue(dimension: DimensionName, value: string, timestampMs: number): string {
    const publishable = value.length <= CLOUDWATCH_LIMITS.maxDimensionValueLength && PUBLISHABLE.test(value);
    return this.admit(dimension, value, publishable, this.options.maxValuesPerDimensionPerDay, timestampMs);
  }

  /** The score name to publish (`Score_<name>` must be a valid metric name). */
  scoreName(name: string, timestampMs: number): string {
    const publishable =
      SCORE_METRIC_PREFIX.length + name.length <= CLOUDWATCH_LIMITS.maxMetricNameLength &&
      PUBLISHABLE.test(name);
    return this.admit(SCORE_NAME_KEY, name, publishable, this.options.maxScoreNames, timestampMs);
  }

  /** Folds so far per dimension (and `ScoreName`). */
  folds(): Partial<Record<GuardedKey, number>> {
    return Object.fromEntries(this.foldCounts);
  }

  /** Distinct values remembered across all tracked days: bounded by days × keys × cap. */
  trackedValueCount(): number {
    let total = 0;
    for (const day of this.days.values()) for (const values of day.values()) total += values.size;
    return total;
  }

  private admit(
    key: GuardedKey,
    value: string,
    publishable: boolean,
    cap: number,
    timestampMs: number,
  ): string {
    if (publishable && value === OTHER_DIMENSION_VALUE) return value;
    const seen = publishable ? this.valuesOf(Math.floor(timestampMs / DAY_MS), key) : undefined;
    if (seen !== undefined && (seen.has(value) || seen.size < cap)) {
      seen.add(value);
      return value;
    }
    this.foldCounts.set(key, (this.foldCounts.get(key) ?? 0) + 1);
    return OTHER_DIMENSION_VALUE;
  }

  /** The day's value set, or undefined for a day older than every tracked one when the window of days is full. */
  private valuesOf(day: number, key: GuardedKey): Set<string> | undefined {
    let values = this.days.get(day);
    if (values === undefined) {
      if (this.days.size >= this.maxDaysTracked) {
        const oldest = Math.min(...this.days.keys());
        if (day < oldest) return undefined;
        this.days.delete(oldest);
      }
      values = new Map();
      this.days.set(day, values);
    }
    let set = values.get(key);
    if (set === undefined) {
      set = new Set();
      values.set(key, set);
    }
    return set;
  }
}
