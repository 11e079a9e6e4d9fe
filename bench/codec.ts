// Codec throughput: sluice's netlink codec against node-netlink (npm `netlink`), on the same messages.
//
//   sudo npm run bench:codec                        (or: npx tsc -p . && sudo node dist/bench/codec.js)
//   options: --runs N (default 15, at least 7), --sample-ms MS (default 50), --routes N (default 1000),
//            --only TEXT (run only the cases whose id contains TEXT: decode-link, encode-route, ...)
//
// Decoding: kernel messages (link dump with veth/bridge/vxlan/macvlan, addresses and neighbours from the
// captured fixtures in test/fixtures/rtnetlink/, and a 1,000-route dump captured fresh from a namespace
// this program creates and deletes) are laid end to end in one buffer, as a dump datagram carries them,
// and each library turns the buffer into objects: sluice's decodeAll(rtnetlink, buf); node-netlink's
// parseMessages(buf) then rt.parseMessage(type, payload) for each message. Before anything is timed,
// both decodings are compared field by field, so that neither side is timed skipping work it claims.
//
// Encoding: the same four requests (RTM_NEWROUTE with dst, gateway, oif, priority and metrics;
// RTM_NEWLINK of a veth whose peer is described inside it; RTM_NEWADDR; RTM_NEWNEIGH), each built as
// the library's own request object and encoded to what its socket sends (sluice: one Buffer;
// node-netlink: the buffer list its sendmsg takes). Both outputs are decoded and must carry the same values.
//
// Each case runs in a fresh Node process (see main()). A figure is messages per second: the median of
// the runs, with the slowest and fastest; runs are interleaved (every round runs both libraries, in
// alternating order, back to back). The ratio is the median of the per-round ratios sluice/node-netlink,
// with their interquartile range: a paired comparison, which load from elsewhere on the machine
// disturbs much less than it disturbs the absolute figures.
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AF_INET, decodeAll, decodeMessage, encodeMessage, NETLINK_ROUTE, NetlinkSocket, NLM_F, parseIP, rawOf, route, rtnetlink,
  link, address, neighbour, type AnyMessage,
} from '../src/netlink/index.js';
import { describeMachine, formatMachine, loadNow } from './lib/machine.js';
import { createTempNamespace, requireRoot, routeBatch } from './lib/netns.js';
import { loadCodec, packageVersion, type NnAttrStream, type NnRtMessage } from './lib/node-netlink.js';
import { formatInt, formatRatio, repoRoot, writeResults } from './lib/report.js';
import { codecTable } from './report/codec.js';
import { ratesPerSecond, ratio, summarize, type Summary } from './lib/stats.js';
import { interleaved, iterationsFor, lastResult, timeLoop } from './lib/timing.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    'sample-ms': { type: 'string', default: '50' },
    routes: { type: 'string', default: '1000' },
    only: { type: 'string' },
    // Internal: run one case in this process and print its row as JSON (see main()).
    worker: { type: 'string' },
    'route-file': { type: 'string' },
  },
});
const runs = Number(opts.runs);
const sampleMs = Number(opts['sample-ms']);
const routeCount = Number(opts.routes);
if (!Number.isInteger(runs) || runs < 7) throw new RangeError('--runs must be an integer >= 7');
if (!(sampleMs > 0)) throw new RangeError('--sample-ms must be positive');

const root = repoRoot();
const nn = loadCodec();

// ---- the messages ----

/** The messages of a fixture file (hex, one message per line, '#' comments), NLMSG_DONE left out. */
function fixture(name: string): Buffer[] {
  return readFileSync(join(root, 'test', 'fixtures', 'rtnetlink', name), 'utf8')
    .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => Buffer.from(l, 'hex'))
    .filter((m) => m.readUInt16LE(4) !== 3);
}

/** Messages end to end, each padded to 4 bytes, as a datagram holds them. */
function datagram(messages: readonly Buffer[]): Buffer {
  return Buffer.concat(messages.flatMap((m) => (m.length % 4 ? [m, Buffer.alloc(4 - (m.length % 4))] : [m])));
}

