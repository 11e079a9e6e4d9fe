import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAll, decodeMessage, encodeAny, encodeMessage, NLM_F, type AnyMessage } from '../../src/netlink/message.js';
import { Writer } from '../../src/netlink/writer.js';
import {
  bes32, nftExpressionList, formatNftExpression, formatNftSetElement, intervalsFromElements, formatInterval, isOpenInterval, NF_INET, NF_VERDICT,
  NFNL_SUBSYS_NFTABLES, NFPROTO, NFT_CHAIN_F, NFT_CT, NFT_DATATYPE, NFT_META, NFT_MSG, NFT_NAT, NFT_PAYLOAD, NFT_PRIORITY, NFT_SET_F,
  NFT_SET_ELEM_F, NFT_BYTEORDER, NFTNL_UDATA_SET, NFT_FIB_RESULT, NFTA_FIB_F, nftChain, nftExpr, nftGen, nftRule, nftSet, nftSetElem, nftTable, nftType, nftTypes, nftables,
  decodeNftUserdata, nftUserdataComment, nftList, type NftExpression, type NftChainMessage, type NftRuleMessage, type NftSetElemMessage,
  type NftSetMessage, type NftTableMessage,
} from '../../src/netlink/nftables/index.js';
import { nest, space } from '../../src/netlink/attributes.js';
import { be32, u8 } from '../../src/netlink/types.js';
import { loadFixture, nftDebugRules } from '../support/fixtures.js';
import { attr, unknownPaths } from '../support/codec.js';

// The fixtures are the kernel's answers to nf_tables dumps after `nft -f ruleset.nft expressions.nft`
// (test/fixtures/nftables/capture.sh): change them together with these expectations.
const fixtures = ['dump-tables.hex', 'dump-chains.hex', 'dump-rules.hex', 'dump-sets.hex', 'dump-setelems.hex', 'dump-gen.hex', 'dump-guard.hex'];
const decode = <T>(fixture: string, kind: string) =>
  loadFixture(`nftables/${fixture}`).flatMap((b) => decodeAll(nftables, b)).filter((m) => m.kind === kind) as unknown as T[];

test('every captured nf_tables message decodes, knows all its attributes and re-encodes to the same bytes', () => {
  for (const fixture of fixtures) {
    const raw = loadFixture(`nftables/${fixture}`);
    assert.ok(raw.length >= 2, fixture);
    raw.forEach((bytes, i) => {
      const msgs = decodeAll(nftables, bytes);
      assert.equal(msgs.length, 1, `${fixture} message ${i}`);
      const m = msgs[0]!;
      assert.notEqual(m.kind, 'raw', `${fixture} message ${i} is of a known kind`);
      if ('attrs' in m) assert.deepEqual(unknownPaths(m.attrs), [], `${fixture} message ${i}`);
      assert.deepEqual(encodeAny(nftables, m), bytes, `${fixture} message ${i} re-encodes`);
    });
  }
});

test('message types: the nf_tables subsystem in the high byte, NFT_MSG_* in the low one', () => {
  assert.equal(nftType(NFT_MSG.NEWTABLE), 0x0a00);
  assert.equal(nftType(NFT_MSG.NEWSETELEM), 0x0a0c);
  assert.equal(nftType(NFT_MSG.GETGEN), 0x0a10);
  assert.equal(nftType(NFT_MSG.DESTROYSETELEM), 0x0a1e);
  assert.deepEqual(nftTypes('NEWTABLE', 'DELTABLE'), { 0x0a00: 'NFT_MSG_NEWTABLE', 0x0a02: 'NFT_MSG_DELTABLE' });
  assert.equal(nftables.typeName(0x0a06), 'NFT_MSG_NEWRULE');
  assert.equal(nftables.typeName(0x10), 'NFNL_MSG_BATCH_BEGIN');
  assert.equal(NFNL_SUBSYS_NFTABLES, 10);
});

