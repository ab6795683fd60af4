import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { replaySourceId } from '../../src/replay/source-id.js';

describe('replaySourceId', () => {
  test('depends on the inputs content and order, not on their path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'source-id-'));
    const a = join(dir, 'a.jsonl');
    const aCopy = join(dir, 'copy-of-a.jsonl');
    const b = join(dir, 'b.jsonl');
    await writeFile(a, 'first\n');
    await writeFile(aCopy, 'first\n');
    await writeFile(b, 'second\n');
    const id = await replaySourceId([a, b]);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(await replaySourceId([aCopy, b])).toBe(id);
    expect(await replaySourceId([b, a])).not.toBe(id);
    await writeFile(b, 'changed\n');
    expect(await replaySourceId([a, b])).not.toBe(id);
  });

  test('two files of the same size and the same first and last MiB still differ', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'source-id-'));
    const one = Buffer.alloc(3 << 20, 'x');
    const other = Buffer.from(one);
    other[(3 << 20) / 2] = 'y'.charCodeAt(0);
    await writeFile(join(dir, 'one.jsonl'), one);
    await writeFile(join(dir, 'other.jsonl'), other);
    expect(await replaySourceId([join(dir, 'one.jsonl')])).not.toBe(
      await replaySourceId([join(dir, 'other.jsonl')]),
    );
  });

  test('names a missing or unreadable input', async () => {
    await expect(replaySourceId(['/nonexistent/x.jsonl'])).rejects.toThrow(
      /cannot read input \/nonexistent\/x\.jsonl: ENOENT/,
    );
    await expect(replaySourceId([tmpdir()])).rejects.toThrow(/cannot read input .*: EISDIR/);
  });
});
