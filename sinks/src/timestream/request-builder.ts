import type { _Record, MeasureValueType, WriteRecordsRequest } from '@aws-sdk/client-timestream-write';
import type { MeasureKind, SeriesPoint } from './series.js';

/** WriteRecords quotas (Timestream for LiveAnalytics developer guide, "Quotas"). */
export const TIMESTREAM_LIMITS = Object.freeze({
  recordsPerRequest: 100,
  measuresPerRecord: 256,
  recordBytes: 2_048,
});

const MEASURE_TYPES: Record<MeasureKind, MeasureValueType> = {
  int: 'BIGINT',
  double: 'DOUBLE',
  string: 'VARCHAR',
};

/**
 * One multi-measure record per point: MeasureName is the point's table (`rollups_1m`,
 * `score_rollups_1m`, `anomalies`), time in milliseconds. `version` makes a re-written window an
 * upsert: Timestream replaces a record with the same dimensions, time and measure name when the new
 * Version is higher, and rejects a different value at an equal or lower one (see version.ts).
 */
export function timestreamRecord(point: SeriesPoint, version: number): _Record {
  return {
    Dimensions: point.dimensions.map(([Name, Value]) => ({ Name, Value, DimensionValueType: 'VARCHAR' })),
    MeasureName: point.table,
    MeasureValueType: 'MULTI',
    MeasureValues: point.measures.map((m) => ({
      Name: m.name,
      Value: String(m.value),
      Type: MEASURE_TYPES[m.kind],
    })),
    Time: String(point.time),
    TimeUnit: 'MILLISECONDS',
    Version: version,
  };
}

/**
 * Bytes of the record as the SDK serializes it (JSON, UTF-8): an upper bound of what Timestream meters,
 * which counts names and values without the JSON syntax, so a record under it is under the quota.
 */
export function recordBytes(record: _Record): number {
  return Buffer.byteLength(JSON.stringify(record), 'utf8');
}

/** Why the record breaks a per-record quota, or null when it fits. */
export function recordLimitViolation(record: _Record): string | null {
  const measures = record.MeasureValues?.length ?? 0;
  if (measures > TIMESTREAM_LIMITS.measuresPerRecord) {
    return `record has ${measures} measures, more than the ${TIMESTREAM_LIMITS.measuresPerRecord} allowed`;
  }
  const bytes = recordBytes(record);
  if (bytes > TIMESTREAM_LIMITS.recordBytes) {
    return `record of ${bytes} bytes exceeds the ${TIMESTREAM_LIMITS.recordBytes}-byte record size limit`;
  }
  return null;
}

export function writeRecordsRequest(
  database: string,
  table: string,
  records: _Record[],
): WriteRecordsRequest {
  if (records.length === 0 || records.length > TIMESTREAM_LIMITS.recordsPerRequest) {
    throw new RangeError(
      `WriteRecords takes 1 to ${TIMESTREAM_LIMITS.recordsPerRequest} records, got ${records.length}`,
    );
  }
  return { DatabaseName: database, TableName: table, Records: records };
}
