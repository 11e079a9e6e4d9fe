// The spoof guard's ruleset against what nft itself makes of test/fixtures/nftables/guard.nft: the rule
// expression by expression (nft --debug=netlink), the set, chain and element as the kernel dumped them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAll } from '../../src/netlink/message.js';
import {
  formatNftExpression, formatNftSetElement, nftables, nftUserdataComment,
  type NftChainMessage, type NftRuleAttrs, type NftSetElemMessage, type NftSetMessage,
} from '../../src/netlink/nftables/index.js';
import { DEFAULT_GUARD_TABLE, GUARD_CHAIN, GUARD_SET, ifindexKey, planGuard, spoofGuardRule } from '../../src/datapath/spoof-guard.js';
import { loadFixture, nftDebugRules } from '../support/fixtures.js';

const dumped = <T>(kind: string) =>
  loadFixture('nftables/dump-guard.hex').flatMap((b) => decodeAll(nftables, b)).filter((m) => m.kind === kind && (m as { attrs: { table?: string } }).attrs.table === DEFAULT_GUARD_TABLE) as unknown as T[];

/** The messages of a plan, decoded: [kind, NFT_MSG name, attrs]. */
function messagesOf(rules: NftRuleAttrs[]): Array<{ kind: string; type: string; attrs: any }> {
  const { bytes } = planGuard(DEFAULT_GUARD_TABLE, rules, 7).encode();
  return decodeAll(nftables, bytes).slice(1, -1).map((m) => ({ kind: m.kind, type: nftables.typeName(m.header.type) ?? '?', attrs: (m as { attrs: unknown }).attrs }));
}

test('the guard rule is, expression by expression, what nft sends for `iif @pending fib saddr . iif oif missing drop`', () => {
  const [nft] = nftDebugRules('nftables/guard.debug.txt').filter((r) => r.chain === `inet ${DEFAULT_GUARD_TABLE} ${GUARD_CHAIN}`);
  assert.deepEqual(spoofGuardRule().expressions.map(formatNftExpression), nft!.expressions);
  assert.deepEqual(nft!.expressions, [
    '[ meta load iif => reg 1 ]',
    '[ lookup reg 1 set pending ]',
    '[ fib saddr . iif oif present => reg 1 ]',
    '[ cmp eq reg 1 0x00000000 ]',
    '[ immediate reg 0 drop ]',
  ]);
  assert.match(spoofGuardRule().comment, /^sluice spoof guard [0-9a-f]{12}$/);
  assert.equal(nftUserdataComment(spoofGuardRule().userdata), spoofGuardRule().comment);
});

test('the guard rule has the attributes of the rule the kernel holds after nft added it (but for the lookup flags it reports)', () => {
  const [rule] = dumped<{ attrs: NftRuleAttrs }>('nftRule');
  const kernel = rule!.attrs.expressions!;
  const ours = spoofGuardRule().expressions;
  assert.deepEqual(kernel.map((e) => e.name), ours.map((e) => e.name));
  const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array || (x as { type?: string })?.type === 'Buffer' ? Buffer.from(x as Uint8Array).toString('hex') : x)));
  kernel.forEach((e, i) => {
    const data = { ...(e.data as Record<string, unknown>) };
    if (e.name === 'lookup') delete data.flags; // the kernel always reports them, 0 here
    assert.deepEqual(plain(data), plain(ours[i]!.data), `expression ${i} (${e.name})`);
  });
  // cmp compares the whole 4-byte register (nft's choice, kept: the kernel zeroes it before storing the byte).
  assert.equal(((kernel[3]!.data as { data: { value: Buffer } }).data.value).length, 4);
});

test('a fresh node: the plan creates the table, the set, the chain as nft made them, and the rule', () => {
  const msgs = messagesOf([]);
  assert.deepEqual(msgs.map((m) => m.type), ['NFT_MSG_NEWTABLE', 'NFT_MSG_NEWSET', 'NFT_MSG_NEWCHAIN', 'NFT_MSG_NEWRULE']);
  const [nftSetDump] = dumped<NftSetMessage>('nftSet');
  const set = msgs[1]!.attrs;
  for (const k of ['name', 'flags', 'keyType', 'keyLen'] as const) assert.deepEqual(set[k], nftSetDump!.attrs[k] ?? 0, k);
  assert.deepEqual(Buffer.from(set.userdata), Buffer.from(nftSetDump!.attrs.userdata!), 'the key byte order userdata nft wrote (host order)');
  const [chainDump] = dumped<NftChainMessage>('nftChain');
  const chain = msgs[2]!.attrs;
  assert.deepEqual([chain.name, chain.type, chain.policy, { ...chain.hook }], [chainDump!.attrs.name, chainDump!.attrs.type, chainDump!.attrs.policy, { ...chainDump!.attrs.hook }]);
  assert.deepEqual({ ...chain.hook }, { hooknum: 0, priority: -300 });
  assert.equal(msgs[3]!.attrs.chain, GUARD_CHAIN);
  assert.deepEqual(Buffer.from(msgs[3]!.attrs.userdata), spoofGuardRule().userdata);
  // The batch carries the generation it was computed from.
  const { bytes } = planGuard(DEFAULT_GUARD_TABLE, [], 7).encode();
  assert.equal((decodeAll(nftables, bytes)[0] as { attrs: { genid?: number } }).attrs.genid, 7);
  // Table, set and chain with NLM_F_CREATE and without NLM_F_EXCL: there already, they are no error.
  for (const m of decodeAll(nftables, bytes).slice(1, 4)) assert.equal(m.header.flags & 0x600, 0x400, nftables.typeName(m.header.type));
});

test('the plan: nothing when our rule is there once; duplicates and foreign rules go, ours is added once', () => {
  const ours = { table: DEFAULT_GUARD_TABLE, chain: GUARD_CHAIN, handle: 3n, userdata: spoofGuardRule().userdata };
  assert.equal(planGuard(DEFAULT_GUARD_TABLE, [ours], 1).size, 0);
  const dup = messagesOf([ours, { ...ours, handle: 9n }]);
  assert.deepEqual(dup.map((m) => m.type).slice(3), ['NFT_MSG_DELRULE']);
  assert.equal(dup[3]!.attrs.handle, 9n);
  const foreign = messagesOf([{ ...ours, handle: 4n, userdata: Buffer.from('0006olden\0', 'latin1') }]);
  assert.deepEqual(foreign.map((m) => m.type).slice(3), ['NFT_MSG_DELRULE', 'NFT_MSG_NEWRULE']);
  assert.equal(messagesOf([{ ...ours, userdata: undefined }]).filter((m) => m.type === 'NFT_MSG_NEWRULE').length, 1, 'a rule without comment is not ours');
});

test('an element is the ifindex as meta iif loads it (host order): "lo" is 1, as nft printed it', () => {
  const [elems] = dumped<NftSetElemMessage>('nftSetElem');
  const element = elems!.attrs.elements![0]!;
  assert.equal(elems!.attrs.set, GUARD_SET);
  assert.deepEqual(Buffer.from(element.key!.value!), ifindexKey(1));
  assert.equal(formatNftSetElement({ key: { value: ifindexKey(1) } }), 'element 00000001  : 0 [end]');
  for (const bad of [0, -1, 1.5, 2 ** 32, Number.NaN]) assert.throws(() => ifindexKey(bad), TypeError, String(bad));
});
