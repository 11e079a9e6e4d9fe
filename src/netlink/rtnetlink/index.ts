import { Family } from '../message.js';
import { address } from './address.js';
import { link } from './link.js';
import { neighbour } from './neighbour.js';
import { route } from './route.js';
import { rule } from './rule.js';
import { chain, filter, qdisc, tclass } from './tc.js';

export * from './address.js';
export * from './link.js';
export * from './link-kinds/bridge.js';
export * from './link-kinds/bridge-port.js';
export * from './link-kinds/macvlan.js';
export * from './link-kinds/veth.js';
export * from './link-kinds/vlan.js';
export * from './link-kinds/vxlan.js';
export * from './neighbour.js';
export * from './route.js';
export * from './rule.js';
export * from './tc.js';

/** NETLINK_ROUTE: every rtnetlink message kind this codec knows, by nlmsg type. */
export const rtnetlink = new Family('rtnetlink', [link, address, route, neighbour, rule, qdisc, tclass, filter, chain]);
