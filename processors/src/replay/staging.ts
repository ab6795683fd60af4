import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

/**
 * A replay writes its files under `<lake>/_staging/<run>/` and moves them into the lake only once the
 * whole input has been processed, so a replay that fails on a corrupt input leaves the lake as it was.
 * Query engines skip `_`-prefixed folders (Hive convention), and table globs never reach it.
 */
export function stagingDir(lakeRoot: string, runId: string): string {
  return join(lakeRoot, '_staging', runId);
}

async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

/** Moves every staged file to the same relative path in the lake (replacing a file of the same name), then removes the staging folder. */
export async function commitStaging(staging: string, lakeRoot: string): Promise<number> {
  let moved = 0;
  for await (const path of filesUnder(staging)) {
    const target = join(lakeRoot, relative(staging, path));
    await mkdir(dirname(target), { recursive: true });
    await rename(path, target);
    moved += 1;
  }
  await discardStaging(staging);
  return moved;
}

export async function discardStaging(staging: string): Promise<void> {
  await rm(staging, { recursive: true, force: true });
  // Another replay may be staging beside this one: remove the parent only when it is empty.
  await rmdir(dirname(staging)).catch(() => undefined);
}
