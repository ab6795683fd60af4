import type { SinkHealth, WindowResults } from '@genai-pipeline/sinks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SourceBatch } from '../sources/source.js';
import type { ProcessorCounters } from '../window/partition-processor.js';
import type { Pipeline } from './pipeline.js';

/**
 * The pipeline's own health in Prometheus form (served on /metrics): events in, consumer lag,
 * watermark delay, windows closed, dead letters by reason, sink errors, flush latency, buffer depth.
 * Counters move as batches are processed; gauges are read from the pipeline when scraped.
 */
export function createPipelineMetrics(read: {
  pipeline: () => Pipeline | undefined;
  sinks: () => Record<string, SinkHealth>;
  /** Figures of the source's own (Kinesis: shards known and ended, calls retried). */
  source?: () => Record<string, number>;
  clock?: () => number;
}) {
  const clock = read.clock ?? Date.now;
  const registry = new Registry();
  const registers = [registry];
  const eventsIn = new Counter({
    name: 'genai_pipeline_events_in_total',
    help: 'Records read from the source, by partition',
    labelNames: ['partition'] as const,
    registers,
  });
  const outcomes = new Counter({
    name: 'genai_pipeline_events_total',
    help: 'Records by outcome: accepted, duplicate (dropped), invalid',
    labelNames: ['outcome'] as const,
    registers,
  });
  const deadLetters = new Counter({
    name: 'genai_pipeline_dead_letters_total',
    help: 'Dead letters written, by reason (invalid, late)',
    labelNames: ['reason'] as const,
    registers,
  });
  const windowsClosed = new Counter({
    name: 'genai_pipeline_windows_closed_total',
    help: 'Event-time windows closed and emitted',
    registers,
  });
  const anomalies = new Counter({
    name: 'genai_pipeline_anomalies_total',
    help: 'Anomalies detected, by kind and severity',
    labelNames: ['kind', 'severity'] as const,
    registers,
  });
  const checkpoints = new Counter({
    name: 'genai_pipeline_checkpoints_total',
    help: 'Checkpoint attempts, by result (ok, failed)',
    labelNames: ['result'] as const,
    registers,
  });
  const flushSeconds = new Histogram({
    name: 'genai_pipeline_flush_duration_seconds',
    help: 'Time to deliver everything to the sinks and save a checkpoint',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const partitionGauge = (name: string, help: string, value: (p: PartitionStat) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['partition'] as const,
      registers,
      collect() {
        this.reset();
        for (const stat of read.pipeline()?.partitionStats() ?? []) {
          const v = value(stat);
          if (v !== undefined && Number.isFinite(v)) this.set({ partition: stat.partition }, v);
        }
      },
    });
  partitionGauge(
    'genai_pipeline_consumer_lag_records',
    'Records in the source not yet read, by partition (when the source knows)',
    (p) => p.lagRecords,
  );
  partitionGauge(
    'genai_pipeline_consumer_lag_seconds',
    'How far reading is behind the newest record, by partition (Kinesis MillisBehindLatest)',
    (p) => (p.lagMs === undefined ? undefined : p.lagMs / 1000),
  );
  partitionGauge(
    'genai_pipeline_watermark_delay_seconds',
    'Wall clock minus the partition watermark',
    (p) => (clock() - p.watermark) / 1000,
  );
  partitionGauge(
    'genai_pipeline_buffered_rows',
    'Lake rows not yet in a written file (buffer depth), by partition',
    (p) => p.bufferedRows,
  );
  new Gauge({
    name: 'genai_pipeline_last_checkpoint_timestamp_seconds',
    help: 'When the last durable checkpoint was taken',
    registers,
    collect() {
      const at = read.pipeline()?.lastCheckpoint;
      if (at !== null && at !== undefined) this.set(at / 1000);
    },
  });
  const sinkGauge = (name: string, help: string, field: 'failed' | 'retried' | 'sent' | 'breakerTrips') =>
    new Gauge({
      name,
      help,
      labelNames: ['sink'] as const,
      registers,
      collect() {
        for (const [sink, health] of Object.entries(read.sinks())) this.set({ sink }, health[field]);
      },
    });
  sinkGauge('genai_pipeline_sink_errors', 'Sink requests that failed for good, since start', 'failed');
  sinkGauge('genai_pipeline_sink_retries', 'Sink requests retried, since start', 'retried');
  sinkGauge('genai_pipeline_sink_requests', 'Sink requests that succeeded, since start', 'sent');
  sinkGauge(
    'genai_pipeline_sink_breaker_trips',
    'Times a sink circuit breaker opened, since start',
    'breakerTrips',
  );
  new Gauge({
    name: 'genai_pipeline_sink_breaker_open',
    help: '1 while a sink circuit breaker is open',
    labelNames: ['sink'] as const,
    registers,
    collect() {
      for (const [sink, health] of Object.entries(read.sinks())) {
        this.set({ sink }, health.breakerState === 'closed' ? 0 : 1);
      }
    },
  });

  const figures = read.source;
  if (figures) {
    new Gauge({
      name: 'genai_pipeline_source',
      help: "The source's own figures (Kinesis: shards_known, shards_ended, retried_errors; with shard leases also leases_held, lease_takeovers, lease_handoffs_requested, leases_handed_over, leases_lost, lease_workers)",
      labelNames: ['figure'] as const,
      registers,
      collect() {
        for (const [figure, value] of Object.entries(figures())) this.set({ figure }, value);
      },
    });
  }

  return {
    registry,
    onBatch(batch: SourceBatch, delta: ProcessorCounters): void {
      eventsIn.inc({ partition: batch.partition }, delta.events);
      outcomes.inc({ outcome: 'accepted' }, delta.accepted);
      outcomes.inc({ outcome: 'duplicate' }, delta.duplicates);
      outcomes.inc({ outcome: 'invalid' }, delta.invalid);
      deadLetters.inc({ reason: 'invalid' }, delta.invalid);
      deadLetters.inc({ reason: 'late' }, delta.late);
    },
    onWindowClosed(_partition: string, window: WindowResults): void {
      windowsClosed.inc();
      for (const row of window.anomalies) {
        anomalies.inc({ kind: String(row.kind), severity: String(row.severity) });
      }
    },
    onCheckpoint(result: { ok: boolean; durationMs: number }): void {
      checkpoints.inc({ result: result.ok ? 'ok' : 'failed' });
      if (result.ok) flushSeconds.observe(result.durationMs / 1000);
    },
  };
}

type PartitionStat = ReturnType<Pipeline['partitionStats']>[number];
