import { describe, expect, it } from 'vitest';
import { influxV1Source } from './influxd.js';

describe('influxV1Source', () => {
  it('prefers INFLUX_V1_URL, then an influxd on PATH, else says how to get one', () => {
    expect(influxV1Source({ INFLUX_V1_URL: ' http://127.0.0.1:8086 ', PATH: '' })).toEqual({
      kind: 'url',
      url: 'http://127.0.0.1:8086',
    });
    expect(influxV1Source({ PATH: '/nonexistent-dir' })).toEqual({
      kind: 'none',
      reason: expect.stringContaining('.ci/influxdb.sh'),
    });
  });
});
