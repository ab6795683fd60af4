import { describe, expect, it } from 'vitest';
import { crc64Avro, crc64AvroBytes } from '../src/crc64-avro.js';

// Published test vectors of the Avro specification (share/test/data/schema-tests.txt), signed 64-bit.
const VECTORS: [string, bigint][] = [
  ['"null"', 7195948357588979594n],
  ['"int"', 8247732601305521295n],
  ['"string"', -8142146995180207161n],
  ['["int","boolean"]', 5392556393470105090n],
  ['{"name":"foo","type":"record","fields":[]}', -4824392279771201922n],
];

describe('crc64Avro', () => {
  it.each(VECTORS)('fingerprints %s as in the Avro spec', (canonical, signed) => {
    expect(BigInt.asIntN(64, crc64Avro(canonical))).toBe(signed);
  });

  it('puts the fingerprint on the wire little-endian', () => {
    const bytes = crc64AvroBytes('"null"');
    expect(bytes.length).toBe(8);
    expect(bytes.readBigUInt64LE(0)).toBe(BigInt.asUintN(64, 7195948357588979594n));
  });

  it('hashes strings as UTF-8', () => {
    expect(crc64Avro('"é"')).toBe(crc64Avro(Buffer.from('"é"', 'utf8')));
    expect(crc64Avro('"é"')).not.toBe(crc64Avro(Buffer.from('"é"', 'latin1')));
  });
});