test('tables: names, families, flags, use counts and handles; nfgenmsg carries the generation', () => {
  const tables = decode<NftTableMessage>('dump-tables.hex', 'nftTable');
  const [gen] = decode<{ attrs: { id: number }; nfgen: { resId: number } }>('dump-gen.hex', 'nftGen');
  assert.deepEqual(tables.map((t) => [t.nfgen.family, t.attrs.name, t.attrs.flags, t.attrs.use]), [
    [NFPROTO.INET, 'sluice', 0, 5], // 1 chain and 4 sets
    [NFPROTO.IPV4, 'exprs', 0, 5], // 4 chains and 1 set
  ]);
  assert.ok(tables.every((t) => typeof t.attrs.handle === 'bigint' && t.nfgen.version === 0));
  // The kernel stamps every dumped message with the low 16 bits of the ruleset generation.
  assert.ok(tables.every((t) => t.nfgen.resId === (gen!.attrs.id & 0xffff)));
});

test('chains: base chains with their hook (signed priority), type and policy; a regular chain has none', () => {
  const chains = decode<NftChainMessage>('dump-chains.hex', 'nftChain');
  const byName = new Map(chains.map((c) => [`${c.attrs.table} ${c.attrs.name}`, c.attrs]));
  const post = byName.get('sluice postrouting')!;
  assert.deepEqual({ ...post.hook }, { hooknum: NF_INET.POST_ROUTING, priority: NFT_PRIORITY.SRCNAT });
  // A chain's use counts its rules and the jumps and gotos to it.
  assert.deepEqual([post.type, post.policy, post.flags, post.use], ['nat', NF_VERDICT.ACCEPT, NFT_CHAIN_F.BASE, 2]);
  assert.deepEqual({ ...byName.get('exprs pre')!.hook }, { hooknum: NF_INET.PRE_ROUTING, priority: NFT_PRIORITY.DSTNAT });
  assert.equal(byName.get('exprs forward_rules')!.policy, NF_VERDICT.DROP);
  assert.equal(byName.get('exprs forward_rules')!.hook?.hooknum, NF_INET.FORWARD);
  const counted = byName.get('exprs counted')!;
  assert.equal(counted.hook, undefined);
  assert.equal(counted.type, undefined);
  assert.equal(counted.use, 3, 'its rule, and the jump and the goto to it');
});

test('a negative priority is a signed big-endian 32-bit integer', () => {
  const w = new Writer(4);
  bes32.encode(w, -100, { siblings: {} });
  assert.deepEqual(w.finish(), Buffer.from('ffffff9c', 'hex'));
  assert.equal(bes32.decode(Buffer.from('ffffff9c', 'hex'), 0, 4, { siblings: {} }), -100);
  assert.throws(() => bes32.encode(new Writer(4), 0x80000000, { siblings: {} }));
});

test('sets: interval sets of addresses with their key type and length, and nft\'s key byte order userdata', () => {
  const sets = decode<NftSetMessage>('dump-sets.hex', 'nftSet');
  const byName = new Map(sets.map((s) => [s.attrs.name, s.attrs]));
  for (const [name, keyType, keyLen] of [['pods4', NFT_DATATYPE.IPADDR, 4], ['nomasq4', NFT_DATATYPE.IPADDR, 4], ['pods6', NFT_DATATYPE.IP6ADDR, 16], ['nomasq6', NFT_DATATYPE.IP6ADDR, 16]] as const) {
    const s = byName.get(name)!;
    assert.deepEqual([s.table, s.flags, s.keyType, s.keyLen], ['sluice', NFT_SET_F.INTERVAL, keyType, keyLen], name);
    const tlvs = decodeNftUserdata(s.userdata!);
    assert.deepEqual(tlvs.map((t) => t.type), [NFTNL_UDATA_SET.KEYBYTEORDER]);
    assert.equal(new Uint32Array(new Uint8Array(tlvs[0]!.value).buffer)[0], NFT_BYTEORDER.BIG_ENDIAN);
  }
  assert.equal(byName.get('addrs')!.flags, undefined, 'a plain set has no flags attribute');
});

