import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unknownAttrs } from '../../src/netlink/attributes.js';
import { DecodeError } from '../../src/netlink/errors.js';
import { decodeAll, decodeMessage, encodeAny, encodeMessage, Family, NLM_F } from '../../src/netlink/message.js';
import { RT_TABLE, RTPROT } from '../../src/netlink/rtnetlink/route.js';
import { FIB_RULE, FR_ACT, rule, RTM_NEWRULE, type RuleMessage } from '../../src/netlink/rtnetlink/rule.js';
import { loadFixture } from '../support/fixtures.js';
import { unknownPaths, withLength } from '../support/codec.js';

const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const NO_SUPPRESSION = 0xffffffff;

const family = new Family('rtnetlink rules', [rule]);
const raw = loadFixture('rtnetlink/rule-dump.hex');
const rules = raw.flatMap((b) => decodeAll(family, b)).filter((m): m is RuleMessage => m.kind === 'rule');

function at(priority: number): RuleMessage {
  const found = rules.filter((r) => r.attrs.priority === priority);
  assert.equal(found.length, 1, `one rule at priority ${priority}`);
  return found[0]!;
}

test('every captured rule message decodes, knows all its attributes and re-encodes to the same bytes', () => {
  assert.ok(raw.length > 10);
  raw.forEach((bytes, i) => {
    const msgs = decodeAll(family, bytes);
    assert.equal(msgs.length, 1);
    if (msgs[0]!.kind === 'rule') assert.deepEqual(unknownPaths((msgs[0] as RuleMessage).attrs), [], `message ${i}`);
    assert.deepEqual(encodeAny(family, msgs[0]!), bytes, `message ${i} re-encodes`);
  });
  assert.equal(decodeAll(family, raw.at(-1)!)[0]!.kind, 'done');
});

test('the captured rules carry the selectors and actions capture-objects.sh configured', () => {
  const fwmark = at(1000);
  assert.deepEqual({ fwmark: fwmark.attrs.fwmark, fwmask: fwmark.attrs.fwmask, table: fwmark.attrs.table, hdrTable: fwmark.rule.table, action: fwmark.rule.action },
    { fwmark: 0x10, fwmask: 0xff, table: 100, hdrTable: 100, action: FR_ACT.TO_TBL });

  assert.deepEqual(at(1001).attrs.uidRange, { start: 1000, end: 2000 });
  assert.equal(at(1002).attrs.iifname, 've0');

  const prefixes = at(1003);
  assert.deepEqual(
    { src: prefixes.attrs.src, srcLen: prefixes.rule.srcLen, dst: prefixes.attrs.dst, dstLen: prefixes.rule.dstLen, table: prefixes.attrs.table },
    { src: '10.10.0.0', srcLen: 24, dst: '10.60.0.0', dstLen: 24, table: 103 },
  );

  const ports = at(1004);
  assert.deepEqual({ ipProto: ports.attrs.ipProto, sport: ports.attrs.sportRange, dport: ports.attrs.dportRange },
    { ipProto: IPPROTO_TCP, sport: { start: 1000, end: 1000 }, dport: { start: 80, end: 90 } });

  const jump = at(1005);
  assert.deepEqual({ action: jump.rule.action, goto: jump.attrs.goto, oifname: jump.attrs.oifname }, { action: FR_ACT.GOTO, goto: 1007, oifname: 'br0' });

  const inverted = at(1006);
  assert.deepEqual({ action: inverted.rule.action, flags: inverted.rule.flags, src: inverted.attrs.src, srcLen: inverted.rule.srcLen },
    { action: FR_ACT.PROHIBIT, flags: FIB_RULE.INVERT, src: '10.99.0.0', srcLen: 16 });

  // Table ids above 255 go in FRA_TABLE only; the header says RT_TABLE_COMPAT.
  const bigTable = at(1007);
  assert.deepEqual({ hdrTable: bigTable.rule.table, table: bigTable.attrs.table, suppressPrefixlen: bigTable.attrs.suppressPrefixlen },
    { hdrTable: RT_TABLE.COMPAT, table: 300, suppressPrefixlen: 0 });

  const v6 = at(1100);
  assert.deepEqual({ family: v6.rule.family, src: v6.attrs.src, srcLen: v6.rule.srcLen, table: v6.attrs.table }, { family: AF_INET6, src: 'fd00:10::', srcLen: 64, table: 110 });

  // The kernel's default rules.
  const main = rules.filter((r) => r.attrs.priority === 32766).map((r) => [r.rule.family, r.attrs.table, r.attrs.protocol]);
  assert.deepEqual(main, [[AF_INET, RT_TABLE.MAIN, RTPROT.KERNEL], [AF_INET6, RT_TABLE.MAIN, RTPROT.KERNEL]]);
});

