import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { decodeAll, NLM_F, type AnyMessage } from '../../src/netlink/message.js';
import {
  addressKey, decodeNftUserdata, formatNftExpression, formatInterval, formatNftSetElement, intervalElements, intervalsFromElements, mergeIntervals,
  NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NFNL_SUBSYS_NFTABLES, NFPROTO, NFT_MSG, NFT_SET_ELEM_F, nftables, nftType, prefixInterval, NftBatch,
  nftUserdataComment, nftCommentUserdata, encodeNftUserdata, nftU32Tlv, NFTNL_UDATA_SET_ELEM, NFTNL_SET_ELEM_F_INTERVAL_OPEN, nftTable,
  type NftChainAttrs, type NftRuleAttrs, type NftRuleMessage, type NftSetAttrs, type NftSetElemMessage, type NftSetMessage,
  type NftTableAttrs, type NftChainMessage, type NftTableMessage,
} from '../../src/netlink/nftables/index.js';
import {
  ALWAYS_NOMASQ, elementsRequest, firstOverlap, Masquerade, MasqueradeError, masqueradeRule, masqueradeSet, nomasqIntervals, planEnsure,
  validateTableName, type ObservedRuleset,
} from '../../src/datapath/masquerade.js';
import { loadFixture } from '../support/fixtures.js';

const fixtureDir = fileURLToPath(new URL('../../../test/fixtures/nftables/', import.meta.url));

/**
 * What `nft --debug=netlink -f ruleset.nft` printed (capture.sh): the expressions of each rule nft
 * sent, and the elements of each `add element` command, with their userdata when they have some.
 */
function nftDebug(): { rules: string[][]; adds: Array<{ set: string; elements: Array<{ text: string; userdata?: Buffer }> }> } {
  const lines = readFileSync(`${fixtureDir}ruleset.debug.txt`, 'utf8').split('\n');
  const rules: string[][] = [];
  const groups: Array<{ set: string; elements: Array<{ text: string; userdata?: Buffer }> }> = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === 'inet sluice postrouting') {
      const exprs: string[] = [];
      for (i++; /^ {2}\[ .* \]$/.test(lines[i] ?? ''); i++) exprs.push(lines[i]!.trim());
      rules.push(exprs);
      continue;
    }
    const head = /^(\w+) sluice 0$/.exec(lines[i]!);
    if (head && lines[i + 1]?.startsWith('\t')) {
      const elements = lines[i + 1]!.split('\t').filter((s) => s.startsWith('element')).map((s) => {
        const m = /^(element .*?\[end\])(?:\s+userdata = \{ (.*) \})?$/.exec(s)!;
        const udata = m[2] ? Buffer.from(m[2].split('\\x').filter(Boolean).map((h) => parseInt(h, 16))) : undefined;
        return udata ? { text: m[1]!, userdata: udata } : { text: m[1]! };
      });
      groups.push({ set: head[1]!, elements });
    }
  }
  // The groups printed after the rules are the `add element` commands; the earlier ones come from the
  // set declarations (with nft's leading "0 [end]" element).
  return { rules, adds: groups.slice(-5) };
}

test('the masquerade rules are, expression by expression, what nft sends for the same rules', () => {
  const { rules } = nftDebug();
  assert.equal(rules.length, 2);
  assert.deepEqual(masqueradeRule(4).expressions.map(formatNftExpression), rules[0]);
  assert.deepEqual(masqueradeRule(6).expressions.map(formatNftExpression), rules[1]);
  assert.deepEqual(rules[0], [
    '[ meta load nfproto => reg 1 ]',
    '[ cmp eq reg 1 0x00000002 ]',
    '[ payload load 4b @ network header + 12 => reg 1 ]',
    '[ lookup reg 1 set pods4 ]',
    '[ payload load 4b @ network header + 16 => reg 1 ]',
    '[ lookup reg 1 set pods4 0x1 ]',
    '[ payload load 4b @ network header + 16 => reg 1 ]',
    '[ lookup reg 1 set nomasq4 0x1 ]',
    '[ masq ]',
  ]);
});