/**
 * Asserts that `fresh` (built by this codec, with NLA_F_NESTED on every nest as nft sends them) is the
 * kernel's `captured` message but for that bit: the kernel's dumps leave it off (nla_nest_start_noflag).
 */
function assertSameButNestedFlags(fresh: Buffer, captured: Buffer): void {
  assert.equal(fresh.length, captured.length);
  let flagged = 0;
  for (let i = 0; i < fresh.length; i++) {
    if (fresh[i] === captured[i]) continue;
    assert.equal(fresh[i], captured[i]! | 0x80, `byte ${i}: only the NLA_F_NESTED bit may differ`);
    assert.equal(i % 4, 3, `byte ${i} is the high byte of an attribute type`);
    flagged++;
  }
  assert.ok(flagged > 0);
}

test('a set built from scratch is what the kernel sent, but for the NLA_F_NESTED bits', () => {
  const captured = loadFixture('nftables/dump-sets.hex').find((b) => b.length > 20 && decodeMessage(nftSet, b).attrs.name === 'pods6')!;
  const got = decodeMessage(nftSet, captured);
  const fresh = encodeMessage(nftSet, {
    header: got.header,
    nfgen: got.nfgen,
    attrs: {
      table: 'sluice',
      name: 'pods6',
      handle: got.attrs.handle,
      flags: NFT_SET_F.INTERVAL,
      keyType: NFT_DATATYPE.IP6ADDR,
      keyLen: 16,
      userdata: Buffer.from('000402000000', 'hex'),
      desc: {},
      type: got.attrs.type,
      count: 1,
    },
  });
  assertSameButNestedFlags(fresh, captured);
  assert.equal(typeof got.attrs.type, 'string', 'the backend the kernel chose');
  assert.equal(got.attrs.count, 1, 'one element (a prefix is one interval)');
});

test('set elements: interval sets hold start and end elements, read back as the prefixes nft added', () => {
  const msgs = decode<NftSetElemMessage>('dump-setelems.hex', 'nftSetElem');
  const elementsOf = (set: string) => msgs.filter((m) => m.attrs.set === set).flatMap((m) => m.attrs.elements ?? []);
  const prefixes = (set: string, family: 4 | 6) => intervalsFromElements(family, elementsOf(set)).map(formatInterval);
  assert.deepEqual(prefixes('pods4', 4), ['10.244.1.2/32', '10.244.1.3/32', '10.244.1.64/26']);
  assert.deepEqual(prefixes('nomasq4', 4), ['10.244.0.0/16', '224.0.0.0/4']);
  assert.deepEqual(prefixes('pods6', 6), ['fd00:10:244:1::2/128']);
  assert.deepEqual(prefixes('nomasq6', 6), ['fd00:10:244::/48', 'ff00::/8']);
  assert.deepEqual(elementsOf('addrs').map((e) => [e.key?.value?.join('.'), e.flags]), [['192.0.2.7', undefined], ['192.0.2.1', undefined]], 'a plain set: one element per address');
  // The kernel lists elements from the highest key down; nft's leading "0 [end]" element closes nothing.
  assert.deepEqual(elementsOf('nomasq4').map(formatNftSetElement), [
    'element 000000f0  : 1 [end]', 'element 000000e0  : 0 [end]', 'element 0000f50a  : 1 [end]', 'element 0000f40a  : 0 [end]', 'element 00000000  : 1 [end]',
  ]);
  const ff = elementsOf('nomasq6').find((e) => e.key?.value?.[0] === 0xff)!;
  assert.equal(ff.flags, undefined);
  assert.ok(isOpenInterval(ff), 'ff00::/8 runs to the last address: no end element, and nft flags it open');
  assert.ok(elementsOf('pods4').every((e) => !isOpenInterval(e)));
  assert.ok(elementsOf('pods4').some((e) => e.flags === NFT_SET_ELEM_F.INTERVAL_END));
});

