/** A growable little-endian byte writer; encoders append to it and patch lengths afterwards. */
export class Writer {
  buf: Buffer;
  pos = 0;

  constructor(capacity = 256) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  u8(v: number): void { this.ensure(1); this.buf.writeUInt8(v, this.pos); this.pos += 1; }
  u16(v: number): void { this.ensure(2); this.buf.writeUInt16LE(v, this.pos); this.pos += 2; }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.pos); this.pos += 4; }
  s8(v: number): void { this.ensure(1); this.buf.writeInt8(v, this.pos); this.pos += 1; }
  s16(v: number): void { this.ensure(2); this.buf.writeInt16LE(v, this.pos); this.pos += 2; }
  s32(v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.pos); this.pos += 4; }
  u64(v: bigint): void { this.ensure(8); this.buf.writeBigUInt64LE(v, this.pos); this.pos += 8; }
  s64(v: bigint): void { this.ensure(8); this.buf.writeBigInt64LE(v, this.pos); this.pos += 8; }
  be16(v: number): void { this.ensure(2); this.buf.writeUInt16BE(v, this.pos); this.pos += 2; }
  be32(v: number): void { this.ensure(4); this.buf.writeUInt32BE(v, this.pos); this.pos += 4; }
  be64(v: bigint): void { this.ensure(8); this.buf.writeBigUInt64BE(v, this.pos); this.pos += 8; }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  zeros(n: number): void {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  /** Pads with zeros to the next multiple of 4 (NLMSG_ALIGN / NLA_ALIGN). */
  align4(): void {
    const pad = (4 - (this.pos & 3)) & 3;
    if (pad) this.zeros(pad);
  }

  patchU16(at: number, v: number): void { this.buf.writeUInt16LE(v, at); }
  patchU32(at: number, v: number): void { this.buf.writeUInt32LE(v, at); }

  /** A copy of what was written. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
