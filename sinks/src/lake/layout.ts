import type { LakeTableName } from '@genai-pipeline/schemas';
import { LakeUsageError } from './errors.js';

export const HOUR_MS = 3_600_000;

/** Start (epoch ms) of the UTC hour holding timeMs. */
export function hourStart(timeMs: number): number {
  return Math.floor(timeMs / HOUR_MS) * HOUR_MS;
}

/** `table/dt=YYYY-MM-DD/hour=HH` of the UTC hour holding timeMs (CONTRACT.md §4). */
export function partitionPath(table: LakeTableName, timeMs: number): string {
  const date = new Date(hourStart(timeMs));
  if (Number.isNaN(date.getTime())) {
    throw new LakeUsageError(`lake partition of ${table}: time ${timeMs} is not a valid epoch millisecond`);
  }
  const iso = date.toISOString(); // YYYY-MM-DDTHH:..., always UTC
  return `${table}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}

// A leading '.' or '_' would hide the file from Hive-style readers (Athena, Spark skip such names).
const SAFE_SOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Throws unless sourceId is safe as part of a file name on any filesystem and in S3 keys. */
export function assertSafeSourceId(sourceId: string): void {
  if (!SAFE_SOURCE_ID.test(sourceId)) {
    throw new LakeUsageError(
      `lake source id ${JSON.stringify(sourceId)} must start with a letter or digit and contain only [A-Za-z0-9._-]`,
    );
  }
}

/** Throws unless ordinal is a safe integer (window starts before 1970 are negative). */
export function assertOrdinal(ordinal: number, what: string): void {
  if (!Number.isSafeInteger(ordinal)) {
    throw new LakeUsageError(`${what}: ordinal ${ordinal} must be a safe integer`);
  }
}

/** An ordinal in a file name: negatives as `n<digits>`, so `-` only ever separates the name's parts. */
const ordinalName = (ordinal: number): string => (ordinal < 0 ? `n${-ordinal}` : String(ordinal));

/**
 * Name of a data file from what it holds: the source and the first and last ordinal (source offset or
 * window start) of its rows. Never from the clock, so a replay overwrites instead of duplicating.
 */
export function dataFileName(sourceId: string, firstOrdinal: number, lastOrdinal: number): string {
  assertSafeSourceId(sourceId);
  assertOrdinal(firstOrdinal, 'lake file name');
  assertOrdinal(lastOrdinal, 'lake file name');
  if (lastOrdinal < firstOrdinal) {
    throw new LakeUsageError(
      `lake file name: last ordinal ${lastOrdinal} is before first ordinal ${firstOrdinal}`,
    );
  }
  return `${sourceId}-${ordinalName(firstOrdinal)}-${ordinalName(lastOrdinal)}.parquet`;
}