/** The expressions of the rule of `chain` whose comment or position is given. */
function rulesOf(chain: string): NftRuleMessage[] {
  return decode<NftRuleMessage>('dump-rules.hex', 'nftRule').filter((r) => r.attrs.chain === chain);
}

test('rules: the masquerade rules as nft built them, with their comments and handles', () => {
  const rules = rulesOf('postrouting');
  assert.equal(rules.length, 2);
  assert.deepEqual(rules.map((r) => nftUserdataComment(r.attrs.userdata)), ['sluice masquerade ipv4', 'sluice masquerade ipv6']);
  assert.equal(rules[1]!.attrs.position, rules[0]!.attrs.handle, 'the second rule follows the first');
  const exprs = rules[0]!.attrs.expressions!;
  assert.deepEqual(exprs.map((e) => e.name), ['meta', 'cmp', 'payload', 'lookup', 'payload', 'lookup', 'payload', 'lookup', 'masq']);
  assert.deepEqual({ ...exprs[0]!.data }, { key: NFT_META.NFPROTO, dreg: 1 });
  assert.deepEqual({ ...exprs[2]!.data }, { dreg: 1, base: NFT_PAYLOAD.NETWORK_HEADER, offset: 12, len: 4 });
  // The kernel always reports the lookup flags: 0 for "@set", NFT_LOOKUP_F_INV (1) for "!= @set".
  assert.deepEqual([exprs[3]!.data, exprs[5]!.data, exprs[7]!.data].map((d) => ({ ...d })), [
    { set: 'pods4', sreg: 1, flags: 0 }, { set: 'pods4', sreg: 1, flags: 1 }, { set: 'nomasq4', sreg: 1, flags: 1 },
  ]);
  assert.deepEqual({ ...exprs[8]!.data }, {});
});

test('rules: the other expressions decode to their attributes (nat, counter, immediate, bitwise, ct, range, meta set)', () => {
  const data = (r: NftRuleMessage, i: number) => r.attrs.expressions![i]!.data as Record<string, unknown>;
  const [dnat] = rulesOf('pre');
  assert.deepEqual({ ...data(dnat!, 8) }, { type: NFT_NAT.DNAT, family: NFPROTO.IPV4, regAddrMin: 1, regAddrMax: 1, regProtoMin: 2, regProtoMax: 2, flags: 3 });
  assert.deepEqual(Buffer.from((data(dnat!, 7).data as { value: Buffer }).value), Buffer.from([0x1f, 0x90]), 'port 8080, network byte order');
  const fwd = rulesOf('forward_rules');
  assert.deepEqual({ ...data(fwd[0]!, 0) }, { dreg: 1, key: NFT_CT.STATE });
  assert.deepEqual((data(fwd[0]!, 3).data as { verdict: object }).verdict, { code: NF_VERDICT.ACCEPT });
  assert.deepEqual({ ...(data(fwd[1]!, 2).data as { verdict: object }).verdict }, { code: NF_VERDICT.JUMP, chain: 'counted' });
  assert.deepEqual({ ...data(fwd[1]!, 1) }, { key: NFT_META.MARK, sreg: 1 });
  assert.deepEqual({ ...data(fwd[5]!, 2) }, { bytes: 7n, packets: 5n });
  assert.deepEqual((data(fwd[5]!, 3).data as { verdict: object }).verdict, { code: NF_VERDICT.CONTINUE });
  assert.deepEqual((data(fwd[4]!, 2).data as { verdict: { code: number } }).verdict.code, NF_VERDICT.GOTO);
});

