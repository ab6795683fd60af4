import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { replaySourceId } from '../../src/replay/source-id.js';

describe('replaySourceId', () => {
  test('depends on the inputs content, their order and the result options, not on their path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'source-id-'));
    const a = join(dir, 'a.jsonl');
    const aCopy = join(dir, 'copy-of-a.jsonl');
    const b = join(dir, 'b.jsonl');
    await writeFile(a, 'first\n');
    await writeFile(aCopy, 'first\n');
    await writeFile(b, 'second\n');
    const id = await replaySourceId([a, b], { ooo: 30 });
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(await replaySourceId([aCopy, b], { ooo: 30 })).toBe(id);
    expect(await replaySourceId([b, a], { ooo: 30 })).not.toBe(id);
    expect(await replaySourceId([a, b], { ooo: 10 })).not.toBe(id);
    await writeFile(b, 'changed\n');
    expect(await replaySourceId([a, b], { ooo: 30 })).not.toBe(id);
  });

  test('a large file is identified by its size and both ends', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'source-id-'));
    const path = join(dir, 'big.jsonl');
    const body = Buffer.alloc(3 << 20, 'x');
    await writeFile(path, body);
    const id = await replaySourceId([path], {});
    body[body.length - 1] = 'y'.charCodeAt(0);
    await writeFile(path, body);
    expect(await replaySourceId([path], {})).not.toBe(id);
  });

  test('names a missing input', async () => {
    await expect(replaySourceId(['/nonexistent/x.jsonl'], {})).rejects.toThrow(
      /cannot read input \/nonexistent\/x\.jsonl: ENOENT/,
    );
  });
});
