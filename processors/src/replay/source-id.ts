import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const SAMPLE_BYTES = 1 << 20;

/**
 * Names a replay's output (CONTRACT.md §4 idempotency): the same inputs with the same options give the
 * same id, so a second replay overwrites its files; other inputs get another id and add to the lake.
 * An input is identified by its size and its first and last MiB (hashing whole files would cost a
 * second pass over them), the options by everything that changes results.
 */
export async function replaySourceId(inputPaths: readonly string[], resultOptions: unknown): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`genai-pipeline replay v1\n${JSON.stringify(resultOptions)}\n`);
  for (const path of inputPaths) {
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      throw new Error(`cannot read input ${path}: ${error.code ?? error.message}`);
    });
    try {
      const { size } = await handle.stat();
      hash.update(`${size}\n`);
      const head = Buffer.alloc(Math.min(size, SAMPLE_BYTES));
      await handle.read(head, 0, head.length, 0);
      hash.update(head);
      const tail = Buffer.alloc(Math.min(Math.max(size - SAMPLE_BYTES, 0), SAMPLE_BYTES));
      await handle.read(tail, 0, tail.length, size - tail.length);
      hash.update(tail);
    } finally {
      await handle.close();
    }
  }
  return hash.digest('hex').slice(0, 16);
}