test('rules print as nft --debug=netlink prints them', () => {
  const lines = (chain: string) => rulesOf(chain).map((r) => r.attrs.expressions!.map(formatNftExpression));
  assert.deepEqual(lines('forward_rules'), [
    ['[ ct load state => reg 1 ]', '[ bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000 ]', '[ cmp neq reg 1 0x00000000 ]', '[ immediate reg 0 accept ]'],
    ['[ immediate reg 1 0x00000010 ]', '[ meta set mark with reg 1 ]', '[ immediate reg 0 jump -> counted ]'],
    ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ payload load 2b @ transport header + 2 => reg 1 ]', '[ cmp gte reg 1 0x00001600 ]', '[ cmp lte reg 1 0x00001900 ]', '[ immediate reg 0 drop ]'],
    ['[ payload load 4b @ network header + 12 => reg 1 ]', '[ lookup reg 1 set addrs 0x0 ]', '[ immediate reg 0 return ]'],
    ['[ payload load 4b @ network header + 12 => reg 1 ]', '[ range neq reg 1 0x0000000a 0x0500000a ]', '[ immediate reg 0 goto -> counted ]'],
    ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000006 ]', '[ counter pkts 5 bytes 7 ]', '[ immediate reg 0 continue ]'],
  ]);
  assert.deepEqual(lines('post')[2], ['[ meta load l4proto => reg 1 ]', '[ cmp eq reg 1 0x00000011 ]', '[ immediate reg 1 0x0000e803 ]', '[ immediate reg 2 0x0000d007 ]', '[ masq proto_min reg 1 proto_max reg 2 flags 0x2 ]']);
  assert.deepEqual(lines('post')[1], ['[ meta load oifname => reg 1 ]', '[ cmp eq reg 1 0x30687465 0x00000000 0x00000000 0x00000000 ]', '[ masq flags 0xc ]']);
});

test('a rule built from scratch is what the kernel sent, but for the NLA_F_NESTED bits', () => {
  const [captured] = rulesOf('counted');
  const raw = loadFixture('nftables/dump-rules.hex').find((b) => b.length > 20 && decodeMessage(nftRule, b).attrs.chain === 'counted')!;
  const fresh = encodeMessage(nftRule, {
    header: captured!.header,
    nfgen: captured!.nfgen,
    attrs: { table: 'exprs', chain: 'counted', handle: captured!.attrs.handle, expressions: [nftExpr.counter()] },
  });
  assertSameButNestedFlags(fresh, raw);
  // And with a verdict: the goto rule's last expression.
  const gotoRule = rulesOf('forward_rules')[4]!;
  const w = new Writer(64);
  nftExpressionList.encode(w, [gotoRule.attrs.expressions![2]!], { siblings: {} });
  const w2 = new Writer(64);
  nftExpressionList.encode(w2, [nftExpr.verdict(NF_VERDICT.GOTO, 'counted')], { siblings: {} });
  assertSameButNestedFlags(w2.finish(), w.finish());
});

test('the generation: NFT_MSG_NEWGEN with its id and the process that committed', () => {
  const [gen] = decode<{ attrs: { id: number; procPid: number; procName: string } }>('dump-gen.hex', 'nftGen');
  assert.ok(gen!.attrs.id > 0);
  assert.equal(gen!.attrs.procName, 'python3');
  assert.equal(nftGen.types[nftType(NFT_MSG.NEWGEN)], 'NFT_MSG_NEWGEN');
});

test('lists: libnftnl numbers set elements 1, 2, 3...; they decode as elements and re-encode unchanged', () => {
  const elem = space('E', { 1: ['v', be32] });
  const list = nftList('L', nest(elem));
  const payload = Buffer.concat([attr(1 | 0x8000, attr(1, Buffer.from('00000001', 'hex'))), attr(2 | 0x8000, attr(1, Buffer.from('00000002', 'hex')))]);
  const decoded = list.decode(payload, 0, payload.length, { siblings: {} });
  assert.deepEqual(decoded.map((e) => e.v), [1, 2]);
  const w = new Writer(64);
  list.encode(w, decoded, { siblings: {} });
  assert.deepEqual(w.finish(), payload);
  // Appended and fresh elements are NFTA_LIST_ELEM with NLA_F_NESTED.
  decoded.push({ v: 3 });
  const w2 = new Writer(64);
  list.encode(w2, decoded, { siblings: {} });
  assert.deepEqual(w2.finish().subarray(payload.length), attr(1 | 0x8000, attr(1, Buffer.from('00000003', 'hex'))));
  const u = nftList('U', u8);
  assert.throws(() => u.encode(new Writer(8), 'x' as never, { siblings: {} }), /expected an array/);
});

