import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after } from 'node:test';
import { NetlinkError } from '../../src/netlink/errors.js';
import { encodeAny, encodeMessage, NLM_F, type AnyMessage } from '../../src/netlink/message.js';
import { NETLINK_NETFILTER, rawOf, type NetlinkSocket } from '../../src/netlink/socket.js';
import {
  formatNftExpression, formatInterval, intervalsFromElements, isGenerationConflict, NFPROTO, NFT_MSG, NFT_SET_F, NFT_DATATYPE, NftBatch, nftChain, nftGen,
  nftRule, nftSet, nftSetElem, nftTable, nftables, nftType, prefixInterval, intervalElements,
  type NftChainMessage, type NftRuleMessage, type NftSetElemMessage, type NftSetMessage, type NftTableMessage,
} from '../../src/netlink/nftables/index.js';
import { openSocketIn } from '../../src/netns.js';
import { Masquerade } from '../../src/datapath/masquerade.js';
import { isRoot, kernelTest, leftoverNamespaces, uniqueName, withNamespace, type TestNamespace } from '../support/kernel.js';

after(() => {
  if (isRoot) assert.deepEqual(leftoverNamespaces(), [], 'no test namespace is left behind');
});

const INET = NFPROTO.INET;
const nft = (n: TestNamespace, ...args: string[]) => execFileSync('ip', ['netns', 'exec', n.name, 'nft', ...args], { encoding: 'utf8' });
const tables = (n: TestNamespace) => (JSON.parse(nft(n, '-j', 'list', 'tables')).nftables as Array<{ table?: { name: string } }>).filter((o) => o.table).map((o) => o.table!.name);

async function withNft<T>(fn: (sock: NetlinkSocket, n: TestNamespace) => T): Promise<T> {
  return withNamespace((n) => {
    const sock = openSocketIn(n.ns, NETLINK_NETFILTER, { family: nftables });
    try {
      return fn(sock, n);
    } finally {
      sock.close();
    }
  });
}

const generation = (sock: NetlinkSocket) =>
  (sock.request(encodeMessage(nftGen, { header: { type: nftType(NFT_MSG.GETGEN) } }), 'NFT_MSG_GETGEN').find((m) => m.kind === 'nftGen') as unknown as { attrs: { id: number } }).attrs.id;

function dump<T>(sock: NetlinkSocket, type: number, attrs: object, family: number = NFPROTO.UNSPEC): Array<T & AnyMessage> {
  const kinds = { [NFT_MSG.GETTABLE]: nftTable, [NFT_MSG.GETCHAIN]: nftChain, [NFT_MSG.GETSET]: nftSet, [NFT_MSG.GETRULE]: nftRule, [NFT_MSG.GETSETELEM]: nftSetElem } as const;
  const kind = kinds[type as keyof typeof kinds];
  const replies = sock.dump(encodeMessage(kind, { header: { type: nftType(type) }, nfgen: { family }, attrs } as never));
  for (const m of replies) assert.deepEqual(encodeAny(nftables, m), rawOf(m), `${m.kind} re-encodes to the bytes the kernel sent`);
  return replies.filter((m) => m.kind !== 'done') as Array<T & AnyMessage>;
}

function tableSetAndElements(table: string, genid?: number): NftBatch {
  return new NftBatch(genid === undefined ? {} : { genid })
    .add(nftTable, { header: { type: nftType(NFT_MSG.NEWTABLE), flags: NLM_F.CREATE }, nfgen: { family: INET }, attrs: { name: table, flags: 0 } }, `add table inet ${table}`)
    .add(nftSet, {
      header: { type: nftType(NFT_MSG.NEWSET), flags: NLM_F.CREATE },
      nfgen: { family: INET },
      attrs: { table, name: 's', flags: NFT_SET_F.INTERVAL, keyType: NFT_DATATYPE.IPADDR, keyLen: 4, id: 1 },
    }, `add set inet ${table} s`)
    .add(nftSetElem, {
      header: { type: nftType(NFT_MSG.NEWSETELEM), flags: NLM_F.CREATE },
      nfgen: { family: INET },
      attrs: { table, set: 's', elements: ['10.1.0.0/16', '10.3.0.7'].map(prefixInterval).flatMap(intervalElements) },
    }, `add element inet ${table} s`);
}

kernelTest('a batch creates a table, a set and its elements in one transaction; the kernel\'s dumps decode and re-encode', async () => {
  await withNft((sock, n) => {
    const before = generation(sock);
    assert.deepEqual(tableSetAndElements('t1').commit(sock), []);
    assert.ok(generation(sock) !== before, 'one commit: a new generation');
    assert.deepEqual(tables(n), ['t1']);
    const ts = dump<NftTableMessage>(sock, NFT_MSG.GETTABLE, {});
    assert.deepEqual(ts.map((t) => [t.nfgen.family, t.attrs.name]), [[INET, 't1']]);
    const [set] = dump<NftSetMessage>(sock, NFT_MSG.GETSET, { table: 't1' }, INET);
    assert.deepEqual([set!.attrs.name, set!.attrs.flags, set!.attrs.keyLen], ['s', NFT_SET_F.INTERVAL, 4]);
    const elems = dump<NftSetElemMessage>(sock, NFT_MSG.GETSETELEM, { table: 't1', set: 's' }, INET).flatMap((m) => m.attrs.elements ?? []);
    assert.deepEqual(intervalsFromElements(4, elems).map(formatInterval), ['10.1.0.0/16', '10.3.0.7/32']);
    assert.match(nft(n, 'list', 'set', 'inet', 't1', 's'), /elements = \{ 10\.1\.0\.0\/16, 10\.3\.0\.7 \}/);
  });
});

