import { LAKE_TABLES } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import { SeriesRowError, seriesPoint, windowSeries } from '../../src/timestream/series.js';
import type { WindowResults } from '../../src/window-results.js';
import { sampleRow } from '../support/rows.js';

const START = Date.UTC(2025, 2, 14, 10, 0, 0);

describe('seriesPoint', () => {
  it('maps a rollup row: dimensions in order, every other column a typed measure, time = window_start', () => {
    const row = sampleRow(LAKE_TABLES.rollups_1m, 1, { window_start: START, tenant_id: 't1' });
    const point = seriesPoint('rollups_1m', row);
    expect(point.time).toBe(START);
    expect(point.dimensions).toEqual([
      ['service', 'service-1'],
      ['provider', 'provider-1'],
      ['model_id', 'model_id-1'],
      ['tenant_id', 't1'],
    ]);
    expect(point.measures.map((m) => m.name)).toEqual(
      LAKE_TABLES.rollups_1m.columns
        .map((c) => c.name)
        .filter(
          (n) => !['window_start', 'window_end', 'service', 'provider', 'model_id', 'tenant_id'].includes(n),
        ),
    );
    expect(point.measures.find((m) => m.name === 'requests')).toEqual({
      name: 'requests',
      kind: 'int',
      value: 1_000_003,
    });
    expect(point.measures.find((m) => m.name === 'cost_usd')).toEqual({
      name: 'cost_usd',
      kind: 'double',
      value: 1 / 7,
    });
  });

  it('leaves out absent dimensions and null measures instead of writing empty strings or zeros', () => {
    const row = sampleRow(LAKE_TABLES.rollups_1m, 0, { window_start: START });
    expect(row.tenant_id).toBeNull();
    expect(row.ttft_ms_p50).toBeNull();
    const point = seriesPoint('rollups_1m', { ...row, provider: 'openai' });
    expect(point.dimensions.map(([name]) => name)).toEqual(['service', 'provider', 'model_id']);
    expect(point.measures.map((m) => m.name)).not.toContain('ttft_ms_p50');
  });

  it('names the score dimension score_name and keeps a quality_drop anomaly without provider', () => {
    const score = seriesPoint(
      'score_rollups_1m',
      sampleRow(LAKE_TABLES.score_rollups_1m, 1, { name: 'thumbs' }),
    );
    expect(score.dimensions.map(([n]) => n)).toEqual(['service', 'model_id', 'tenant_id', 'score_name']);
    expect(score.measures.map((m) => [m.name, m.kind])).toEqual([
      ['count', 'int'],
      ['sum', 'double'],
      ['avg', 'double'],
      ['min', 'double'],
      ['max', 'double'],
    ]);
    const anomaly = seriesPoint(
      'anomalies',
      sampleRow(LAKE_TABLES.anomalies, 1, {
        provider: null,
        kind: 'quality_drop',
        score_name: 'faithfulness',
      }),
    );
    expect(anomaly.dimensions).toEqual([
      ['service', 'service-1'],
      ['model_id', 'model_id-1'],
      ['tenant_id', 'tenant_id-1'],
      ['kind', 'quality_drop'],
      ['score_name', 'faithfulness'],
    ]);
    expect(anomaly.measures.find((m) => m.name === 'severity')).toEqual({
      name: 'severity',
      kind: 'string',
      value: 'severity-1',
    });
  });

  it('refuses rows that cannot be points, naming the column (not retriable)', () => {
    const row = sampleRow(LAKE_TABLES.rollups_1m, 1);
    expect(() => seriesPoint('rollups_1m', { ...row, service: null })).toThrow(
      /dimension service is required/,
    );
    expect(() => seriesPoint('rollups_1m', { ...row, requests: 1.5 })).toThrow(/requests must be an integer/);
    expect(() => seriesPoint('rollups_1m', { ...row, cost_usd: Number.NaN })).toThrow(
      /cost_usd must be a finite number/,
    );
    expect(() => seriesPoint('rollups_1m', { ...row, window_start: '2025' })).toThrow(SeriesRowError);
    expect(() => seriesPoint('rollups_1m', { ...row, service: null })).toThrow(/not retriable/);
  });
});

describe('windowSeries', () => {
  it('keeps window order and collects bad rows apart', () => {
    const window = (i: number): WindowResults => ({
      windowStart: START + i * 60_000,
      rollups: [sampleRow(LAKE_TABLES.rollups_1m, 1, { window_start: START + i * 60_000 })],
      rollupDistributions: [],
      scoreRollups: [
        sampleRow(LAKE_TABLES.score_rollups_1m, 1, { window_start: START + i * 60_000, count: -0.5 }),
      ],
      anomalies: [sampleRow(LAKE_TABLES.anomalies, 1, { window_start: START + i * 60_000 })],
    });
    const { points, failures } = windowSeries([window(0), window(1)]);
    expect(points.map((p) => [p.table, p.time])).toEqual([
      ['rollups_1m', START],
      ['anomalies', START],
      ['rollups_1m', START + 60_000],
      ['anomalies', START + 60_000],
    ]);
    expect(failures.map((f) => [f.table, f.error.message])).toEqual([
      ['score_rollups_1m', expect.stringContaining('count must be an integer')],
      ['score_rollups_1m', expect.stringContaining('count must be an integer')],
    ]);
  });
});
