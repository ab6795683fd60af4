import type { LakeStore } from '@genai-pipeline/sinks';

/**
 * One lake, several places (the local directory and an S3 prefix): every file is encoded once and put
 * to each store under the same relative path (CONTRACT.md §4: the same layout). A put succeeds when
 * every store has the file; retrying the whole put is safe because files replace same-named files.
 */
export function teeStore(stores: readonly LakeStore[]): LakeStore {
  if (stores.length === 1) return stores[0] as LakeStore;
  return {
    put: async (relativePath, bytes, signal) => {
      await Promise.all(stores.map((store) => store.put(relativePath, bytes, signal)));
    },
    describe: () => stores.map((store) => store.describe()).join(' + '),
  };
}
