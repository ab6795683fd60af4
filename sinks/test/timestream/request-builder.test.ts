import { describe, expect, it } from 'vitest';
import {
  recordBytes,
  recordLimitViolation,
  TIMESTREAM_LIMITS,
  timestreamRecord,
  writeRecordsRequest,
} from '../../src/timestream/request-builder.js';
import type { SeriesPoint } from '../../src/timestream/series.js';

const point: SeriesPoint = {
  table: 'rollups_1m',
  time: 1_748_865_600_000,
  dimensions: [
    ['service', 'support-bot'],
    ['model_id', 'm1'],
  ],
  measures: [
    { name: 'requests', kind: 'int', value: 12 },
    { name: 'cost_usd', kind: 'double', value: 0.125 },
    { name: 'severity', kind: 'string', value: 'warning' },
  ],
};

describe('timestreamRecord', () => {
  it('builds one MULTI record: typed measures, time in milliseconds, the given version', () => {
    expect(timestreamRecord(point, 1_748_865_700_123)).toEqual({
      Dimensions: [
        { Name: 'service', Value: 'support-bot', DimensionValueType: 'VARCHAR' },
        { Name: 'model_id', Value: 'm1', DimensionValueType: 'VARCHAR' },
      ],
      MeasureName: 'rollups_1m',
      MeasureValueType: 'MULTI',
      MeasureValues: [
        { Name: 'requests', Value: '12', Type: 'BIGINT' },
        { Name: 'cost_usd', Value: '0.125', Type: 'DOUBLE' },
        { Name: 'severity', Value: 'warning', Type: 'VARCHAR' },
      ],
      Time: '1748865600000',
      TimeUnit: 'MILLISECONDS',
      Version: 1_748_865_700_123,
    });
  });
});

describe('record limits', () => {
  it('accepts a normal rollup record', () => {
    expect(recordLimitViolation(timestreamRecord(point, 1))).toBeNull();
  });

  it('measures the record as the JSON the SDK sends, in UTF-8 bytes', () => {
    const record = timestreamRecord({ ...point, dimensions: [['service', 'é']] }, 1);
    expect(recordBytes(record)).toBe(Buffer.byteLength(JSON.stringify(record)));
    expect(recordBytes(record)).toBe(JSON.stringify(record).length + 1);
  });

  it('refuses a record over 2 KB or over 256 measures', () => {
    const large = timestreamRecord({ ...point, dimensions: [['model_id', 'x'.repeat(2_000)]] }, 1);
    expect(recordLimitViolation(large)).toMatch(/bytes exceeds the 2048-byte record size limit/);
    const measures = Array.from({ length: 257 }, (_, i) => ({
      name: `m${i}`,
      kind: 'int' as const,
      value: i,
    }));
    expect(recordLimitViolation(timestreamRecord({ ...point, measures }, 1))).toMatch(
      /257 measures, more than the 256/,
    );
  });
});

describe('writeRecordsRequest', () => {
  it('takes 1 to 100 records', () => {
    const records = Array.from({ length: TIMESTREAM_LIMITS.recordsPerRequest }, () =>
      timestreamRecord(point, 1),
    );
    expect(writeRecordsRequest('db', 'tbl', records)).toEqual({
      DatabaseName: 'db',
      TableName: 'tbl',
      Records: records,
    });
    expect(() => writeRecordsRequest('db', 'tbl', [...records, records[0] ?? {}])).toThrow(
      /1 to 100 records, got 101/,
    );
    expect(() => writeRecordsRequest('db', 'tbl', [])).toThrow(RangeError);
  });
});