/** Dumps the IPv4 routes of a fresh namespace holding `count` routes (plus the few the kernel adds), as raw messages. */
function captureRouteDump(count: number): Buffer[] {
  const tmp = createTempNamespace('sluice-bench-codec');
  try {
    tmp.ipBatch(routeBatch(count));
    const sock = NetlinkSocket.open(NETLINK_ROUTE, { netns: tmp.ns }); // no family: every reply stays raw
    try {
      const request = encodeMessage(route, { header: { type: 26 }, rtm: { family: AF_INET } });
      return sock.dump(request, 'RTM_GETROUTE (dump)').map((m) => Buffer.from(rawOf(m)!));
    } finally {
      sock.close();
    }
  } finally {
    tmp.close();
  }
}

// ---- checking that both decoders found the same values ----

type Getter = (m: any) => unknown;
const hex = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v);
const ipHex = (v: unknown) => (typeof v === 'string' ? parseIP(v)?.toString('hex') : v);
const macHex = (v: unknown) => (typeof v === 'string' ? v.replace(/:/g, '') : v);

/** For each kind, the values both libraries decode: [name, from sluice's object, from node-netlink's]. */
const checkedFields: Record<string, Array<[string, Getter, Getter]>> = {
  link: [
    ['index', (m) => m.ifinfo.index, (m) => m.data.index],
    ['ifname', (m) => m.attrs.ifname, (m) => m.attrs.ifname],
    ['mtu', (m) => m.attrs.mtu, (m) => m.attrs.mtu],
    ['address', (m) => macHex(m.attrs.address), (m) => hex(m.attrs.address)],
    ['master', (m) => m.attrs.master, (m) => m.attrs.master],
    ['txqlen', (m) => m.attrs.txqlen, (m) => m.attrs.txqlen],
    ['stats64.rxBytes', (m) => m.attrs.stats64?.rxBytes, (m) => m.attrs.stats64?.rxBytes],
  ],
  route: [
    ['family', (m) => m.rtm.family, (m) => m.data.family],
    ['dstLen', (m) => m.rtm.dstLen, (m) => m.data.dstLen],
    ['table', (m) => m.attrs.table, (m) => m.attrs.table],
    ['dst', (m) => ipHex(m.attrs.dst), (m) => hex(m.attrs.dst)],
    ['gateway', (m) => ipHex(m.attrs.gateway), (m) => hex(m.attrs.gateway)],
    ['oif', (m) => m.attrs.oif, (m) => m.attrs.oif],
    ['priority', (m) => m.attrs.priority, (m) => m.attrs.priority],
    ['prefsrc', (m) => ipHex(m.attrs.prefsrc), (m) => hex(m.attrs.prefsrc)],
    ['metrics.mtu', (m) => m.attrs.metrics?.mtu, (m) => (m.attrs.metrics?.mtu as Buffer | undefined)?.readUInt32LE(0)],
  ],
  address: [
    ['index', (m) => m.ifaddr.index, (m) => m.data.index],
    ['prefixlen', (m) => m.ifaddr.prefixlen, (m) => m.data.prefixlen],
    ['address', (m) => ipHex(m.attrs.address), (m) => hex(m.attrs.address)],
    ['local', (m) => ipHex(m.attrs.local), (m) => hex(m.attrs.local)],
    ['label', (m) => m.attrs.label, (m) => m.attrs.label],
    ['cacheinfo.valid', (m) => m.attrs.cacheinfo?.valid, (m) => m.attrs.cacheInfo?.ifaValid],
  ],
  neighbour: [
    ['ifindex', (m) => m.ndm.ifindex, (m) => m.data.ifindex],
    ['dst', (m) => ipHex(m.attrs.dst), (m) => hex(m.attrs.dst)],
    ['lladdr', (m) => macHex(m.attrs.lladdr), (m) => hex(m.attrs.lladdr)],
    ['master', (m) => m.attrs.master, (m) => m.attrs.master],
    ['cacheinfo.used', (m) => m.attrs.cacheinfo?.used, (m) => m.attrs.cacheInfo?.used],
  ],
};
const nnKind: Record<string, string> = { link: 'link', route: 'route', address: 'address', neighbour: 'neighbor' };

