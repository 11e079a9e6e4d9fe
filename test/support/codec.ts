// Small byte-level helpers shared by the codec tests.
import { ORDER, type AttrEntry } from '../../src/netlink/attributes.js';

/** Paths of attributes no table knows, at any depth of a decoded value. */
export function unknownPaths(value: unknown, path = 'attrs'): string[] {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return [];
  const order = (value as { [ORDER]?: AttrEntry[] })[ORDER] ?? [];
  const here = order.filter((e) => e.name === undefined).map((e) => `${path}[type ${e.type}]`);
  return here.concat(Object.entries(value).flatMap(([k, v]) => unknownPaths(v, `${path}.${k}`)));
}

/** One attribute (TLV) with its padding, built by hand. */
export function attr(type: number, payload: Buffer): Buffer {
  const out = Buffer.alloc((4 + payload.length + 3) & ~3);
  out.writeUInt16LE(4 + payload.length, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

/** Sets a hand-built message's nlmsg_len to its size. */
export function withLength(msg: Buffer): Buffer {
  msg.writeUInt32LE(msg.length, 0);
  return msg;
}

/** A netlink message of `type` around `payload` (seq 1, no flags). */
export function nlmsg(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt16LE(type, 4);
  header.writeUInt32LE(1, 8);
  return withLength(Buffer.concat([header, payload]));
}
