/**
 * Record batch v2 (magic 2) headers: the broker reads the fixed 61-byte header and never the records,
 * so compressed batches (gzip, snappy, lz4, zstd) are stored exactly as the client sent them.
 *
 * Layout: baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 | crc uint32 |
 * attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 |
 * producerId int64 | producerEpoch int16 | baseSequence int32 | recordsCount int32 | records...
 *
 * The CRC-32C covers attributes to the end, so assigning the offset by rewriting baseOffset (and
 * nothing else) keeps the client's checksum valid; consumers verify it.
 */

const HEADER_BYTES = 61;
/** baseOffset and batchLength precede the part that batchLength counts. */
const LOG_OVERHEAD = 12;
const MAGIC_AT = 16;
const CRC_AT = 17;
const CRC_FROM = 21;

export interface BatchHeader {
  /** Records (and offsets) in the batch: lastOffsetDelta + 1. */
  readonly offsetCount: number;
  readonly maxTimestamp: bigint;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

export class InvalidBatchError extends Error {
  override name = 'InvalidBatchError';
  constructor(
    message: string,
    /** CORRUPT_MESSAGE for bad bytes, UNSUPPORTED_FOR_MESSAGE_FORMAT for an older magic. */
    readonly reason: 'corrupt' | 'old-format' | 'not-one-batch',
  ) {
    super(message);
  }
}

/** Validates that `records` is exactly one well-formed v2 batch and reads its header. */
export function readSingleBatch(records: Buffer): BatchHeader {
  if (records.length < HEADER_BYTES) {
    if (records.length > MAGIC_AT && records.readInt8(MAGIC_AT) < 2) {
      throw new InvalidBatchError(
        `message format v${records.readInt8(MAGIC_AT)} is not supported`,
        'old-format',
      );
    }
    throw new InvalidBatchError(
      `records of ${records.length} bytes are shorter than a batch header`,
      'corrupt',
    );
  }
  const magic = records.readInt8(MAGIC_AT);
  if (magic !== 2) throw new InvalidBatchError(`message format v${magic} is not supported`, 'old-format');
  const batchBytes = LOG_OVERHEAD + records.readInt32BE(8);
  // Kafka requires exactly one batch per partition in a v2 produce request.
  if (batchBytes !== records.length) {
    throw new InvalidBatchError(
      `records hold ${records.length} bytes but the first batch claims ${batchBytes}`,
      'not-one-batch',
    );
  }
  const crc = crc32c(records.subarray(CRC_FROM));
  if (crc !== records.readUInt32BE(CRC_AT)) throw new InvalidBatchError('batch CRC-32C mismatch', 'corrupt');
  // A producer's batch has one record per offset; compaction gaps only exist in a broker's own logs.
  const offsetCount = records.readInt32BE(23) + 1;
  const recordsCount = records.readInt32BE(57);
  if (recordsCount < 1 || recordsCount !== offsetCount) {
    throw new InvalidBatchError(`batch has ${recordsCount} records for ${offsetCount} offsets`, 'corrupt');
  }
  return {
    offsetCount,
    maxTimestamp: records.readBigInt64BE(35),
    producerId: records.readBigInt64BE(43),
    producerEpoch: records.readInt16BE(51),
    baseSequence: records.readInt32BE(53),
  };
}

/** A copy of the batch with its baseOffset set: the log owns the bytes, not the request buffer. */
export function withBaseOffset(batch: Buffer, baseOffset: number): Buffer {
  const stored = Buffer.from(batch);
  stored.writeBigInt64BE(BigInt(baseOffset), 0);
  return stored;
}

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of record batch v2. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let index = 0; index < 256; index++) {
    let crc = index;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    table[index] = crc >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
