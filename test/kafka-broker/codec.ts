/**
 * Reader and writer for the Kafka protocol's primitive types (big-endian ints, zig-zag varints,
 * strings, bytes, arrays, tagged fields).
 *
 * A reader/writer is created for one message in one API version and knows whether that version is
 * "flexible" (KIP-482): then strings, bytes and arrays carry unsigned-varint lengths (length + 1,
 * 0 = null) and every struct ends with a tagged-field section. Handlers call `string()`, `array()`,
 * `taggedFields()` without caring which encoding applies, so one handler serves flexible and classic
 * versions alike.
 */

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export class Reader {
  private offset = 0;

  constructor(
    private readonly buffer: Buffer,
    readonly flexible = false,
  ) {}

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  private take(bytes: number): number {
    if (bytes < 0 || this.offset + bytes > this.buffer.length) {
      throw new ProtocolError(`truncated message: need ${bytes} bytes at offset ${this.offset}`);
    }
    const at = this.offset;
    this.offset += bytes;
    return at;
  }

  int8(): number {
    return this.buffer.readInt8(this.take(1));
  }
  int16(): number {
    return this.buffer.readInt16BE(this.take(2));
  }
  int32(): number {
    return this.buffer.readInt32BE(this.take(4));
  }
  int64(): bigint {
    return this.buffer.readBigInt64BE(this.take(8));
  }
  boolean(): boolean {
    return this.int8() !== 0;
  }
  raw(length: number): Buffer {
    const at = this.take(length);
    return this.buffer.subarray(at, at + length);
  }

  unsignedVarint(): number {
    let value = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      const byte = this.buffer.readUInt8(this.take(1));
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value >>> 0;
    }
    throw new ProtocolError('unsigned varint longer than 5 bytes');
  }
  /** Zig-zag encoded signed 32-bit varint (the fields inside records). */
  varint(): number {
    const raw = this.unsignedVarint();
    return (raw >>> 1) ^ -(raw & 1);
  }
  /** Zig-zag encoded signed 64-bit varint. */
  varlong(): bigint {
    let raw = 0n;
    for (let shift = 0n; shift <= 63n; shift += 7n) {
      const byte = this.buffer.readUInt8(this.take(1));
      raw |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return (raw >> 1n) ^ -(raw & 1n);
    }
    throw new ProtocolError('varlong longer than 10 bytes');
  }

  /** Length of a string/bytes/array field; -1 means null. */
  private length(): number {
    return this.flexible ? this.unsignedVarint() - 1 : this.int32();
  }
  private stringLength(): number {
    return this.flexible ? this.unsignedVarint() - 1 : this.int16();
  }

  nullableString(): string | null {
    const length = this.stringLength();
    return length < 0 ? null : this.raw(length).toString('utf8');
  }
  string(): string {
    const value = this.nullableString();
    if (value === null) throw new ProtocolError('null where a non-nullable string is required');
    return value;
  }
  /** The request header's client id is a classic nullable string even in flexible header v2. */
  classicNullableString(): string | null {
    const length = this.int16();
    return length < 0 ? null : this.raw(length).toString('utf8');
  }
  nullableBytes(): Buffer | null {
    const length = this.length();
    return length < 0 ? null : this.raw(length);
  }
  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0);
  }
  nullableArray<T>(readItem: (reader: Reader) => T): T[] | null {
    const length = this.length();
    if (length < 0) return null;
    const items: T[] = [];
    for (let index = 0; index < length; index++) items.push(readItem(this));
    return items;
  }
  array<T>(readItem: (reader: Reader) => T): T[] {
    return this.nullableArray(readItem) ?? [];
  }
  /** Skips a tagged-field section: none of the tags these APIs define matter to a test broker. */
  taggedFields(): void {
    if (!this.flexible) return;
    const count = this.unsignedVarint();
    for (let index = 0; index < count; index++) {
      this.unsignedVarint();
      this.take(this.unsignedVarint());
    }
  }
}

export class Writer {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(readonly flexible = false) {}

  private push(chunk: Buffer): this {
    this.chunks.push(chunk);
    this.size += chunk.length;
    return this;
  }
  private fixed(bytes: number, write: (buffer: Buffer) => void): this {
    const buffer = Buffer.allocUnsafe(bytes);
    write(buffer);
    return this.push(buffer);
  }

  int8(value: number): this {
    return this.fixed(1, (b) => b.writeInt8(value));
  }
  int16(value: number): this {
    return this.fixed(2, (b) => b.writeInt16BE(value));
  }
  int32(value: number): this {
    return this.fixed(4, (b) => b.writeInt32BE(value));
  }
  int64(value: bigint): this {
    return this.fixed(8, (b) => b.writeBigInt64BE(value));
  }
  boolean(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }
  raw(bytes: Buffer): this {
    return this.push(bytes);
  }
  /** Zig-zag encoded signed 32-bit varint. */
  varint(value: number): this {
    return this.unsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
  }
  /** Zig-zag encoded signed 64-bit varint. */
  varlong(value: bigint): this {
    let rest = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    const bytes: number[] = [];
    while (rest > 0x7fn) {
      bytes.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    bytes.push(Number(rest));
    return this.push(Buffer.from(bytes));
  }
  unsignedVarint(value: number): this {
    const bytes: number[] = [];
    let rest = value >>> 0;
    while (rest > 0x7f) {
      bytes.push((rest & 0x7f) | 0x80);
      rest >>>= 7;
    }
    bytes.push(rest);
    return this.push(Buffer.from(bytes));
  }

  private length(value: number | null): this {
    const length = value ?? -1;
    return this.flexible ? this.unsignedVarint(length + 1) : this.int32(length);
  }

  nullableString(value: string | null): this {
    if (value === null) return this.flexible ? this.unsignedVarint(0) : this.int16(-1);
    const bytes = Buffer.from(value, 'utf8');
    if (this.flexible) this.unsignedVarint(bytes.length + 1);
    else this.int16(bytes.length);
    return this.push(bytes);
  }
  string(value: string): this {
    return this.nullableString(value);
  }
  nullableBytes(value: Buffer | null): this {
    this.length(value === null ? null : value.length);
    return value === null ? this : this.push(value);
  }
  bytes(value: Buffer): this {
    return this.nullableBytes(value);
  }
  nullableArray<T>(items: readonly T[] | null, writeItem: (writer: this, item: T) => void): this {
    this.length(items === null ? null : items.length);
    for (const item of items ?? []) writeItem(this, item);
    return this;
  }
  array<T>(items: readonly T[], writeItem: (writer: this, item: T) => void): this {
    return this.nullableArray(items, writeItem);
  }
  /** An empty tagged-field section (flexible versions only): this broker sends no tagged fields. */
  taggedFields(): this {
    return this.flexible ? this.unsignedVarint(0) : this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}
