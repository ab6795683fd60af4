import type { LakeStore } from '@genai-pipeline/sinks';
import { describe, expect, it } from 'vitest';
import { teeStore } from '../../src/output/tee-store.js';

function memoryStore(name: string, fail = false) {
  const files = new Map<string, Uint8Array>();
  const store: LakeStore = {
    put: async (path, bytes) => {
      if (fail) throw new Error(`${name} is down`);
      files.set(path, bytes);
    },
    describe: () => name,
  };
  return { store, files };
}

describe('teeStore', () => {
  it('puts every file to every store under the same path', async () => {
    const a = memoryStore('local');
    const b = memoryStore('s3://b/p');
    const tee = teeStore([a.store, b.store]);
    await tee.put('invocations/dt=2025-01-01/hour=00/x.parquet', new Uint8Array([1, 2]));
    expect([...a.files.keys()]).toEqual(['invocations/dt=2025-01-01/hour=00/x.parquet']);
    expect(b.files.get('invocations/dt=2025-01-01/hour=00/x.parquet')).toEqual(new Uint8Array([1, 2]));
    expect(tee.describe()).toBe('local + s3://b/p');
  });

  it('fails when any store fails, so the sink keeps the file for a retry', async () => {
    const tee = teeStore([memoryStore('local').store, memoryStore('s3', true).store]);
    await expect(tee.put('a.parquet', new Uint8Array())).rejects.toThrow(/s3 is down/);
  });

  it('is the store itself when there is only one', () => {
    const only = memoryStore('local').store;
    expect(teeStore([only])).toBe(only);
  });
});
