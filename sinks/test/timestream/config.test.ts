import { describe, expect, it } from 'vitest';
import { parseTimestreamSinkConfig, timestreamHorizon } from '../../src/timestream/config.js';

describe('parseTimestreamSinkConfig', () => {
  it('applies the defaults', () => {
    expect(parseTimestreamSinkConfig({ database: 'genai', table: 'metrics_1m' })).toEqual({
      database: 'genai',
      table: 'metrics_1m',
      memoryStoreRetentionHours: 24,
      magneticStoreWrites: false,
      maxRecordsPerRequest: 100,
      deadLetterCapacity: 1_000,
      requestTimeoutMs: 10_000,
      resilience: {},
    });
  });

  it('names every offending option', () => {
    expect(() =>
      parseTimestreamSinkConfig({
        database: 'a b',
        table: 'ok_table',
        maxRecordsPerRequest: 101,
        endpoint: 'nope',
      }),
    ).toThrow(
      /invalid timestream sink config: database: .*letters, digits.*; endpoint: .*; maxRecordsPerRequest: /,
    );
    expect(() =>
      parseTimestreamSinkConfig({ database: 'genai', table: 'tt', resilience: { retries: 3 } } as never),
    ).toThrow(/table: .*; resilience: /);
  });
});

describe('timestreamHorizon', () => {
  const now = Date.UTC(2025, 5, 2, 12);
  it('is the memory store retention before now, or none with magnetic store writes', () => {
    const config = parseTimestreamSinkConfig({
      database: 'genai',
      table: 'metrics',
      memoryStoreRetentionHours: 6,
    });
    expect(timestreamHorizon(config, now)).toBe(now - 6 * 3_600_000);
    expect(timestreamHorizon({ ...config, magneticStoreWrites: true }, now)).toBe(Number.NEGATIVE_INFINITY);
  });
});
