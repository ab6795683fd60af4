import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';

/**
 * A replay writes its files under `<lake>/_staging/<run>/` and moves them into the lake only once the
 * whole input has been processed, so a replay that fails on a corrupt input leaves the lake as it was.
 * Query engines skip `_`-prefixed folders (Hive convention), and table globs never reach it.
 */
export function stagingDir(lakeRoot: string, runId: string): string {
  return join(lakeRoot, '_staging', runId);
}

async function* filesUnder(dir: string): AsyncGenerator<string> {
  // A run that wrote nothing (an input without records) never created its folders.
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

/**
 * Moves every staged file to the same relative path in the lake (replacing a file of the same name),
 * then removes the staging folder. Files an earlier replay of the same source wrote (names starting
 * with `replacedPrefix`) that this run did not write again are removed first: a replay of the same
 * inputs replaces all of its earlier output even when its files are cut differently (other options,
 * another version). dead_letters keep every run's files: they are an audit log.
 */
export async function commitStaging(
  staging: string,
  lakeRoot: string,
  replacedPrefix?: string,
): Promise<number> {
  if (replacedPrefix !== undefined) await removeEarlierOutput(staging, lakeRoot, replacedPrefix);
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

async function removeEarlierOutput(staging: string, lakeRoot: string, prefix: string): Promise<void> {
  const staged = new Set<string>();
  for await (const path of filesUnder(staging)) staged.add(relative(staging, path));
  const tables = await readdir(lakeRoot, { withFileTypes: true });
  for (const table of tables) {
    if (!table.isDirectory() || table.name.startsWith('_') || table.name === 'dead_letters') continue;
    for await (const path of filesUnder(join(lakeRoot, table.name))) {
      const name = basename(path);
      if (name.startsWith(prefix) && !staged.has(relative(lakeRoot, path))) await rm(path, { force: true });
    }
  }
}