test('expressions of a kind this codec does not know keep their data as bytes', () => {
  const bytes = Buffer.concat([attr(1, Buffer.from('quota\0')), attr(2 | 0x8000, attr(1, Buffer.from('0000000000000064', 'hex')))]);
  const list = Buffer.concat([attr(1 | 0x8000, bytes)]);
  const decoded = nftExpressionList.decode(list, 0, list.length, { siblings: {} }) as NftExpression[];
  assert.equal(decoded[0]!.name, 'quota');
  assert.ok(decoded[0]!.data instanceof Buffer);
  const w = new Writer(64);
  nftExpressionList.encode(w, decoded, { siblings: {} });
  assert.deepEqual(w.finish(), list);
});

test('requests encode nfgenmsg and big-endian attributes, NLA_F_NESTED on nests', () => {
  const bytes = encodeMessage(nftChain, {
    header: { type: nftType(NFT_MSG.NEWCHAIN), flags: NLM_F.CREATE },
    nfgen: { family: NFPROTO.INET },
    attrs: { table: 't', name: 'c', hook: { hooknum: NF_INET.POST_ROUTING, priority: -5 }, policy: NF_VERDICT.ACCEPT, type: 'nat' },
  });
  const expected = Buffer.concat([
    Buffer.from([1, 0, 0, 0]), // nfgenmsg: inet, v0, res_id 0
    attr(1, Buffer.from('t\0')),
    attr(3, Buffer.from('c\0')),
    attr(4 | 0x8000, Buffer.concat([attr(1, Buffer.from('00000004', 'hex')), attr(2, Buffer.from('fffffffb', 'hex'))])),
    attr(5, Buffer.from('00000001', 'hex')),
    attr(7, Buffer.from('nat\0')),
  ]);
  assert.deepEqual(bytes.subarray(16), expected);
  assert.equal(bytes.readUInt16LE(4), 0x0a03);
  const back = decodeMessage(nftChain, bytes);
  assert.deepEqual({ ...back.attrs.hook }, { hooknum: 4, priority: -5 });
  const t = decodeMessage(nftTable, encodeMessage(nftTable, { header: { type: nftType(NFT_MSG.NEWTABLE) }, attrs: { name: 'x', flags: 1 } }));
  assert.equal(t.attrs.flags, 1);
  assert.ok(nftSetElem.types[nftType(NFT_MSG.DELSETELEM)]);
});

test('every nf_tables message of a dump decodes through decodeAll together', () => {
  // Several messages in one buffer, as a datagram carries them.
  const all = Buffer.concat(loadFixture('nftables/dump-rules.hex'));
  const msgs: AnyMessage[] = decodeAll(nftables, all);
  assert.equal(msgs.filter((m) => m.kind === 'nftRule').length, 13);
  assert.equal(msgs.at(-1)!.kind, 'done');
});

// ---- fib (dump-guard.hex and guard.debug.txt: `nft -f guard.nft`) ----

const guardRules = (table: string) => decode<NftRuleMessage>('dump-guard.hex', 'nftRule').filter((r) => r.attrs.table === table);

