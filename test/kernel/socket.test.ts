import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { nest, NLA_F_NESTED, space } from '../../src/netlink/attributes.js';
import { AsyncNetlinkSocket, SocketClosedError } from '../../src/netlink/async-socket.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import { encodeAny, encodeMessage, Family, messageKind, NLM_F, type AnyMessage } from '../../src/netlink/message.js';
import { NETLINK_ROUTE, NetlinkSocket, rawOf, sockaddrNl } from '../../src/netlink/socket.js';
import { current, openAsyncSocketIn, openSocketIn } from '../../src/netns.js';
import * as libc from '../../src/sys/libc.js';
import { cstring, ipaddr, pad, s32, struct, u16, u32, u8 } from '../../src/netlink/types.js';
import { isRoot, kernelTest, leftoverNamespaces, withNamespace } from '../support/kernel.js';

// A tiny rtnetlink family of our own, so these tests do not depend on the real object tables.
const link = messageKind({
  name: 'link',
  headerKey: 'ifinfo',
  header: struct('ifinfomsg', { family: u8, _pad: pad(1), type: u16, index: s32, flags: u32, change: u32 }),
  attrs: space('IFLA', {
    3: ['ifname', cstring],
    4: ['mtu', u32],
    18: ['linkinfo', nest(space('IFLA_INFO', { 1: ['kind', cstring] })), { flags: NLA_F_NESTED }],
  }),
  types: { 16: 'RTM_NEWLINK', 17: 'RTM_DELLINK', 18: 'RTM_GETLINK' },
});
const route = messageKind({
  name: 'route',
  headerKey: 'rtmsg',
  header: struct('rtmsg', { family: u8, dstLen: u8, srcLen: u8, tos: u8, table: u8, protocol: u8, scope: u8, type: u8, flags: u32 }),
  attrs: space('RTA', { 1: ['dst', ipaddr], 4: ['oif', u32], 15: ['table', u32] }),
  types: { 24: 'RTM_NEWROUTE', 25: 'RTM_DELROUTE', 26: 'RTM_GETROUTE' },
});
const family = new Family('rtnetlink (test)', [link, route]);

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_GETROUTE = 26;
const RTNLGRP_LINK = 1;
const AF_INET = 2;

type LinkMessage = AnyMessage & { ifinfo: { index: number }; attrs: { ifname?: string } };

const newBridge = (name: string) =>
  encodeMessage(link, { header: { type: RTM_NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL }, attrs: { ifname: name, linkinfo: { kind: 'bridge' } } });
const delLink = (name: string) => encodeMessage(link, { header: { type: RTM_DELLINK }, attrs: { ifname: name } });
const getLinks = () => encodeMessage(link, { header: { type: RTM_GETLINK } });
const getLink = (index: number) => encodeMessage(link, { header: { type: RTM_GETLINK }, ifinfo: { index } });
const getRoutes = (af: number) => encodeMessage(route, { header: { type: RTM_GETROUTE }, rtmsg: { family: af } });

const links = (msgs: AnyMessage[]) => msgs.filter((m): m is LinkMessage => m.kind === 'link');
const ifnames = (msgs: AnyMessage[]) => links(msgs).map((m) => m.attrs.ifname);

function assertRoundTrips(msgs: AnyMessage[]): void {
  for (const m of msgs) {
    const raw = rawOf(m);
    assert.ok(raw, 'every received message keeps its bytes');
    assert.ok(encodeAny(family, m).equals(raw), `${m.kind} re-encodes to the bytes the kernel sent`);
  }
}

after(() => {
  if (isRoot) assert.deepEqual(leftoverNamespaces(), [], 'no test namespace is left behind');
});

// ---- the synchronous socket ----

kernelTest('a request with ACK creates a link and returns no replies', () =>
  withNamespace((n) => {
    const before = current();
    const sock = openSocketIn(n.ns, NETLINK_ROUTE, { family });
    try {
      assert.equal(current(), before, 'back in our own namespace');
      assert.deepEqual(sock.request(newBridge('br-ack'), 'RTM_NEWLINK br-ack'), []);
      assert.deepEqual(n.ipJson('link', 'show', 'br-ack').map((l) => l.ifname), ['br-ack']);
      const [lo] = sock.request(getLink(1), 'RTM_GETLINK 1');
      assert.equal((lo as LinkMessage).attrs.ifname, 'lo', 'a get answers the object before its ACK');
      assertRoundTrips([lo!]);
    } finally {
      sock.close();
    }
  }));

