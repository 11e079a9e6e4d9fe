// The eBPF data path against the real kernel, between namespaces the tests create. The node
// namespace never forwards (ip_forward 0) unless a test says so: traffic between the pods then flows
// only when the program redirects it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after } from 'node:test';
import { Datapath } from '../../src/bpf/datapath.js';
import { closeFd, linkInfo, objGet } from '../../src/bpf/syscall.js';
import { ipNetnsList } from '../support/kernel.js';
import { bpfTest, eventually, pinRootPrefix, ping, PING_FRAME_V4, PING_FRAME_V6, tcpClient, tcpServer, withTopology, type Topology } from '../support/bpf.js';

const PINGS = 5;

function linkOf(pin: string): ReturnType<typeof linkInfo> {
  const fd = objGet(pin);
  try {
    return linkInfo(fd);
  } finally {
    closeFd(fd);
  }
}

async function install(t: Topology, options: { forceClsBpf?: boolean } = {}): Promise<Datapath> {
  const dp = await Datapath.open({ pinRoot: t.pinRoot, netns: t.node.ns, ...options });
  for (const pod of [t.a, t.b]) {
    dp.upsertEndpoint(pod.endpoint);
    dp.resetCounters(pod.endpoint.id);
    dp.attach(pod.hostIfname);
  }
  return dp;
}

after(() => {
  const ours = ipNetnsList().filter((n) => n.startsWith(`sl-t${process.pid}-`));
  assert.deepEqual(ours, [], 'every namespace the tests created is gone');
  const pins = existsSync('/sys/fs/bpf') ? readdirSync('/sys/fs/bpf').filter((n) => `/sys/fs/bpf/${n}`.startsWith(pinRootPrefix)) : [];
  assert.deepEqual(pins, [], 'every pin root the tests created is gone');
});

bpfTest('pods reach each other only by redirect, and the counters move by what was sent', 120_000, async () => {
  await withTopology({}, async (t) => {
    assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { waitMs: 500 }), 0, 'the node does not forward: no path without the program');

    const dp = await install(t);
    try {
      assert.equal(dp.attachMode, 'tcx');
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: PINGS }), PINGS, 'every echo answered by redirect');

      const a = dp.counters(t.a.endpoint.id);
      const b = dp.counters(t.b.endpoint.id);
      const expected = { packets: BigInt(PINGS), bytes: BigInt(PINGS * PING_FRAME_V4), drops: 0n };
      assert.deepEqual(a.egress, expected, 'A sent the requests');
      assert.deepEqual(b.ingress, expected, 'B received them by redirect');
      assert.deepEqual(b.egress, expected, 'B sent the replies');
      assert.deepEqual(a.ingress, expected, 'A received them by redirect');

      // TCP: a fixed amount, all of it delivered.
      const size = 8 * 1024 * 1024;
      const server = await tcpServer(t.b.ns, t.b.ipv4, 5201);
      const client = tcpClient(t.a.ns, t.b.ipv4, 5201, size);
      assert.equal(await client.line(), 'connected');
      assert.deepEqual(JSON.parse(await client.line()), { sent: size });
      assert.deepEqual(JSON.parse(await server.line()), { received: size });
      assert.equal((await client.exit()).code, 0);
      assert.equal((await server.exit()).code, 0);
      assert.ok(dp.counters(t.b.endpoint.id).ingress.bytes - b.ingress.bytes > BigInt(size), 'the stream went through the program');
    } finally {
      dp.close();
    }
  });
});

bpfTest('IPv6 pods reach each other by redirect', 120_000, async () => {
  await withTopology({ ipv6: true }, async (t) => {
    const dp = await install(t);
    try {
      assert.equal(await ping(t.a.ns.ns, t.b.ipv6!, { count: PINGS }), PINGS);
      const expected = { packets: BigInt(PINGS), bytes: BigInt(PINGS * PING_FRAME_V6), drops: 0n };
      assert.deepEqual(dp.counters(t.b.endpoint.id).ingress, expected, 'B received the requests by redirect');
      assert.deepEqual(dp.counters(t.a.endpoint.id).ingress, expected, 'A received the replies by redirect');
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 1 }), 1, 'IPv4 works beside it');
    } finally {
      dp.close();
    }
  });
});

