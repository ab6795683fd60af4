import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterEach, describe, expect, test } from 'vitest';
import { DurableLog } from '../../src/collector/durable-log.js';

const opened: DurableLog[] = [];
afterEach(async () => {
  for (const log of opened.splice(0)) await log.close();
});

async function openFresh(): Promise<{ dir: string; log: DurableLog }> {
  const dir = await mkdtemp(join(tmpdir(), 'durable-log-'));
  const log = DurableLog.open(dir);
  opened.push(log);
  return { dir, log };
}

const text = (record: Uint8Array) => Buffer.from(record).toString('utf8');

describe('DurableLog', () => {
  test('appends and reads back; offsets go on after close and reopen', async () => {
    const { dir, log } = await openFresh();
    expect(log.nextOffset).toBe(0);
    expect(await log.append(['a', 'b'])).toEqual({ firstOffset: 0, lastOffset: 1 });
    expect(await log.append([new TextEncoder().encode('c')])).toEqual({ firstOffset: 2, lastOffset: 2 });
    await log.close();
    opened.pop();

    const reopened = DurableLog.open(dir);
    opened.push(reopened);
    expect(reopened.nextOffset).toBe(3);
    expect(await reopened.append(['d'])).toEqual({ firstOffset: 3, lastOffset: 3 });
    const entries = reopened.read(0, 10);
    expect(entries.map((e) => [e.offset, text(e.record)])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [3, 'd'],
    ]);
    expect(reopened.read(2, 1).map((e) => e.offset)).toEqual([2]);
    expect(reopened.read(4, 10)).toEqual([]);
  });

  test('a large batch keeps its order and every byte', async () => {
    const { log } = await openFresh();
    const records = Array.from({ length: 20_000 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(i % 300)}"}`);
    expect(await log.append(records)).toEqual({ firstOffset: 0, lastOffset: 19_999 });
    const back = log.read(0, 50_000);
    expect(back.length).toBe(20_000);
    expect(back.map((e) => text(e.record))).toEqual(records);
    expect(back.map((e) => e.offset)).toEqual(records.map((_, i) => i));
  });

  test('concurrent appends get unique offsets in call order', async () => {
    const { log } = await openFresh();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        log.append(Array.from({ length: (i % 5) + 1 }, (_, j) => `${i}:${j}`)),
      ),
    );
    let expected = 0;
    for (const [i, result] of results.entries()) {
      expect(result.firstOffset).toBe(expected);
      expected += (i % 5) + 1;
      expect(result.lastOffset).toBe(expected - 1);
    }
    const entries = log.read(0, 10_000);
    expect(entries.length).toBe(expected);
    for (const [i, result] of results.entries()) {
      expect(text(entries[result.firstOffset]?.record ?? new Uint8Array())).toBe(`${i}:0`);
    }
    expect(log.nextOffset).toBe(expected);
  });

  test('truncateBefore removes old records and offsets never restart, even with nothing left', async () => {
    const { dir, log } = await openFresh();
    await log.append(['a', 'b', 'c', 'd']);
    await log.truncateBefore(2);
    expect(log.firstOffset).toBe(2);
    expect(log.read(0, 10).map((e) => [e.offset, text(e.record)])).toEqual([
      [2, 'c'],
      [3, 'd'],
    ]);
    await log.truncateBefore(4);
    expect(log.read(0, 10)).toEqual([]);
    await expect(log.truncateBefore(5)).rejects.toThrow(/0\.\.4/);
    await log.close();
    opened.pop();

    const reopened = DurableLog.open(dir);
    opened.push(reopened);
    expect(reopened.firstOffset).toBe(4);
    expect(reopened.nextOffset).toBe(4);
    expect(await reopened.append(['e'])).toEqual({ firstOffset: 4, lastOffset: 4 });
  });

  test('append after close rejects', async () => {
    const { log } = await openFresh();
    await log.close();
    opened.pop();
    await expect(log.append(['a'])).rejects.toThrow(/closed/);
  });
});

/**
 * The child appends batches forever and prints each batch's offsets once append resolves. It runs
 * durable-log.ts transpiled to plain JS (Node 20 cannot run TypeScript), next to a node_modules link
 * so `lmdb` resolves.
 */
