import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { LakeStoreError, LakeUsageError } from './errors.js';
import type { ReadableLakeStore } from './store.js';

// Conditions that can clear without a change to the program (load, full disk freed, flaky device).
const RETRIABLE_CODES = new Set([
  'EAGAIN',
  'EBUSY',
  'EINTR',
  'EIO',
  'EMFILE',
  'ENFILE',
  'ENOSPC',
  'ETIMEDOUT',
]);
// Filesystems that cannot fsync a directory; the rename is then as durable as they allow.
const DIRECTORY_SYNC_UNSUPPORTED = new Set(['EINVAL', 'EISDIR', 'EPERM', 'ENOTSUP']);

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function storeError(target: string, what: string, error: unknown): LakeStoreError {
  const reason = error instanceof Error ? error.message : String(error);
  const code = errorCode(error);
  return new LakeStoreError(target, `${what}: ${reason}`, code !== undefined && RETRIABLE_CODES.has(code), {
    cause: error,
  });
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    if (!DIRECTORY_SYNC_UNSUPPORTED.has(errorCode(error) ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

/**
 * A lake in a local directory. Each file is written under a dot-prefixed temporary name in its final
 * directory (query engines skip dot files), fsynced, then renamed over the final name, so readers
 * never see a partial file and a rewrite replaces the old one atomically.
 */
export class LocalLakeStore implements ReadableLakeStore {
  readonly rootDir: string;

  constructor(rootDir: string) {
    this.rootDir = path.resolve(rootDir);
  }

  describe(): string {
    return this.rootDir;
  }

  /** Creates the root if needed and proves a file can be written there; throws LakeStoreError with the reason. */
  async ensureWritable(): Promise<void> {
    const probe = path.join(this.rootDir, `.write-probe-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(this.rootDir, { recursive: true });
      const handle = await open(probe, 'wx');
      await handle.close();
      await rm(probe);
    } catch (error) {
      throw storeError(this.rootDir, `lake directory ${this.rootDir} is not writable`, error);
    }
  }

  async put(relativePath: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    const target = this.resolve(relativePath);
    const dir = path.dirname(target);
    const temp = path.join(dir, `.tmp-${randomBytes(6).toString('hex')}-${path.basename(target)}`);
    try {
      await mkdir(dir, { recursive: true });
      const handle = await open(temp, 'wx');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      signal?.throwIfAborted();
      await rename(temp, target);
      await syncDirectory(dir);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw storeError(target, `writing lake file ${target} failed`, error);
    }
  }

  async *list(dir: string): AsyncIterable<string> {
    const folder = this.resolve(dir);
    const entries = await readdir(folder, { withFileTypes: true }).catch((error: unknown) => {
      if (errorCode(error) === 'ENOENT') return [];
      throw storeError(folder, `listing lake folder ${folder} failed`, error);
    });
    for (const entry of entries) {
      const child = `${dir}/${entry.name}`;
      if (entry.isDirectory()) yield* this.list(child);
      else yield child;
    }
  }

  async get(relativePath: string): Promise<Uint8Array | undefined> {
    const target = this.resolve(relativePath);
    try {
      return await readFile(target);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw storeError(target, `reading lake file ${target} failed`, error);
    }
  }

  async remove(relativePath: string): Promise<void> {
    const target = this.resolve(relativePath);
    try {
      await rm(target);
      await syncDirectory(path.dirname(target));
    } catch (error) {
      // Already gone, with its folder or not: what remove promises.
      if (errorCode(error) === 'ENOENT') return;
      throw storeError(target, `removing lake file ${target} failed`, error);
    }
  }

  private resolve(relativePath: string): string {
    const normalized = path.posix.normalize(relativePath);
    if (
      normalized !== relativePath ||
      normalized === '.' ||
      path.posix.isAbsolute(normalized) ||
      normalized === '..' ||
      normalized.startsWith('../') ||
      normalized.endsWith('/')
    ) {
      throw new LakeUsageError(
        `lake path ${JSON.stringify(relativePath)} must be a normalized relative file path`,
      );
    }
    return path.join(this.rootDir, ...normalized.split('/'));
  }
}
