import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LAKE_TABLES, type LakeTableName } from '@genai-pipeline/schemas';
import { type EncodedBatch, writeParquetFile } from './parquet.js';

/** Turns a file's columnar batches (see encodeColumns) into the bytes of a Parquet file. */
export interface ParquetEncoder {
  encode(table: LakeTableName, batches: readonly EncodedBatch[]): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Encodes on the calling thread. */
export const inlineEncoder: ParquetEncoder = {
  encode: async (table, batches) => writeParquetFile(LAKE_TABLES[table], batches),
  close: async () => undefined,
};

export interface EncodeRequest {
  id: number;
  table: LakeTableName;
  batches: EncodedBatch[];
}

export type EncodeReply = { id: number; bytes: Uint8Array } | { id: number; error: string };

/** A worker thread died or failed to encode: the rows are intact, so the same file may be retried. */
export class EncoderWorkerError extends Error {
  readonly retriable = true;

  constructor(message: string) {
    super(message);
    this.name = 'EncoderWorkerError';
  }
}

// Under vitest this module runs from src/ (TypeScript), where no worker script exists; the worker
// then comes from the package's build, which the test task depends on.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? '../../dist/lake/encoder-worker.js' : './encoder-worker.js',
  import.meta.url,
);

interface Pending {
  resolve: (bytes: Uint8Array) => void;
  reject: (error: Error) => void;
}

/**
 * Encodes Parquet on worker threads, so the CPU-heavy compression runs beside event processing.
 * Rows become columnar typed arrays on the calling thread (only it can read the row objects, see
 * LakeSink); the workers build the Arrow table and write Parquet. Requests go to the worker with the
 * fewest in flight.
 */
export class WorkerPoolEncoder implements ParquetEncoder {
  private readonly workers: { worker: Worker; inFlight: Map<number, Pending> }[];
  private nextId = 0;
  private closing = false;

  constructor(size = Math.max(1, availableParallelism() - 1)) {
    this.workers = Array.from({ length: size }, () => this.startWorker());
  }

  encode(table: LakeTableName, batches: readonly EncodedBatch[]): Promise<Uint8Array> {
    const slot = this.workers.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.inFlight.set(id, { resolve, reject });
      // Copied, not transferred: the caller keeps its batches to retry the file if anything fails.
      const request: EncodeRequest = { id, table, batches: [...batches] };
      slot.worker.ref();
      slot.worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }

  private startWorker() {
    // A plain runtime: the parent's flags (test-runner resolve conditions, heap sizes) are not for it.
    const worker = new Worker(WORKER_URL, { execArgv: [] });
    const slot = { worker, inFlight: new Map<number, Pending>() };
    // Idle workers must not keep a finished process alive.
    worker.unref();
    worker.on('message', (reply: EncodeReply) => {
      const pending = slot.inFlight.get(reply.id);
      slot.inFlight.delete(reply.id);
      if ('error' in reply)
        pending?.reject(new EncoderWorkerError(`Parquet encoding failed: ${reply.error}`));
      else pending?.resolve(reply.bytes);
      if (slot.inFlight.size === 0) worker.unref();
    });
    worker.on('error', (error) => this.replaceWorker(slot, error));
    worker.on('messageerror', (error) => this.replaceWorker(slot, error));
    // A worker that exits by itself (killed, out of memory) must not leave its requests waiting forever.
    worker.on('exit', (code) => {
      if (!this.closing) this.replaceWorker(slot, new Error(`exited with code ${code}`));
    });
    return slot;
  }

  private replaceWorker(slot: { worker: Worker; inFlight: Map<number, Pending> }, error: Error): void {
    for (const pending of slot.inFlight.values()) {
      pending.reject(new EncoderWorkerError(`Parquet encoder worker failed: ${error.message}`));
    }
    slot.inFlight.clear();
    const index = this.workers.indexOf(slot);
    if (index !== -1) this.workers[index] = this.startWorker();
  }
}
