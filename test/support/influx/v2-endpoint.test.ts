import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InfluxV2TestEndpoint, LineSyntaxError, parseLine } from './v2-endpoint.js';

describe('parseLine (InfluxDB models semantics, cross-checked against influxd 1.6)', () => {
  it('unescapes `\\,` `\\ ` `\\=` in names and tags and keeps other backslashes literal', () => {
    expect(parseLine('m\\,x\\ y,s=x\\ y\\,z\\=w,a=b\\\\c f=1i 5')).toEqual({
      measurement: 'm,x y',
      tags: [
        ['s', 'x y,z=w'],
        ['a', 'b\\\\c'],
      ],
      fields: { f: { type: 'integer', value: 1n } },
      timestamp: 5n,
    });
  });

  it('reads typed fields: integers with i, floats, booleans, quoted strings with \\" and \\\\', () => {
    expect(parseLine('m a=-3i,b=2,c=1e+21,d=t,e="q\\"uo\\\\te, x=1",f=7u').fields).toEqual({
      a: { type: 'integer', value: -3n },
      b: { type: 'float', value: 2 },
      c: { type: 'float', value: 1e21 },
      d: { type: 'boolean', value: true },
      e: { type: 'string', value: 'q"uo\\te, x=1' },
      f: { type: 'unsigned', value: 7n },
    });
  });

  it('refuses what influxd refuses: a tag value ending in an escape, a bare "=", bad values', () => {
    for (const line of [
      'm,e=end\\ f=1i 1',
      'm,a=x=y f=1i 1',
      'm f=abc 1',
      'm f="open 1',
      'm',
      'm f=1i 12x',
    ]) {
      expect(() => parseLine(line), line).toThrow(LineSyntaxError);
    }
  });
});

describe('InfluxV2TestEndpoint', () => {
  let endpoint: InfluxV2TestEndpoint;
  const write = (body: string, query = 'org=o&bucket=b&precision=ms', token = 'tok') =>
    fetch(`${endpoint.url}/api/v2/write?${query}`, {
      method: 'POST',
      headers: { Authorization: `Token ${token}` },
      body,
    });

  beforeEach(async () => {
    endpoint = await InfluxV2TestEndpoint.start({ token: 'tok', org: 'o', buckets: ['b'] });
  });
  afterEach(() => endpoint.close());

  it('stores points by series and time; a later write overwrites fields', async () => {
    expect((await write('m,b=2,a=1 x=1i,y=2 1000\nm,a=1,b=2 x=5i 1000\n')).status).toBe(204);
    expect(endpoint.stored('b')).toEqual([
      {
        bucket: 'b',
        measurement: 'm',
        tags: { a: '1', b: '2' },
        time: 1000,
        fields: { x: { type: 'integer', value: 5n }, y: { type: 'float', value: 2 } },
      },
    ]);
    expect(endpoint.violations).toEqual(['tags not sorted: b,a']);
  });

  it('answers auth, org, bucket and precision errors as InfluxDB 2.x does', async () => {
    const wrongToken = await write('m x=1 1', undefined, 'nope');
    expect([wrongToken.status, await wrongToken.json()]).toEqual([
      401,
      { code: 'unauthorized', message: 'unauthorized access' },
    ]);
    expect((await write('m x=1 1', 'org=zz&bucket=b&precision=ms')).status).toBe(404);
    expect((await write('m x=1 1', 'org=o&bucket=zz&precision=ms')).status).toBe(404);
    expect((await write('m x=1 1', 'org=o&bucket=b&precision=hours')).status).toBe(400);
    expect(endpoint.violations).toHaveLength(4);
  });

  it('rejects an unparsable request whole (400) and a field type conflict (422)', async () => {
    const bad = await write('m x=1i 1\nm x=oops 2');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain("unable to parse 'm x=oops 2'");
    expect(endpoint.stored('b')).toEqual([]);
    expect((await write('m x=1i 1')).status).toBe(204);
    expect((await write('m x=1.5 2')).status).toBe(422);
  });

  it('flags timestamps that are not milliseconds and lines without one', async () => {
    await write('m x=1i 1748865600000000000\nm y=1i');
    expect(endpoint.violations).toEqual([
      'line of m without a timestamp',
      'timestamp 1748865600000000000 is not in milliseconds',
    ]);
  });

  it('injects statuses with Retry-After, slow answers and dropped connections, in order', async () => {
    endpoint.inject(
      { kind: 'status', status: 429, retryAfter: '3' },
      { kind: 'slow', delayMs: 20 },
      { kind: 'drop-connection' },
    );
    const throttled = await write('m x=1i 1');
    expect([throttled.status, throttled.headers.get('retry-after')]).toEqual([429, '3']);
    expect((await write('m x=1i 1')).status).toBe(204);
    await expect(write('m x=1i 1')).rejects.toThrow();
    expect(endpoint.requests.map((r) => r.fault)).toEqual(['status', 'slow', 'drop-connection']);
  });
});
