import { randomUUID } from 'node:crypto';
import { LakeSink, LocalLakeStore, type SinkHealth, WorkerPoolEncoder } from '@genai-pipeline/sinks';
import { AnomalyDetector } from '../anomaly/detector.js';
import { ResultFanOut } from '../output/fan-out.js';
import { openSinks, type SinkOptions } from '../output/sink-setup.js';
import { teeStore } from '../output/tee-store.js';
import { loadPriceOverrides, type PriceOverrides } from '../pricing/override-file.js';
import { Pricer } from '../pricing/pricer.js';
import { PartitionProcessor, type ProcessorCounters } from '../window/partition-processor.js';
import { inputFile, readInputs } from './input-files.js';
import { replaySourceId } from './source-id.js';
import { commitStaging, discardStaging, stagingDir } from './staging.js';

/**
 * Rows handed to the encoder workers but not yet written before reading waits for them: the lake
 * sink keeps closed rows in columnar chunks (~315 bytes an invocation row), so this bounds memory too.
 */
const REPLAY_MAX_PENDING_ROWS = 250_000;
/** With an S3 lake, files roll every 15 minutes of event time (or at the row cap): large files for Athena. */
const S3_FILE_SPAN_MS = 15 * 60_000;

export interface ReplayOptions extends SinkOptions {
  inputs: readonly string[];
  lake: string;
  pricingFile?: string | undefined;
  maxOutOfOrdernessSeconds: number;
  /** Called after each input batch, for progress display. */
  onProgress?: ((counters: Readonly<ProcessorCounters>) => void) | undefined;
}

export interface ReplayResult {
  counters: ProcessorCounters;
  /** Health of each sink beyond the local lake (sent, failed, retried, out_of_horizon...). */
  sinks: Record<string, SinkHealth>;
}

/**
 * `genai-pipeline replay`: reads the inputs in order as one partition, applies CONTRACT.md §2 and
 * writes the lake tables of §4 (and the other chosen sinks). Operational failures reject; invalid and
 * late input are dead letters. It returns only once every sink acknowledged everything.
 */
export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const files = options.inputs.map(inputFile);
  const overrides: PriceOverrides = options.pricingFile
    ? await loadPriceOverrides(options.pricingFile)
    : new Map();
  const maxOutOfOrdernessMs = Math.round(options.maxOutOfOrdernessSeconds * 1000);
  const sourceId = `replay-${await replaySourceId(options.inputs)}`;
  await new LocalLakeStore(options.lake).ensureWritable();
  const sinks = await openSinks(options);
  const runId = randomUUID().slice(0, 8);
  const staging = stagingDir(options.lake, runId);
  // Parquet encoding runs on the other cores while this thread processes events.
  const encoder = new WorkerPoolEncoder();
  const lake = new LakeSink({
    store: teeStore([new LocalLakeStore(staging), ...sinks.lakeStores]),
    encoder,
    maxPendingRows: REPLAY_MAX_PENDING_ROWS,
    ...(sinks.lakeStores.length > 0 ? { fileSpanMs: S3_FILE_SPAN_MS } : {}),
    sourceId,
    // Dead letters are a per-run audit log (CONTRACT.md §4), so their files carry the run.
    deadLetterSourceId: `${sourceId}-run-${runId}`,
  });
  const output = new ResultFanOut(lake, sinks.windowSinks);
  const processor = new PartitionProcessor({
    maxOutOfOrdernessMs,
    pricer: new Pricer(overrides),
    detector: new AnomalyDetector(),
    output,
  });
  try {
    let offset = 0;
    for await (const batch of readInputs(files)) {
      for (const record of batch) processor.process(record, offset++);
      await output.afterBatch(processor.watermark);
      options.onProgress?.(processor.counters);
    }
    processor.closeAll();
    const { events, invalid, late } = processor.counters;
    sinks.recordPipelineHealth({
      eventsIn: events,
      windowsClosed: output.windowsClosed,
      deadLetters: { invalid, late },
    });
    await output.flush();
    await commitStaging(staging, options.lake, `${sourceId}-`);
  } catch (error) {
    await discardStaging(staging);
    throw error;
  } finally {
    await encoder.close();
    await sinks.close();
  }
  return { counters: processor.counters, sinks: sinks.health() };
}
