/**
 * Lake rows vs the oracle of expected.ts, by the tolerances of CONTRACT.md §4. Every function
 * returns readable mismatches (empty = pass), so a failing acceptance run lists what is wrong
 * instead of stopping at the first difference.
 */
import { LAKE_TABLES, type LakeRow, type LakeTableName, type ScoreEvent } from '@genai-pipeline/schemas';
import type { Incident } from './dataset.js';
import {
  type ExpectedDeadLetter,
  type InvocationRow,
  percentileBounds,
  percentileMatches,
  type RollupExpectation,
  rollupKey,
  type ScoreRollupExpectation,
  scoreRollupKey,
} from './expected.js';
import type { LakeRowWithFile, ParquetColumn } from './lake.js';

export const DOUBLE_RELATIVE_TOLERANCE = 1e-9;

export function relClose(a: number, b: number, tolerance = DOUBLE_RELATIVE_TOLERANCE): boolean {
  return a === b || Math.abs(a - b) <= tolerance * Math.max(Math.abs(a), Math.abs(b));
}

type Check = (got: unknown) => boolean;

/** Compares the columns of `table` in one row; `checks` replace equality for derived columns. */
function diffRow(
  table: LakeTableName,
  label: string,
  actual: LakeRow,
  expected: Record<string, unknown>,
  checks: Record<string, Check> = {},
): string[] {
  const out: string[] = [];
  for (const column of LAKE_TABLES[table].columns) {
    const got = actual[column.name];
    if (got === undefined) {
      out.push(`${label}: column ${column.name} missing`);
      continue;
    }
    const check = checks[column.name];
    const want = expected[column.name];
    const ok = check
      ? check(got)
      : want === null || got === null
        ? want === got
        : column.type === 'double'
          ? typeof got === 'number' && typeof want === 'number' && relClose(got, want)
          : got === want;
    if (!ok)
      out.push(`${label}: ${column.name} expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
  return out;
}

/** Matches rows to expectations by key: every key exactly once, nothing extra. */
function diffKeyed<E>(
  table: LakeTableName,
  rows: readonly LakeRow[],
  expected: ReadonlyMap<string, E>,
  keyOf: (row: LakeRow) => string,
  diffOne: (label: string, row: LakeRow, want: E) => string[],
): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const key = keyOf(row);
    const label = `${table} ${key}`;
    if (seen.has(key)) {
      out.push(`${label}: more than one row`);
      continue;
    }
    seen.add(key);
    const want = expected.get(key);
    if (want === undefined) out.push(`${label}: unexpected row`);
    else out.push(...diffOne(label, row, want));
  }
  for (const key of expected.keys()) if (!seen.has(key)) out.push(`${table} ${key}: row missing`);
  return out;
}

export function diffInvocations(rows: readonly LakeRow[], expected: readonly InvocationRow[]): string[] {
  const byId = new Map(expected.map((e) => [e.event_id, e]));
  return diffKeyed(
    'invocations',
    rows,
    byId,
    (r) => String(r.event_id),
    (label, row, want) => diffRow('invocations', label, row, { ...want }),
  );
}

export function diffScores(rows: readonly LakeRow[], expected: readonly ScoreEvent[]): string[] {
  const byId = new Map(expected.map((e) => [e.event_id, e]));
  return diffKeyed(
    'scores',
    rows,
    byId,
    (r) => String(r.event_id),
    (label, row, want) => diffRow('scores', label, row, { ...want }),
  );
}

const percentile =
  (sorted: readonly number[], q: number): Check =>
  (got) =>
    sorted.length === 0 ? got === null : typeof got === 'number' && percentileMatches(got, sorted, q);

const describePercentile = (sorted: readonly number[], q: number): string | null => {
  if (sorted.length === 0) return null;
  const [lo, hi] = percentileBounds(sorted, q);
  return `p${q * 100} within 1% of [${lo}, ${hi}] (n=${sorted.length})`;
};

export function diffRollups(
  rows: readonly LakeRow[],
  expected: ReadonlyMap<string, RollupExpectation>,
): string[] {
  const keyOf = (r: LakeRow) =>
    rollupKey({
      window_start: r.window_start as number,
      service: r.service as string,
      provider: r.provider as string,
      model_id: r.model_id as string,
      tenant_id: r.tenant_id as string | null,
    });
  return diffKeyed('rollups_1m', rows, expected, keyOf, (label, row, want) =>
    diffRow(
      'rollups_1m',
      label,
      row,
      {
        ...want,
        error_rate: want.errors / want.requests,
        latency_ms_avg: want.latency_ms_sum / want.requests,
        latency_ms_p50: describePercentile(want.latencies, 0.5),
        latency_ms_p95: describePercentile(want.latencies, 0.95),
        latency_ms_p99: describePercentile(want.latencies, 0.99),
        ttft_ms_p50: describePercentile(want.ttfts, 0.5),
        ttft_ms_p95: describePercentile(want.ttfts, 0.95),
      },
      {
        latency_ms_p50: percentile(want.latencies, 0.5),
        latency_ms_p95: percentile(want.latencies, 0.95),
        latency_ms_p99: percentile(want.latencies, 0.99),
        ttft_ms_p50: percentile(want.ttfts, 0.5),
        ttft_ms_p95: percentile(want.ttfts, 0.95),
      },
    ),
  );
}

export function diffScoreRollups(
  rows: readonly LakeRow[],
  expected: ReadonlyMap<string, ScoreRollupExpectation>,
): string[] {
  const keyOf = (r: LakeRow) =>
    scoreRollupKey({
      window_start: r.window_start as number,
      service: r.service as string,
      model_id: r.model_id as string,
      tenant_id: r.tenant_id as string | null,
      name: r.name as string,
    });
  return diffKeyed('score_rollups_1m', rows, expected, keyOf, (label, row, want) =>
    diffRow('score_rollups_1m', label, row, { ...want, avg: want.sum / want.count }),
  );
}

/** The raw input a dead letter's payload holds: as text or as base64 (CONTRACT.md §4). */
const payloadMatches = (payload: unknown, line: string): boolean =>
  typeof payload === 'string' &&
  (payload === line || Buffer.from(payload, 'base64').toString('utf8') === line);

/**
 * Dead letters per reason; with `comparePayloads`, each row's payload must be one expected raw line
 * (used once), and an invalid line's error must name its field.
 */
export function diffDeadLetters(
  rows: readonly LakeRow[],
  expected: readonly ExpectedDeadLetter[],
  comparePayloads: boolean,
): string[] {
  const out: string[] = [];
  for (const reason of ['invalid', 'late'] as const) {
    const got = rows.filter((r) => r.reason === reason);
    const want = expected.filter((e) => e.reason === reason);
    if (got.length !== want.length)
      out.push(`dead_letters: ${want.length} with reason ${reason} expected, got ${got.length}`);
    for (const row of got) {
      if (typeof row.error !== 'string' || row.error === '')
        out.push(`dead_letters: empty error for ${String(row.payload)}`);
    }
    if (!comparePayloads) continue;
    const unmatched = [...want];
    for (const row of got) {
      const index = unmatched.findIndex((e) => payloadMatches(row.payload, e.payload));
      if (index < 0) {
        out.push(
          `dead_letters (${reason}): payload not among the expected inputs: ${String(row.payload).slice(0, 200)}`,
        );
        continue;
      }
      const [match] = unmatched.splice(index, 1);
      const field = match?.field;
      if (field && !String(row.error).toLowerCase().includes(field.toLowerCase())) {
        out.push(`dead_letters (${reason}): error ${JSON.stringify(row.error)} does not name field ${field}`);
      }
    }
    for (const e of unmatched)
      out.push(`dead_letters (${reason}): no row for input ${e.payload.slice(0, 200)}`);
  }
  const reasons = new Set(rows.map((r) => r.reason));
  for (const reason of reasons)
    if (reason !== 'invalid' && reason !== 'late') out.push(`dead_letters: unknown reason ${reason}`);
  return out;
}

/** Column names and Parquet physical/logical types of every file of a table (CONTRACT.md §4). */
export function diffSchema(table: LakeTableName, columns: readonly ParquetColumn[]): string[] {
  const out: string[] = [];
  const spec = LAKE_TABLES[table].columns;
  const files = new Set(columns.map((c) => c.file));
  for (const file of files) {
    const inFile = columns.filter((c) => c.file === file);
    const names = inFile.map((c) => c.name).sort();
    const wantNames = spec.map((c) => c.name).sort();
    if (JSON.stringify(names) !== JSON.stringify(wantNames)) {
      out.push(`${file}: columns ${names.join(',')} instead of ${wantNames.join(',')}`);
    }
    for (const want of spec) {
      const got = inFile.find((c) => c.name === want.name);
      if (!got) continue;
      const logical = got.logical_type ?? '';
      const ok =
        want.type === 'timestamp'
          ? got.type === 'INT64' && /isAdjustedToUTC=1/.test(logical) && /MILLIS=MilliSeconds/.test(logical)
          : want.type === 'int64'
            ? got.type === 'INT64' &&
              !/Timestamp/i.test(logical) &&
              (got.converted_type ?? 'INT_64') === 'INT_64'
            : want.type === 'double'
              ? got.type === 'DOUBLE'
              : got.type === 'BYTE_ARRAY' && (got.converted_type === 'UTF8' || /String/i.test(logical));
      if (!ok) {
        out.push(
          `${file}: ${want.name} should be ${want.type}, is ${got.type}/${got.converted_type}/${got.logical_type}`,
        );
      }
    }
  }
  return out;
}

const utcPartition = (ms: number): string => {
  const iso = new Date(ms).toISOString();
  return `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
};

/** Each row sits under the `dt=`/`hour=` of its partition column in UTC. */
export function diffPartitionPaths(table: LakeTableName, rows: readonly LakeRowWithFile[]): string[] {
  const column = LAKE_TABLES[table].partitionBy;
  const out: string[] = [];
  for (const row of rows) {
    const value = row[column];
    const want = typeof value === 'number' ? `${table}/${utcPartition(value)}/` : '(no partition value)';
    if (!row.__file.startsWith(want))
      out.push(`${row.__file}: row with ${column}=${value} belongs under ${want}`);
  }
  return out;
}

const LAYOUT = /^([a-z_0-9]+)\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[^/]+\.parquet$/;

/** Only `<table>/dt=YYYY-MM-DD/hour=HH/<file>.parquet` files, and no leftover temp files. */
export function diffLakeFiles(files: readonly string[]): string[] {
  const tables = new Set<string>(Object.keys(LAKE_TABLES));
  return files.flatMap((file) => {
    const match = LAYOUT.exec(file);
    if (!match) return [`lake file outside the layout or not .parquet: ${file}`];
    if (file.split('/').some((part) => part.startsWith('.'))) return [`leftover hidden/temp file: ${file}`];
    return tables.has(match[1] as string) ? [] : [`lake file of an unknown table: ${file}`];
  });
}

// ---- anomalies ----

const ANOMALY_KINDS = new Set(['token_spike', 'cost_spike', 'error_rate', 'latency', 'quality_drop']);

type AnomalyKeyFields = Partial<
  Record<'service' | 'provider' | 'model_id' | 'tenant_id' | 'score_name', unknown>
>;
const anomalyKey = (r: AnomalyKeyFields): string =>
  JSON.stringify([r.service, r.provider, r.model_id, r.tenant_id, r.score_name]);

export interface AnomalyJudgement {
  /** Rule violations: missing detections, detections of an incident's kind outside its span, bad rows. */
  problems: string[];
  /** Anomalies not on an incident's key and span: false positives. */
  unexplained: LakeRow[];
}

/**
 * Each incident must be flagged with its kind in its FIRST window (later windows of the span are
 * judged against a history that may already hold the spike, so they may or may not fire), and its
 * kind must not fire on its key outside the span. Any anomaly inside an incident's key and span is
 * explained (a token spike is also a cost spike); the rest are false positives.
 */
export function judgeAnomalies(rows: readonly LakeRow[], incidents: readonly Incident[]): AnomalyJudgement {
  const problems: string[] = [];
  for (const row of rows) {
    const label = `anomaly ${JSON.stringify(row)}`;
    if (!ANOMALY_KINDS.has(String(row.kind))) problems.push(`${label}: unknown kind`);
    if (row.severity !== 'warning' && row.severity !== 'critical')
      problems.push(`${label}: unknown severity`);
    const quality = row.kind === 'quality_drop';
    if (quality !== (row.provider === null))
      problems.push(`${label}: provider must be null exactly for quality_drop`);
    if (quality !== (row.score_name !== null))
      problems.push(`${label}: score_name must be set exactly for quality_drop`);
    for (const c of ['observed', 'baseline', 'score'] as const) {
      if (typeof row[c] !== 'number' || !Number.isFinite(row[c]))
        problems.push(`${label}: ${c} not a finite number`);
    }
  }
  const explained = new Set<LakeRow>();
  for (const incident of incidents) {
    const key = anomalyKey(incident);
    const onKey = rows.filter((r) => anomalyKey(r) === key);
    const ofKind = onKey.filter((r) => r.kind === incident.kind);
    const first = incident.windowStarts[0];
    const label = `${incident.kind} on ${key}`;
    const hit = ofKind.find((r) => r.window_start === first);
    if (!hit) {
      problems.push(
        `${label}: not detected in its first window ${new Date(first ?? 0).toISOString()} (detected at: ${
          ofKind.map((r) => new Date(r.window_start as number).toISOString()).join(', ') || 'never'
        })`,
      );
    } else {
      const rising = incident.kind !== 'quality_drop';
      if (
        rising
          ? !((hit.observed as number) > (hit.baseline as number))
          : !((hit.observed as number) < (hit.baseline as number))
      ) {
        problems.push(`${label}: observed ${hit.observed} vs baseline ${hit.baseline} points the wrong way`);
      }
    }
    for (const r of ofKind) {
      if (!incident.windowStarts.includes(r.window_start as number)) {
        problems.push(
          `${label}: fired outside the incident at ${new Date(r.window_start as number).toISOString()}`,
        );
      }
    }
    for (const r of onKey) if (incident.windowStarts.includes(r.window_start as number)) explained.add(r);
  }
  return { problems, unexplained: rows.filter((r) => !explained.has(r)) };
}