kernelTest('a failing RTM_NEWLINK throws a NetlinkError with the errno name, extended ACK and request', () =>
  withNamespace((n) => {
    const sock = openSocketIn(n.ns, NETLINK_ROUTE, { family });
    try {
      const bogus = encodeMessage(link, { header: { type: RTM_NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL }, attrs: { ifname: 'sl-bogus', linkinfo: { kind: 'sl-nosuchkind' } } });
      assert.throws(() => sock.request(bogus, 'RTM_NEWLINK sl-bogus'), (e: unknown) => {
        assert.ok(e instanceof NetlinkError);
        assert.equal(e.code, 'EOPNOTSUPP');
        assert.equal(e.request, 'RTM_NEWLINK sl-bogus');
        assert.equal(e.ack.message, 'Unknown device type');
        assert.match(e.message, /^RTM_NEWLINK sl-bogus: EOPNOTSUPP: Unknown device type/);
        return true;
      });

      // The extended ACK's offset points at the offending attribute in our request: IFLA_MTU here.
      const tiny = encodeMessage(link, { header: { type: RTM_NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL }, attrs: { ifname: 'x', mtu: 10, linkinfo: { kind: 'bridge' } } });
      const mtuAt = 16 + 16 + 8; // nlmsghdr, ifinfomsg, IFLA_IFNAME "x\0" padded to 8
      const shortMtu = Buffer.from(tiny);
      shortMtu.writeUInt16LE(6, mtuAt); // IFLA_MTU with 2 bytes of payload: fails the policy
      assert.throws(() => sock.request(shortMtu), (e: unknown) => {
        assert.ok(e instanceof NetlinkError);
        assert.equal(e.request, 'RTM_NEWLINK', 'described by the message type when the caller says nothing');
        assert.equal(e.ack.offset, mtuAt);
        assert.match(e.message, /Attribute failed policy validation/);
        return true;
      });
      assert.throws(() => sock.request(tiny, 'RTM_NEWLINK x'), /RTM_NEWLINK x: EINVAL: mtu less than device minimum/);
      assert.deepEqual(n.ipJson('link').map((l) => l.ifname), ['lo'], 'nothing was created');
    } finally {
      sock.close();
    }
  }));

kernelTest('a dump spanning many datagrams returns every route, as ip -j sees them', () =>
  withNamespace((n) => {
    n.ip('link', 'set', 'lo', 'up');
    n.ipBatch(Array.from({ length: 1000 }, (_, i) => `route add blackhole 10.${i >> 8}.${i & 255}.0/24`));
    const sock = openSocketIn(n.ns, NETLINK_ROUTE, { family });
    try {
      const routes = sock.dump(getRoutes(AF_INET), 'RTM_GETROUTE inet');
      const seen = n.ipJson('-4', 'route', 'show', 'table', 'all');
      assert.equal(routes.length, seen.length);
      assert.ok(routes.length >= 1000);
      assert.ok(sock.stats.datagrams > 1, `the dump spanned ${sock.stats.datagrams} datagrams`);
      assert.ok(routes.every((m) => m.kind === 'route'));
      assertRoundTrips(routes);
      // The socket is reusable right after: the dump was read to its end.
      assert.equal(sock.dump(getRoutes(AF_INET)).length, routes.length);
    } finally {
      sock.close();
    }
  }));

kernelTest('the read buffer grows to fit datagrams larger than it: nothing is truncated or dropped', () =>
  withNamespace((n) => {
    n.ipBatch(Array.from({ length: 40 }, (_, i) => `link add br${i} type bridge`));
    const sock = openSocketIn(n.ns, NETLINK_ROUTE, { family, readBufferSize: 64 });
    try {
      const dumped = sock.dump(getLinks(), 'RTM_GETLINK');
      assert.ok(sock.readBufferSize > 1024, `grew to ${sock.readBufferSize}`);
      assert.deepEqual(ifnames(dumped).sort(), n.ipJson('link').map((l) => l.ifname as string).sort());
      assertRoundTrips(dumped);
    } finally {
      sock.close();
    }
  }));

kernelTest('messages not sent by the kernel are ignored, however well they imitate a reply', () =>
  withNamespace((n) => {
    const sock = openSocketIn(n.ns, NETLINK_ROUTE, { family });
    const impostor = openSocketIn(n.ns, NETLINK_ROUTE);
    try {
      // A forged EPERM "ACK" for each of the next few seqs, sent to our port by another socket.
      for (let seq = 1; seq <= 3; seq++) {
        const fake = Buffer.alloc(36);
        fake.writeUInt32LE(36, 0);
        fake.writeUInt16LE(2, 4); // NLMSG_ERROR
        fake.writeUInt16LE(NLM_F.CAPPED, 6);
        fake.writeUInt32LE(seq, 8);
        fake.writeUInt32LE(sock.port, 12);
        fake.writeInt32LE(-1, 16);
        libc.sendto(impostor.fd, fake, sockaddrNl(sock.port, 0));
      }
      const [lo] = sock.request(getLink(1));
      assert.equal((lo as LinkMessage).attrs.ifname, 'lo');
      assert.ok(sock.stats.ignored >= 1);
    } finally {
      impostor.close();
      sock.close();
    }
  }));

