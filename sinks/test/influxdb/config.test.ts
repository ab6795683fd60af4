import { describe, expect, it } from 'vitest';
import { influxWriteUrl, parseInfluxSinkConfig } from '../../src/influxdb/config.js';

describe('parseInfluxSinkConfig', () => {
  it('takes the v2 options (bucket, org, token) with defaults', () => {
    expect(
      parseInfluxSinkConfig({ url: 'https://influx.example:8086', token: 't', org: 'o', bucket: 'b' }),
    ).toMatchObject({
      maxLinesPerRequest: 5_000,
      requestTimeoutMs: 10_000,
      maxRetryAfterMs: 60_000,
      deadLetterCapacity: 1_000,
    });
  });

  it('needs exactly one of bucket or db, a token for v2, and names the option', () => {
    expect(() => parseInfluxSinkConfig({ url: 'http://h:8086' })).toThrow(
      /bucket: give exactly one of bucket \(v2 API\) or db/,
    );
    expect(() => parseInfluxSinkConfig({ url: 'http://h:8086', bucket: 'b', db: 'd', token: 't' })).toThrow(
      /exactly one/,
    );
    expect(() => parseInfluxSinkConfig({ url: 'http://h:8086', bucket: 'b' })).toThrow(
      /token: the v2 API \(bucket\) needs a token/,
    );
    expect(() => parseInfluxSinkConfig({ url: 'ftp://h', db: 'd' })).toThrow(
      /invalid influxdb sink config: url:/,
    );
    expect(() =>
      parseInfluxSinkConfig({ url: 'http://h', bucket: 'b', token: 't', retentionPolicy: 'rp' }),
    ).toThrow(/retentionPolicy applies to the v1 API/);
  });
});

describe('influxWriteUrl', () => {
  it('is /api/v2/write with org, bucket and precision=ms for v2, keeping a base path', () => {
    const url = influxWriteUrl(
      parseInfluxSinkConfig({ url: 'https://h:8086/influx', token: 't', org: 'my org', bucket: 'a/b' }),
    );
    expect(url.toString()).toBe('https://h:8086/influx/api/v2/write?org=my+org&bucket=a%2Fb&precision=ms');
    const noOrg = influxWriteUrl(parseInfluxSinkConfig({ url: 'http://h:8086/', token: 't', bucket: 'b' }));
    expect(noOrg.toString()).toBe('http://h:8086/api/v2/write?bucket=b&precision=ms');
  });

  it('is /write with db, optional rp and precision=ms for v1', () => {
    expect(influxWriteUrl(parseInfluxSinkConfig({ url: 'http://h:8086', db: 'genai' })).toString()).toBe(
      'http://h:8086/write?db=genai&precision=ms',
    );
    expect(
      influxWriteUrl(
        parseInfluxSinkConfig({ url: 'http://h:8086', db: 'genai', retentionPolicy: 'week' }),
      ).toString(),
    ).toBe('http://h:8086/write?db=genai&rp=week&precision=ms');
  });
});
