/**
 * sluice/netlink: a netlink codec (pure: bytes in, typed objects out and back), the rtnetlink objects,
 * a netlink socket over koffi (synchronous and non-blocking), network namespaces, and a high-level client.
 */
export * from './errors.js';
export * from './types.js';
export * from './attributes.js';
export * from './compound.js';
export * from './message.js';
export { Writer } from './writer.js';
export * from './rtnetlink/index.js';
export { NetlinkSocket, NETLINK_ROUTE, NETLINK_NETFILTER, RAW, rawOf, type SocketOptions, type SocketStats } from './socket.js';
export { AsyncNetlinkSocket, SocketClosedError, type AsyncSocketOptions, type NotificationListener, type NotificationErrorListener } from './async-socket.js';
export * from './client.js';
export type { ReplyOptions } from './exchange.js';
export * as netns from '../netns.js';
export { NetNs } from '../netns.js';
export * from './nftables/index.js';
