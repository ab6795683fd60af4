import type { LakeRow } from '@genai-pipeline/schemas';
import type { SinkHealth, WindowResults } from '@genai-pipeline/sinks';
import { describe, expect, test } from 'vitest';
import { createPipelineMetrics } from '../../src/run/metrics.js';
import type { Pipeline } from '../../src/run/pipeline.js';
import type { SourceBatch } from '../../src/sources/source.js';
import type { ProcessorCounters } from '../../src/window/partition-processor.js';

const NOW = 1_750_000_000_000;

type PartitionStat = ReturnType<Pipeline['partitionStats']>[number];

const counters = (events = 0): ProcessorCounters => ({
  events,
  accepted: 0,
  duplicates: 0,
  late: 0,
  invalid: 0,
});

/** A partition as the pipeline reports it: nothing read yet, unless `fields` say otherwise. */
const stat = (partition: string, fields: Partial<PartitionStat> = {}): PartitionStat => ({
  partition,
  counters: counters(),
  watermark: Number.NEGATIVE_INFINITY,
  closedThrough: Number.NEGATIVE_INFINITY,
  windowsClosed: 0,
  bufferedRows: 0,
  lagRecords: undefined,
  lagMs: undefined,
  ...fields,
});

/** What the metrics read of a pipeline when scraped. */
function fakePipeline(stats: PartitionStat[], lastCheckpoint: number | null): Pipeline {
  return { partitionStats: () => stats, lastCheckpoint } as unknown as Pipeline;
}

const health = (fields: Partial<SinkHealth> = {}): SinkHealth => ({
  sent: 0,
  failed: 0,
  retried: 0,
  breakerTrips: 0,
  breakerState: 'closed',
  ...fields,
});

const batch = (partition: string): SourceBatch => ({ partition, entries: [], position: '0' });

const window = (anomalies: LakeRow[]): WindowResults => ({
  windowStart: NOW - 60_000,
  rollups: [],
  rollupDistributions: [],
  scoreRollups: [],
  anomalies,
});

