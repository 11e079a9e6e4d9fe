/**
 * Waiting for the kernel without sleeping: a netlink socket joins the multicast groups that report the
 * change awaited, then the condition is read; while it does not hold, the thread blocks in poll(2) on
 * that socket until the kernel announces a change (or the time is up), and reads the condition again.
 * Joining before the first read means no announcement can slip between the read and the wait.
 *
 * Why there is anything to wait for at all: a veth's carrier, operational state and qdisc, and so a
 * bridge port's state, are settled by the kernel's link watcher, a work item that runs just after the
 * links came up. Until it ran, the port is "disabled" and the veth holds the noop qdisc (which drops
 * every packet). When it runs it sets the operational state, attaches the real qdisc and sends
 * RTM_NEWLINK; the bridge, told by the same event, puts the port in the forwarding state at once when
 * STP is off (no forward delay applies then) and announces that too. So the wait ends on the very
 * announcement, typically well under a millisecond after the links came up; the reference plugin
 * sleeps 50, 500, 1000 and 1000 ms between looks instead.
 *
 * Also: a file lock for the short synchronous sections that must not interleave between plugin
 * processes (creating or removing a bridge against adding a port to it).
 */
import { closeSync, constants, openSync } from 'node:fs';
import { SyncClient } from '../netlink/client.js';
import { rtnetlink } from '../netlink/rtnetlink/index.js';
import { NetlinkSocket, NETLINK_ROUTE } from '../netlink/socket.js';
import type { NetNs } from '../netns.js';
import { SystemError } from '../sys/errno.js';
import * as libc from '../sys/libc.js';

/** rtnetlink multicast groups (enum rtnetlink_groups, linux/rtnetlink.h). */
export const RTNLGRP = { LINK: 1, IPV4_IFADDR: 5, IPV6_IFADDR: 9 } as const;

/**
 * Blocks until `check` returns undefined, reading it again each time the kernel reports a change in
 * `groups` of the namespace; `check` returns what is still missing, which the timeout error quotes.
 */
export function waitForKernel(
  netns: NetNs | undefined,
  groups: readonly number[],
  check: (client: SyncClient) => string | undefined,
  what: string,
  timeoutMs: number,
): void {
  const socket = NetlinkSocket.open(NETLINK_ROUTE, { family: rtnetlink, groups, ...(netns ? { netns } : {}) });
  const client = new SyncClient(socket);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const missing = check(client);
      if (missing === undefined) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: ${missing} after ${timeoutMs} ms`);
      try {
        socket.receiveNotification(left);
      } catch (err) {
        // Dropped announcements (ENOBUFS) or one the codec cannot read: either way, look again.
        if (!(err instanceof Error)) throw err;
      }
    }
  } finally {
    socket.close();
  }
}

const LOCK_EX = 2;
const LOCK_UN = 8;

/**
 * Runs `critical` (synchronous) holding an exclusive flock on `path`. The sections are synchronous and
 * short, so within one process they never overlap, and another process holds the lock only for the
 * few netlink requests of its own section: a blocking flock is the right wait.
 */
export function withFileLock<T>(path: string, critical: () => T): T {
  // node opens every file with O_CLOEXEC.
  const fd = openSync(path, constants.O_CREAT | constants.O_RDONLY, 0o600);
  try {
    for (;;) {
      try {
        libc.flock(fd, LOCK_EX);
        break;
      } catch (err) {
        if (!(err instanceof SystemError) || err.code !== 'EINTR') throw err;
      }
    }
    try {
      return critical();
    } finally {
      libc.flock(fd, LOCK_UN);
    }
  } finally {
    closeSync(fd);
  }
}
