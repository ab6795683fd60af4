import { parentPort } from 'node:worker_threads';
import { LAKE_TABLES } from '@genai-pipeline/schemas';
import type { EncodeReply, EncodeRequest } from './encoder.js';
import { writeParquetFile } from './parquet.js';

/** Worker thread of WorkerPoolEncoder: columnar batches in, Parquet bytes out. */
parentPort?.on('message', ({ id, table, batches }: EncodeRequest) => {
  let reply: EncodeReply;
  try {
    reply = { id, bytes: writeParquetFile(LAKE_TABLES[table], batches) };
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  parentPort?.postMessage(reply, 'bytes' in reply ? [reply.bytes.buffer as ArrayBuffer] : []);
});
