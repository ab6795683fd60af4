import { LAKE_TABLES, type LakeRow } from '@genai-pipeline/schemas';
import type { WindowResults } from '../window-results.js';

/**
 * Window results as time-series points, shared by both Timestream products: LiveAnalytics (one
 * multi-measure record per point) and Timestream for InfluxDB (one line-protocol line per point).
 *
 * One point per row of `rollups_1m`, `score_rollups_1m` and `anomalies`, named after its lake table,
 * timestamped at `window_start` (epoch ms). Dimensions (tags) are the row's identifying strings, so
 * that a re-sent window lands on the same series and time and overwrites instead of adding:
 * - rollups_1m: service, provider, model_id, tenant_id
 * - score_rollups_1m: service, model_id, tenant_id, score_name (the row's `name`)
 * - anomalies: service, provider, model_id, tenant_id, kind, score_name
 * A null or empty dimension (no tenant, no provider for `quality_drop`) is left out: neither store
 * accepts empty dimension values. Measures (fields) are every other column but the window bounds,
 * typed from the lake schema (int64 -> integer, double -> double, string -> string); null measures are
 * left out, never written as 0.
 */
export type SeriesTable = 'rollups_1m' | 'score_rollups_1m' | 'anomalies';

export type MeasureKind = 'int' | 'double' | 'string';

export interface SeriesMeasure {
  name: string;
  kind: MeasureKind;
  value: number | string;
}

export interface SeriesPoint {
  table: SeriesTable;
  /** window_start, epoch milliseconds. */
  time: number;
  /** [name, value] pairs in the table's dimension order; absent dimensions left out. */
  dimensions: ReadonlyArray<readonly [string, string]>;
  measures: SeriesMeasure[];
}

interface DimensionSpec {
  column: string;
  name: string;
  required: boolean;
}

const dim = (column: string, required: boolean, name = column): DimensionSpec => ({ column, name, required });

const DIMENSIONS: Record<SeriesTable, readonly DimensionSpec[]> = {
  rollups_1m: [dim('service', true), dim('provider', true), dim('model_id', true), dim('tenant_id', false)],
  score_rollups_1m: [
    dim('service', true),
    dim('model_id', true),
    dim('tenant_id', false),
    dim('name', true, 'score_name'),
  ],
  anomalies: [
    dim('service', true),
    dim('provider', false),
    dim('model_id', true),
    dim('tenant_id', false),
    dim('kind', true),
    dim('score_name', false),
  ],
};

/** Carried by the time (window_start) or implied by it (window_end = start + 60 s). */
const TIME_COLUMNS = new Set(['window_start', 'window_end']);

const MEASURE_KINDS = { int64: 'int', double: 'double', string: 'string' } as const;

interface MeasureSpec {
  column: string;
  kind: MeasureKind;
}

function measureSpecs(table: SeriesTable): MeasureSpec[] {
  const dimensionColumns = new Set(DIMENSIONS[table].map((d) => d.column));
  const specs: MeasureSpec[] = [];
  for (const column of LAKE_TABLES[table].columns) {
    if (TIME_COLUMNS.has(column.name) || dimensionColumns.has(column.name)) continue;
    if (column.type === 'timestamp')
      throw new Error(`${table}.${column.name}: timestamp measures are not mapped`);
    specs.push({ column: column.name, kind: MEASURE_KINDS[column.type] });
  }
  return specs;
}

const MEASURES: Record<SeriesTable, MeasureSpec[]> = {
  rollups_1m: measureSpecs('rollups_1m'),
  score_rollups_1m: measureSpecs('score_rollups_1m'),
  anomalies: measureSpecs('anomalies'),
};

/** A row that cannot become a point (a producer bug, never a transient condition): not retriable. */
export class SeriesRowError extends Error {
  readonly retriable = false;
  constructor(table: SeriesTable, message: string) {
    super(`${table}: ${message} (not retriable)`);
    this.name = 'SeriesRowError';
  }
}

export function seriesPoint(table: SeriesTable, row: LakeRow): SeriesPoint {
  const time = row.window_start;
  if (typeof time !== 'number' || !Number.isSafeInteger(time)) {
    throw new SeriesRowError(table, `window_start must be epoch milliseconds, got ${JSON.stringify(time)}`);
  }
  const dimensions: Array<readonly [string, string]> = [];
  for (const spec of DIMENSIONS[table]) {
    const value = row[spec.column];
    if (value === null || value === undefined || value === '') {
      if (spec.required) throw new SeriesRowError(table, `dimension ${spec.column} is required`);
      continue;
    }
    if (typeof value !== 'string') {
      throw new SeriesRowError(table, `dimension ${spec.column} must be a string, got ${typeof value}`);
    }
    dimensions.push([spec.name, value]);
  }
  const measures: SeriesMeasure[] = [];
  for (const spec of MEASURES[table]) {
    const value = row[spec.column];
    if (value === null || value === undefined) continue;
    measures.push({ name: spec.column, kind: spec.kind, value: checkedMeasure(table, spec, value) });
  }
  if (measures.length === 0) throw new SeriesRowError(table, 'a point needs at least one measure');
  return { table, time, dimensions, measures };
}

function checkedMeasure(table: SeriesTable, spec: MeasureSpec, value: string | number): string | number {
  switch (spec.kind) {
    case 'string':
      if (typeof value !== 'string') throw new SeriesRowError(table, `${spec.column} must be a string`);
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw new SeriesRowError(table, `${spec.column} must be an integer, got ${JSON.stringify(value)}`);
      }
      return value;
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new SeriesRowError(
          table,
          `${spec.column} must be a finite number, got ${JSON.stringify(value)}`,
        );
      }
      return value;
  }
}

/** A row of a window that did not map to a point, with the reason, for the sink's dead letters. */
export interface SeriesRowFailure {
  table: SeriesTable;
  row: LakeRow;
  error: SeriesRowError;
}

/** Every row of the windows as points, in window order (rollups, score rollups, anomalies). */
export function windowSeries(windows: readonly WindowResults[]): {
  points: SeriesPoint[];
  failures: SeriesRowFailure[];
} {
  const points: SeriesPoint[] = [];
  const failures: SeriesRowFailure[] = [];
  const add = (table: SeriesTable, rows: readonly LakeRow[]) => {
    for (const row of rows) {
      try {
        points.push(seriesPoint(table, row));
      } catch (error) {
        if (!(error instanceof SeriesRowError)) throw error;
        failures.push({ table, row, error });
      }
    }
  };
  for (const window of windows) {
    add('rollups_1m', window.rollups);
    add('score_rollups_1m', window.scoreRollups);
    add('anomalies', window.anomalies);
  }
  return { points, failures };
}
