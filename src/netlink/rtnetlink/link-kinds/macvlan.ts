// macvlan and macvtap devices: IFLA_MACVLAN_* (linux/if_link.h).
import { nest, space } from '../../attributes.js';
import { lladdr, s32, u16, u32 } from '../../types.js';

export const MACVLAN_MODE = {
  /** No traffic between macvlans of the same lower device. */
  PRIVATE: 1,
  /** Traffic between macvlans goes out through the external switch. */
  VEPA: 2,
  /** macvlans of the same lower device talk to each other directly. */
  BRIDGE: 4,
  /** Takes over the lower device (one macvlan only). */
  PASSTHRU: 8,
  /** Frames are sorted by source MAC, from the list set through IFLA_MACVLAN_MACADDR*. */
  SOURCE: 16,
} as const;

/** What IFLA_MACVLAN_MACADDR / _MACADDR_DATA do to the source-mode address list. */
export const MACVLAN_MACADDR = { ADD: 0, DEL: 1, FLUSH: 2, SET: 3 } as const;

export const MACVLAN_FLAG = { NOPROMISC: 1, NODST: 2 } as const;

export const macvlanMacaddrAttrs = space('IFLA_MACVLAN', {
  4: ['macaddr', lladdr, { multi: true }],
});

export const macvlanAttrs = space('IFLA_MACVLAN', {
  1: ['mode', u32],
  2: ['flags', u16],
  3: ['macaddrMode', u32],
  4: ['macaddr', lladdr],
  5: ['macaddrData', nest(macvlanMacaddrAttrs)],
  6: ['macaddrCount', u32],
  7: ['bcQueueLen', u32],
  8: ['bcQueueLenUsed', u32],
  /** Multicast frames go to at most this many macvlans by unicast copies, beyond that by broadcast; -1 disables. */
  9: ['bcCutoff', s32],
});
