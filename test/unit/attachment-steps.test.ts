import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUnicastMac } from '../../src/cni/values.js';
import { randomMac } from '../../src/datapath/attachment-steps.js';

test('randomMac: unicast, locally administered, lower case with colons, and random (past a refill of its pool)', () => {
  const macs = Array.from({ length: 2000 }, () => randomMac());
  for (const mac of macs) {
    assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.ok(isUnicastMac(mac), `${mac} is unicast`);
    assert.equal(parseInt(mac.slice(0, 2), 16) & 0x02, 0x02, `${mac} is locally administered`);
  }
  assert.equal(new Set(macs).size, macs.length, 'the MACs differ');
  assert.ok(new Set(macs.map((m) => m.slice(3))).size > 1, 'the bytes after the first vary');
});
