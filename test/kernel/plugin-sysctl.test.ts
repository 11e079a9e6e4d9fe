// sysctl.ts reaches another namespace's /proc/sys/net by switching the calling thread with setns: the
// kernel resolves /proc/sys/net at open time in the opening thread's namespace. Checked here against
// two namespaces holding different values, and the test process's own, which must stay untouched.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { enableForwarding, FORWARDING, readSysctl, restoreSysctl, setSysctl, sysctlPath, writeSysctl } from '../../src/datapath/sysctl.js';
import { kernelTest, withNamespace } from '../support/kernel.js';
import { test } from 'node:test';

kernelTest('a sysctl read or written with a namespace is that namespace\'s', async () => {
  const own = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  await withNamespace((a) =>
    withNamespace((b) => {
      writeSysctl('net.ipv4.ip_forward', '1', a.ns);
      writeSysctl('net.ipv4.ip_forward', '0', b.ns);
      assert.equal(readSysctl('net.ipv4.ip_forward', a.ns), '1');
      assert.equal(readSysctl('net.ipv4.ip_forward', b.ns), '0');
      // A second opinion from a process started in each namespace.
      const cat = (name: string) => execFileSync('ip', ['netns', 'exec', name, 'cat', '/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).trim();
      assert.equal(cat(a.name), '1');
      assert.equal(cat(b.name), '0');
      assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), own, 'the test process\'s own value is untouched');

      const change = setSysctl(['net', 'ipv4', 'conf', 'lo', 'arp_ignore'], '8', b.ns);
      assert.equal(change.changed, true);
      assert.equal(readSysctl(['net', 'ipv4', 'conf', 'lo', 'arp_ignore'], b.ns), '8');
      assert.equal(readSysctl(['net', 'ipv4', 'conf', 'lo', 'arp_ignore'], a.ns), '0');
      restoreSysctl(change, b.ns);
      assert.equal(readSysctl(['net', 'ipv4', 'conf', 'lo', 'arp_ignore'], b.ns), change.previous);

      const changes = enableForwarding([4, 6], b.ns);
      assert.deepEqual(changes.map((c) => [c.key, c.changed]), [[FORWARDING[4], true], [FORWARDING[6], true]]);
      assert.equal(readSysctl(FORWARDING[6], b.ns), '1');
      assert.equal(readSysctl(FORWARDING[6], a.ns), '0');
      for (const c of changes.reverse()) restoreSysctl(c, b.ns);
      assert.equal(readSysctl(FORWARDING[4], b.ns), '0');
    }),
  );
});

test('sysctl keys are network sysctls without path tricks', () => {
  assert.equal(sysctlPath('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
  assert.equal(sysctlPath(['net', 'ipv4', 'conf', 'eth0.100', 'rp_filter']), '/proc/sys/net/ipv4/conf/eth0.100/rp_filter');
  for (const bad of ['kernel.panic', 'net', ['net', '..', 'x'], ['net', 'a/b'], ['net', '']]) assert.throws(() => sysctlPath(bad), TypeError);
});