bpfTest('a spoofed source address or MAC is dropped and counted', 120_000, async () => {
  await withTopology({}, async (t) => {
    const dp = await install(t);
    try {
      t.a.ns.ip('addr', 'add', '10.213.0.99/32', 'dev', 'eth0');
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 3, source: '10.213.0.99', waitMs: 500 }), 0);
      assert.equal(dp.counters(t.a.endpoint.id).egress.drops, 3n, 'three packets from a foreign address dropped');
      assert.equal(dp.counters(t.b.endpoint.id).ingress.packets, 0n, 'none reached B');

      // A new MAC flushes even permanent neighbour entries: put the gateway's back so the pod sends at once.
      const spoofMac = (mac: string) => {
        t.a.ns.ip('link', 'set', 'dev', 'eth0', 'address', mac);
        t.a.ns.ip('neigh', 'replace', '169.254.1.1', 'lladdr', t.a.gatewayMac, 'dev', 'eth0', 'nud', 'permanent');
      };
      spoofMac('02:00:00:00:0a:99');
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 2, waitMs: 500 }), 0);
      assert.equal(dp.counters(t.a.endpoint.id).egress.drops, 5n, 'two frames from a foreign MAC dropped');

      spoofMac(t.a.podMac);
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 1 }), 1, 'its own addresses pass again');

      dp.upsertEndpoint({ ...t.a.endpoint, anySource: true });
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 1, source: '10.213.0.99', waitMs: 500 }), 0, 'B has no route back to the foreign address');
      assert.equal(dp.counters(t.a.endpoint.id).egress.drops, 5n, 'with anySource the foreign address is not dropped');
      assert.equal(dp.counters(t.b.endpoint.id).ingress.packets, 2n, 'and it is redirected');
    } finally {
      dp.close();
    }
  });
});

bpfTest('removing an endpoint falls back to the kernel path', 120_000, async () => {
  await withTopology({}, async (t) => {
    const dp = await install(t);
    try {
      dp.removeEndpoint(t.b.endpoint);
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { waitMs: 500 }), 0, 'not redirected, and the node does not forward');
      t.setForwarding(true);
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: PINGS }), PINGS, 'the kernel routes it');
      assert.equal(dp.counters(t.b.endpoint.id).ingress.packets, 0n, 'nothing was redirected to B');
      assert.equal(dp.counters(t.a.endpoint.id).ingress.packets, 0n, "B's replies take the kernel path too: its device is no longer ours");

      dp.upsertEndpoint({ ...t.b.endpoint, kernelPath: true });
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 1 }), 1);
      assert.equal(dp.counters(t.b.endpoint.id).ingress.packets, 0n, 'kernelPath: still the kernel path');
    } finally {
      dp.close();
    }
  });
});

bpfTest('a second open reuses the pinned program and maps', 60_000, async () => {
  await withTopology({}, async (t) => {
    const first = await install(t);
    const second = await Datapath.open({ pinRoot: t.pinRoot, netns: t.node.ns });
    try {
      assert.deepEqual(second.mapIds, first.mapIds);
      assert.equal(second.program.id, first.program.id);
      second.attach(t.a.hostIfname); // already attached: kept as it is
      assert.equal(linkOf(`${t.pinRoot}/links/${t.a.hostIfname}-ingress`).progId, first.program.id);
      first.close();
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 2 }), 2, 'the pinned links keep working without the first process');
      assert.equal(second.counters(t.b.endpoint.id).ingress.packets, 2n, 'and the second sees the same counters');

      const upgraded = await second.upgrade({ force: true });
      assert.equal(upgraded.moved, 2, "the second process moves the links the first one made");
      assert.equal(linkOf(`${t.pinRoot}/links/${t.b.hostIfname}-ingress`).progId, upgraded.programId);
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 1 }), 1);
    } finally {
      first.close();
      second.close();
    }
  });
});

