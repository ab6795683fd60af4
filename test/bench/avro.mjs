/**
 * Writes invocations as an Avro object container file with `encodeAvroContainer` from
 * `@genai-pipeline/schemas` (its built dist/: `npm run bench` builds first). Codec `null`
 * (uncompressed) and 1000 records a block, the writer's defaults; a fixed sync marker keeps the file
 * byte-identical for the same (N, seed).
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const SYNC_MARKER = Buffer.from('genai-bench-sync');

/** Resolves `{ records }`, or `{ skipped: reason }` when the schemas package has no container encoder. */
export async function writeInvocationsAvro(path, invocations) {
  let schemas;
  try {
    schemas = await import('@genai-pipeline/schemas');
  } catch (error) {
    return { skipped: `@genai-pipeline/schemas is not importable (built?): ${error.message}` };
  }
  if (typeof schemas.encodeAvroContainer !== 'function')
    return { skipped: '@genai-pipeline/schemas does not export encodeAvroContainer yet' };
  let records = 0;
  const counted = (function* () {
    for (const event of invocations) {
      records++;
      yield event;
    }
  })();
  const fd = openSync(path, 'w');
  try {
    for (const chunk of schemas.encodeAvroContainer(counted, 'invocation', { syncMarker: SYNC_MARKER }))
      writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  return { records };
}
