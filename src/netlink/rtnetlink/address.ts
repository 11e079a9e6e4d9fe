// Interface addresses: struct ifaddrmsg and IFA_* (linux/if_addr.h), RTM_NEWADDR/DELADDR/GETADDR.
import { space } from '../attributes.js';
import { messageKind, type MessageOf, type RequestOf } from '../message.js';
import { cstring, ipaddr, s32, struct, u32, u8 } from '../types.js';

export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;

export const ifaddrmsg = struct('ifaddrmsg', {
  family: u8,
  prefixlen: u8,
  /** The low 8 bits of IFA_F_*; IFA_FLAGS carries all of them and wins when present. */
  flags: u8,
  scope: u8,
  index: u32,
});

export const ifaCacheinfo = struct('ifa_cacheinfo', {
  /** Seconds; 0xffffffff means forever. */
  preferred: u32,
  valid: u32,
  /** When the address was created and last updated, in hundredths of a second since boot. */
  cstamp: u32,
  tstamp: u32,
});

export const addressAttrs = space('IFA', {
  /** The prefix address; on point-to-point links the peer's address (IFA_LOCAL is then the local one). */
  1: ['address', ipaddr],
  2: ['local', ipaddr],
  3: ['label', cstring],
  4: ['broadcast', ipaddr],
  5: ['anycast', ipaddr],
  6: ['cacheinfo', ifaCacheinfo],
  7: ['multicast', ipaddr],
  8: ['flags', u32],
  9: ['rtPriority', u32],
  10: ['targetNetnsid', s32],
  11: ['proto', u8],
});

export const address = messageKind({
  name: 'address',
  headerKey: 'ifaddr',
  header: ifaddrmsg,
  attrs: addressAttrs,
  types: { [RTM_NEWADDR]: 'RTM_NEWADDR', [RTM_DELADDR]: 'RTM_DELADDR', [RTM_GETADDR]: 'RTM_GETADDR' },
});

export type AddressMessage = MessageOf<typeof address>;
export type AddressRequest = RequestOf<typeof address>;

/** ifa_flags / IFA_FLAGS bits. */
export const IFA_F = {
  SECONDARY: 0x01,
  TEMPORARY: 0x01,
  NODAD: 0x02,
  OPTIMISTIC: 0x04,
  DADFAILED: 0x08,
  HOMEADDRESS: 0x10,
  DEPRECATED: 0x20,
  TENTATIVE: 0x40,
  PERMANENT: 0x80,
  MANAGETEMPADDR: 0x100,
  NOPREFIXROUTE: 0x200,
  MCAUTOJOIN: 0x400,
  STABLE_PRIVACY: 0x800,
} as const;

/** IFA_PROTO values: who configured the address. */
export const IFAPROT = { UNSPEC: 0, KERNEL_LO: 1, KERNEL_RA: 2, KERNEL_LL: 3 } as const;

/** ifa_cacheinfo lifetimes meaning "forever". */
export const INFINITY_LIFE_TIME = 0xffffffff;
