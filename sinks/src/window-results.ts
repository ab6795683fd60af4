import type { LakeRow } from '@genai-pipeline/schemas';

/**
 * A distribution as weighted values: the quantile sketch's buckets (each bucket's representative value
 * and its count), plus exact count, sum, min and max. Mergeable by adding counts of equal values, so a
 * sink can combine rollup keys into coarser dimension sets (all models of a service) without losing
 * the 1% accuracy, and hand CloudWatch `Values`/`Counts` that its own percentiles work on.
 */
export interface WeightedDistribution {
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Ascending bucket values; `counts[i]` samples fell in the bucket of `values[i]`. */
  values: number[];
  counts: number[];
}

/** Distributions of one `rollups_1m` row, same index as the row. */
export interface RollupDistributions {
  latency: WeightedDistribution;
  /** null when no call of the row reported a time to first token. */
  ttft: WeightedDistribution | null;
}

/**
 * The results of one closed 60 s window of one partition, emitted once and never changed
 * (CONTRACT.md §2). Rows have the lake tables' columns (§4); metric sinks read them too.
 */
export interface WindowResults {
  windowStart: number;
  rollups: LakeRow[];
  /** `rollupDistributions[i]` belongs to `rollups[i]`. */
  rollupDistributions: RollupDistributions[];
  scoreRollups: LakeRow[];
  anomalies: LakeRow[];
}

/**
 * A sink of window results (CloudWatch, Timestream, InfluxDB). `write` may buffer; `flush` returns once
 * everything written so far is delivered (acknowledged by the endpoint) or has failed for good.
 */
export interface WindowSink {
  readonly name: string;
  write(windows: readonly WindowResults[]): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}
