// Captures the kernel's answer to an rtnetlink dump as hex, one netlink message per line, for golden tests.
// Run inside the namespace to capture, e.g.:
//   ip netns exec capns node dist/test/support/capture.js link > test/fixtures/rtnetlink/links.hex
// The request is built by hand here on purpose: fixtures must not depend on the encoder they test.
import * as libc from '../../src/sys/libc.js';

const requests: Record<string, { type: number; family: number; headerSize: number }> = {
  link: { type: 18, family: 0, headerSize: 16 }, // RTM_GETLINK, ifinfomsg
  address: { type: 22, family: 0, headerSize: 8 }, // RTM_GETADDR, ifaddrmsg
  route: { type: 26, family: 0, headerSize: 12 }, // RTM_GETROUTE, rtmsg
  route4: { type: 26, family: 2, headerSize: 12 },
  route6: { type: 26, family: 10, headerSize: 12 },
  neighbour: { type: 30, family: 0, headerSize: 12 }, // RTM_GETNEIGH, ndmsg
  fdb: { type: 30, family: 7, headerSize: 12 }, // AF_BRIDGE: the bridge FDB
  rule: { type: 34, family: 0, headerSize: 12 }, // RTM_GETRULE, fib_rule_hdr
  qdisc: { type: 38, family: 0, headerSize: 20 }, // RTM_GETQDISC, tcmsg
  filter: { type: 46, family: 0, headerSize: 20 }, // RTM_GETTFILTER, tcmsg (needs ifindex and parent: see below)
};

/** Dumps `what` and returns every message of the answer, NLMSG_DONE included, as separate buffers. */
export function captureDump(what: string, options: { ifindex?: number; parent?: number } = {}): Buffer[] {
  const req = requests[what];
  if (!req) throw new Error(`unknown dump ${what}; one of ${Object.keys(requests).join(', ')}`);
  const fd = libc.socket(libc.AF_NETLINK, libc.SOCK_RAW | libc.SOCK_CLOEXEC, 0);
  try {
    const addr = Buffer.alloc(12);
    addr.writeUInt16LE(libc.AF_NETLINK, 0);
    libc.bind(fd, addr);
    const len = 16 + req.headerSize;
    const msg = Buffer.alloc(len);
    msg.writeUInt32LE(len, 0);
    msg.writeUInt16LE(req.type, 4);
    msg.writeUInt16LE(0x301, 6); // NLM_F_REQUEST | NLM_F_DUMP
    msg.writeUInt32LE(1, 8);
    msg.writeUInt8(req.family, 16);
    if (req.headerSize === 20) {
      msg.writeInt32LE(options.ifindex ?? 0, 20);
      msg.writeUInt32LE(options.parent ?? 0, 28);
    }
    libc.sendto(fd, msg, addr);
    const out: Buffer[] = [];
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = libc.recv(fd, buf, 0);
      for (let p = 0; p < n; ) {
        const mlen = buf.readUInt32LE(p);
        const type = buf.readUInt16LE(p + 4);
        out.push(Buffer.from(buf.subarray(p, p + mlen)));
        if (type === 3 || type === 2) return out; // NLMSG_DONE or NLMSG_ERROR ends the dump
        p += (mlen + 3) & ~3;
      }
    }
  } finally {
    libc.close(fd);
  }
}

if (process.argv[1]?.endsWith('capture.js')) {
  const [what, ifindex, parent] = process.argv.slice(2);
  if (!what) {
    console.error(`usage: capture.js <${Object.keys(requests).join('|')}> [ifindex] [parent]`);
    process.exit(2);
  }
  const msgs = captureDump(what, { ifindex: Number(ifindex ?? 0), parent: Number(parent ?? 0) });
  for (const m of msgs) process.stdout.write(`${m.toString('hex')}\n`);
}