test('fib: the kernel\'s dumps decode to the lookup\'s flags, its result and its register', () => {
  const fibOf = (r: NftRuleMessage) => ({ ...r.attrs.expressions!.find((e) => e.name === 'fib')!.data });
  const [guard] = guardRules('sluice_guard');
  assert.deepEqual(fibOf(guard!), { dreg: 1, result: NFT_FIB_RESULT.OIF, flags: NFTA_FIB_F.SADDR | NFTA_FIB_F.IIF | NFTA_FIB_F.PRESENT });
  const F = NFTA_FIB_F;
  assert.deepEqual(guardRules('fibs').map(fibOf), [
    { dreg: 1, result: NFT_FIB_RESULT.ADDRTYPE, flags: F.DADDR }, // fib daddr type local
    { dreg: 1, result: NFT_FIB_RESULT.OIFNAME, flags: F.SADDR | F.MARK }, // fib saddr . mark oifname "lo"
    { dreg: 1, result: NFT_FIB_RESULT.OIF, flags: F.SADDR | F.IIF | F.PRESENT }, // fib saddr . iif oif exists
    { dreg: 1, result: NFT_FIB_RESULT.OIF, flags: F.SADDR | F.IIF }, // fib saddr . iif oif 1
    { dreg: 1, result: NFT_FIB_RESULT.ADDRTYPE, flags: F.DADDR | F.OIF }, // fib daddr . oif type unicast
  ]);
  // The builder gives the same attributes (in nft's order: flags, result, dreg; the kernel dumps them reversed).
  assert.deepEqual({ ...nftExpr.fib(F.SADDR | F.IIF | F.PRESENT, NFT_FIB_RESULT.OIF).data }, fibOf(guard!));
});

test('fib rules print as nft --debug=netlink printed them', () => {
  const printed = nftDebugRules('nftables/guard.debug.txt').filter((r) => r.chain.startsWith('ip fibs '));
  assert.equal(printed.length, 5);
  assert.deepEqual(guardRules('fibs').map((r) => r.attrs.expressions!.map(formatNftExpression)), printed.map((r) => r.expressions));
  assert.equal(printed[2]!.expressions[0], '[ fib saddr . iif oif present => reg 1 ]');
});

test('fib: nftExpr.fib encodes NFTA_FIB_FLAGS, NFTA_FIB_RESULT and NFTA_FIB_DREG, big-endian, as nft sends them', () => {
  const w = new Writer(64);
  nftExpressionList.encode(w, [nftExpr.fib(NFTA_FIB_F.SADDR | NFTA_FIB_F.IIF | NFTA_FIB_F.PRESENT, NFT_FIB_RESULT.OIF)], { siblings: {} });
  const expected = attr(1 | 0x8000, Buffer.concat([
    attr(1, Buffer.from('fib\0')),
    attr(2 | 0x8000, Buffer.concat([attr(3, Buffer.from('00000029', 'hex')), attr(2, Buffer.from('00000001', 'hex')), attr(1, Buffer.from('00000001', 'hex'))])),
  ]));
  const bytes = w.finish();
  assert.deepEqual(bytes, expected);
  const [back] = nftExpressionList.decode(bytes, 0, bytes.length, { siblings: {} }) as NftExpression[];
  assert.deepEqual({ ...back!.data }, { flags: 0x29, result: 1, dreg: 1 });
  assert.deepEqual(NFTA_FIB_F, { SADDR: 1, DADDR: 2, MARK: 4, IIF: 8, OIF: 16, PRESENT: 32 });
});

test('fib: unknown flag bits and results print as nft prints them', () => {
  assert.equal(formatNftExpression(nftExpr.fib(NFTA_FIB_F.SADDR | 0x40, NFT_FIB_RESULT.OIF, 2)), '[ fib saddr . unknown 0x40oif => reg 2 ]');
  assert.equal(formatNftExpression(nftExpr.fib(0x80 | NFTA_FIB_F.PRESENT, NFT_FIB_RESULT.OIF)), '[ fib unknown 0x80oif present => reg 1 ]');
  assert.equal(formatNftExpression(nftExpr.fib(NFTA_FIB_F.DADDR, 9)), '[ fib daddr unknown => reg 1 ]');
});