bpfTest('an upgrade swaps the program on the links while a TCP stream keeps flowing', 180_000, async () => {
  await withTopology({}, async (t) => {
    const dp = await install(t);
    try {
      const pinA = `${t.pinRoot}/links/${t.a.hostIfname}-ingress`;
      const before = linkOf(pinA);
      const server = await tcpServer(t.b.ns, t.b.ipv4, 5202);
      const client = tcpClient(t.a.ns, t.b.ipv4, 5202, 0);
      assert.equal(await client.line(), 'connected');
      const bytesToB = () => dp.counters(t.b.endpoint.id).ingress.bytes;
      await eventually('the stream flows', () => bytesToB() > 4n << 20n);

      const result = await dp.upgrade({ force: true });
      assert.equal(result.swapped, true);
      assert.equal(result.moved, 2, 'both links moved');
      assert.notEqual(result.programId, result.previousProgramId);
      const afterSwap = linkOf(pinA);
      assert.equal(afterSwap.id, before.id, 'the same link');
      assert.equal(afterSwap.progId, result.programId, 'now running the new program');
      assert.equal(dp.program.id, result.programId);

      const atSwap = bytesToB();
      await eventually('the stream keeps flowing through the new program', () => bytesToB() > atSwap + (4n << 20n));
      client.process.stdin.end();
      const { sent } = JSON.parse(await client.line()) as { sent: number };
      const { received } = JSON.parse(await server.line()) as { received: number };
      assert.equal(received, sent, 'every byte arrived');
      assert.deepEqual(await client.exit(), { code: 0, stderr: '' });
      assert.deepEqual(await server.exit(), { code: 0, stderr: '' });

      const again = await dp.upgrade();
      assert.equal(again.swapped, false, 'the same object again: nothing to swap');
    } finally {
      dp.close();
    }
  });
});

bpfTest('the cls_bpf fallback (forced) passes the same traffic, upgrades and detaches', 120_000, async () => {
  await withTopology({}, async (t) => {
    const dp = await install(t, { forceClsBpf: true });
    try {
      assert.equal(dp.attachMode, 'cls_bpf');
      assert.deepEqual(readdirSync(`${t.pinRoot}/links`), [], 'no TCX links');
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: PINGS }), PINGS);
      const expected = { packets: BigInt(PINGS), bytes: BigInt(PINGS * PING_FRAME_V4), drops: 0n };
      assert.deepEqual(dp.counters(t.b.endpoint.id).ingress, expected);
      assert.deepEqual(dp.counters(t.a.endpoint.id).ingress, expected);

      const result = await dp.upgrade({ force: true });
      assert.equal(result.moved, 2, 'both filters replaced');
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 1 }), 1);

      const later = await Datapath.open({ pinRoot: t.pinRoot, netns: t.node.ns });
      try {
        const again = await later.upgrade({ force: true });
        assert.equal(again.moved, 2, 'a later process, not told about cls_bpf, finds and replaces the filters');
      } finally {
        later.close();
      }
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 1 }), 1);

      assert.equal(dp.detach(t.b.hostIfname), true);
      assert.equal(dp.detach(t.b.hostIfname), false, 'detaching again is fine');
      assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { waitMs: 500 }), 0, "B's replies are no longer redirected");
    } finally {
      dp.close();
    }
  });
});

bpfTest('detach is idempotent and uninstall removes every pin and link', 60_000, async () => {
  await withTopology({}, async (t) => {
    const dp = await install(t);
    assert.equal(dp.detach(t.a.hostIfname), true);
    assert.equal(dp.detach(t.a.hostIfname), false);
    assert.equal(dp.detach('nosuchdev'), false);
    assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { waitMs: 500 }), 0, 'detached: no redirect');
    dp.attach(t.a.hostIfname);
    assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { count: 1 }), 1);
    await dp.uninstall();
    assert.equal(existsSync(t.pinRoot), false, 'the pin root is gone');
    assert.equal(await ping(t.a.ns.ns, t.b.ipv4, { waitMs: 500 }), 0, 'and with it the links');
  });
});
