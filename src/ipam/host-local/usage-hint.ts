import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fsErrorCode } from '../../sys/fs.js';
import { parseIp } from './address.js';
import { overwriteFile } from './files.js';
import type { RangeSet } from './range.js';

/**
 * Which addresses of a range set have a lease file: one bit per address, so finding the next free one
 * after the round-robin cursor is a scan of a few KiB instead of one failed link(2) per taken address.
 *
 * Only a hint. A bit says "free" wrongly → the link fails with EEXIST, the bit is set, the search goes
 * on; a bit says "taken" wrongly → before the set is called exhausted the hint is rebuilt from the
 * folder's listing. It is kept for sets of up to MAX_SIZE addresses; bigger (IPv6) sets are sparse
 * enough that trying addresses in turn finds a free one at once.
 *
 * File: a JSON header line `{"v":1,"gen":<seal generation>,"key":"<set key>","size":<n>}` then the bits.
 */
export class UsageHint {
  static readonly MAX_SIZE = 1 << 20;

  private constructor(
    readonly set: RangeSet,
    private readonly bits: Uint8Array,
  ) {}

  static supports(set: RangeSet): boolean {
    return set.size <= BigInt(UsageHint.MAX_SIZE);
  }

  static fileName(set: RangeSet): string {
    return `usage-${createHash('sha256').update(set.key).digest('hex').slice(0, 16)}`;
  }

  static empty(set: RangeSet): UsageHint {
    return new UsageHint(set, new Uint8Array(Math.ceil(Number(set.size) / 8)));
  }

  static fromLeaseNames(set: RangeSet, names: Iterable<string>): UsageHint {
    const hint = UsageHint.empty(set);
    for (const name of names) {
      const ip = parseIp(name);
      const offset = ip && set.offsetOf(ip);
      if (offset !== undefined) hint.mark(Number(offset), true);
    }
    return hint;
  }

  /** The saved hint, if it was saved at generation `gen` for this very set; undefined otherwise. */
  static load(path: string, set: RangeSet, gen: number): UsageHint | undefined {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      if (fsErrorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    const eol = data.indexOf(0x0a);
    if (eol < 0) return undefined;
    let header: { v?: unknown; gen?: unknown; key?: unknown; size?: unknown };
    try {
      header = JSON.parse(data.subarray(0, eol).toString('utf8')) as typeof header;
    } catch {
      return undefined;
    }
    const bytes = Math.ceil(Number(set.size) / 8);
    if (header.v !== 1 || header.gen !== gen || header.key !== set.key || header.size !== Number(set.size)) return undefined;
    if (data.length !== eol + 1 + bytes) return undefined;
    return new UsageHint(set, new Uint8Array(data.subarray(eol + 1)));
  }

  /** Written in place: a hint torn by a crash carries a generation the seal does not, or no seal follows it. */
  save(path: string, gen: number): void {
    const header = Buffer.from(`${JSON.stringify({ v: 1, gen, key: this.set.key, size: Number(this.set.size) })}\n`);
    overwriteFile(path, Buffer.concat([header, this.bits]));
  }

  isUsed(offset: number): boolean {
    return (this.bits[offset >> 3]! & (1 << (offset & 7))) !== 0;
  }

  mark(offset: number, used: boolean): void {
    if (used) this.bits[offset >> 3]! |= 1 << (offset & 7);
    else this.bits[offset >> 3]! &= ~(1 << (offset & 7));
  }

  usedCount(): number {
    let n = 0;
    for (const byte of this.bits) {
      let b = byte;
      while (b) {
        b &= b - 1;
        n++;
      }
    }
    return n;
  }

  /** Addresses neither leased nor a gateway. */
  freeCount(): number {
    let gatewaysFree = 0;
    for (const g of this.set.gatewayOffsets) if (!this.isUsed(Number(g))) gatewaysFree++;
    return Number(this.set.size) - this.usedCount() - gatewaysFree;
  }

  /** The first offset at or after `from` (wrapping once round the set) that is free and not a gateway. */
  nextFree(from: number): number | undefined {
    const size = Number(this.set.size);
    return this.scan(from, size) ?? this.scan(0, from);
  }

  private scan(from: number, to: number): number | undefined {
    let offset = from;
    while (offset < to) {
      if ((offset & 7) === 0 && this.bits[offset >> 3] === 0xff) {
        offset += 8;
        continue;
      }
      if (!this.isUsed(offset) && !this.set.gatewayOffsets.has(BigInt(offset))) return offset;
      offset++;
    }
    return undefined;
  }
}