test('the masquerade rules carry an nft comment that names them and hashes their expressions', () => {
  const r4 = masqueradeRule(4);
  const r6 = masqueradeRule(6);
  assert.match(r4.comment, /^sluice masquerade ipv4 [0-9a-f]{12}$/);
  assert.match(r6.comment, /^sluice masquerade ipv6 [0-9a-f]{12}$/);
  assert.equal(nftUserdataComment(r4.userdata), r4.comment);
  // nft's comment TLV: type 0, the length, the string and its NUL.
  assert.deepEqual(r4.userdata.subarray(0, 2), Buffer.from([0, r4.comment.length + 1]));
  assert.deepEqual(masqueradeRule(4), r4, 'deterministic');
  assert.notEqual(r4.comment.slice(-12), r6.comment.slice(-12));
});

test('set elements are encoded as nft encodes them for the same prefixes, open intervals included', () => {
  const { adds } = nftDebug();
  const given: Array<[string, 4 | 6, string[]]> = [
    ['pods4', 4, ['10.244.1.2/32']],
    ['pods4', 4, ['10.244.1.3/32', '10.244.1.64/26']],
    ['nomasq4', 4, ['10.244.0.0/16', '224.0.0.0/4']],
    ['pods6', 6, ['fd00:10:244:1::2/128']],
    ['nomasq6', 6, ['fd00:10:244::/48', 'ff00::/8']],
  ];
  assert.equal(adds.length, given.length);
  given.forEach(([set, , prefixes], i) => {
    const ours = elementsRequest(NFT_MSG.NEWSETELEM, NLM_F.CREATE, 'sluice', set, prefixes.map(prefixInterval)).attrs.elements;
    assert.equal(adds[i]!.set, set);
    assert.deepEqual(ours.map(formatNftSetElement), adds[i]!.elements.map((e) => e.text), `${set} ${prefixes.join(' ')}`);
    assert.deepEqual(ours.map((e) => e.userdata), adds[i]!.elements.map((e) => e.userdata), `${set} userdata`);
  });
});

test('the sets are declared as nft declares "type ipv4_addr; flags interval" (checked against the kernel\'s dump)', () => {
  const dumped = loadFixture('nftables/dump-sets.hex').flatMap((b) => decodeAll(nftables, b)).filter((m): m is AnyMessage & NftSetMessage => m.kind === 'nftSet');
  for (const name of ['pods4', 'pods6', 'nomasq4', 'nomasq6']) {
    const kernel = dumped.find((m) => m.attrs.name === name)!.attrs;
    const ours = masqueradeSet('sluice', name);
    assert.deepEqual([ours.flags, ours.keyType, ours.keyLen, ours.userdata], [kernel.flags, kernel.keyType, kernel.keyLen, kernel.userdata], name);
  }
});

// ---- planning ----

const empty = (genid = 7): ObservedRuleset => ({ genid, sets: new Map(), rules: [], nomasq: new Map() });

/** The ruleset nft created from ruleset.nft, as ensure() would observe it, from the kernel's dumps. */
function observedFromFixtures(): ObservedRuleset {
  const all = ['dump-tables.hex', 'dump-chains.hex', 'dump-sets.hex', 'dump-rules.hex', 'dump-setelems.hex']
    .flatMap((f) => loadFixture(`nftables/${f}`)).flatMap((b) => decodeAll(nftables, b));
  const ofKind = <T>(kind: string) => all.filter((m) => m.kind === kind) as unknown as T[];
  const table = ofKind<NftTableMessage>('nftTable').find((m) => m.attrs.name === 'sluice')!.attrs as NftTableAttrs;
  const chain = ofKind<NftChainMessage>('nftChain').find((m) => m.attrs.table === 'sluice')!.attrs as NftChainAttrs;
  const sets = new Map(ofKind<NftSetMessage>('nftSet').filter((m) => m.attrs.table === 'sluice').map((m) => [m.attrs.name!, m.attrs as NftSetAttrs]));
  const rules = ofKind<NftRuleMessage>('nftRule').filter((m) => m.attrs.table === 'sluice').map((m) => m.attrs as NftRuleAttrs);
  const elems = (set: string) => ofKind<NftSetElemMessage>('nftSetElem').filter((m) => m.attrs.set === set).flatMap((m) => m.attrs.elements ?? []);
  const nomasq = new Map([['nomasq4', intervalsFromElements(4, elems('nomasq4'))], ['nomasq6', intervalsFromElements(6, elems('nomasq6'))]]);
  return { genid: 3, table, chain, sets, rules, nomasq };
}

