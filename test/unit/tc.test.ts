import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unknownAttrs } from '../../src/netlink/attributes.js';
import { DecodeError } from '../../src/netlink/errors.js';
import { decodeAll, decodeMessage, encodeAny, encodeMessage, Family, NLM_F } from '../../src/netlink/message.js';
import { TAIL } from '../../src/netlink/types.js';
import {
  chain, CLSACT_EGRESS, CLSACT_INGRESS, ETH_P_ALL, ETH_P_IP, filter, filterInfo, parseFilterInfo, qdisc, RTM_NEWQDISC,
  RTM_NEWTFILTER, splitTcHandle, TC_H_CLSACT, TC_H_INGRESS, TC_H_MIN_EGRESS, TC_H_MIN_INGRESS, TC_H_ROOT, TCA_BPF_FLAG_ACT_DIRECT,
  TCA_CLS_FLAGS, tcHandle, tclass, type TcMessage,
} from '../../src/netlink/rtnetlink/tc.js';
import { loadFixture } from '../support/fixtures.js';
import { unknownPaths, withLength } from '../support/codec.js';

// Interface indexes in the capture namespace (capture-objects.sh): a veth's peer is created first.
const VE1 = 2;
const VE0 = 3;

const family = new Family('rtnetlink tc', [qdisc, tclass, filter, chain]);
const fixtures = ['tc-qdisc.hex', 'tc-filter-ingress.hex', 'tc-filter-egress.hex'];
const decode = (fixture: string) =>
  loadFixture(`rtnetlink/${fixture}`).flatMap((b) => decodeAll(family, b)).filter((m): m is TcMessage => m.kind !== 'done');

test('every captured qdisc and filter message decodes, knows all its attributes and re-encodes to the same bytes', () => {
  for (const fixture of fixtures) {
    const raw = loadFixture(`rtnetlink/${fixture}`);
    assert.ok(raw.length >= 3, fixture);
    raw.forEach((bytes, i) => {
      const msgs = decodeAll(family, bytes);
      assert.equal(msgs.length, 1);
      if (msgs[0]!.kind !== 'done') assert.deepEqual(unknownPaths((msgs[0] as TcMessage).attrs), [], `${fixture} message ${i}`);
      assert.deepEqual(encodeAny(family, msgs[0]!), bytes, `${fixture} message ${i} re-encodes`);
    });
    assert.equal(decodeAll(family, raw.at(-1)!)[0]!.kind, 'done');
  }
});

test('handles and filter info follow the uapi', () => {
  assert.equal(TC_H_CLSACT, TC_H_INGRESS);
  assert.equal(TC_H_INGRESS, 0xfffffff1);
  assert.equal(tcHandle(0xffff, 0), 0xffff0000);
  assert.equal(tcHandle(1, 1), 0x00010001);
  assert.equal(CLSACT_INGRESS, tcHandle(0xffff, TC_H_MIN_INGRESS));
  assert.equal(CLSACT_INGRESS, 0xfffffff2);
  assert.equal(CLSACT_EGRESS, 0xfffffff3);
  assert.deepEqual(splitTcHandle(0xfffffff3), { major: 0xffff, minor: TC_H_MIN_EGRESS });
  // tcm_info: the priority above, the protocol in network byte order below (ETH_P_ALL 0x0003 -> 0x0300).
  assert.equal(filterInfo(1, ETH_P_ALL), 0x00010300);
  assert.equal(filterInfo(0xc000, ETH_P_IP), 0xc0000008);
  assert.deepEqual(parseFilterInfo(0xc0000008), { priority: 0xc000, protocol: ETH_P_IP });
});

test('the captured qdiscs: clsact on ve0 and ingress on ve1 at TC_H_CLSACT, with empty options and statistics', () => {
  const list = decode('tc-qdisc.hex');
  assert.ok(list.every((m) => m.kind === 'qdisc'));
  const clsact = list.filter((m) => m.attrs.kind === 'clsact');
  assert.equal(clsact.length, 1);
  const [q] = clsact;
  assert.deepEqual(q!.tcm, { family: 0, ifindex: VE0, handle: tcHandle(0xffff, 0), parent: TC_H_CLSACT, info: 1 });
  assert.deepEqual(q!.attrs.options, {});
  assert.equal(q!.attrs.hwOffload, 0);
  assert.equal(q!.attrs.stats2?.basic?.packets, q!.attrs.stats?.packets);
  assert.equal(q!.attrs.stats2?.basic?.bytes, q!.attrs.stats?.bytes);
  assert.equal(typeof q!.attrs.stats2?.queue?.drops, 'number');
  // 64-bit kernels pad gnet_stats_basic (12 bytes of fields) to 16 and tc_stats (36) to 40: the tails are kept.
  assert.equal((q!.attrs.stats2!.basic as Record<symbol, Buffer>)[TAIL]?.length, 4);
  assert.equal((q!.attrs.stats as Record<symbol, Buffer>)[TAIL]?.length, 4);

  const ingress = list.find((m) => m.attrs.kind === 'ingress');
  assert.deepEqual([ingress?.tcm.ifindex, ingress?.tcm.parent, ingress?.attrs.options], [VE1, TC_H_INGRESS, {}]);
  const noqueue = list.filter((m) => m.attrs.kind === 'noqueue');
  assert.ok(noqueue.length >= 4 && noqueue.every((m) => m.tcm.parent === TC_H_ROOT && m.attrs.options === undefined));
});