/** Compares both decodings of a workload; returns how many values matched, throws on any difference. */
function verifyDecoders(name: string, kind: string, ours: AnyMessage[], theirs: NnRtMessage[]): { messages: number; values: number } {
  if (ours.length !== theirs.length) throw new Error(`${name}: sluice decoded ${ours.length} messages, node-netlink ${theirs.length}`);
  const diffs: string[] = [];
  let values = 0;
  ours.forEach((o, i) => {
    const t = theirs[i]!;
    if (o.kind !== kind || t.kind !== nnKind[kind]) diffs.push(`message ${i}: kinds ${o.kind} / ${t.kind}`);
    for (const [field, fromOurs, fromTheirs] of checkedFields[kind]!) {
      const a = fromOurs(o);
      const b = fromTheirs(t);
      if (a === undefined && b === undefined) continue;
      if (a !== b) diffs.push(`message ${i} ${field}: sluice ${String(a)}, node-netlink ${String(b)}`);
      else values++;
    }
  });
  if (diffs.length) throw new Error(`${name}: the decoders disagree:\n  ${diffs.slice(0, 10).join('\n  ')}`);
  if (values < ours.length) throw new Error(`${name}: only ${values} values compared in ${ours.length} messages`);
  return { messages: ours.length, values };
}

// ---- the requests to encode ----

const REQUEST_CREATE = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL;
const REQUEST_REPLACE = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE;
const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));
const mac = (s: string) => Buffer.from(s.replace(/:/g, ''), 'hex');

/** node-netlink's encoding of one rtnetlink message: its attribute stream framed by formatMessage. */
function nnEncode(type: number, flags: number, format: (out: NnAttrStream) => void): Uint8Array[] {
  const out = new nn.structs.AttrStream();
  format(out);
  return nn.structs.formatMessage({ type, flags, seq: 1, port: 0, data: out.bufs });
}

interface EncodeCase {
  name: string;
  kind: typeof route | typeof link | typeof address | typeof neighbour;
  sluice: () => Buffer;
  nodeNetlink: () => Uint8Array[];
}

