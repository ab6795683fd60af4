import { randomUUID } from 'node:crypto';
import { LakeSink, LocalLakeStore, WorkerPoolEncoder } from '@genai-pipeline/sinks';
import { AnomalyDetector } from '../anomaly/detector.js';
import { lakeOutput } from '../output/lake-output.js';
import { loadPriceOverrides, type PriceOverrides } from '../pricing/override-file.js';
import { Pricer } from '../pricing/pricer.js';
import { PartitionProcessor, type ProcessorCounters } from '../window/partition-processor.js';
import { hourStartOf } from '../window/tumbling.js';
import { inputFile, readInputs } from './input-files.js';
import { replaySourceId } from './source-id.js';
import { commitStaging, discardStaging, stagingDir } from './staging.js';

/**
 * Rows handed to the encoder workers but not yet written before reading waits for them: the lake
 * sink keeps closed rows in columnar chunks (~250 bytes a row), so this bounds memory too.
 */
const REPLAY_MAX_PENDING_ROWS = 250_000;

export interface ReplayOptions {
  inputs: readonly string[];
  lake: string;
  pricingFile?: string | undefined;
  maxOutOfOrdernessSeconds: number;
  /** Called after each input batch, for progress display. */
  onProgress?: ((counters: Readonly<ProcessorCounters>) => void) | undefined;
}

/**
 * `genai-pipeline replay`: reads the inputs in order as one partition, applies CONTRACT.md §2 and
 * writes the lake tables of §4. Operational failures reject; invalid and late input are dead letters.
 */
export async function replay(options: ReplayOptions): Promise<ProcessorCounters> {
  const files = options.inputs.map(inputFile);
  const overrides: PriceOverrides = options.pricingFile
    ? await loadPriceOverrides(options.pricingFile)
    : new Map();
  const maxOutOfOrdernessMs = Math.round(options.maxOutOfOrdernessSeconds * 1000);
  const sourceId = await replaySourceId(options.inputs, {
    maxOutOfOrdernessMs,
    prices: [...overrides.entries()].sort(([a], [b]) => a.localeCompare(b)),
  });
  const runId = randomUUID().slice(0, 8);
  await new LocalLakeStore(options.lake).ensureWritable();
  const staging = stagingDir(options.lake, runId);
  // Parquet encoding runs on the other cores while this thread processes events.
  const encoder = new WorkerPoolEncoder();
  const sink = new LakeSink({
    encoder,
    maxPendingRows: REPLAY_MAX_PENDING_ROWS,
    store: new LocalLakeStore(staging),
    sourceId: `replay-${sourceId}`,
    // Dead letters are a per-run audit log (CONTRACT.md §4), so their files carry the run.
    deadLetterSourceId: `replay-${sourceId}-run-${runId}`,
  });
  const processor = new PartitionProcessor({
    maxOutOfOrdernessMs,
    pricer: new Pricer(overrides),
    detector: new AnomalyDetector(),
    output: lakeOutput(sink),
  });
  try {
    let offset = 0;
    for await (const batch of readInputs(files)) {
      for (const record of batch) processor.process(record, offset++);
      await sink.flushReady();
      await sink.flushPartitionsBefore(hourStartOf(processor.watermark));
      options.onProgress?.(processor.counters);
    }
    processor.closeAll();
    await sink.flush();
    await commitStaging(staging, options.lake);
  } catch (error) {
    await discardStaging(staging);
    throw error;
  } finally {
    await encoder.close();
  }
  return processor.counters;
}
