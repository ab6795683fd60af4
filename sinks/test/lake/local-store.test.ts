import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LakeStoreError, LakeUsageError } from '../../src/lake/errors.js';
import { LocalLakeStore } from '../../src/lake/local-store.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sinks-store-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytes = (text: string) => new TextEncoder().encode(text);

describe('LocalLakeStore.put', () => {
  it('creates the partition directories and leaves only the final file', async () => {
    const store = new LocalLakeStore(path.join(dir, 'lake'));
    await store.put('invocations/dt=2025-01-01/hour=00/src-1-2.parquet', bytes('one'));
    const partition = path.join(dir, 'lake/invocations/dt=2025-01-01/hour=00');
    expect(await readdir(partition)).toEqual(['src-1-2.parquet']);
    expect(await readFile(path.join(partition, 'src-1-2.parquet'), 'utf8')).toBe('one');
  });

  it('replaces an existing file', async () => {
    const store = new LocalLakeStore(dir);
    await store.put('t/a.parquet', bytes('first version'));
    await store.put('t/a.parquet', bytes('v2'));
    expect(await readFile(path.join(dir, 't/a.parquet'), 'utf8')).toBe('v2');
    expect(await readdir(path.join(dir, 't'))).toEqual(['a.parquet']);
  });

  it('says which path failed and that it is not retriable', async () => {
    const store = new LocalLakeStore(dir);
    await writeFile(path.join(dir, 'blocker'), 'a file where a directory should be');
    const target = path.join(dir, 'blocker/x.parquet');
    const error = await store.put('blocker/x.parquet', bytes('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeStoreError);
    expect((error as LakeStoreError).path).toBe(target);
    expect((error as LakeStoreError).message).toContain(`writing lake file ${target} failed`);
    expect((error as LakeStoreError).message).toMatch(/(EEXIST|ENOTDIR).*\(not retriable\)$/);
  });

  it('removes the temporary file when the rename fails', async () => {
    const store = new LocalLakeStore(dir);
    // A non-empty directory at the final name makes the rename fail after the temporary file is written.
    await store.put('t/a.parquet/inner', bytes('x'));
    await expect(store.put('t/a.parquet', bytes('y'))).rejects.toThrow(LakeStoreError);
    expect(await readdir(path.join(dir, 't'))).toEqual(['a.parquet']);
  });

  it.each(['/abs/a.parquet', '../a.parquet', 't/../../a.parquet', 't//a.parquet', './a.parquet', 't/', '.'])(
    'rejects the path %j',
    async (relativePath) => {
      await expect(new LocalLakeStore(dir).put(relativePath, bytes('x'))).rejects.toThrow(LakeUsageError);
    },
  );
});

describe('LocalLakeStore.ensureWritable', () => {
  it('creates a missing root and leaves nothing in it', async () => {
    const store = new LocalLakeStore(path.join(dir, 'new/lake'));
    await store.ensureWritable();
    expect(await readdir(path.join(dir, 'new/lake'))).toEqual([]);
  });

  it('fails with a one-line reason when the root cannot be created', async () => {
    await writeFile(path.join(dir, 'file'), '');
    const root = path.join(dir, 'file/lake');
    const error = await new LocalLakeStore(root).ensureWritable().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeStoreError);
    expect((error as Error).message).toMatch(new RegExp(`^lake directory ${root} is not writable: ENOTDIR`));
    expect((error as Error).message).not.toContain('\n');
  });

  it('describes itself by its absolute root', () => {
    expect(new LocalLakeStore('relative/lake').describe()).toBe(path.resolve('relative/lake'));
  });
});

async function collect(paths: AsyncIterable<string>): Promise<string[]> {
  const collected: string[] = [];
  for await (const relativePath of paths) collected.push(relativePath);
  return collected.sort();
}

describe('LocalLakeStore.list', () => {
  it('lists every file under the folder, nested folders and dot files included, as lake-relative paths', async () => {
    const store = new LocalLakeStore(dir);
    const inside = [
      't/dt=2025-01-01/hour=00/a.parquet',
      't/dt=2025-01-01/hour=01/b.parquet',
      't/dt=2025-01-02/hour=00/deeper/c.parquet',
      't/notes.txt',
    ];
    for (const file of [...inside, 't2/dt=2025-01-01/hour=00/a.parquet', 'other/t/a.parquet']) {
      await store.put(file, bytes(file));
    }
    // A crash leaves temporary names behind; recovery has to see them.
    await writeFile(path.join(dir, 't/dt=2025-01-01/hour=00/.tmp-0a1b-a.parquet'), 'partial');
    await mkdir(path.join(dir, 't/dt=2025-01-03/hour=00'), { recursive: true });
    expect(await collect(store.list('t'))).toEqual(
      [...inside, 't/dt=2025-01-01/hour=00/.tmp-0a1b-a.parquet'].sort(),
    );
    expect(await collect(store.list('t/dt=2025-01-01'))).toEqual([
      't/dt=2025-01-01/hour=00/.tmp-0a1b-a.parquet',
      't/dt=2025-01-01/hour=00/a.parquet',
      't/dt=2025-01-01/hour=01/b.parquet',
    ]);
  });

  it('lists nothing for a missing folder or a missing root', async () => {
    expect(await collect(new LocalLakeStore(dir).list('invocations'))).toEqual([]);
    expect(await collect(new LocalLakeStore(path.join(dir, 'no/lake')).list('invocations'))).toEqual([]);
  });

  it('fails with the folder when it is a file (not retriable)', async () => {
    await writeFile(path.join(dir, 'blocker'), 'a file where a folder should be');
    const folder = path.join(dir, 'blocker');
    const error = await collect(new LocalLakeStore(dir).list('blocker')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeStoreError);
    expect((error as LakeStoreError).path).toBe(folder);
    expect((error as LakeStoreError).message).toMatch(
      new RegExp(`^listing lake folder ${folder} failed: ENOTDIR.*\\(not retriable\\)$`),
    );
  });

  it.each(['/abs', '..', '../t', 't/../../x', 't//x', './t', 't/', '.', ''])(
    'rejects the folder %j',
    async (folder) => {
      await expect(collect(new LocalLakeStore(dir).list(folder))).rejects.toThrow(LakeUsageError);
    },
  );
});

describe('LocalLakeStore.put with an abort signal', () => {
  it('does not make the file visible once aborted, and leaves no temporary file', async () => {
    const store = new LocalLakeStore(dir);
    const aborted = AbortSignal.abort(new Error('abandoned'));
    await expect(store.put('t/h/a.parquet', bytes('a'), aborted)).rejects.toThrow(LakeStoreError);
    expect(await readdir(path.join(dir, 't/h'))).toEqual([]);
    await store.put('t/h/a.parquet', bytes('a'), new AbortController().signal);
    expect(await readdir(path.join(dir, 't/h'))).toEqual(['a.parquet']);
  });
});

describe('LocalLakeStore.get', () => {
  it('reads a file back; a missing file or folder is undefined', async () => {
    const store = new LocalLakeStore(dir);
    await store.put('t/h/a.parquet', bytes('a'));
    expect(Buffer.from((await store.get('t/h/a.parquet')) as Uint8Array).toString()).toBe('a');
    expect(await store.get('t/h/missing.parquet')).toBeUndefined();
    expect(await store.get('missing/h/a.parquet')).toBeUndefined();
  });

  it('fails on a folder (not retriable) and rejects a path outside the lake', async () => {
    const store = new LocalLakeStore(dir);
    await store.put('t/h/a.parquet', bytes('a'));
    const error = await store.get('t/h').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeStoreError);
    expect((error as LakeStoreError).retriable).toBe(false);
    await expect(store.get('../a.parquet')).rejects.toThrow(LakeUsageError);
  });
});

