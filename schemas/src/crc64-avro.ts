/**
 * CRC-64-AVRO (the Rabin fingerprint of the Avro specification), used by single-object encoding.
 * avsc only offers crypto hashes, so the spec's reference algorithm is implemented here.
 * BigInt is slow, but fingerprints are computed once per schema, never per message.
 */

const EMPTY = 0xc15d213aa4d7a795n;
const MASK_64 = 0xffffffffffffffffn;

const TABLE: bigint[] = Array.from({ length: 256 }, (_, i) => {
  let fp = BigInt(i);
  for (let bit = 0; bit < 8; bit++) {
    fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & MASK_64);
  }
  return fp;
});

/** The fingerprint as an unsigned 64-bit integer. */
export function crc64Avro(data: string | Uint8Array): bigint {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fp = EMPTY;
  for (const byte of bytes) {
    fp = (fp >> 8n) ^ (TABLE[Number((fp ^ BigInt(byte)) & 0xffn)] as bigint);
  }
  return fp;
}

/** The fingerprint as the 8 little-endian bytes that single-object encoding puts on the wire. */
export function crc64AvroBytes(data: string | Uint8Array): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(crc64Avro(data));
  return out;
}
