import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DurableLog } from '../../src/collector/durable-log.js';
import { LOG_PARTITION, LogSource } from '../../src/sources/log-source.js';

const FIRST_BATCH_AT = Date.UTC(2026, 0, 1, 12);
const SECOND_BATCH_AT = FIRST_BATCH_AT + 5_000;
/** Long enough that a poll only ends early because records arrived (the test timeout is the limit). */
const LONG_WAIT_MS = 30_000;

let log: DurableLog;
beforeEach(async () => {
  log = DurableLog.open(await mkdtemp(join(tmpdir(), 'log-source-')));
});
afterEach(async () => {
  await log.close();
});

const line = (i: number) => JSON.stringify({ event_id: `e${i}` });
async function appendLines(from: number, to: number, receivedAt: number): Promise<void> {
  const lines: string[] = [];
  for (let i = from; i < to; i++) lines.push(line(i));
  await log.append(lines, receivedAt);
}
async function started(positions: Record<string, string> = {}): Promise<LogSource> {
  const source = new LogSource(log);
  await source.start(new Map(Object.entries(positions)));
  return source;
}
const texts = (batch: { entries: { record: unknown }[] } | undefined) =>
  batch?.entries.map(({ record }) => (record as { text: string }).text);

describe('LogSource', () => {
  test('one partition named log; records as JSON text with their batch receive time', async () => {
    await appendLines(0, 3, FIRST_BATCH_AT);
    await appendLines(3, 5, SECOND_BATCH_AT);
    const source = await started();
    expect(source.name).toBe('log');
    const batches = await source.poll(100, 1);
    expect(batches).toHaveLength(1);
    const [batch] = batches;
    expect(batch?.partition).toBe(LOG_PARTITION);
    expect(batch?.entries.map(({ record }) => record)).toEqual(
      [0, 1, 2, 3, 4].map((i) => ({ format: 'json', text: line(i) })),
    );
    expect(batch?.entries.map(({ receivedAt }) => receivedAt)).toEqual([
      FIRST_BATCH_AT,
      FIRST_BATCH_AT,
      FIRST_BATCH_AT,
      SECOND_BATCH_AT,
      SECOND_BATCH_AT,
    ]);
    // The position is the offset of the next record to read; nothing is left behind.
    expect(batch?.position).toBe('5');
    expect(batch?.lagRecords).toBe(0);
  });

  test('at most maxRecords per poll; the position and lag say how far it got', async () => {
    await appendLines(0, 5, FIRST_BATCH_AT);
    const source = await started();
    const [first] = await source.poll(2, 1);
    expect(texts(first)).toEqual([line(0), line(1)]);
    expect(first?.position).toBe('2');
    expect(first?.lagRecords).toBe(3);
    const [second] = await source.poll(2, 1);
    expect(texts(second)).toEqual([line(2), line(3)]);
    expect(second?.lagRecords).toBe(1);
    const [third] = await source.poll(2, 1);
    expect(texts(third)).toEqual([line(4)]);
    expect(third?.position).toBe('5');
    expect(await source.poll(2, 1)).toEqual([]);
  });

  test('the current lag counts what was appended since the last poll', async () => {
    await appendLines(0, 3, FIRST_BATCH_AT);
    const source = await started();
    await source.poll(10, 1);
    expect(source.currentLagRecords(LOG_PARTITION)).toBe(0);
    await appendLines(3, 7, SECOND_BATCH_AT);
    expect(source.currentLagRecords(LOG_PARTITION)).toBe(4);
    expect(source.currentLagRecords('shard-1')).toBeUndefined();
  });

  test('an empty log: the poll waits for an append and returns it', async () => {
    const source = await started();
    const polled = source.poll(100, LONG_WAIT_MS);
    await appendLines(0, 2, FIRST_BATCH_AT);
    const [batch] = await polled;
    expect(texts(batch)).toEqual([line(0), line(1)]);
    expect(batch?.position).toBe('2');
  });

  test('resumes right after a checkpointed position', async () => {
    await appendLines(0, 6, FIRST_BATCH_AT);
    const source = await started({ [LOG_PARTITION]: '4' });
    const [batch] = await source.poll(100, 1);
    expect(texts(batch)).toEqual([line(4), line(5)]);
    expect(batch?.position).toBe('6');
  });

  test('a position at the end of the log waits for the next record', async () => {
    await appendLines(0, 3, FIRST_BATCH_AT);
    const source = await started({ [LOG_PARTITION]: '3' });
    expect(await source.poll(100, 1)).toEqual([]);
    await appendLines(3, 4, SECOND_BATCH_AT);
    const [batch] = await source.poll(100, 1);
    expect(batch?.entries).toEqual([
      { record: { format: 'json', text: line(3) }, receivedAt: SECOND_BATCH_AT },
    ]);
  });

  test('commit lets the log drop what the checkpoint covers; a new reader starts after it', async () => {
    await appendLines(0, 5, FIRST_BATCH_AT);
    const source = await started();
    await source.poll(3, 1);
    await source.commit(new Map([[LOG_PARTITION, '3']]));
    expect(log.firstOffset).toBe(3);
    expect(log.read(0, 10).map(({ offset }) => offset)).toEqual([3, 4]);
    // Other partitions' positions mean nothing to the log.
    await source.commit(new Map([['shard-1', '5']]));
    expect(log.firstOffset).toBe(3);
    const fresh = await started();
    expect(texts((await fresh.poll(100, 1))[0])).toEqual([line(3), line(4)]);
  });

  test('a checkpoint before the first record still kept is a clear, not retriable error', async () => {
    await appendLines(0, 5, FIRST_BATCH_AT);
    await log.truncateBefore(4);
    await expect(started({ [LOG_PARTITION]: '2' })).rejects.toThrow(
      'checkpoint resumes the embedded log at offset 2, but the log starts at 4: records were removed before a checkpoint covered them (not retriable)',
    );
  });

  test('a checkpoint past the end of the log (the log was replaced) is a clear, not retriable error', async () => {
    await appendLines(0, 3, FIRST_BATCH_AT);
    await expect(started({ [LOG_PARTITION]: '7' })).rejects.toThrow(
      /resumes the embedded log at offset 7, but the log ends at 3.*not retriable/,
    );
  });

  test('a position that is not an offset is rejected, naming it', async () => {
    for (const position of ['abc', '-1', '1.5', '', ' 3', '0x10', '1e3']) {
      await expect(started({ [LOG_PARTITION]: position })).rejects.toThrow(
        `embedded log position must be a non-negative integer offset, got ${JSON.stringify(position)}`,
      );
    }
  });

  test('close: later polls return nothing, and a waiting poll returns nothing when records come', async () => {
    await appendLines(0, 2, FIRST_BATCH_AT);
    const source = await started({ [LOG_PARTITION]: '2' });
    const waiting = source.poll(100, LONG_WAIT_MS);
    await source.close();
    await appendLines(2, 3, SECOND_BATCH_AT);
    expect(await waiting).toEqual([]);
    expect(await source.poll(100, 1)).toEqual([]);
  });
});
