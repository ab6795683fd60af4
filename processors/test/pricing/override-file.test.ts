import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadPriceOverrides, parsePriceOverrides } from '../../src/pricing/override-file.js';

describe('price override file', () => {
  test('parses the contract example', () => {
    const overrides = parsePriceOverrides(
      '{ "models": { "my-finetune-v1": { "input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75 } } }',
    );
    expect(overrides.get('my-finetune-v1')).toEqual({
      input: 3,
      output: 15,
      cache_read: 0.3,
      cache_write: 3.75,
    });
  });

  test('cache prices are optional', () => {
    expect(parsePriceOverrides('{"models":{"m":{"input":1,"output":2}}}').get('m')).toEqual({
      input: 1,
      output: 2,
    });
  });

  test.each([
    ['not json', /not valid JSON/],
    ['{"models":{"m":{"input":-1,"output":2}}}', /models\.m\.input/],
    ['{"models":{"m":{"input":"1","output":2}}}', /models\.m\.input/],
    ['{"models":{"m":{"input":1}}}', /models\.m\.output/],
    ['{"models":{"m":{"input":1,"output":2,"cache_reads":1}}}', /models\.m/],
    ['{"prices":{}}', /models/],
  ])('rejects %s with an error naming the field', (text, message) => {
    expect(() => parsePriceOverrides(text)).toThrow(message);
  });

  test('loads from a file and names an unreadable one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prices-'));
    const path = join(dir, 'prices.json');
    await writeFile(path, '{"models":{"m":{"input":1,"output":2}}}');
    expect((await loadPriceOverrides(path)).size).toBe(1);
    await expect(loadPriceOverrides(join(dir, 'missing.json'))).rejects.toThrow(
      /cannot read pricing file .*missing\.json: ENOENT/,
    );
  });
});