test('the captured classic-BPF filter carries its ops, classid and clsact ingress parent', () => {
  const list = decode('tc-filter-ingress.hex');
  assert.ok(list.every((m) => m.kind === 'filter' && m.tcm.ifindex === VE0 && m.tcm.parent === CLSACT_INGRESS));
  assert.ok(list.every((m) => m.tcm.info === filterInfo(10, ETH_P_ALL) && m.attrs.kind === 'bpf' && m.attrs.chain === 0));
  const withOptions = list.filter((m) => m.attrs.options !== undefined);
  assert.equal(withOptions.length, 1);
  const f = withOptions[0]!;
  assert.equal(f.tcm.handle, 1);
  // One instruction, "ret #0xffffffff": code 6 (BPF_RET|BPF_K), jt 0, jf 0, k 0xffffffff.
  assert.deepEqual({ ...f.attrs.options }, {
    classid: tcHandle(1, 1),
    opsLen: 1,
    ops: Buffer.from('0600' + '00' + '00' + 'ffffffff', 'hex'),
    flagsGen: TCA_CLS_FLAGS.NOT_IN_HW,
  });
});

test('the captured eBPF filter is direct-action on clsact egress, with its name, tag and program id', () => {
  const list = decode('tc-filter-egress.hex');
  const f = list.find((m) => m.attrs.options !== undefined)!;
  assert.deepEqual({ ifindex: f.tcm.ifindex, parent: f.tcm.parent, handle: f.tcm.handle, info: parseFilterInfo(f.tcm.info) },
    { ifindex: VE0, parent: CLSACT_EGRESS, handle: 2, info: { priority: 20, protocol: ETH_P_ALL } });
  const options = f.attrs.options as { name?: string; flags?: number; tag?: Buffer; id?: number; fd?: number };
  assert.equal(options.name, 'pass.o:[tc]');
  assert.equal(options.flags, TCA_BPF_FLAG_ACT_DIRECT);
  assert.equal(options.tag?.length, 8);
  assert.ok(Number.isInteger(options.id) && options.id! > 0);
  assert.equal(options.fd, undefined);
});

test('a classic-BPF filter built from scratch is byte for byte what the kernel sent', () => {
  const captured = loadFixture('rtnetlink/tc-filter-ingress.hex').find((b) => b.length > 16 && decodeMessage(filter, b).tcm.handle === 1)!;
  const fresh = encodeMessage(filter, {
    header: decodeMessage(filter, captured).header,
    tcm: { ifindex: VE0, handle: 1, parent: CLSACT_INGRESS, info: filterInfo(10, ETH_P_ALL) },
    attrs: {
      kind: 'bpf',
      chain: 0,
      options: { classid: tcHandle(1, 1), opsLen: 1, ops: Buffer.from('06000000ffffffff', 'hex'), flagsGen: TCA_CLS_FLAGS.NOT_IN_HW },
    },
  });
  assert.deepEqual(fresh, captured);
});

