/** Where lake files go: a local directory now, an S3 prefix later; the same relative layout in both. */
export interface LakeStore {
  /**
   * Writes bytes at relativePath (`table/dt=.../hour=.../name.parquet`), replacing any file there
   * atomically: readers see the old file or the new one, never a part. Rejects with LakeStoreError.
   */
  put(relativePath: string, bytes: Uint8Array): Promise<void>;
  /** Where the lake is, for logs and errors (a directory, an s3:// URL). */
  describe(): string;
}