test('planning from nothing: the table, the chain, four sets, nomasq and two rules in one guarded batch', () => {
  const { batch, actions } = planEnsure('sluice', nomasqIntervals(['10.244.0.0/16', '10.96.0.0/12']), empty(42));
  assert.deepEqual(actions.map((a) => a.replace(/ [0-9a-f]{12}\)$/, ')')), [
    'add table inet sluice',
    'add chain inet sluice postrouting { type nat hook postrouting priority srcnat; policy accept; }',
    'add set inet sluice pods4',
    'add set inet sluice pods6',
    'add set inet sluice nomasq4',
    'add set inet sluice nomasq6',
    'add element inet sluice nomasq4 { 10.96.0.0/12, 10.244.0.0/16, 224.0.0.0/4 }',
    'add element inet sluice nomasq6 { ff00::/8 }',
    'add rule inet sluice postrouting (sluice masquerade ipv4)',
    'add rule inet sluice postrouting (sluice masquerade ipv6)',
  ]);
  const { bytes, what } = batch.encode();
  const msgs = decodeAll(nftables, bytes);
  assert.equal(msgs.length, actions.length + 2);
  assert.equal(what.length, msgs.length);
  const begin = msgs[0] as AnyMessage & { nfgen: { resId: number }; attrs: { genid?: number } };
  assert.deepEqual([begin.header.type, begin.nfgen.resId, begin.attrs.genid], [NFNL_MSG_BATCH_BEGIN, NFNL_SUBSYS_NFTABLES, 42]);
  assert.equal(msgs.at(-1)!.header.type, NFNL_MSG_BATCH_END);
  for (const m of msgs.slice(1, -1)) {
    assert.equal(m.header.flags & (NLM_F.REQUEST | NLM_F.ACK), NLM_F.REQUEST | NLM_F.ACK, 'every change is confirmed');
    assert.equal((m as unknown as { nfgen: { family: number } }).nfgen.family, NFPROTO.INET);
  }
  const sets = msgs.filter((m) => m.kind === 'nftSet') as unknown as NftSetMessage[];
  assert.deepEqual(sets.map((s) => s.attrs.id), [1, 2, 3, 4], 'the kernel requires NFTA_SET_ID on new sets');
  const elements = msgs.filter((m) => m.kind === 'nftSetElem') as unknown as NftSetElemMessage[];
  assert.ok(elements.every((m) => m.header.flags & NLM_F.EXCL), 'EXCL: an overlapping element is refused, never half-added');
});

test('planning from the ruleset nft made: only the rules (not tagged as ours) and the stale nomasq entry change', () => {
  const observed = observedFromFixtures();
  const { actions } = planEnsure('sluice', nomasqIntervals(['10.244.0.0/16']), observed);
  const handles = observed.rules.map((r) => String(r.handle));
  assert.deepEqual(actions.map((a) => a.replace(/ [0-9a-f]{12}\)$/, ')')), [
    'delete element inet sluice nomasq6 { fd00:10:244::/48 }',
    `delete rule inet sluice postrouting handle ${handles[0]} (sluice masquerade ipv4)`,
    `delete rule inet sluice postrouting handle ${handles[1]} (sluice masquerade ipv6)`,
    'add rule inet sluice postrouting (sluice masquerade ipv4)',
    'add rule inet sluice postrouting (sluice masquerade ipv6)',
  ]);
});

