import { LAKE_TABLES, type LakeTableName } from '@genai-pipeline/schemas';
import { assertSafeSourceId } from './layout.js';
import type { PrunableLakeStore } from './store.js';

const TABLE_NAMES = Object.keys(LAKE_TABLES) as LakeTableName[];

const parseOrdinal = (text: string): number => (text.startsWith('n') ? -Number(text.slice(1)) : Number(text));

/**
 * Removes the files of `sourceId` whose first ordinal is at or after `fromOrdinal(table)`, and
 * its temporary files a crash left: the output written after the last checkpoint. Processing from that
 * checkpoint writes those rows again, possibly cut into other files, so leaving the old files would
 * count their rows twice. Returns the number of files removed.
 */
export async function removeFilesFrom(
  store: PrunableLakeStore,
  sourceId: string,
  fromOrdinal: (table: LakeTableName) => number,
): Promise<number> {
  assertSafeSourceId(sourceId);
  // Source ids are [A-Za-z0-9._-]: only '.' needs escaping. Group 1 is LocalLakeStore's temporary
  // prefix (`.tmp-<hex>-`), left only by a crash mid-write; only this source's, as another source's
  // temporary file may be a write in flight.
  const pattern = new RegExp(
    `^(\\.tmp-[0-9a-f]+-)?${sourceId.replaceAll('.', '\\.')}-(n?\\d+)-(n?\\d+)\\.parquet$`,
  );
  let removed = 0;
  for (const table of TABLE_NAMES) {
    const from = fromOrdinal(table);
    const doomed: string[] = [];
    for await (const path of store.list(table)) {
      const name = path.slice(path.lastIndexOf('/') + 1);
      const match = pattern.exec(name);
      if (match !== null && (match[1] !== undefined || parseOrdinal(match[2] as string) >= from)) {
        doomed.push(path);
      }
    }
    for (const path of doomed) await store.remove(path);
    removed += doomed.length;
  }
  return removed;
}
