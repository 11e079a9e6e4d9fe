import { createHash } from 'node:crypto';
import type { Attachment } from '../types.js';

/**
 * What a lease file says about its owner. host-local writes `<containerID>\r\n<ifname>`; versions before
 * 0.7 wrote the container ID alone ("legacy"), which host-local still releases by container ID.
 * host-local compares the whole file, trimmed of surrounding white space; so does sluice.
 */
export type LeaseOwner =
  | { kind: 'attachment'; containerID: string; ifname: string }
  | { kind: 'legacy'; containerID: string }
  | { kind: 'malformed'; reason: string; text: string };

const SEPARATOR = '\r\n';
/** Container IDs and interface names never hold white space or control characters. */
const TOKEN = /^[^\s\p{Cc}]+$/u;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function leaseText(att: Attachment): string {
  return `${att.containerID.trim()}${SEPARATOR}${att.ifname}`;
}

export function parseLease(content: Buffer): LeaseOwner {
  let text: string;
  try {
    text = utf8.decode(content);
  } catch {
    return { kind: 'malformed', reason: 'not UTF-8 text', text: content.toString('latin1') };
  }
  const trimmed = text.trim();
  if (trimmed === '') return { kind: 'malformed', reason: 'empty', text };
  const sep = trimmed.indexOf(SEPARATOR);
  if (sep < 0) {
    return TOKEN.test(trimmed) ? { kind: 'legacy', containerID: trimmed } : { kind: 'malformed', reason: 'not "<containerID>\\r\\n<ifname>"', text };
  }
  const containerID = trimmed.slice(0, sep);
  const ifname = trimmed.slice(sep + SEPARATOR.length);
  if (!TOKEN.test(containerID) || !TOKEN.test(ifname)) {
    return { kind: 'malformed', reason: 'not "<containerID>\\r\\n<ifname>"', text };
  }
  return { kind: 'attachment', containerID, ifname };
}

export function isOwnedBy(owner: LeaseOwner, att: Attachment): boolean {
  return owner.kind === 'attachment' && owner.containerID === att.containerID.trim() && owner.ifname === att.ifname;
}

/** A container ID or interface name sluice can write into a lease file and read back unchanged. */
export function isLeaseToken(value: string): boolean {
  return TOKEN.test(value);
}

export function describeOwner(owner: LeaseOwner): string {
  switch (owner.kind) {
    case 'attachment':
      return `container ${owner.containerID} interface ${owner.ifname}`;
    case 'legacy':
      return `container ${owner.containerID}`;
    case 'malformed':
      return `nobody (malformed lease file: ${owner.reason})`;
  }
}

const UNRESERVED = /[^A-Za-z0-9_.-]/g;
const MAX_KEY = 200;

/**
 * The file name of an attachment in sluice's index: both parts percent-encoded and joined by "@"
 * (the legacy owner has an empty interface name), hashed when too long for a file name.
 */
export function attachmentKey(containerID: string, ifname: string): string {
  const encode = (s: string) => s.replace(UNRESERVED, (c) => Buffer.from(c).toString('hex').replace(/../g, '%$&'));
  const key = `${encode(containerID.trim())}@${encode(ifname)}`;
  if (key.length <= MAX_KEY) return key;
  return `sha256-${createHash('sha256').update(`${containerID.trim()}\n${ifname}`).digest('hex')}`;
}

export function ownerKey(owner: LeaseOwner): string | undefined {
  if (owner.kind === 'attachment') return attachmentKey(owner.containerID, owner.ifname);
  if (owner.kind === 'legacy') return attachmentKey(owner.containerID, '');
  return undefined;
}