/** The value of one sample (`name{labels}` exactly as the text format writes it); undefined when absent. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

describe('createPipelineMetrics', () => {
  test('batches count events in by partition, outcomes and dead letters by reason', async () => {
    const metrics = createPipelineMetrics({ pipeline: () => undefined, sinks: () => ({}) });
    metrics.onBatch(batch('shard-1'), { events: 10, accepted: 7, duplicates: 1, late: 2, invalid: 2 });
    metrics.onBatch(batch('shard-1'), { events: 5, accepted: 5, duplicates: 0, late: 1, invalid: 0 });
    metrics.onBatch(batch('shard-2'), { events: 3, accepted: 0, duplicates: 0, late: 0, invalid: 3 });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'genai_pipeline_events_in_total{partition="shard-1"}')).toBe(15);
    expect(sample(text, 'genai_pipeline_events_in_total{partition="shard-2"}')).toBe(3);
    expect(sample(text, 'genai_pipeline_events_total{outcome="accepted"}')).toBe(12);
    expect(sample(text, 'genai_pipeline_events_total{outcome="duplicate"}')).toBe(1);
    expect(sample(text, 'genai_pipeline_events_total{outcome="invalid"}')).toBe(5);
    expect(sample(text, 'genai_pipeline_dead_letters_total{reason="invalid"}')).toBe(5);
    expect(sample(text, 'genai_pipeline_dead_letters_total{reason="late"}')).toBe(3);
  });

  test('closed windows and their anomalies by kind and severity', async () => {
    const metrics = createPipelineMetrics({ pipeline: () => undefined, sinks: () => ({}) });
    metrics.onWindowClosed('log', window([]));
    metrics.onWindowClosed(
      'log',
      window([
        { kind: 'latency', severity: 'warning' },
        { kind: 'latency', severity: 'warning' },
        { kind: 'cost_spike', severity: 'critical' },
      ]),
    );
    const text = await metrics.registry.metrics();
    expect(sample(text, 'genai_pipeline_windows_closed_total')).toBe(2);
    expect(sample(text, 'genai_pipeline_anomalies_total{kind="latency",severity="warning"}')).toBe(2);
    expect(sample(text, 'genai_pipeline_anomalies_total{kind="cost_spike",severity="critical"}')).toBe(1);
    expect(
      sample(text, 'genai_pipeline_anomalies_total{kind="latency",severity="critical"}'),
    ).toBeUndefined();
  });

  test('checkpoints ok and failed; the flush histogram observes only the ones that succeeded', async () => {
    const metrics = createPipelineMetrics({ pipeline: () => undefined, sinks: () => ({}) });
    metrics.onCheckpoint({ ok: true, durationMs: 30 });
    metrics.onCheckpoint({ ok: true, durationMs: 2_000 });
    metrics.onCheckpoint({ ok: false, durationMs: 60_000 });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'genai_pipeline_checkpoints_total{result="ok"}')).toBe(2);
    expect(sample(text, 'genai_pipeline_checkpoints_total{result="failed"}')).toBe(1);
    expect(sample(text, 'genai_pipeline_flush_duration_seconds_count')).toBe(2);
    expect(sample(text, 'genai_pipeline_flush_duration_seconds_sum')).toBeCloseTo(2.03);
    expect(sample(text, 'genai_pipeline_flush_duration_seconds_bucket{le="0.05"}')).toBe(1);
    expect(sample(text, 'genai_pipeline_flush_duration_seconds_bucket{le="2.5"}')).toBe(2);
    expect(sample(text, 'genai_pipeline_flush_duration_seconds_bucket{le="+Inf"}')).toBe(2);
  });

  test('consumer lag, watermark delay and buffered rows are read from the pipeline per partition', async () => {
    const stats = [
      stat('shard-1', {
        counters: counters(5),
        watermark: NOW - 45_000,
        closedThrough: NOW - 60_000,
        windowsClosed: 3,
        bufferedRows: 120,
        lagRecords: 17,
        lagMs: 2_500,
      }),
      stat('shard-2'),
    ];
    const metrics = createPipelineMetrics({
      pipeline: () => fakePipeline(stats, NOW - 4_000),
      sinks: () => ({}),
      clock: () => NOW,
    });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'genai_pipeline_consumer_lag_records{partition="shard-1"}')).toBe(17);
    expect(sample(text, 'genai_pipeline_consumer_lag_seconds{partition="shard-1"}')).toBe(2.5);
    expect(sample(text, 'genai_pipeline_watermark_delay_seconds{partition="shard-1"}')).toBe(45);
    expect(sample(text, 'genai_pipeline_buffered_rows{partition="shard-1"}')).toBe(120);
    expect(sample(text, 'genai_pipeline_buffered_rows{partition="shard-2"}')).toBe(0);
    expect(sample(text, 'genai_pipeline_last_checkpoint_timestamp_seconds')).toBe((NOW - 4_000) / 1000);
    // Unknown lag, and no watermark before the first event: no sample rather than a made-up one.
    expect(sample(text, 'genai_pipeline_consumer_lag_records{partition="shard-2"}')).toBeUndefined();
    expect(sample(text, 'genai_pipeline_consumer_lag_seconds{partition="shard-2"}')).toBeUndefined();
    expect(sample(text, 'genai_pipeline_watermark_delay_seconds{partition="shard-2"}')).toBeUndefined();
  });

  test('gauges follow the pipeline from one scrape to the next', async () => {
    let stats = [
      stat('old', {
        counters: counters(1),
        watermark: NOW,
        closedThrough: NOW,
        bufferedRows: 9,
        lagRecords: 4,
      }),
    ];
    const metrics = createPipelineMetrics({ pipeline: () => fakePipeline(stats, null), sinks: () => ({}) });
    expect(
      sample(await metrics.registry.metrics(), 'genai_pipeline_consumer_lag_records{partition="old"}'),
    ).toBe(4);
    stats = [{ ...(stats[0] as PartitionStat), partition: 'new', lagRecords: 0 }];
    const text = await metrics.registry.metrics();
    expect(sample(text, 'genai_pipeline_consumer_lag_records{partition="new"}')).toBe(0);
    // A partition no longer read (a closed shard) is dropped, not left at its last value.
    expect(sample(text, 'genai_pipeline_consumer_lag_records{partition="old"}')).toBeUndefined();
  });

  test('before the pipeline exists, and before the first checkpoint, the gauges have nothing to read', async () => {
    const metrics = createPipelineMetrics({ pipeline: () => undefined, sinks: () => ({}) });
    const text = await metrics.registry.metrics();
    expect(text).toContain('# TYPE genai_pipeline_consumer_lag_records gauge');
    expect(text).not.toMatch(/^genai_pipeline_consumer_lag_records\{/m);
    // An unlabelled gauge always has a sample: 0 (the epoch) means "no checkpoint yet".
    const checkpointless = createPipelineMetrics({
      pipeline: () => fakePipeline([], null),
      sinks: () => ({}),
    });
    expect(
      sample(await checkpointless.registry.metrics(), 'genai_pipeline_last_checkpoint_timestamp_seconds'),
    ).toBe(0);
  });

  test('sink errors, retries, requests, breaker trips and state, by sink', async () => {
    const metrics = createPipelineMetrics({
      pipeline: () => undefined,
      sinks: () => ({
        cloudwatch: health({ sent: 40, failed: 2, retried: 5, breakerTrips: 1, breakerState: 'open' }),
        influxdb: health({ sent: 12, breakerState: 'half-open' }),
        timestream: health({ sent: 3 }),
      }),
    });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'genai_pipeline_sink_errors{sink="cloudwatch"}')).toBe(2);
    expect(sample(text, 'genai_pipeline_sink_retries{sink="cloudwatch"}')).toBe(5);
    expect(sample(text, 'genai_pipeline_sink_requests{sink="cloudwatch"}')).toBe(40);
    expect(sample(text, 'genai_pipeline_sink_requests{sink="influxdb"}')).toBe(12);
    expect(sample(text, 'genai_pipeline_sink_breaker_trips{sink="cloudwatch"}')).toBe(1);
    expect(sample(text, 'genai_pipeline_sink_errors{sink="timestream"}')).toBe(0);
    expect(sample(text, 'genai_pipeline_sink_breaker_open{sink="cloudwatch"}')).toBe(1);
    expect(sample(text, 'genai_pipeline_sink_breaker_open{sink="influxdb"}')).toBe(1);
    expect(sample(text, 'genai_pipeline_sink_breaker_open{sink="timestream"}')).toBe(0);
  });

  test('every family has help and a type, and the registry is its own (two pipelines do not clash)', async () => {
    const first = createPipelineMetrics({ pipeline: () => undefined, sinks: () => ({}) });
    const second = createPipelineMetrics({ pipeline: () => undefined, sinks: () => ({}) });
    first.onBatch(batch('log'), { events: 1, accepted: 1, duplicates: 0, late: 0, invalid: 0 });
    expect(sample(await second.registry.metrics(), 'genai_pipeline_events_in_total{partition="log"}')).toBe(
      undefined,
    );
    const text = await first.registry.metrics();
    for (const [family, type] of [
      ['genai_pipeline_events_in_total', 'counter'],
      ['genai_pipeline_events_total', 'counter'],
      ['genai_pipeline_dead_letters_total', 'counter'],
      ['genai_pipeline_windows_closed_total', 'counter'],
      ['genai_pipeline_anomalies_total', 'counter'],
      ['genai_pipeline_checkpoints_total', 'counter'],
      ['genai_pipeline_flush_duration_seconds', 'histogram'],
      ['genai_pipeline_consumer_lag_records', 'gauge'],
      ['genai_pipeline_consumer_lag_seconds', 'gauge'],
      ['genai_pipeline_watermark_delay_seconds', 'gauge'],
      ['genai_pipeline_buffered_rows', 'gauge'],
      ['genai_pipeline_last_checkpoint_timestamp_seconds', 'gauge'],
      ['genai_pipeline_sink_errors', 'gauge'],
      ['genai_pipeline_sink_retries', 'gauge'],
      ['genai_pipeline_sink_requests', 'gauge'],
      ['genai_pipeline_sink_breaker_trips', 'gauge'],
      ['genai_pipeline_sink_breaker_open', 'gauge'],
    ]) {
      expect(text).toContain(`# HELP ${family} `);
      expect(text).toContain(`# TYPE ${family} ${type}\n`);
    }
  });

  test("the source's own figures, when it has some, and no such family when it has none", async () => {
    let shardsKnown = 3;
    const withSource = createPipelineMetrics({
      pipeline: () => undefined,
      sinks: () => ({}),
      source: () => ({ shards_known: shardsKnown, retried_errors: 2 }),
    });
    expect(sample(await withSource.registry.metrics(), 'genai_pipeline_source{figure="shards_known"}')).toBe(
      3,
    );
    shardsKnown = 5;
    const text = await withSource.registry.metrics();
    expect(sample(text, 'genai_pipeline_source{figure="shards_known"}')).toBe(5);
    expect(sample(text, 'genai_pipeline_source{figure="retried_errors"}')).toBe(2);
    const without = createPipelineMetrics({ pipeline: () => undefined, sinks: () => ({}) });
    expect(await without.registry.metrics()).not.toContain('genai_pipeline_source');
  });
});
