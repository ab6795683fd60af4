/** Where lake files go: a local directory now, an S3 prefix later; the same relative layout in both. */
export interface LakeStore {
  /**
   * Writes bytes at relativePath (`table/dt=.../hour=.../name.parquet`), replacing any file there
   * atomically: readers see the old file or the new one, never a part. Rejects with LakeStoreError.
   * Once `signal` aborts (another writer owns these rows now), no further attempt starts and the file
   * is not made visible if that can still be avoided; the put rejects.
   */
  put(relativePath: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** Where the lake is, for logs and errors (a directory, an s3:// URL). */
  describe(): string;
}

/** A store whose files can be listed and removed: what recovery after a crash needs. */
export interface PrunableLakeStore extends LakeStore {
  /** Relative paths of every file under the relative folder `dir` (a table), in no particular order. */
  list(dir: string): AsyncIterable<string>;
  /** Removes the file at relativePath; a missing file is not an error. */
  remove(relativePath: string): Promise<void>;
}

/** A store files can also be read back from: the shard state of scaled-out processors lives in one. */
export interface ReadableLakeStore extends PrunableLakeStore {
  /** The bytes at relativePath, or undefined when there is no such file. Rejects with LakeStoreError. */
  get(relativePath: string): Promise<Uint8Array | undefined>;
}