const encodeCases: EncodeCase[] = [
  {
    name: 'RTM_NEWROUTE (dst, gateway, oif, priority, table, metrics)',
    kind: route,
    sluice: (() => {
      const req = {
        header: { type: 24, flags: REQUEST_CREATE, seq: 1 },
        rtm: { family: 2, dstLen: 16, table: 254, protocol: 4, scope: 0, type: 1 },
        attrs: { dst: '10.1.0.0', gateway: '10.0.0.1', oif: 2, priority: 100, table: 254, metrics: { mtu: 1400, advmss: 1360 } },
      };
      return () => encodeMessage(route, req);
    })(),
    nodeNetlink: (() => {
      const msg = {
        kind: 'route',
        data: { family: 2, dstLen: 16, table: 254, protocol: 'STATIC', scope: 'UNIVERSE', type: 'UNICAST' },
        attrs: { dst: ip4('10.1.0.0'), gateway: ip4('10.0.0.1'), oif: 2, priority: 100, table: 254, metrics: { mtu: nn.structs.putU32(1400), advmss: nn.structs.putU32(1360) } },
      };
      return () => nnEncode(24, REQUEST_CREATE, (out) => nn.rt.formatRouteMessage(msg, out));
    })(),
  },
  {
    name: 'RTM_NEWLINK (veth and its peer in IFLA_LINKINFO)',
    kind: link,
    sluice: (() => {
      const req = {
        header: { type: 16, flags: REQUEST_CREATE, seq: 1 },
        ifinfo: { flags: 1, change: 1 },
        attrs: {
          ifname: 'sl0123456789ab', mtu: 1450,
          linkinfo: { kind: 'veth', data: { peer: { ifinfo: { flags: 1, change: 1 }, attrs: { ifname: 'eth0', mtu: 1450, netNsFd: 9 } } } },
        },
      };
      return () => encodeMessage(link, req);
    })(),
    // node-netlink keeps IFLA_LINKINFO as bytes: a caller builds the nest with its attribute stream,
    // the peer's ifinfomsg and IFLA attributes with its link formatter. That is part of encoding here.
    nodeNetlink: (() => {
      const up = { up: true };
      const peer = { kind: 'link', data: { flags: up, change: up }, attrs: { ifname: 'eth0', mtu: 1450, netNsFd: 9 } };
      return () => nnEncode(16, REQUEST_CREATE, (out) => {
        const peerStream = new nn.structs.AttrStream();
        nn.rt.formatLinkMessage(peer, peerStream);
        const info = new nn.structs.AttrStream();
        info.push(1, nn.structs.putString('veth')); // IFLA_INFO_KIND
        info.push(2, (data) => data.push(1, peerStream.bufs)); // IFLA_INFO_DATA { VETH_INFO_PEER }
        nn.rt.formatLinkMessage({ kind: 'link', data: { flags: up, change: up }, attrs: { ifname: 'sl0123456789ab', mtu: 1450, linkinfo: info.bufs } }, out);
      });
    })(),
  },
  {
    name: 'RTM_NEWADDR (address, local, label, broadcast)',
    kind: address,
    sluice: (() => {
      const req = {
        header: { type: 20, flags: REQUEST_CREATE, seq: 1 },
        ifaddr: { family: 2, prefixlen: 24, index: 4 },
        attrs: { local: '10.1.2.3', address: '10.1.2.3', label: 'eth0:web', broadcast: '10.1.2.255' },
      };
      return () => encodeMessage(address, req);
    })(),
    nodeNetlink: (() => {
      const msg = {
        kind: 'address',
        data: { family: 2, prefixlen: 24, index: 4 },
        attrs: { local: ip4('10.1.2.3'), address: ip4('10.1.2.3'), label: 'eth0:web', broadcast: ip4('10.1.2.255') },
      };
      return () => nnEncode(20, REQUEST_CREATE, (out) => nn.rt.formatAddressMessage(msg, out));
    })(),
  },
  {
    name: 'RTM_NEWNEIGH (permanent, IPv4 and MAC)',
    kind: neighbour,
    sluice: (() => {
      const req = {
        header: { type: 28, flags: REQUEST_REPLACE, seq: 1 },
        ndm: { family: 2, ifindex: 4, state: 0x80 },
        attrs: { dst: '10.1.2.1', lladdr: '02:00:00:00:00:01' },
      };
      return () => encodeMessage(neighbour, req);
    })(),
    nodeNetlink: (() => {
      const msg = { kind: 'neighbor', data: { family: 2, ifindex: 4, state: { permanent: true } }, attrs: { dst: ip4('10.1.2.1'), lladdr: mac('02:00:00:00:00:01') } };
      return () => nnEncode(28, REQUEST_REPLACE, (out) => nn.rt.formatNeighborMessage(msg, out));
    })(),
  },
];

/** Both encodings must decode (with sluice's decoder) to the same message; says whether the bytes are identical too. */
function verifyEncoders(c: EncodeCase): { bytes: number; identical: boolean } {
  const ours = c.sluice();
  const theirs = Buffer.concat(c.nodeNetlink());
  const a = decodeMessage(c.kind as typeof route, ours);
  const b = decodeMessage(c.kind as typeof route, theirs);
  // The bytes may differ by the final padding, which node-netlink leaves out of nlmsg_len.
  if (!isDeepStrictEqual(a, b)) {
    throw new Error(`${c.name}: the encodings differ:\n  sluice       ${ours.toString('hex')}\n  node-netlink ${theirs.toString('hex')}`);
  }
  return { bytes: ours.length, identical: ours.equals(theirs) };
}

// ---- measuring ----

interface Row {
  op: 'decode' | 'encode';
  name: string;
  source: string;
  messages: number;
  bytes: number;
  iterations: { sluice: number; nodeNetlink: number };
  sluice: Summary;
  nodeNetlink: Summary;
  /**
   * The median of the per-round ratios sluice rate / node-netlink rate. The two runs of a round are
   * adjacent in time, so load from elsewhere on the machine hits both alike: a paired comparison.
   */
  ratio: number;
  /** sluice's median rate over node-netlink's median rate. */
  ratioOfMedians: number;
  /** The per-round ratios. */
  roundRatios: Summary;
  check: Record<string, unknown>;
}