kernelTest('a socket in RTNLGRP_LINK is notified of a new link', () =>
  withNamespace((n) => {
    const watcher = openSocketIn(n.ns, NETLINK_ROUTE, { family, groups: [RTNLGRP_LINK] });
    try {
      assert.equal(watcher.receiveNotification(0), undefined, 'nothing yet');
      n.ip('link', 'add', 'br-note', 'type', 'bridge');
      const note = waitForLink(() => watcher.receiveNotification(5000), 'br-note');
      assert.equal(note.header.type, RTM_NEWLINK);
      assertRoundTrips([note]);

      // A notification that arrives while a request waits for its ACK is kept for later.
      watcher.request(newBridge('br-own'));
      assert.equal(waitForLink(() => watcher.receiveNotification(0), 'br-own').header.type, RTM_NEWLINK);

      watcher.dropMembership(RTNLGRP_LINK);
      n.ip('link', 'add', 'br-late', 'type', 'bridge');
      assert.throws(() => watcher.receiveNotification(0), /joined no multicast group/);
    } finally {
      watcher.close();
    }
  }));

function waitForLink(next: () => AnyMessage | undefined, ifname: string): LinkMessage {
  for (;;) {
    const m = next();
    assert.ok(m, `a notification for ${ifname}`);
    if (m.kind === 'link' && (m as LinkMessage).attrs.ifname === ifname) return m as LinkMessage;
  }
}

// ---- the non-blocking socket ----

kernelTest('async: 50 concurrent requests complete while the event loop keeps turning', () =>
  withNamespace(async (n) => {
    const sock = openAsyncSocketIn(n.ns, NETLINK_ROUTE, { family });
    let turns = 0;
    let turnsWhileOutstanding = 0;
    let maxInFlight = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (sock.inFlight > 0) turnsWhileOutstanding++;
      maxInFlight = Math.max(maxInFlight, sock.inFlight);
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    try {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sock.request(newBridge(`brc${i}`), `RTM_NEWLINK brc${i}`)));
      assert.deepEqual(results, Array.from({ length: 50 }, () => []));
      assert.ok(maxInFlight > 1, `requests were in flight together (at most ${maxInFlight})`);
      assert.ok(turnsWhileOutstanding > 0, `the event loop turned ${turnsWhileOutstanding} times while requests were outstanding (${turns} in all)`);
      assert.equal(n.ipJson('link', 'show', 'type', 'bridge').length, 50);

      // Errors come back to the request that caused them, not to its neighbours.
      const mixed = await Promise.allSettled([sock.request(newBridge('brc0')), sock.request(newBridge('brc-new')), sock.request(getLink(1))]);
      assert.equal(mixed[0].status, 'rejected');
      assert.match(String((mixed[0] as PromiseRejectedResult).reason), /RTM_NEWLINK: EEXIST/);
      assert.equal(mixed[1].status, 'fulfilled');
      assert.equal(ifnames((mixed[2] as PromiseFulfilledResult<AnyMessage[]>).value)[0], 'lo');

      // Deleting links is slow in the kernel (RCU grace periods under rtnl_lock): about a second for 50.
      // The kernel does that work inside sendto, on the pool: a 1 ms interval keeps firing meanwhile.
      let intervals = 0;
      let intervalsWhileOutstanding = 0;
      const interval = setInterval(() => {
        intervals++;
        if (sock.inFlight > 0) intervalsWhileOutstanding++;
      }, 1);
      const started = Date.now();
      try {
        await Promise.all(Array.from({ length: 50 }, (_, i) => sock.request(delLink(`brc${i}`), `RTM_DELLINK brc${i}`)));
      } finally {
        clearInterval(interval);
      }
      const took = Date.now() - started;
      assert.ok(intervalsWhileOutstanding >= Math.min(20, took / 10), `a 1 ms interval fired ${intervalsWhileOutstanding} times (of ${intervals}) during ${took} ms of deletions`);
      assert.equal(n.ipJson('link', 'show', 'type', 'bridge').length, 1, 'only brc-new is left');
    } finally {
      ticking = false;
      await sock.close();
    }
  }));

