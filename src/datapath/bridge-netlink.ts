/**
 * The few rtnetlink requests of the bridge driver the high-level client has no verb for, and small
 * address arithmetic: built from the codec's link message like every other request.
 */
import type { SyncClient } from '../netlink/client.js';
import { encodeMessage, NLM_F } from '../netlink/message.js';
import { IFF_PROMISC, link, RTM_NEWLINK, type LinkMessage } from '../netlink/rtnetlink/link.js';
import { formatIP, parseIP } from '../netlink/types.js';
import { splitCidr } from './ip.js';

/** Turns the device's promiscuous flag on or off (IFF_PROMISC in ifi_change, as `ip link set promisc`). */
export function setPromisc(client: SyncClient, ifindex: number, on: boolean): void {
  const message = encodeMessage(link, {
    header: { type: RTM_NEWLINK, flags: NLM_F.REQUEST | NLM_F.ACK },
    ifinfo: { index: ifindex, flags: on ? IFF_PROMISC : 0, change: IFF_PROMISC },
    attrs: {},
  } as never);
  client.transport.request(message, `RTM_NEWLINK ifindex ${ifindex} (promisc ${on ? 'on' : 'off'})`);
}

/** What a bridge port's settings are, as IFLA_BRPORT_* numbers. */
export interface PortSettings {
  /** IFLA_BRPORT_MODE: 1 hairpin. */
  mode?: number;
  /** IFLA_BRPORT_ISOLATED. */
  isolated?: number;
  /** IFLA_BRPORT_STATE. */
  state?: number;
}

/** Changes a bridge port's settings (IFLA_INFO_SLAVE_DATA, as `ip link set X type bridge_slave ...`). */
export function setBridgePort(client: SyncClient, ifindex: number, settings: PortSettings): void {
  const message = encodeMessage(link, {
    header: { type: RTM_NEWLINK, flags: NLM_F.REQUEST | NLM_F.ACK },
    ifinfo: { index: ifindex },
    attrs: { linkinfo: { slaveKind: 'bridge', slaveData: settings } },
  } as never);
  client.transport.request(message, `RTM_NEWLINK ifindex ${ifindex} (bridge port ${JSON.stringify(settings)})`);
}

/** A bridge port's settings as the kernel reports them (IFLA_INFO_SLAVE_DATA of a port's link). */
export function portSettingsOf(l: LinkMessage): { state?: number; mode?: number; isolated?: number } {
  const info = l.attrs.linkinfo as { slaveKind?: string; slaveData?: { state?: number; mode?: number; isolated?: number } } | undefined;
  return info?.slaveKind === 'bridge' ? (info.slaveData ?? {}) : {};
}

export const kindOf = (l: LinkMessage | undefined): string | undefined => (l?.attrs.linkinfo as { kind?: string } | undefined)?.kind;

/** The first address of a CIDR's network plus one ("10.22.0.5/16" -> "10.22.0.1"), as the reference plugin picks a gateway. */
export function firstHostOf(cidr: string): string {
  const parsed = splitCidr(cidr);
  const bytes = parsed && parseIP(parsed.ip);
  if (!parsed || !bytes) throw new TypeError(`not a CIDR: ${JSON.stringify(cidr)}`);
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  const bits = BigInt(bytes.length * 8);
  const hostBits = bits - BigInt(parsed.prefix);
  value = ((value >> hostBits) << hostBits) + 1n;
  const out = Buffer.alloc(bytes.length);
  for (let i = bytes.length - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return formatIP(out, 0, out.length);
}

/**
 * The broadcast address of an IPv4 CIDR with a prefix shorter than 31, which the reference plugin's
 * netlink library puts on every IPv4 address it adds (and `ip addr add ... brd +` would); else undefined.
 */
export function broadcastOf(cidr: string): string | undefined {
  const parsed = splitCidr(cidr);
  if (!parsed || parsed.family !== 4 || parsed.prefix >= 31) return undefined;
  const value = parsed.ip.split('.').reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
  const host = parsed.prefix === 0 ? 0xffffffff : (1 << (32 - parsed.prefix)) - 1;
  const b = (value | host) >>> 0;
  return [b >>> 24, (b >>> 16) & 0xff, (b >>> 8) & 0xff, b & 0xff].join('.');
}

/** Whether two CIDRs of a family share an address (one contains the other's network). */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = splitCidr(a);
  const y = splitCidr(b);
  if (!x || !y || x.family !== y.family) return false;
  const prefix = Math.min(x.prefix, y.prefix);
  return networkOf(x.ip, prefix) === networkOf(y.ip, prefix);
}

function networkOf(ip: string, prefix: number): string {
  const bytes = parseIP(ip)!;
  let bitsLeft = prefix;
  const out = Buffer.alloc(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bitsLeft));
    out[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
    bitsLeft -= 8;
  }
  return out.toString('hex');
}