test('a rule built from scratch is byte for byte what the kernel sent', () => {
  const captured = raw.find((b) => decodeMessage(rule, b).attrs.priority === 1000)!;
  const fresh = encodeMessage(rule, {
    header: decodeMessage(rule, captured).header,
    rule: { family: AF_INET, table: 100, action: FR_ACT.TO_TBL },
    attrs: { table: 100, suppressPrefixlen: NO_SUPPRESSION, protocol: 0, priority: 1000, fwmark: 0x10, fwmask: 0xff },
  });
  assert.deepEqual(fresh, captured);
});

test('a rule request encodes fib_rule_hdr, the port range struct and the uid range where the uapi puts them', () => {
  const msg = encodeMessage(rule, {
    header: { type: RTM_NEWRULE, flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq: 2 },
    rule: { family: AF_INET, srcLen: 8, table: RT_TABLE.COMPAT, action: FR_ACT.TO_TBL, flags: FIB_RULE.INVERT },
    attrs: { src: '10.0.0.0', table: 1000, dportRange: { start: 443, end: 444 }, uidRange: { start: 5, end: 6 }, tunId: 0x0102n },
  });
  assert.deepEqual(msg, Buffer.concat([
    Buffer.from('4c000000' + '2000' + '0506' + '02000000' + '00000000', 'hex'), // len 76, RTM_NEWRULE
    Buffer.from([AF_INET, 0, 8, 0, 252, 0, 0, FR_ACT.TO_TBL, 2, 0, 0, 0]), // fib_rule_hdr
    Buffer.from('08000200' + '0a000000', 'hex'), // FRA_SRC
    Buffer.from('08000f00' + 'e8030000', 'hex'), // FRA_TABLE 1000
    Buffer.from('08001800' + 'bb01' + 'bc01', 'hex'), // FRA_DPORT_RANGE 443-444
    Buffer.from('0c001400' + '05000000' + '06000000', 'hex'), // FRA_UID_RANGE 5-6
    Buffer.from('0c000c00' + '0000000000000102', 'hex'), // FRA_TUN_ID, big-endian
  ]));
});

test('unknown rule attributes survive a round trip', () => {
  const captured = raw.find((b) => decodeMessage(rule, b).attrs.priority === 1001)!;
  const bytes = withLength(Buffer.concat([captured, Buffer.from('0800ff00' + 'deadbeef', 'hex')]));
  const msg = decodeMessage(rule, bytes);
  assert.deepEqual(unknownAttrs(msg.attrs), [{ type: 255, payload: Buffer.from('deadbeef', 'hex') }]);
  assert.deepEqual(msg.attrs.uidRange, { start: 1000, end: 2000 });
  assert.deepEqual(encodeMessage(rule, msg), bytes);
});

test('truncated rule messages raise a DecodeError naming the offset', () => {
  const captured = raw.find((b) => decodeMessage(rule, b).attrs.priority === 1001)!;
  const uidAt = captured.indexOf(Buffer.from([0x0c, 0, 20, 0]));
  assert.ok(uidAt > 28);
  const short = Buffer.from(captured);
  short.writeUInt16LE(8, uidAt); // a uid range of 4 bytes
  assert.throws(() => decodeMessage(rule, short), (e: unknown) =>
    e instanceof DecodeError && e.offset === uidAt + 4 && /FRA\(20 uidRange\).*fib_rule_uid_range needs 8 bytes/.test(e.message));

  const cut = withLength(Buffer.from(captured.subarray(0, uidAt + 8)));
  assert.throws(() => decodeMessage(rule, cut), (e: unknown) => e instanceof DecodeError && e.offset === uidAt && /overruns/.test(e.message));

  for (const bytes of raw) {
    for (let n = 16; n < bytes.length; n++) {
      try {
        decodeAll(family, withLength(Buffer.from(bytes.subarray(0, n))));
      } catch (e) {
        assert.ok(e instanceof DecodeError, `cut at ${n}: ${String(e)}`);
      }
    }
  }
});
