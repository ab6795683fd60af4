import { describe, expect, it } from 'vitest';
import {
  escapeKey,
  escapeMeasurement,
  fieldValue,
  LineProtocolError,
  lineBatches,
  pointLine,
  stringFieldValue,
} from '../../src/influxdb/line-protocol.js';
import type { SeriesPoint } from '../../src/timestream/series.js';

const point: SeriesPoint = {
  table: 'rollups_1m',
  time: 1_748_865_600_000,
  dimensions: [
    ['service', 'support bot'],
    ['provider', 'aws.bedrock'],
    ['model_id', 'anthropic.claude-3-5-sonnet-20241022-v2:0'],
    ['tenant_id', 'acme, inc'],
  ],
  measures: [
    { name: 'requests', kind: 'int', value: 42 },
    { name: 'cost_usd', kind: 'double', value: 3 },
    { name: 'severity', kind: 'string', value: 'say "hi" \\o/' },
  ],
};

describe('pointLine', () => {
  it('writes measurement, sorted tags, typed fields and the ms timestamp', () => {
    expect(pointLine(point)).toBe(
      'rollups_1m,model_id=anthropic.claude-3-5-sonnet-20241022-v2:0,provider=aws.bedrock,service=support\\ bot,tenant_id=acme\\,\\ inc ' +
        'requests=42i,cost_usd=3,severity="say \\"hi\\" \\\\o/" 1748865600000',
    );
  });

  it('sorts tags by key in byte order, not by locale', () => {
    const line = pointLine({
      ...point,
      dimensions: [
        ['b', '1'],
        ['B', '2'],
        ['_a', '3'],
        ['a', '4'],
      ],
    });
    expect(line.split(' ')[0]).toBe('rollups_1m,B=2,_a=3,a=4,b=1');
  });

  it('refuses a point without fields or with a fractional timestamp', () => {
    expect(() => pointLine({ ...point, measures: [] })).toThrow(LineProtocolError);
    expect(() => pointLine({ ...point, time: 1.5 })).toThrow(/timestamp must be integer ms/);
  });
});

describe('escaping', () => {
  it('escapes commas and spaces in measurements, and leaves = and quotes literal there', () => {
    expect(escapeMeasurement('cpu load,total')).toBe('cpu\\ load\\,total');
    expect(escapeMeasurement('a=b"c')).toBe('a=b"c');
  });

  it('escapes commas, equals signs and spaces in tag keys, tag values and field keys; quotes stay literal', () => {
    expect(escapeKey('tag value', 'x=y z,w')).toBe('x\\=y\\ z\\,w');
    expect(escapeKey('tag value', 'claude "sonnet"')).toBe('claude\\ "sonnet"');
  });

  it('keeps a backslash literal where the parser reads it so, refuses where it would read an escape', () => {
    expect(escapeKey('tag value', 'corp\\alice')).toBe('corp\\alice');
    expect(escapeKey('tag value', 'two\\\\x')).toBe('two\\\\x');
    expect(() => escapeKey('tag value', 'ends\\')).toThrow(/ends with a backslash/);
    expect(() => escapeKey('tag value', 'a\\,b')).toThrow(/backslash before ","/);
    expect(() => escapeKey('tag key', 'a\\=b')).toThrow(/backslash before "="/);
    expect(() => escapeMeasurement('a\\ b')).toThrow(/backslash before " "/);
    expect(escapeMeasurement('a\\=b')).toBe('a\\=b');
  });

  it('refuses empty names and line breaks anywhere', () => {
    expect(() => escapeKey('tag value', '')).toThrow(/tag value must not be empty/);
    expect(() => escapeKey('tag value', 'a\nb')).toThrow(/line break/);
    expect(() => stringFieldValue('a\r\nb')).toThrow(/line break/);
  });

  it('quotes string fields, escaping double quotes and backslashes only', () => {
    expect(stringFieldValue('plain, with = and spaces')).toBe('"plain, with = and spaces"');
    expect(stringFieldValue('q"uo\\te\\')).toBe('"q\\"uo\\\\te\\\\"');
  });
});

describe('fieldValue', () => {
  it('suffixes integers with i and writes doubles as floats, integral ones too', () => {
    expect(fieldValue({ name: 'n', kind: 'int', value: 0 })).toBe('0i');
    expect(fieldValue({ name: 'n', kind: 'int', value: -9_007_199_254_740_991 })).toBe('-9007199254740991i');
    expect(fieldValue({ name: 'x', kind: 'double', value: 2 })).toBe('2');
    expect(fieldValue({ name: 'x', kind: 'double', value: 0.1 })).toBe('0.1');
    expect(fieldValue({ name: 'x', kind: 'double', value: 1e21 })).toBe('1e+21');
    expect(fieldValue({ name: 'x', kind: 'double', value: 5e-324 })).toBe('5e-324');
  });

  it('refuses integers beyond 2^53 and non-finite doubles', () => {
    expect(() => fieldValue({ name: 'n', kind: 'int', value: 2 ** 53 })).toThrow(/safe integer/);
    expect(() => fieldValue({ name: 'x', kind: 'double', value: Number.POSITIVE_INFINITY })).toThrow(
      /finite/,
    );
  });
});

describe('lineBatches', () => {
  it('cuts at the line count', () => {
    const lines = Array.from({ length: 12 }, (_, i) => `m f=${i}i`);
    expect(lineBatches(lines, 5, 1_000_000).map((b) => b.length)).toEqual([5, 5, 2]);
  });

  it('cuts at the byte size (newlines counted), keeping a single longer line whole', () => {
    const lines = ['a'.repeat(9), 'b'.repeat(9), 'c'.repeat(30), 'd'];
    expect(lineBatches(lines, 100, 20)).toEqual([[lines[0], lines[1]], [lines[2]], [lines[3]]]);
  });

  it('makes no batch from no lines', () => {
    expect(lineBatches([], 5, 100)).toEqual([]);
  });
});
