/**
 * Generated inputs, cached under bench-results/data/ keyed by N and seed so repeated runs reuse them.
 * Each file is written under a temporary name and renamed, so an interrupted run never leaves a
 * truncated file that a later run would trust.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { writeInvocationsAvro } from './avro.mjs';
import { generateRecords } from './workload.mjs';

const WRITE_CHUNK_LINES = 20_000;

export function datasetPaths(dataDir, count, seed) {
  const stem = join(dataDir, `events-n${count}-s${seed}`);
  return { jsonl: `${stem}.jsonl`, avro: `${stem}.invocations.avro`, manifest: `${stem}.json` };
}

/** Writes the JSON lines file (all kinds) unless cached; returns its manifest (record counts). */
export function ensureJsonl(dataDir, count, seed, log) {
  mkdirSync(dataDir, { recursive: true });
  const paths = datasetPaths(dataDir, count, seed);
  if (existsSync(paths.jsonl) && existsSync(paths.manifest)) {
    log(`using cached ${paths.jsonl}`);
    return { path: paths.jsonl, counts: JSON.parse(readFileSync(paths.manifest, 'utf8')) };
  }
  log(`generating ${count} records (seed ${seed}) -> ${paths.jsonl}`);
  const counts = { records: 0, invocations: 0, scores: 0, duplicates: 0, invalid: 0 };
  const tmp = `${paths.jsonl}.tmp`;
  const fd = openSync(tmp, 'w');
  let lines = [];
  for (const record of generateRecords(count, seed)) {
    counts.records++;
    if (record.duplicate) counts.duplicates++;
    else if (record.kind === 'invocation') counts.invocations++;
    else if (record.kind === 'score') counts.scores++;
    else counts.invalid++;
    lines.push(record.line);
    if (lines.length === WRITE_CHUNK_LINES) {
      writeSync(fd, `${lines.join('\n')}\n`);
      lines = [];
    }
  }
  if (lines.length > 0) writeSync(fd, `${lines.join('\n')}\n`);
  closeSync(fd);
  renameSync(tmp, paths.jsonl);
  writeFileSync(paths.manifest, JSON.stringify(counts, null, 2));
  return { path: paths.jsonl, counts };
}

/**
 * Writes the Avro leg's input unless cached: the same stream's invocations (their duplicates
 * included) in the same order. An object container file holds one record type, and splitting scores
 * into a second file replayed afterwards would make them all late, so scores are left out; invalid
 * lines have no Avro form. Returns `{ path, records, duplicates }` or `{ skipped }` when the codec is missing.
 */
export async function ensureAvro(dataDir, count, seed, log) {
  mkdirSync(dataDir, { recursive: true });
  const paths = datasetPaths(dataDir, count, seed);
  const countsFile = `${paths.avro}.json`;
  if (existsSync(paths.avro) && existsSync(countsFile)) {
    log(`using cached ${paths.avro}`);
    return { path: paths.avro, ...JSON.parse(readFileSync(countsFile, 'utf8')) };
  }
  let duplicates = 0;
  const invocations = (function* () {
    for (const record of generateRecords(count, seed)) {
      if (record.kind !== 'invocation') continue;
      if (record.duplicate) duplicates++;
      yield record.event;
    }
  })();
  log(`encoding invocations as an Avro container -> ${paths.avro}`);
  const tmp = `${paths.avro}.tmp`;
  const result = await writeInvocationsAvro(tmp, invocations);
  if (result.skipped) return result;
  renameSync(tmp, paths.avro);
  const counts = { records: result.records, duplicates };
  writeFileSync(countsFile, JSON.stringify(counts));
  return { path: paths.avro, ...counts };
}