test('planning when everything is in place: nothing to send; duplicates and foreign rules go', () => {
  const observed = observedFromFixtures();
  const r4 = masqueradeRule(4);
  const r6 = masqueradeRule(6);
  observed.rules = [{ handle: 10n, userdata: r4.userdata }, { handle: 11n, userdata: r6.userdata }];
  observed.nomasq.set('nomasq6', nomasqIntervals(['fd00:10:244::/48']).filter((iv) => iv.family === 6));
  const nomasq = nomasqIntervals(['10.244.0.0/16', 'fd00:10:244::/48']);
  const { batch, actions } = planEnsure('sluice', nomasq, observed);
  assert.deepEqual(actions, []);
  assert.equal(batch.size, 0);

  observed.rules.push({ handle: 12n, userdata: r4.userdata }, { handle: 13n, userdata: nftCommentUserdata('someone else') }, { handle: 14n });
  assert.deepEqual(planEnsure('sluice', nomasq, observed).actions, [
    'delete rule inet sluice postrouting handle 12 (' + r4.comment + ')',
    'delete rule inet sluice postrouting handle 13 (someone else)',
    'delete rule inet sluice postrouting handle 14',
  ]);
  // A dormant table is woken up; a chain whose policy is drop is set back to accept.
  observed.rules = observed.rules.slice(0, 2);
  observed.table = { ...observed.table, flags: 1 };
  observed.chain = { ...observed.chain, policy: 0 };
  assert.deepEqual(planEnsure('sluice', nomasq, observed).actions, [
    'add table inet sluice',
    'add chain inet sluice postrouting { type nat hook postrouting priority srcnat; policy accept; }',
  ]);
});

test('planning refuses a table whose chain or sets have another shape', () => {
  const chain = observedFromFixtures();
  chain.chain = { ...chain.chain, hook: { hooknum: 0, priority: -100 } };
  assert.throws(() => planEnsure('sluice', [], chain), (e: unknown) => e instanceof MasqueradeError && /chain postrouting .*hook 0, priority -100/.test(e.message));
  const set = observedFromFixtures();
  set.sets.set('pods6', { ...set.sets.get('pods6')!, keyLen: 4 });
  assert.throws(() => planEnsure('sluice', [], set), (e: unknown) => e instanceof MasqueradeError && /set pods6 .*key length 4/.test(e.message));
  const plain = observedFromFixtures();
  plain.sets.set('pods4', { ...plain.sets.get('pods4')!, flags: 0 });
  assert.throws(() => planEnsure('sluice', [], plain), MasqueradeError);
});

test('a batch: begin with the generation, the changes with REQUEST|ACK added, end; empty batches are not sent', () => {
  const batch = new NftBatch({ genid: 0x1234 }).add(nftTable, { header: { type: nftType(NFT_MSG.DELTABLE) }, nfgen: { family: NFPROTO.INET }, attrs: { name: 'x' } }, 'delete table inet x');
  const { bytes, what } = batch.encode();
  assert.deepEqual(what, ['nf_tables batch (generation 4660)', 'delete table inet x', 'nf_tables batch end']);
  const msgs = decodeAll(nftables, bytes);
  assert.deepEqual(msgs.map((m) => [m.header.type, m.header.flags]), [
    [NFNL_MSG_BATCH_BEGIN, NLM_F.REQUEST],
    [nftType(NFT_MSG.DELTABLE), NLM_F.REQUEST | NLM_F.ACK],
    [NFNL_MSG_BATCH_END, NLM_F.REQUEST],
  ]);
  // nfgenmsg (AF_UNSPEC, v0, res_id NFNL_SUBSYS_NFTABLES big-endian) as nft sends it, then NFNL_BATCH_GENID, a big-endian u32.
  assert.deepEqual(bytes.subarray(16, 28), Buffer.from('0000000a' + '08000100' + '00001234', 'hex'));
  assert.equal(new NftBatch().size, 0);
  assert.deepEqual(new NftBatch().commit(undefined as never), []);
});

// ---- prefixes and intervals ----

test('prefixes: addresses are /32 or /128, host bits are refused, the top of the space is open', () => {
  assert.deepEqual(prefixInterval('10.244.1.5'), { family: 4, start: 0x0af40105n, end: 0x0af40106n });
  assert.deepEqual(prefixInterval('10.244.0.0/16'), { family: 4, start: 0x0af40000n, end: 0x0af50000n });
  assert.deepEqual(prefixInterval('0.0.0.0/0'), { family: 4, start: 0n, end: undefined });
  assert.deepEqual(prefixInterval('255.255.255.255'), { family: 4, start: 0xffffffffn, end: undefined });
  assert.equal(prefixInterval('fd00::1').end, prefixInterval('fd00::1').start + 1n);
  assert.equal(prefixInterval('ff00::/8').end, undefined);
  assert.throws(() => prefixInterval('10.244.1.5/16'), /host bits set: give the address \(10\.244\.1\.5\) or the network/);
  for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0/8', 'nope', '10.0.0.0/', '10.0.0.0/08', '']) assert.throws(() => prefixInterval(bad), TypeError, bad);
  assert.deepEqual(addressKey(4, 0x0a000001n), Buffer.from([10, 0, 0, 1]));
});

