/** Contract edge cases a review found, each run through the built CLI and read back with DuckDB. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJsonLine, replayArgs, runCli } from '../support/cli.js';
import { countRows, listFiles, openDuckDb, readTable } from '../support/lake.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'replay-edges-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const T0 = Date.UTC(2025, 3, 1, 12, 0);
let sequence = 0;
const invocation = (eventTime: number, fields: Record<string, unknown> = {}) =>
  JSON.stringify({
    event_id: `e-${sequence++}`,
    event_time: eventTime,
    service: 'svc',
    provider: 'openai',
    model_id: 'gpt-4o',
    operation: 'chat',
    input_tokens: 100,
    output_tokens: 10,
    latency_ms: 50,
    status: 'OK',
    ...fields,
  });

function inputFile(name: string, content: string | Buffer): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

async function replay(inputs: string[], lake: string, extra: string[] = []) {
  const result = await runCli(replayArgs(inputs, join(work, lake), extra));
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return lastJsonLine(result.stdout);
}

describe('replay edge cases', () => {
  it('an input without records is processed: exit 0 and a zero summary', async () => {
    const empty = inputFile('empty.jsonl', '');
    const blank = inputFile('blank.jsonl', '\n \n\t\n');
    const zero = { events: 0, accepted: 0, duplicates: 0, late: 0, invalid: 0 };
    expect(await replay([empty], 'lake-empty')).toEqual(zero);
    expect(await replay([blank], 'lake-empty')).toEqual(zero);
    expect(listFiles(join(work, 'lake-empty'))).toEqual([]);
  });

  it('a UTF-8 byte order mark is not part of the first record', async () => {
    const withBom = inputFile(
      'bom.jsonl',
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(`${invocation(T0)}\n${invocation(T0 + 1)}\n`),
      ]),
    );
    expect(await replay([withBom], 'lake-bom')).toMatchObject({ events: 2, accepted: 2, invalid: 0 });
  });

  it('events before 1970 are valid and land in their partition', async () => {
    const old = inputFile('old.jsonl', `${invocation(-61_000)}\n${invocation(-1)}\n`);
    expect(await replay([old], 'lake-old')).toMatchObject({ accepted: 2, invalid: 0 });
    const conn = await openDuckDb();
    const rollups = await readTable(conn, join(work, 'lake-old'), 'rollups_1m');
    expect(rollups.map((r) => [r.window_start, r.requests]).sort()).toEqual([
      [-120_000, 1],
      [-60_000, 1],
    ]);
    expect(rollups.every((r) => String(r.__file).startsWith('rollups_1m/dt=1969-12-31/hour=23/'))).toBe(true);
  });

  it('two different inputs of the same size and the same head and tail add up', async () => {
    const lines = (variant: string) =>
      Array.from({ length: 6000 }, (_, i) =>
        invocation(T0 + i * 10, {
          event_id: `${i >= 2000 && i < 4000 ? variant : 'x'}-${String(i).padStart(5, '0')}`,
        }),
      ).join('\n');
    const first = inputFile('first.jsonl', `${lines('a')}\n`);
    const second = inputFile('second.jsonl', `${lines('b')}\n`);
    await replay([first], 'lake-two');
    await replay([second], 'lake-two');
    const conn = await openDuckDb();
    expect((await countRows(conn, join(work, 'lake-two'))).invocations).toBe(12_000);
  });

  it('replaying the same input with other options replaces its earlier results', async () => {
    const text = Array.from({ length: 400 }, (_, i) => invocation(T0 + ((i * 7919) % 240_000))).join('\n');
    const input = inputFile('options.jsonl', `${text}\n`);
    await replay([input], 'lake-options');
    await replay([input], 'lake-options', ['--max-out-of-orderness-seconds', '300']);
    const conn = await openDuckDb();
    const counts = await countRows(conn, join(work, 'lake-options'));
    expect(counts.invocations).toBe(400);
    const rollups = await readTable(conn, join(work, 'lake-options'), 'rollups_1m');
    const keys = rollups.map((r) => `${r.window_start}|${r.service}|${r.model_id}|${r.tenant_id}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(rollups.reduce((sum, r) => sum + Number(r.requests), 0)).toBe(400);
  });

  it('an event_id of 128 emoji is 128 characters: valid', async () => {
    const input = inputFile('emoji.jsonl', `${invocation(T0, { event_id: '😀'.repeat(128) })}\n`);
    expect(await replay([input], 'lake-emoji')).toMatchObject({ accepted: 1, invalid: 0 });
  });
});