async function measure(fns: [() => unknown, () => unknown], messagesPerCall: number): Promise<{ rates: [number[], number[]]; iterations: [number, number] }> {
  const iterations = fns.map((f) => iterationsFor(f, sampleMs)) as [number, number];
  // No forced GC between samples: a full collection shrinks the young generation, and the next sample
  // (of whichever library allocates more small objects) then pays for regrowing it.
  const samples = await interleaved(2, { runs, warmup: 1 }, (i) => timeLoop(fns[i]!, iterations[i]!));
  return {
    rates: [ratesPerSecond(samples[0]!, iterations[0] * messagesPerCall), ratesPerSecond(samples[1]!, iterations[1] * messagesPerCall)],
    iterations,
  };
}

function row(op: Row['op'], name: string, source: string, messages: number, bytes: number, m: Awaited<ReturnType<typeof measure>>, check: Record<string, unknown>): Row {
  const [s, n] = m.rates;
  return {
    op, name, source, messages, bytes,
    iterations: { sluice: m.iterations[0], nodeNetlink: m.iterations[1] },
    sluice: summarize(s), nodeNetlink: summarize(n),
    ratio: summarize(s.map((x, i) => ratio(x, n[i]!))).median,
    ratioOfMedians: ratio(summarize(s).median, summarize(n).median),
    roundRatios: summarize(s.map((x, i) => ratio(x, n[i]!))),
    check,
  };
}

interface DecodeCase {
  id: string;
  name: string;
  kind: string;
  source: string;
  messages: () => Buffer[];
}

const decodeCases: DecodeCase[] = [
  { id: 'decode-link', name: 'link dump (lo, veth ×4, bridge, vxlan ×2, macvlan)', kind: 'link', source: 'test/fixtures/rtnetlink/link-dump.hex', messages: () => fixture('link-dump.hex') },
  {
    id: 'decode-route', name: `route dump (${formatInt(routeCount)} IPv4 routes + local table)`, kind: 'route', source: `captured at the start of the run (${formatInt(routeCount)} routes via ip -batch)`,
    messages: () => {
      if (!opts['route-file']) throw new Error('decode-route needs --route-file');
      return readFileSync(opts['route-file'], 'utf8').split('\n').filter(Boolean).map((l) => Buffer.from(l, 'hex'));
    },
  },
  { id: 'decode-address', name: 'address dump (IPv4, IPv6)', kind: 'address', source: 'test/fixtures/rtnetlink/address-dump.hex', messages: () => fixture('address-dump.hex') },
  {
    id: 'decode-neighbour', name: 'neighbour dump (IP neighbours, bridge FDB)', kind: 'neighbour', source: 'test/fixtures/rtnetlink/neighbour-{dump,fdb}.hex',
    messages: () => [...fixture('neighbour-dump.hex'), ...fixture('neighbour-fdb.hex')],
  },
];
const encodeIds = ['encode-route', 'encode-link', 'encode-address', 'encode-neighbour'];
const caseIds = [...decodeCases.map((c) => c.id), ...encodeIds];