const CHILD = `
import { DurableLog } from './durable-log.mjs';
const log = DurableLog.open(process.argv[2]);
for (let batch = 0; ; batch++) {
  const records = Array.from({ length: 1 + (batch % 7) }, (_, i) => \`\${process.argv[3]}-\${batch}-\${i}\`);
  const { firstOffset, lastOffset } = await log.append(records);
  process.stdout.write(\`\${firstOffset} \${lastOffset} \${records.join(',')}\\n\`);
}
`;

async function prepareChild(): Promise<string> {
  const here = dirname(fileURLToPath(import.meta.url));
  const source = readFileSync(join(here, '../../src/collector/durable-log.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const dir = await mkdtemp(join(tmpdir(), 'durable-log-child-'));
  await writeFile(join(dir, 'durable-log.mjs'), outputText);
  await writeFile(join(dir, 'child.mjs'), CHILD);
  await symlink(join(here, '../../../node_modules'), join(dir, 'node_modules'));
  return join(dir, 'child.mjs');
}

/** Runs the child until it has acknowledged at least `minAcks` batches plus a random extra delay, then SIGKILLs it. */
function runAndKill(child: string, logDir: string, tag: string, minAcks: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const proc: ChildProcess = spawn(process.execPath, [child, logDir, tag], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killScheduled = false;
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (!killScheduled && out.split('\n').length > minAcks) {
        killScheduled = true;
        setTimeout(() => proc.kill('SIGKILL'), Math.random() * 50);
      }
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    proc.on('error', reject);
    proc.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child ended without being killed: ${err}`));
      // Only complete lines were acknowledged; a torn last line was not.
      else resolve(out.split('\n').slice(0, -1));
    });
  });
}

test('after SIGKILL at a random moment, every acknowledged record is there exactly once', async () => {
  const child = await prepareChild();
  const logDir = await mkdtemp(join(tmpdir(), 'durable-log-crash-'));
  const acknowledged = new Map<number, string>();
  for (let run = 0; run < 3; run++) {
    const lines = await runAndKill(child, logDir, `run${run}`, 20 + Math.floor(Math.random() * 40));
    for (const line of lines) {
      const [first, last, joined] = line.split(' ');
      const records = (joined ?? '').split(',');
      expect(Number(last) - Number(first) + 1).toBe(records.length);
      records.forEach((record, i) => {
        expect(acknowledged.has(Number(first) + i)).toBe(false);
        acknowledged.set(Number(first) + i, record);
      });
    }
  }
  const log = DurableLog.open(logDir);
  opened.push(log);
  const entries = log.read(0, log.nextOffset + 1);
  // Offsets are consecutive from 0 and each record occurs once.
  expect(entries.map((e) => e.offset)).toEqual(entries.map((_, i) => i));
  const texts = entries.map((e) => text(e.record));
  expect(new Set(texts).size).toBe(texts.length);
  expect(acknowledged.size).toBeGreaterThan(0);
  for (const [offset, record] of acknowledged) expect(texts[offset]).toBe(record);
});

describe('DurableLog receive times and readers', () => {
  test('each record reads back with its batch receive time, also after truncation and reopen', async () => {
    const { dir, log } = await openFresh();
    await log.append(['a', 'b'], 1_000);
    await log.append(['c'], 2_000);
    await log.append([], 2_500);
    await log.append(['d', 'e', 'f'], 3_000);
    const times = (from: number, max = 10, source = log) =>
      source.read(from, max).map((e) => [e.offset, e.receivedAt]);
    expect(times(0)).toEqual([
      [0, 1_000],
      [1, 1_000],
      [2, 2_000],
      [3, 3_000],
      [4, 3_000],
      [5, 3_000],
    ]);
    expect(times(4, 1)).toEqual([[4, 3_000]]);
    await log.truncateBefore(4);
    await log.close();
    opened.pop();
    const reopened = DurableLog.open(dir);
    opened.push(reopened);
    expect(times(0, 10, reopened)).toEqual([
      [4, 3_000],
      [5, 3_000],
    ]);
  });

  test('waitForRecords resolves when an append commits, false on timeout or close', async () => {
    const { log } = await openFresh();
    const waiting = log.waitForRecords(0, 60_000);
    await log.append(['x']);
    expect(await waiting).toBe(true);
    expect(await log.waitForRecords(1, 1)).toBe(false);
    const pending = log.waitForRecords(1, 60_000);
    await log.close();
    opened.pop();
    expect(await pending).toBe(false);
  });
});