describe('LocalLakeStore.remove', () => {
  it('removes the file and nothing else', async () => {
    const store = new LocalLakeStore(dir);
    await store.put('t/h/a.parquet', bytes('a'));
    await store.put('t/h/b.parquet', bytes('b'));
    await store.remove('t/h/a.parquet');
    expect(await readdir(path.join(dir, 't/h'))).toEqual(['b.parquet']);
  });

  it('accepts a missing file, in an existing folder or a missing one', async () => {
    const store = new LocalLakeStore(dir);
    await store.put('t/h/b.parquet', bytes('b'));
    await store.remove('t/h/a.parquet');
    await store.remove('t/missing/a.parquet');
    await store.remove('missing/h/a.parquet');
    expect(await readdir(path.join(dir, 't/h'))).toEqual(['b.parquet']);
  });

  it('refuses to remove a folder (not retriable) and leaves it whole', async () => {
    const store = new LocalLakeStore(dir);
    await store.put('t/h/a.parquet', bytes('a'));
    const error = await store.remove('t/h').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LakeStoreError);
    expect((error as LakeStoreError).retriable).toBe(false);
    expect((error as LakeStoreError).message).toContain(`removing lake file ${path.join(dir, 't/h')} failed`);
    expect(await readdir(path.join(dir, 't/h'))).toEqual(['a.parquet']);
  });

  it.each(['/abs/a.parquet', '../a.parquet', 't/../../a.parquet', 't//a.parquet', './a.parquet', 't/', '.'])(
    'rejects the path %j and removes nothing',
    async (relativePath) => {
      const store = new LocalLakeStore(path.join(dir, 'lake'));
      await store.put('a.parquet', bytes('a'));
      await expect(store.remove(relativePath)).rejects.toThrow(LakeUsageError);
      expect(await readdir(path.join(dir, 'lake'))).toEqual(['a.parquet']);
    },
  );
});