kernelTest('async: dumps issued together run one after another and all complete', () =>
  withNamespace(async (n) => {
    n.ipBatch(Array.from({ length: 300 }, (_, i) => `route add blackhole 10.1.${i >> 8}.${i & 255}/32`));
    n.ipBatch(Array.from({ length: 20 }, (_, i) => `link add brd${i} type bridge`));
    const sock = openAsyncSocketIn(n.ns, NETLINK_ROUTE, { family });
    try {
      const [r1, l1, r2, ack, l2] = await Promise.all([
        sock.dump(getRoutes(AF_INET)), sock.dump(getLinks()), sock.dump(getRoutes(AF_INET)), sock.request(newBridge('brd-x')), sock.dump(getLinks()),
      ]);
      const routeCount = n.ipJson('-4', 'route', 'show', 'table', 'all').length;
      assert.equal(r1.length, routeCount);
      assert.equal(r2.length, routeCount);
      assert.deepEqual(ack, []);
      const expected = ['lo', ...Array.from({ length: 20 }, (_, i) => `brd${i}`)];
      for (const dumped of [l1, l2]) assert.ok(expected.every((x) => ifnames(dumped).includes(x)));
      assertRoundTrips([...r1, ...l1]);
      assert.ok(sock.stats.datagrams > 4);
    } finally {
      await sock.close();
    }
  }));

kernelTest('async: notifications arrive through the async iterator and the callback', () =>
  withNamespace(async (n) => {
    const sock = openAsyncSocketIn(n.ns, NETLINK_ROUTE, { family, groups: [RTNLGRP_LINK] });
    try {
      const heard: string[] = [];
      const stop = sock.onNotification((m) => heard.push(`${m.kind}:${(m as LinkMessage).attrs.ifname}`));
      const iterator = sock.notifications();
      // `ip` runs as a separate process while we wait: the event loop stays free.
      await promisify(execFile)('ip', ['-n', n.name, 'link', 'add', 'br-iter', 'type', 'bridge']);
      let found: LinkMessage | undefined;
      for await (const m of iterator) {
        if (m.kind === 'link' && (m as LinkMessage).attrs.ifname === 'br-iter') {
          found = m as LinkMessage;
          break; // calls iterator.return()
        }
      }
      assert.equal(found?.header.type, RTM_NEWLINK);
      assert.ok(heard.includes('link:br-iter'));
      stop();
    } finally {
      await sock.close();
    }
  }));

kernelTest('async: close() rejects what is pending and frees every pool thread', () =>
  withNamespace(async (n) => {
    // One socket per libuv pool thread, each with a listener: each holds a thread in poll().
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const sockets = Array.from({ length: poolSize }, () => openAsyncSocketIn(n.ns, NETLINK_ROUTE, { family, groups: [RTNLGRP_LINK] }));
    const ended: boolean[] = [];
    for (const s of sockets) s.onNotification(() => {});
    const iterator = sockets[0]!.notifications();
    const ending = iterator.next().then((r) => ended.push(r.done === true));
    await new Promise((r) => setTimeout(r, 50));

    const pending = assert.rejects(sockets[1]!.request(newBridge('br-closed')), SocketClosedError);
    await Promise.all(sockets.map((s) => s.close()));
    await pending;
    await ending;
    assert.deepEqual(ended, [true], 'the iterator ended');
    await assert.rejects(sockets[0]!.request(getLink(1)), SocketClosedError);
    assert.throws(() => sockets[0]!.onNotification(() => {}), SocketClosedError);

    // Every pool thread is free again: as many pool jobs as threads all finish promptly.
    const started = Date.now();
    await Promise.all(Array.from({ length: poolSize }, () => promisify(pbkdf2)('x', 'y', 1, 16, 'sha256')));
    assert.ok(Date.now() - started < 2000);
  }));

kernelTest('async: a socket with nothing pending holds no pool thread and lets the process exit', async () => {
  // Run in a child: it must exit on its own with an open, idle socket that has done some work.
  const code = `
    import { AsyncNetlinkSocket } from ${JSON.stringify(new URL('../../src/netlink/async-socket.js', import.meta.url).href)};
    const s = AsyncNetlinkSocket.open(0);
    const req = Buffer.alloc(32); req.writeUInt32LE(32, 0); req.writeUInt16LE(18, 4); req.writeInt32LE(1, 20);
    const r = await s.request(req);
    console.log(r.length);
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], { timeout: 10_000 });
  assert.equal(stdout.trim(), '1');
});

kernelTest('a NetlinkSocket opened without a namespace works in ours', () => {
  // Read-only: one RTM_GETLINK for lo in the test runner's own namespace.
  const sock = NetlinkSocket.open(NETLINK_ROUTE, { family });
  try {
    assert.equal(ifnames(sock.request(getLink(1)))[0], 'lo');
    assert.ok(sock.port > 0);
  } finally {
    sock.close();
  }
});

kernelTest('AsyncNetlinkSocket.open with the netns option', () =>
  withNamespace(async (n) => {
    const sock = AsyncNetlinkSocket.open(NETLINK_ROUTE, { family, netns: n.ns });
    try {
      assert.deepEqual(ifnames(await sock.dump(getLinks())), ['lo']);
    } finally {
      await sock.close();
    }
  }));