kernelTest('a failing change rolls the whole batch back, and the error names the change that failed', async () => {
  await withNft((sock, n) => {
    const batch = tableSetAndElements('t2').add(nftSetElem, {
      header: { type: nftType(NFT_MSG.NEWSETELEM), flags: NLM_F.CREATE },
      nfgen: { family: INET },
      attrs: { table: 't2', set: 'missing', elements: intervalElements(prefixInterval('10.9.9.9')) },
    }, 'add element inet t2 missing { 10.9.9.9 }');
    assert.throws(() => batch.commit(sock), (e: unknown) => e instanceof NetlinkError && e.code === 'ENOENT' && e.request === 'add element inet t2 missing { 10.9.9.9 }');
    assert.deepEqual(tables(n), [], 'nothing of the batch was committed');
    // The socket stays usable: the same batch without the bad change goes through.
    tableSetAndElements('t2').commit(sock);
    assert.deepEqual(tables(n), ['t2']);
    // An error from the kernel's own validation: adding the table with NLM_F_EXCL again.
    assert.throws(() => new NftBatch().add(nftTable, { header: { type: nftType(NFT_MSG.NEWTABLE), flags: NLM_F.CREATE | NLM_F.EXCL }, nfgen: { family: INET }, attrs: { name: 't2' } }).commit(sock),
      (e: unknown) => e instanceof NetlinkError && e.code === 'EEXIST' && e.request === 'NFT_MSG_NEWTABLE');
  });
});

kernelTest('a batch computed from an old generation is refused with ERESTART and changes nothing', async () => {
  await withNft((sock, n) => {
    const genid = generation(sock);
    tableSetAndElements('first').commit(sock);
    assert.throws(() => tableSetAndElements('second', genid).commit(sock), (e: unknown) => isGenerationConflict(e) && /generation/.test((e as Error).message));
    assert.deepEqual(tables(n), ['first']);
    // With the current generation it goes through.
    tableSetAndElements('second', generation(sock)).commit(sock);
    assert.deepEqual(tables(n).sort(), ['first', 'second']);
  });
});

kernelTest('nft takes our masquerade ruleset for its own: listed by nft and loaded back by nft, the kernel holds the same objects', async () => {
  const table = uniqueName('slm');
  await withNamespace(async (ours) => withNamespace((theirs) => {
    const m = new Masquerade({ netns: ours.ns, table, nomasq: ['10.244.0.0/16', 'fd00:10:244::/48'] });
    try {
      m.ensure();
      m.addPod(['10.244.1.2', '10.244.1.3', 'fd00:10:244:1::2']);
    } finally {
      m.close();
    }
    const text = nft(ours, 'list', 'table', 'inet', table);
    execFileSync('ip', ['netns', 'exec', theirs.name, 'nft', '-f', '-'], { input: text });
    assert.equal(nft(theirs, 'list', 'table', 'inet', table), text);

    const snapshot = (n: TestNamespace) => {
      const sock = openSocketIn(n.ns, NETLINK_NETFILTER, { family: nftables });
      try {
        const chains = dump<NftChainMessage>(sock, NFT_MSG.GETCHAIN, {});
        const rules = dump<NftRuleMessage>(sock, NFT_MSG.GETRULE, { table }, INET);
        const sets = dump<NftSetMessage>(sock, NFT_MSG.GETSET, { table }, INET);
        return {
          chains: chains.map((c) => ({ name: c.attrs.name, hook: { ...c.attrs.hook }, type: c.attrs.type, policy: c.attrs.policy })),
          rules: rules.map((r) => ({ exprs: r.attrs.expressions!.map(formatNftExpression), userdata: r.attrs.userdata })),
          sets: sets.map((s) => ({ name: s.attrs.name, flags: s.attrs.flags, keyType: s.attrs.keyType, keyLen: s.attrs.keyLen, userdata: s.attrs.userdata })),
          elements: sets.map((s) => {
            const elems = dump<NftSetElemMessage>(sock, NFT_MSG.GETSETELEM, { table, set: s.attrs.name }, INET).flatMap((e) => e.attrs.elements ?? []);
            return intervalsFromElements(s.attrs.keyLen === 4 ? 4 : 6, elems).map(formatInterval);
          }),
        };
      } finally {
        sock.close();
      }
    };
    const a = snapshot(ours);
    const b = snapshot(theirs);
    assert.equal(a.rules.length, 2);
    assert.deepEqual(a, b);
  }));
});
