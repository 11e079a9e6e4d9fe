import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verbs } from '../../src/netlink/client.js';
import { decodeMessage, encodeMessage, NLM_F, type AnyMessage } from '../../src/netlink/message.js';
import { link, RTM_NEWLINK } from '../../src/netlink/rtnetlink/link.js';

const spec = { name: 'h0', kind: 'veth', mtu: 1400, peer: { name: 'eth0', netnsFd: 7, address: '02:00:00:00:00:02' } };

test('linkCreate sends linkAdd\'s request with NLM_F_ECHO added, nothing else changed', () => {
  const add = verbs.linkAdd(spec).message;
  const create = verbs.linkCreate(spec).message;
  assert.equal(create.readUInt16LE(6), add.readUInt16LE(6) | NLM_F.ECHO);
  assert.notEqual(add.readUInt16LE(6) & NLM_F.ECHO, NLM_F.ECHO, 'linkAdd does not ask for the echo');
  const strip = (b: Buffer) => { const c = Buffer.from(b); c.writeUInt16LE(c.readUInt16LE(6) & ~NLM_F.ECHO, 6); return c; };
  assert.deepEqual(strip(create), add);
});

test('linkCreate answers with the echoed link, or undefined when the kernel echoed none', () => {
  const echoed = decodeMessage(link, encodeMessage(link, { header: { type: RTM_NEWLINK }, ifinfo: { index: 9 }, attrs: { ifname: 'h0', address: '02:00:00:00:00:01', link: 2 } }));
  const plan = verbs.linkCreate(spec);
  const got = plan.result([echoed as unknown as AnyMessage]);
  assert.equal(got?.ifinfo.index, 9);
  assert.equal(got?.attrs.link, 2);
  assert.equal(plan.result([]), undefined);
});

test('linkCreate asks for the queues given, of the link and of its peer', () => {
  const message = verbs.linkCreate({ ...spec, txQueues: 1, rxQueues: 1, peer: { ...spec.peer, txQueues: 1, rxQueues: 1 } }).message;
  const decoded = decodeMessage(link, message) as unknown as { attrs: { numTxQueues?: number; numRxQueues?: number; linkinfo: { data: { peer: { attrs: { numTxQueues?: number; numRxQueues?: number } } } } } };
  assert.deepEqual([decoded.attrs.numTxQueues, decoded.attrs.numRxQueues], [1, 1]);
  assert.deepEqual([decoded.attrs.linkinfo.data.peer.attrs.numTxQueues, decoded.attrs.linkinfo.data.peer.attrs.numRxQueues], [1, 1]);
  const plain = decodeMessage(link, verbs.linkCreate(spec).message) as unknown as { attrs: { numTxQueues?: number } };
  assert.equal(plain.attrs.numTxQueues, undefined, 'none asked for, none sent');
});