test('clsact and cls_bpf requests encode tcmsg and the options chosen by TCA_KIND', () => {
  const clsact = encodeMessage(qdisc, {
    header: { type: RTM_NEWQDISC, flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq: 4 },
    tcm: { ifindex: 12, handle: tcHandle(0xffff, 0), parent: TC_H_CLSACT },
    attrs: { kind: 'clsact' },
  });
  assert.deepEqual(clsact, Buffer.concat([
    Buffer.from('30000000' + '2400' + '0506' + '04000000' + '00000000', 'hex'), // len 48, RTM_NEWQDISC
    Buffer.from('00000000' + '0c000000' + '0000ffff' + 'f1ffffff' + '00000000', 'hex'), // tcmsg
    Buffer.from('0b000100' + Buffer.from('clsact\0').toString('hex') + '00', 'hex'), // TCA_KIND
  ]));

  const bpf = encodeMessage(filter, {
    header: { type: RTM_NEWTFILTER, flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE, seq: 5 },
    tcm: { ifindex: 12, handle: 1, parent: CLSACT_EGRESS, info: filterInfo(1, ETH_P_ALL) },
    attrs: { kind: 'bpf', options: { fd: 42, name: 'sl', flags: TCA_BPF_FLAG_ACT_DIRECT } },
  });
  assert.deepEqual(bpf, Buffer.concat([
    Buffer.from('48000000' + '2c00' + '0505' + '05000000' + '00000000', 'hex'), // len 72, RTM_NEWTFILTER
    Buffer.from('00000000' + '0c000000' + '01000000' + 'f3ffffff' + '00030100', 'hex'), // tcmsg, info prio 1 / ETH_P_ALL
    Buffer.from('08000100' + '62706600', 'hex'), // TCA_KIND "bpf"
    Buffer.from('1c000200', 'hex'), // TCA_OPTIONS
    Buffer.from('08000600' + '2a000000', 'hex'), //   TCA_BPF_FD 42
    Buffer.from('07000700' + '736c00' + '00', 'hex'), //   TCA_BPF_NAME "sl"
    Buffer.from('08000800' + '01000000', 'hex'), //   TCA_BPF_FLAGS direct action
  ]));
  assert.deepEqual(decodeMessage(filter, bpf).attrs.options, { fd: 42, name: 'sl', flags: TCA_BPF_FLAG_ACT_DIRECT });
});

test('options of a kind this code does not know stay raw bytes; unknown attributes survive', () => {
  const msg = encodeMessage(qdisc, {
    header: { type: RTM_NEWQDISC },
    tcm: { ifindex: 1, parent: TC_H_ROOT },
    attrs: { kind: 'fq_codel', options: Buffer.from('0800010010270000', 'hex') },
  });
  const back = decodeMessage(qdisc, msg);
  assert.deepEqual(back.attrs.options, Buffer.from('0800010010270000', 'hex'));
  assert.deepEqual(encodeMessage(qdisc, back), msg);

  // An unknown TCA_BPF attribute inside a known kind's options, and an unknown TCA_STATS one.
  const extra = Buffer.concat([
    Buffer.from('0c000200', 'hex'), Buffer.from('08006300' + '01020304', 'hex'), // TCA_OPTIONS { type 99 }
    Buffer.from('0c000700', 'hex'), Buffer.from('08004d00' + '05060708', 'hex'), // TCA_STATS2 { type 77 }
  ]);
  const kindOnly = encodeMessage(filter, { header: { type: RTM_NEWTFILTER }, tcm: { ifindex: VE0 }, attrs: { kind: 'bpf' } });
  const bytes = withLength(Buffer.concat([kindOnly, extra]));
  const decoded = decodeMessage(filter, bytes);
  assert.deepEqual(unknownAttrs(decoded.attrs.options as object), [{ type: 99, payload: Buffer.from([1, 2, 3, 4]) }]);
  assert.deepEqual(unknownAttrs(decoded.attrs.stats2!), [{ type: 77, payload: Buffer.from([5, 6, 7, 8]) }]);
  assert.deepEqual(encodeMessage(filter, decoded), bytes);
});

test('truncated tc messages raise a DecodeError naming the offset', () => {
  const captured = loadFixture('rtnetlink/tc-filter-ingress.hex').find((b) => b.length > 16 && decodeMessage(filter, b).tcm.handle === 1)!;
  const optionsAt = captured.indexOf(Buffer.from([0x28, 0, 2, 0]));
  assert.ok(optionsAt > 36);
  const opsLenAt = captured.indexOf(Buffer.from([6, 0, 4, 0]), optionsAt);
  const short = Buffer.from(captured);
  short.writeUInt16LE(5, opsLenAt); // TCA_BPF_OPS_LEN of 1 byte
  assert.throws(() => decodeMessage(filter, short), (e: unknown) =>
    e instanceof DecodeError && e.offset === opsLenAt + 4 && /TCA_BPF\(4 opsLen\)/.test(e.message));

  const cut = withLength(Buffer.from(captured.subarray(0, optionsAt + 12)));
  assert.throws(() => decodeMessage(filter, cut), (e: unknown) => e instanceof DecodeError && e.offset === optionsAt && /TCA\(2 options\)/.test(e.message));

  const tcmsgCut = withLength(Buffer.from(captured.subarray(0, 30)));
  assert.throws(() => decodeMessage(filter, tcmsgCut), (e: unknown) => e instanceof DecodeError && e.offset === 16 && /tcmsg/.test(e.message));

  for (const fixture of fixtures) {
    for (const bytes of loadFixture(`rtnetlink/${fixture}`)) {
      for (let n = 16; n < bytes.length; n++) {
        try {
          decodeAll(family, withLength(Buffer.from(bytes.subarray(0, n))));
        } catch (e) {
          assert.ok(e instanceof DecodeError, `${fixture}: cut at ${n}: ${String(e)}`);
        }
      }
    }
  }
});
