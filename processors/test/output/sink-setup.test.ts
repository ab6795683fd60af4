import { describe, expect, it } from 'vitest';
import { openSinks, SINK_NAMES } from '../../src/output/sink-setup.js';

describe('openSinks', () => {
  it('opens nothing beyond the lake by default', async () => {
    const sinks = await openSinks({ sinks: ['lake'] });
    expect(sinks.lakeStores).toEqual([]);
    expect(sinks.windowSinks).toEqual([]);
    expect(sinks.health()).toEqual({});
    await sinks.close();
  });

  it('names an unknown sink and the available ones', async () => {
    await expect(openSinks({ sinks: ['lake', 'kafka'] })).rejects.toThrow(
      `unknown sink kafka (available: ${SINK_NAMES.join(', ')})`,
    );
  });

  it('says which option a chosen sink needs', async () => {
    await expect(openSinks({ sinks: ['s3'] })).rejects.toThrow('--sink s3 needs --s3-uri');
  });

  it('rejects a malformed S3 URI before reading any input', async () => {
    await expect(openSinks({ sinks: ['s3'], s3Uri: 'http://bucket/x' })).rejects.toThrow(/s3:\/\//);
  });
});
