// veth (linux/veth.h): the only data is the peer, created together with the device.
import { space } from '../../attributes.js';
import { lazy, structWithAttrs } from '../../compound.js';
import type { AttrType } from '../../types.js';
import { ifinfomsg, linkAttrs, type IfInfo, type LinkAttrs } from '../link.js';

/**
 * VETH_INFO_PEER: a whole ifinfomsg followed by IFLA attributes for the peer device, e.g.
 * `{ ifinfo: { flags: IFF_UP, change: IFF_UP }, attrs: { ifname: 'eth0', netNsFd: fd } }`.
 * The kernel never reports it back; it exists in requests only.
 */
export interface VethPeer {
  ifinfo?: Partial<IfInfo>;
  attrs?: LinkAttrs;
}

export const vethAttrs = space('VETH_INFO', {
  // link.ts imports this module and this one needs link.ts's tables: resolved on first use.
  1: ['peer', lazy((): AttrType<VethPeer> => structWithAttrs('ifinfo', ifinfomsg, linkAttrs))],
});
