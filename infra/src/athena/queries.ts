/**
 * The analysts' named queries. Each text runs as-is in Athena (Trino SQL) against the Glue tables,
 * and, through `toDuckDbDialect`, in DuckDB against a local lake (views named like the Glue tables),
 * which is how the tests check their logic.
 *
 * Every query filters on the `dt` partition first, so partition projection prunes what Athena
 * scans, then on the exact timestamp for a rolling window. Times are UTC (Athena sessions are).
 */
import type { LakeTableName } from '@genai-pipeline/schemas';

export interface NamedQuerySpec {
  /** Athena named-query name and file-like key. */
  name: string;
  description: string;
  /** Lake tables the query reads. */
  tables: readonly LakeTableName[];
  sql: string;
}

/**
 * `dt` holds `YYYY-MM-DD` strings. The double cast gives that spelling in both engines: in Trino
 * `current_date - INTERVAL` is a date already, in DuckDB a timestamp.
 */
const sinceDays = (days: number, alias = ''): string =>
  `${alias}dt >= CAST(CAST(current_date - INTERVAL '${days}' DAY AS DATE) AS VARCHAR)`;

const within = (days: number, column: string, alias = ''): string =>
  `${sinceDays(days, alias)}\n  AND ${alias}${column} >= current_timestamp - INTERVAL '${days}' DAY`;

export const NAMED_QUERIES: readonly NamedQuerySpec[] = [
  {
    name: 'cost_per_tenant_per_day',
    description: 'Cost, requests and tokens per tenant per UTC day, last 30 days (rollups_1m).',
    tables: ['rollups_1m'],
    sql: `SELECT
  dt AS usage_date,
  COALESCE(tenant_id, '(no tenant)') AS tenant,
  SUM(cost_usd) AS cost_usd,
  SUM(requests) AS requests,
  SUM(input_tokens + output_tokens) AS tokens
FROM rollups_1m
WHERE ${sinceDays(30)}
GROUP BY dt, COALESCE(tenant_id, '(no tenant)')
ORDER BY usage_date DESC, cost_usd DESC, tenant`,
  },
  {
    name: 'p95_latency_per_model',
    description:
      'Latency p50/p95 and time-to-first-token p95 per provider and model, last 7 days (invocations).',
    tables: ['invocations'],
    sql: `SELECT
  provider,
  model_id,
  COUNT(*) AS requests,
  approx_percentile(latency_ms, 0.5) AS latency_ms_p50,
  approx_percentile(latency_ms, 0.95) AS latency_ms_p95,
  approx_percentile(ttft_ms, 0.95) AS ttft_ms_p95
FROM invocations
WHERE ${within(7, 'event_time')}
GROUP BY provider, model_id
ORDER BY latency_ms_p95 DESC, provider, model_id`,
  },
  {
    name: 'error_rate_by_error_code',
    description:
      "Failed calls per service, status and error code, with their share of the service's calls, last 7 days (invocations).",
    tables: ['invocations'],
    sql: `WITH recent AS (
  SELECT service, status, error_code
  FROM invocations
  WHERE ${within(7, 'event_time')}
),
totals AS (
  SELECT service, COUNT(*) AS requests FROM recent GROUP BY service
)
SELECT
  r.service,
  r.status,
  COALESCE(r.error_code, '(none)') AS error_code,
  COUNT(*) AS errors,
  t.requests,
  CAST(COUNT(*) AS DOUBLE) / t.requests AS error_rate
FROM recent r
JOIN totals t ON t.service = r.service
WHERE r.status <> 'OK'
GROUP BY r.service, r.status, COALESCE(r.error_code, '(none)'), t.requests
ORDER BY error_rate DESC, r.service, r.status, error_code`,
  },
  {
    name: 'top_anomalies_this_week',
    description: 'The 50 strongest anomalies of the last 7 days (rolling), critical first (anomalies).',
    tables: ['anomalies'],
    sql: `SELECT
  window_start,
  severity,
  kind,
  service,
  provider,
  model_id,
  tenant_id,
  score_name,
  observed,
  baseline,
  score
FROM anomalies
WHERE ${within(7, 'window_start')}
ORDER BY CASE severity WHEN 'critical' THEN 0 ELSE 1 END, score DESC, window_start DESC, kind, service, model_id
LIMIT 50`,
  },
  {
    name: 'cost_per_resolved_conversation',
    description:
      'Per service, last 7 days: conversations (distinct session_id), those resolved (a `resolved` score >= 1 on any of their calls), ' +
      'and the total cost of all conversations divided by the resolved ones (invocations joined to scores on invocation_id).',
    tables: ['invocations', 'scores'],
    sql: `WITH conversations AS (
  SELECT service, session_id, SUM(cost_usd) AS cost_usd
  FROM invocations
  WHERE ${within(7, 'event_time')}
    AND session_id IS NOT NULL
  GROUP BY service, session_id
),
resolved AS (
  SELECT DISTINCT i.service, i.session_id
  FROM scores s
  JOIN invocations i ON i.event_id = s.invocation_id
  WHERE s.name = 'resolved'
    AND s.value >= 1
    AND ${sinceDays(7, 's.')}
    AND ${within(7, 'event_time', 'i.')}
    AND i.session_id IS NOT NULL
)
SELECT
  c.service,
  COUNT(*) AS conversations,
  COUNT(r.session_id) AS resolved_conversations,
  CAST(COUNT(r.session_id) AS DOUBLE) / COUNT(*) AS resolution_rate,
  SUM(c.cost_usd) AS cost_usd,
  SUM(c.cost_usd) / NULLIF(COUNT(r.session_id), 0) AS cost_per_resolved_conversation,
  SUM(CASE WHEN r.session_id IS NOT NULL THEN c.cost_usd END) / NULLIF(COUNT(r.session_id), 0)
    AS avg_cost_of_resolved_conversation
FROM conversations c
LEFT JOIN resolved r ON r.service = c.service AND r.session_id = c.session_id
GROUP BY c.service
ORDER BY cost_per_resolved_conversation DESC NULLS LAST, c.service`,
  },
];

/**
 * The one dialect difference the queries use: Athena's `approx_percentile(x, q)` is DuckDB's
 * `quantile_cont(x, q)` (exact, interpolated; within Athena's approximation of it).
 */
export function toDuckDbDialect(athenaSql: string): string {
  return athenaSql.replaceAll('approx_percentile(', 'quantile_cont(');
}