test('intervals print as prefixes when they are one, as inclusive ranges otherwise', () => {
  for (const p of ['10.244.1.5/32', '10.0.0.0/8', '0.0.0.0/0', 'fd00:10:244::/48', 'ff00::/8', '::/0', 'fd00::1/128']) assert.equal(formatInterval(prefixInterval(p)), p);
  assert.equal(formatInterval({ family: 4, start: 0x0a000001n, end: 0x0a000006n }), '10.0.0.1-10.0.0.5');
  assert.equal(formatInterval({ family: 4, start: 0x0a000001n, end: undefined }), '10.0.0.1-255.255.255.255');
});

test('intervals merge when they overlap or touch; overlaps are found', () => {
  const merged = mergeIntervals(['10.1.0.0/24', '10.0.0.0/8', '192.168.1.0/24', '192.168.0.0/24', 'fd00::/64', '224.0.0.0/4'].map(prefixInterval));
  assert.deepEqual(merged.map(formatInterval), ['10.0.0.0/8', '192.168.0.0/23', '224.0.0.0/4', 'fd00::/64']);
  assert.deepEqual(nomasqIntervals([]).map(formatInterval), [...ALWAYS_NOMASQ]);
  assert.throws(() => nomasqIntervals(['10.0.0.1/8']), /masquerade: nomasq entry 10\.0\.0\.1\/8 has host bits set/);
  assert.equal(firstOverlap(['10.0.0.1', '10.0.0.2', 'fd00::1'].map(prefixInterval)), undefined, 'adjacent is not overlapping');
  assert.deepEqual(firstOverlap(['10.0.0.5', '10.0.0.0/28'].map(prefixInterval))?.map(formatInterval), ['10.0.0.0/28', '10.0.0.5/32']);
  assert.ok(firstOverlap(['0.0.0.0/0', '10.0.0.1'].map(prefixInterval)));
});

test('interval elements: start and end, or an open start; read back in any order', () => {
  const iv = prefixInterval('10.0.0.0/24');
  const els = intervalElements(iv);
  assert.deepEqual(els, [{ key: { value: Buffer.from([10, 0, 0, 0]) } }, { flags: NFT_SET_ELEM_F.INTERVAL_END, key: { value: Buffer.from([10, 0, 1, 0]) } }]);
  const open = intervalElements(prefixInterval('ff00::/8'));
  assert.equal(open.length, 1);
  assert.deepEqual(decodeNftUserdata(open[0]!.userdata!), [{ type: NFTNL_UDATA_SET_ELEM.FLAGS, value: encodeNftUserdata([nftU32Tlv(0, NFTNL_SET_ELEM_F_INTERVAL_OPEN)]).subarray(2) }]);
  const list = ['10.0.0.1', '10.0.0.2', '10.0.1.0/24', '10.9.0.0/16'].map(prefixInterval);
  const elements = list.flatMap(intervalElements).reverse();
  // nft's leading end element at 0 closes nothing.
  elements.push({ flags: NFT_SET_ELEM_F.INTERVAL_END, key: { value: Buffer.alloc(4) } });
  assert.deepEqual(intervalsFromElements(4, elements), list);
  assert.deepEqual(intervalsFromElements(6, elements), [], 'keys of another length are not this family\'s');
});

test('configuration is validated before anything is opened', () => {
  for (const bad of ['', '9lives', 'a b', 'x/y', 'a'.repeat(64), 'semi;colon']) assert.throws(() => validateTableName(bad), TypeError, bad);
  for (const good of ['sluice', 'sl-t123-4-abcdef', '_x.y']) validateTableName(good);
  assert.throws(() => new Masquerade({ table: 'bad name' }), /invalid nftables table name/);
  assert.throws(() => new Masquerade({ nomasq: ['10.0.0.0/33'] }), /nomasq entry/);
  assert.throws(() => new Masquerade({ maxAttempts: 0 }), /maxAttempts/);
});
