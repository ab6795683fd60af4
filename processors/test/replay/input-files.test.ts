import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, test } from 'vitest';
import { inputFile, readInputs } from '../../src/replay/input-files.js';
import type { SourceRecord } from '../../src/window/partition-processor.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inputs-'));
});

async function collect(paths: string[]): Promise<SourceRecord[]> {
  const records: SourceRecord[] = [];
  for await (const batch of readInputs(paths.map(inputFile))) records.push(...batch);
  return records;
}

const texts = (records: SourceRecord[]) =>
  records.map((record) => (record.format === 'json' ? record.text : '?'));

describe('inputFile', () => {
  test.each([
    ['a.jsonl', 'jsonl', false],
    ['a.JSONL.GZ', 'jsonl', true],
    ['a.ndjson', 'jsonl', false],
    ['a.json.gz', 'jsonl', true],
    ['a.avro', 'avro', false],
  ])('%s is %s (gzip %s)', (path, format, gzip) => {
    expect(inputFile(path)).toEqual({ path, format, gzip });
  });

  test('rejects other file types with the expected ones named', () => {
    expect(() => inputFile('events.csv')).toThrow(/events\.csv: unsupported file type \(expected \.jsonl/);
  });
});

describe('readInputs', () => {
  test('yields non-blank lines in order, CRLF and a missing final newline included', async () => {
    const path = join(dir, 'lines.jsonl');
    await writeFile(path, '{"a":1}\r\n\n   \n{"b":2}\n{"c":3}');
    expect(texts(await collect([path]))).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  test('reads gzip and keeps multi-byte characters split across chunks intact', async () => {
    const line = `{"service":"${'é'.repeat(700_000)}"}`;
    const path = join(dir, 'big.jsonl.gz');
    await writeFile(path, gzipSync(`${line}\n{"x":1}\n`));
    expect(texts(await collect([path]))).toEqual([line, '{"x":1}']);
  });

  test('reads several files in order as one stream', async () => {
    const first = join(dir, 'one.jsonl');
    const second = join(dir, 'two.jsonl');
    await writeFile(first, '1\n2\n');
    await writeFile(second, '3\n');
    expect(texts(await collect([first, second]))).toEqual(['1', '2', '3']);
  });

  test('a missing file is an operational error naming it', async () => {
    await expect(collect([join(dir, 'nope.jsonl')])).rejects.toThrow(
      /cannot read input .*nope\.jsonl: ENOENT/,
    );
  });

  test('a truncated gzip stream is an operational error', async () => {
    const path = join(dir, 'truncated.jsonl.gz');
    const whole = gzipSync('{"a":1}\n'.repeat(10_000));
    await writeFile(path, whole.subarray(0, whole.length - 20));
    await expect(collect([path])).rejects.toThrow(/corrupt gzip stream in .*truncated\.jsonl\.gz/);
  });
});
