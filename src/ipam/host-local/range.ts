import { type Cidr, type Family, type Ip, formatIp, hostMask } from './address.js';

/** One host-local range, canonical: `start`..`end` inclusive, all inside `subnet`. */
export interface Range {
  family: Family;
  /** The network address and prefix length. */
  subnet: Cidr;
  start: bigint;
  end: bigint;
  gateway: bigint;
}

export function inSubnet(subnet: Cidr, ip: Ip): boolean {
  if (ip.family !== subnet.ip.family) return false;
  const mask = hostMask(subnet.ip.family, subnet.prefix);
  return (ip.value & ~mask) === subnet.ip.value;
}

export function networkAddress(cidr: Cidr): Ip {
  return { family: cidr.ip.family, value: cidr.ip.value & ~hostMask(cidr.ip.family, cidr.prefix) };
}

/** The last address host-local hands out by default: the broadcast minus one (IPv4), the last one (IPv6). */
export function defaultRangeEnd(subnet: Cidr): bigint {
  const last = subnet.ip.value | hostMask(subnet.ip.family, subnet.prefix);
  return subnet.ip.family === 4 ? last - 1n : last;
}

export function rangeContains(range: Range, ip: Ip): boolean {
  return ip.family === range.family && ip.value >= range.start && ip.value <= range.end;
}

export function rangesOverlap(a: Range, b: Range): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

export function describeRange(range: Range): string {
  const ip = (value: bigint) => formatIp({ family: range.family, value });
  return `${ip(range.subnet.ip.value)}/${range.subnet.prefix} (${ip(range.start)}-${ip(range.end)})`;
}

/**
 * A range set: the ranges one address per attachment is taken from, in order. Addresses are numbered
 * 0..size-1 through the ranges in order ("offsets"), which is the order host-local's iterator walks.
 */
export class RangeSet {
  readonly family: Family;
  readonly size: bigint;
  /** Offsets of each range's gateway when it lies inside that range: host-local never hands them out. */
  readonly gatewayOffsets: ReadonlySet<bigint>;
  private readonly firstOffsets: bigint[];

  constructor(readonly ranges: readonly Range[]) {
    if (ranges.length === 0) throw new Error('a range set needs at least one range');
    this.family = ranges[0]!.family;
    let next = 0n;
    this.firstOffsets = ranges.map((r) => {
      const first = next;
      next += r.end - r.start + 1n;
      return first;
    });
    this.size = next;
    const gateways = new Set<bigint>();
    ranges.forEach((r, i) => {
      if (r.gateway >= r.start && r.gateway <= r.end) gateways.add(this.firstOffsets[i]! + (r.gateway - r.start));
    });
    this.gatewayOffsets = gateways;
  }

  /** How many addresses the set can hand out (its gateways excluded). */
  get capacity(): bigint {
    return this.size - BigInt(this.gatewayOffsets.size);
  }

  rangeFor(ip: Ip): Range | undefined {
    return this.ranges.find((r) => rangeContains(r, ip));
  }

  contains(ip: Ip): boolean {
    return this.rangeFor(ip) !== undefined;
  }

  offsetOf(ip: Ip): bigint | undefined {
    const i = this.ranges.findIndex((r) => rangeContains(r, ip));
    return i < 0 ? undefined : this.firstOffsets[i]! + (ip.value - this.ranges[i]!.start);
  }

  at(offset: bigint): { ip: Ip; range: Range } {
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      if (offset >= this.firstOffsets[i]!) {
        const range = this.ranges[i]!;
        return { ip: { family: this.family, value: range.start + (offset - this.firstOffsets[i]!) }, range };
      }
    }
    throw new RangeError(`offset ${offset} outside the range set`);
  }

  /** True when `ip` is the gateway of the range that holds it (host-local refuses to hand it out). */
  isGateway(ip: Ip): boolean {
    return this.rangeFor(ip)?.gateway === ip.value;
  }

  /** A stable name for the addresses the set spans (the gateways do not change it). */
  get key(): string {
    return this.ranges.map((r) => `${formatIp({ family: r.family, value: r.start })}-${formatIp({ family: r.family, value: r.end })}`).join(',');
  }

  toString(): string {
    return this.ranges.map(describeRange).join(', ');
  }
}
