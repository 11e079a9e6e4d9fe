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
    this.grow(need);
  }

  private grow(need: number): void {
    let size = Math.max(this.buf.length * 2, 16);
    while (size < need) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  // Values in range are written directly; anything else goes through Buffer's own writers, which
  // coerce or reject it exactly as they always did here.
  u8(v: number): void {
    this.ensure(1);
    if (typeof v === 'number' && (v & 0xff) === v) this.buf[this.pos] = v;
    else this.buf.writeUInt8(v, this.pos);
    this.pos += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    if (typeof v === 'number' && (v & 0xffff) === v) {
      const b = this.buf;
      const p = this.pos;
      b[p] = v;
      b[p + 1] = v >>> 8;
    } else {
      this.buf.writeUInt16LE(v, this.pos);
    }
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    if (typeof v === 'number' && v >>> 0 === v) {
      const b = this.buf;
      const p = this.pos;
      b[p] = v;
      b[p + 1] = v >>> 8;
      b[p + 2] = v >>> 16;
      b[p + 3] = v >>> 24;
    } else {
      this.buf.writeUInt32LE(v, this.pos);
    }
    this.pos += 4;
  }
  s8(v: number): void { this.ensure(1); this.buf.writeInt8(v, this.pos); this.pos += 1; }
  s16(v: number): void { this.ensure(2); this.buf.writeInt16LE(v, this.pos); this.pos += 2; }
  s32(v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.pos); this.pos += 4; }
  u64(v: bigint): void { this.ensure(8); this.buf.writeBigUInt64LE(v, this.pos); this.pos += 8; }
  s64(v: bigint): void { this.ensure(8); this.buf.writeBigInt64LE(v, this.pos); this.pos += 8; }
  be16(v: number): void { this.ensure(2); this.buf.writeUInt16BE(v, this.pos); this.pos += 2; }
  be32(v: number): void { this.ensure(4); this.buf.writeUInt32BE(v, this.pos); this.pos += 4; }
  be64(v: bigint): void { this.ensure(8); this.buf.writeBigUInt64BE(v, this.pos); this.pos += 8; }

  bytes(b: Uint8Array): void {
    const n = b.length;
    this.ensure(n);
    const buf = this.buf;
    const p = this.pos;
    if (n <= 16) for (let i = 0; i < n; i++) buf[p + i] = b[i]!;
    else buf.set(b, p);
    this.pos = p + n;
  }

  zeros(n: number): void {
    this.ensure(n);
    const b = this.buf;
    const p = this.pos;
    if (n <= 16) for (let i = 0; i < n; i++) b[p + i] = 0;
    else b.fill(0, p, p + n);
    this.pos = p + n;
  }

  /** Pads with zeros to the next multiple of 4 (NLMSG_ALIGN / NLA_ALIGN). */
  align4(): void {
    const pad = (4 - (this.pos & 3)) & 3;
    if (pad) this.zeros(pad);
  }

  patchU16(at: number, v: number): void {
    if (typeof v === 'number' && (v & 0xffff) === v && at + 2 <= this.pos) {
      this.buf[at] = v;
      this.buf[at + 1] = v >>> 8;
    } else {
      this.buf.writeUInt16LE(v, at);
    }
  }
  patchU32(at: number, v: number): void {
    if (typeof v === 'number' && v >>> 0 === v && at + 4 <= this.pos) {
      const b = this.buf;
      b[at] = v;
      b[at + 1] = v >>> 8;
      b[at + 2] = v >>> 16;
      b[at + 3] = v >>> 24;
    } else {
      this.buf.writeUInt32LE(v, at);
    }
  }

  /** A copy of what was written. */
  finish(): Buffer {
    const n = this.pos;
    const out = Buffer.allocUnsafe(n);
    if (n <= 64) for (let i = 0; i < n; i++) out[i] = this.buf[i]!;
    else out.set(this.buf.subarray(0, n));
    return out;
  }
}
