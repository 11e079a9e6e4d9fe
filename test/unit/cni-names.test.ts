import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { hostVethName } from '../../src/cni/names.js';
import { interfaceNameProblem } from '../../src/cni/values.js';

test('the host veth name is sl + 13 hex digits of sha256(containerID/ifname)', () => {
  // sha256("abc/eth0") starts with 538f587a23655...
  assert.equal(hostVethName('abc', 'eth0'), 'sl538f587a23655');
  assert.equal(hostVethName('abc', 'eth0'), hostVethName('abc', 'eth0'));
});

test('it is always 15 bytes and a valid interface name, whatever the prefix', () => {
  for (const prefix of ['s', 'sl', 'slc', 'x_-']) {
    const name = hostVethName('c'.repeat(255), 'eth0', prefix);
    assert.equal(Buffer.byteLength(name), 15);
    assert.ok(name.startsWith(prefix));
    assert.equal(interfaceNameProblem(name), undefined);
  }
  assert.throws(() => hostVethName('abc', 'eth0', 'slcx'), RangeError);
  assert.throws(() => hostVethName('abc', 'eth0', ''), RangeError);
});

test('the separator keeps attachments apart that plain concatenation would merge', () => {
  assert.notEqual(hostVethName('ab', 'ceth0'), hostVethName('abc', 'eth0'));
  assert.notEqual(hostVethName('abc', 'eth0'), hostVethName('abc', 'eth1'));
  assert.notEqual(hostVethName('abc', 'eth0'), hostVethName('abd', 'eth0'));
});

test('no collisions among 100,000 attachments', () => {
  const seen = new Map<string, string>();
  for (let i = 0; i < 100_000; i++) {
    const id = randomBytes(32).toString('hex');
    const ifname = i % 3 === 0 ? 'net1' : 'eth0';
    const name = hostVethName(id, ifname);
    assert.equal(seen.get(name), undefined, `collision: ${name}`);
    seen.set(name, `${id}/${ifname}`);
  }
  assert.equal(seen.size, 100_000);
});