/** The worker: verifies one case, measures it, and prints its row as one line of JSON. */
async function worker(id: string): Promise<void> {
  const d = decodeCases.find((c) => c.id === id);
  let result: Row;
  if (d) {
    const messages = d.messages();
    const buf = datagram(messages);
    const sluiceDecode = () => decodeAll(rtnetlink, buf);
    const nnDecode = () => {
      const framed = nn.structs.parseMessages(buf);
      const out: NnRtMessage[] = new Array(framed.length);
      for (let i = 0; i < framed.length; i++) out[i] = nn.rt.parseMessage(framed[i]!.type, framed[i]!.data);
      return out;
    };
    const check = verifyDecoders(d.name, d.kind, sluiceDecode(), nnDecode());
    const m = await measure([sluiceDecode, nnDecode], messages.length);
    result = row('decode', d.name, d.source, messages.length, buf.length, m, { valuesCompared: check.values, messagesCompared: check.messages });
  } else {
    const c = encodeCases[encodeIds.indexOf(id)];
    if (!c) throw new Error(`no case ${id}; one of ${caseIds.join(', ')}`);
    const check = verifyEncoders(c);
    const m = await measure([c.sluice, c.nodeNetlink], 1);
    result = row('encode', c.name, 'built in bench/codec.ts', 1, check.bytes, m, { sameValues: true, identicalBytes: check.identical });
  }
  if (lastResult() === undefined) throw new Error('the timed loops produced nothing');
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * Captures the route dump, then runs every case in a fresh Node process of its own, one after the
 * other: each library is then measured with a JIT that only ever saw this case, rather than one whose
 * shared code paths (attribute walkers, formatters) the earlier cases left polymorphic, an order
 * effect that otherwise moved some ratios by 2× from one run to the next.
 */
async function main(): Promise<void> {
  requireRoot('bench/codec (it captures a fresh route dump)');
  const machine = describeMachine();
  console.log(`machine: ${formatMachine(machine)}`);
  console.log(`node-netlink ${packageVersion()}; each case in its own process; ${runs} runs of ~${sampleMs} ms per figure, interleaved, after a warm-up round\n`);

  process.stdout.write(`capturing a ${formatInt(routeCount)}-route dump in a temporary namespace... `);
  const routeDump = captureRouteDump(routeCount);
  console.log(`${formatInt(routeDump.length)} messages`);
  const tmp = mkdtempSync(join(tmpdir(), 'sluice-bench-codec-'));
  // Ctrl-C stops the running worker (same process group); without these handlers this process would
  // die too, inside spawnSync, before its finally removed the folder.
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(tmp, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows: Row[] = [];
  try {
    const routeFile = join(tmp, 'route-dump.hex');
    writeFileSync(routeFile, routeDump.map((m) => `${m.toString('hex')}\n`).join(''));
    const selected = caseIds.filter((id) => !opts.only || id.includes(opts.only));
    if (selected.length === 0) throw new Error(`--only ${opts.only} matches no case; cases: ${caseIds.join(', ')}`);
    for (const id of selected) {
      process.stdout.write(`${id}: `);
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--worker', id, '--route-file', routeFile, '--runs', String(runs), '--sample-ms', String(sampleMs), '--routes', String(routeCount)], {
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20,
      });
      if (r.status !== 0) throw new Error(`case ${id} failed (${r.status ?? r.signal})`);
      const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Row;
      rows.push(result);
      const check = result.op === 'decode'
        ? `${result.check.valuesCompared} values agree in ${result.check.messagesCompared} messages`
        : `same values${result.check.identicalBytes ? ', identical bytes' : ''}`;
      console.log(`${check}; sluice ÷ node-netlink ${formatRatio(result.ratio)}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const table = codecTable(rows);
  const loadEnd = loadNow();
  console.log(`\n${table}\n`);
  console.log(`1-minute load average: ${machine.load1} at start, ${loadEnd} at the end.`);
  console.log('Above 1× sluice is faster. node-netlink leaves IP addresses, MACs and route metrics as Buffers and');
  console.log('IFLA_LINKINFO, IFLA_AF_SPEC and RTA_MULTIPATH undecoded; sluice decodes all of them into values');
  console.log('(strings, numbers, nested objects) and records each attribute\'s order for byte-exact re-encoding.');
  const path = writeResults('codec', {
    benchmark: 'codec', command: 'sudo npm run bench:codec', machine, nodeNetlink: packageVersion(),
    config: { runs, warmupRounds: 1, sampleMs, routes: routeCount, processPerCase: true }, loadAtEnd: loadEnd, rows, table,
  });
  console.log(`\nresults: ${path}`);
}

(opts.worker ? worker(opts.worker) : main()).catch((e: unknown) => {
  console.error(`\nbench/codec${opts.worker ? ` (${opts.worker})` : ''}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
