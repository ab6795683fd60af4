import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** USD per million tokens for one model (CONTRACT.md §3). A missing cache price falls back to `input`. */
export interface TokenPrices {
  input: number;
  output: number;
  cache_read?: number | undefined;
  cache_write?: number | undefined;
}

const price = z.number().finite().nonnegative();
const overrideFileSchema = z.object({
  models: z.record(
    z.string().min(1),
    z.strictObject({
      input: price,
      output: price,
      cache_read: price.optional(),
      cache_write: price.optional(),
    }),
  ),
});

export type PriceOverrides = ReadonlyMap<string, TokenPrices>;

/** Parses the `--pricing` file's content; throws an Error naming the bad field. */
export function parsePriceOverrides(json: string, source = 'pricing file'): PriceOverrides {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`${source}: not valid JSON (${(error as Error).message})`);
  }
  const result = overrideFileSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.join('.') || '(root)';
    throw new Error(`${source}: ${path}: ${issue?.message ?? 'invalid'}`);
  }
  return new Map(Object.entries(result.data.models));
}

export async function loadPriceOverrides(path: string): Promise<PriceOverrides> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read pricing file ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  return parsePriceOverrides(text, `pricing file ${path}`);
}
