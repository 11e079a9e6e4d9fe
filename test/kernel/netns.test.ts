import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { after } from 'node:test';
import { NETLINK_ROUTE } from '../../src/netlink/socket.js';
import { createNamed, current, deleteNamed, listNamed, NetNs, openAsyncSocketIn, openSocketIn, runIn, validateName } from '../../src/netns.js';
import { SystemError } from '../../src/sys/errno.js';
import { ipNetnsList, isRoot, kernelTest, leftoverNamespaces, uniqueName, withNamespace } from '../support/kernel.js';

after(() => {
  if (isRoot) assert.deepEqual(leftoverNamespaces(), [], 'no test namespace is left behind');
});

/** How many links a dump of RTM_GETLINK returns through this socket-opening function. */
function linkCount(dump: (req: Buffer) => unknown[]): number {
  const req = Buffer.alloc(32);
  req.writeUInt32LE(32, 0);
  req.writeUInt16LE(18, 4); // RTM_GETLINK
  return dump(req).length;
}

kernelTest('createNamed and deleteNamed agree with ip netns list', () => {
  const name = uniqueName();
  const home = current();
  const path = createNamed(name);
  try {
    assert.equal(path, `/run/netns/${name}`);
    assert.equal(current(), home, 'the creating thread is back home');
    assert.ok(ipNetnsList().includes(name));
    assert.ok(listNamed().includes(name));
    // ip sees the very namespace we made, and it is a new one.
    const inside = execFileSync('ip', ['netns', 'exec', name, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' }).trim();
    const ns = NetNs.named(name);
    try {
      assert.equal(ns.id, inside);
      assert.notEqual(ns.id, home);
    } finally {
      ns.close();
    }
    // Mounted as iproute2 does: a bind mount of nsfs under a shared /run/netns.
    const mounts = execFileSync('findmnt', ['-J', '-o', 'TARGET,FSTYPE,PROPAGATION', path], { encoding: 'utf8' });
    assert.match(mounts, /"fstype": ?"nsfs"/);
    assert.match(execFileSync('findmnt', ['-n', '-o', 'PROPAGATION', '/run/netns'], { encoding: 'utf8' }), /shared/);
    assert.throws(() => createNamed(name), (e: unknown) => e instanceof SystemError && e.code === 'EEXIST');
  } finally {
    deleteNamed(name);
  }
  assert.ok(!ipNetnsList().includes(name));
  assert.ok(!existsSync(path));
  assert.throws(() => deleteNamed(name), /ENOENT/);
});

kernelTest('names that are not plain file names are refused before anything is created', () => {
  const before = ipNetnsList();
  for (const bad of ['', '.', '..', 'a/b', '../etc', 'x\0y', 'n'.repeat(256)]) {
    assert.throws(() => validateName(bad), TypeError);
    assert.throws(() => createNamed(bad), TypeError);
    assert.throws(() => deleteNamed(bad), TypeError);
    assert.throws(() => NetNs.named(bad), TypeError);
  }
  assert.deepEqual(ipNetnsList(), before);
});

kernelTest('runIn runs fn inside the namespace and switches back, also when fn throws', () =>
  withNamespace((n) => {
    const home = current();
    assert.equal(runIn(n.ns, () => current()), n.ns.id);
    assert.equal(current(), home);
    assert.throws(() => runIn(n.ns, () => { throw new Error('boom'); }), /boom/);
    assert.equal(current(), home, 'back home after a throw');
    // Nested: inner switches return to the outer namespace, the outer to home.
    withNamespaceSync((other) => {
      const seen = runIn(n.ns, () => [current(), runIn(other, () => current()), current()]);
      assert.deepEqual(seen, [n.ns.id, other.id, n.ns.id]);
    });
    assert.equal(current(), home);
  }));

kernelTest('runIn refuses async functions and promises: awaiting while switched is forbidden', () =>
  withNamespace((n) => {
    const home = current();
    let called = false;
    assert.throws(() => runIn(n.ns, async () => { called = true; }), /must be synchronous/);
    assert.equal(called, false, 'an async function is refused before it runs');
    assert.throws(() => runIn(n.ns, () => Promise.reject(new Error('late'))), /returned a promise/);
    assert.equal(current(), home);
  }));

kernelTest('open a namespace by path and by pid', () =>
  withNamespace(async (n) => {
    const byPath = NetNs.open(`/run/netns/${n.name}`);
    const home = NetNs.current();
    const self = NetNs.ofPid(process.pid);
    const child = spawn('ip', ['netns', 'exec', n.name, 'sleep', '30'], { stdio: 'ignore' });
    try {
      assert.equal(byPath.id, n.ns.id);
      assert.equal(home.id, current());
      assert.equal(self.id, current());
      // Wait until ip has switched namespaces and exec'd sleep.
      const pid = child.pid!;
      for (let i = 0; i < 200 && readlinkSync(`/proc/${pid}/ns/net`) !== n.ns.id; i++) await new Promise((r) => setTimeout(r, 10));
      const ofChild = NetNs.ofPid(pid);
      assert.equal(ofChild.id, n.ns.id);
      ofChild.close();
    } finally {
      child.kill();
      for (const ns of [byPath, home, self]) ns.close();
    }
    assert.throws(() => NetNs.ofPid(0), RangeError);
    assert.throws(() => NetNs.ofPid(1.5), RangeError);
    assert.throws(() => byPath.id, /closed/);
    assert.throws(() => runIn(byPath, () => 1), /closed/);
  }));

kernelTest('only network namespaces can be opened', () => {
  assert.throws(() => NetNs.open('/etc/hostname'), /is not a network namespace/);
  assert.throws(() => NetNs.open('/proc/self/ns/uts'), /is not a network namespace/);
  assert.throws(() => NetNs.open('/run/netns/sl-no-such-namespace'), (e: unknown) => e instanceof SystemError && e.code === 'ENOENT');
});

kernelTest('openSocketIn and openAsyncSocketIn open sockets bound to the namespace and come back home', () =>
  withNamespace(async (a) => {
    a.ipBatch(['link add br-a1 type bridge', 'link add br-a2 type bridge']);
    const home = current();
    const sync = openSocketIn(a.ns, NETLINK_ROUTE);
    const async_ = openAsyncSocketIn(a.ns, NETLINK_ROUTE);
    try {
      assert.equal(current(), home);
      assert.equal(linkCount((req) => sync.dump(req)), 3);
      assert.equal((await async_.dump(Buffer.from(dumpReq()))).length, 3);
      await withNamespace((b) => {
        const other = openSocketIn(b.ns, NETLINK_ROUTE);
        try {
          assert.equal(linkCount((req) => other.dump(req)), 1, 'a fresh namespace has only lo');
        } finally {
          other.close();
        }
      });
    } finally {
      sync.close();
      await async_.close();
    }
  }));

function dumpReq(): Buffer {
  const req = Buffer.alloc(32);
  req.writeUInt32LE(32, 0);
  req.writeUInt16LE(18, 4);
  return req;
}

/** A namespace for synchronous use inside another test: created, opened, and always removed. */
function withNamespaceSync(fn: (ns: NetNs) => void): void {
  const name = uniqueName();
  createNamed(name);
  const ns = NetNs.named(name);
  try {
    fn(ns);
  } finally {
    ns.close();
    deleteNamed(name);
  }
}
