import type { SinkHealth } from '@genai-pipeline/sinks';

/** An anomaly as the status view shows it (a row of the lake's `anomalies` table, abridged). */
export interface AnomalyNotice {
  windowStart: number;
  service: string;
  modelId: string;
  tenantId: string | null;
  kind: string;
  scoreName: string | null;
  severity: string;
  observed: number;
  baseline: number;
}

/** What `genai-pipeline run` reports about itself, for the terminal status view and logs. */
export interface PipelineStatus {
  /** Epoch ms the pipeline started. */
  startedAt: number;
  /** `log`, `kinesis:stream`, `kafka:topic`. */
  source: string;
  /** The collector's base URL, with the embedded source. */
  collectorUrl: string | null;
  /** Where the lake is (directory or s3:// URL). */
  lake: string;
  /** Records read from the source since start (all partitions). */
  eventsIn: number;
  /** Records read per second over the last few seconds. */
  eventsPerSecond: number;
  accepted: number;
  duplicates: number;
  deadLetters: { invalid: number; late: number };
  /** Records in the source not yet read (summed over partitions), when the source knows. */
  lagRecords: number | null;
  /** Wall clock minus the lowest partition watermark (ms); null before the first event. */
  watermarkDelayMs: number | null;
  windowsClosed: number;
  anomaliesDetected: number;
  /** Newest last, at most a few dozen. */
  recentAnomalies: AnomalyNotice[];
  /** Epoch ms of the last durable checkpoint; null before the first. */
  lastCheckpointAt: number | null;
  sinks: Record<string, SinkHealth>;
}
