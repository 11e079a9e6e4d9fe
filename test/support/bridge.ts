// Helpers for the masquerade and bridge-mode kernel tests: an "outside" network behind a simulated node,
// a TCP server that answers each connection with the address it came from, nf_tables views of a node,
// and normalised views of pods, bridges and ports, so that sluice's bridge mode and the reference
// bridge plugin can be compared on two simulated nodes.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createNamed, deleteNamed } from '../../src/netns.js';
import { uniqueName } from './kernel.js';
import { namespace, POD_SUBNET_V4, POD_SUBNET_V6, type Namespace, type SimNode } from './plugin.js';

export const OUTSIDE_V4 = '192.0.2.2';
export const OUTSIDE_V6 = 'fd00:192::2';
export const NODE_OUTSIDE_V4 = '192.0.2.1';
export const NODE_OUTSIDE_V6 = 'fd00:192::1';
export const ECHO_PORT = 7070;

export const inNs = (n: { name: string }, ...args: string[]): string =>
  execFileSync('ip', ['netns', 'exec', n.name, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * Runs fn with an "outside" namespace wired to the node by a veth (node vout 192.0.2.1 / fd00:192::1,
 * outside eth0 .2 / ::2) with routes back to the pod subnets, so that unmasqueraded traffic works too.
 */
export async function withOutside<T>(node: SimNode, fn: (outside: Namespace) => Promise<T>): Promise<T> {
  const name = uniqueName();
  createNamed(name);
  const outside = namespace(name);
  try {
    node.ip('link', 'add', 'vout', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
    node.ipBatch(['link set vout addrgenmode none', 'link set vout up', `address add ${NODE_OUTSIDE_V4}/24 dev vout`, `address add ${NODE_OUTSIDE_V6}/64 dev vout nodad`]);
    outside.ipBatch([
      'link set lo up',
      'link set eth0 addrgenmode none',
      'link set eth0 up',
      `address add ${OUTSIDE_V4}/24 dev eth0`,
      `address add ${OUTSIDE_V6}/64 dev eth0 nodad`,
      `route add ${POD_SUBNET_V4} via ${NODE_OUTSIDE_V4}`,
      `route add ${POD_SUBNET_V6} via ${NODE_OUTSIDE_V6}`,
    ]);
    return await fn(outside);
  } finally {
    outside.ns.close();
    deleteNamed(name);
  }
}

const serverScript = `
const net = require('node:net');
const srv = net.createServer((s) => s.end(s.remoteAddress.replace(/^::ffff:/, '')));
srv.listen({ port: ${ECHO_PORT}, host: '::' }, () => process.stdout.write('ready\\n'));
`;
const clientScript = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
let got = '';
const s = net.connect({ host, port: Number(port) });
s.setTimeout(8000, () => { process.stdout.write('timeout'); process.exit(2); });
s.on('data', (d) => (got += d));
s.on('end', () => process.stdout.write(got));
s.on('error', (e) => { process.stdout.write('error ' + e.code); process.exit(3); });
`;

/** A server in `n` answering every TCP connection on ECHO_PORT with the peer's address; stop() ends it. */
export async function echoServer(n: { name: string }): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcessWithoutNullStreams = spawn('ip', ['netns', 'exec', n.name, process.execPath, '-e', serverScript]);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`echo server in ${n.name} exited (${code})`)));
  });
  return {
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
    },
  };
}

/** The address the echo server at `host` saw a connection from `from` come from (or why it failed). */
export function seenFrom(from: { name: string }, host: string): string {
  try {
    return inNs(from, process.execPath, '-e', clientScript, host, String(ECHO_PORT));
  } catch (e) {
    return `client failed: ${String((e as { stdout?: string }).stdout ?? e)}`;
  }
}

// ---- nf_tables ----

type NftObject = Record<string, Record<string, any>>;

export function nftRuleset(n: { name: string }): NftObject[] {
  return (JSON.parse(inNs(n, 'nft', '-j', 'list', 'ruleset')).nftables as NftObject[]).filter((o) => !o.metainfo);
}

/** How many tables, chains, sets and rules the node holds in family `family` (inet by default). */
export function nftShape(n: { name: string }, family = 'inet'): { tables: number; chains: number; sets: number; rules: number } {
  const objects = nftRuleset(n).filter((o) => Object.values(o)[0]?.family === family);
  const count = (kind: string) => objects.filter((o) => o[kind]).length;
  return { tables: count('table'), chains: count('chain'), sets: count('set'), rules: count('rule') };
}

/**
 * The elements of sluice's masquerade and anti-spoofing sets (empty when a table is missing): what a
 * pod's ADD adds and its DEL or undo must take out again.
 */
export function sluiceElements(n: { name: string }): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [family, table, set] of [['inet', 'sluice', 'pods4'], ['inet', 'sluice', 'pods6'], ['bridge', 'sluice', 'ports'], ['bridge', 'sluice', 'allowed']] as const) {
    try {
      out[`${family} ${set}`] = nftElements(n, family, table, set);
    } catch {
      out[`${family} ${set}`] = [];
    }
  }
  return out;
}

/** The elements of a set, as nft lists them (plain addresses for /32 and /128). */
export function nftElements(n: { name: string }, family: string, table: string, set: string): unknown[] {
  const [obj] = (JSON.parse(inNs(n, 'nft', '-j', 'list', 'set', family, table, set)).nftables as NftObject[]).filter((o) => o.set);
  return (obj!.set!.elem as unknown[] | undefined) ?? [];
}

// ---- bridge mode, side by side with the reference plugin ----

/** Fields of the simulated node's config that only sluice knows (its pin root, state, log). */
export const SLUICE_ONLY = { pinRoot: undefined, stateDir: undefined, logFile: undefined, logLevel: undefined } as const;

/** The node's config for the reference bridge plugin (cniVersion 1.0.0) with `fields` added. */
export function referenceConfig(node: SimNode, fields: Record<string, unknown>, options: { ipv4?: boolean; ipv6?: boolean } = {}): Record<string, unknown> {
  return node.config({ ipv4: options.ipv4 ?? true, ipv6: options.ipv6 ?? true, overrides: { ...SLUICE_ONLY, type: 'bridge', ...fields } });
}

/** The same config for sluice: `type` sluice, `mode` bridge, and the node's own state directories. */
export function sluiceConfig(node: SimNode, fields: Record<string, unknown>, options: { ipv4?: boolean; ipv6?: boolean } = {}): Record<string, unknown> {
  return node.config({ ipv4: options.ipv4 ?? true, ipv6: options.ipv6 ?? true, overrides: { mode: 'bridge', ...fields } });
}

const isLinkLocal = (a: string | undefined) => a !== undefined && /^fe80:/i.test(a);

/**
 * What a pod looks like, with what differs between any two attachments taken out: its interface
 * (flags, MTU, state), addresses (the IPv6 link-local one, derived from the random MAC, as "fe80::LL")
 * and every route of both families in every table.
 */
export function podView(pod: Namespace, ifname = 'eth0'): unknown {
  const ll = (s: unknown) => (typeof s === 'string' && isLinkLocal(s) ? 'fe80::LL' : s);
  const [link] = pod.ipJson<Array<Record<string, any>>>('addr', 'show', 'dev', ifname);
  const routes = [...pod.ipJson<Array<Record<string, unknown>>>('-4', 'route', 'show', 'table', 'all'), ...pod.ipJson<Array<Record<string, unknown>>>('-6', 'route', 'show', 'table', 'all')];
  return {
    link: { flags: link!.flags, mtu: link!.mtu, operstate: link!.operstate },
    addresses: (link!.addr_info as Array<Record<string, unknown>>).map((a) => ({ family: a.family, local: ll(a.local), prefixlen: a.prefixlen, broadcast: a.broadcast, scope: a.scope, flags: ['tentative', 'nodad', 'dadfailed'].filter((f) => a[f]) })),
    routes: routes.map((r) => ({ ...r, dst: ll(r.dst) })),
  };
}

/** The bridge: up, promiscuous, MTU, STP, and its addresses other than IPv6 link-local. */
export function bridgeView(node: Namespace, bridge: string): unknown {
  const [link] = node.ipJson<Array<Record<string, any>>>('-d', 'addr', 'show', 'dev', bridge);
  if (!link) return undefined;
  return {
    flags: link.flags,
    mtu: link.mtu,
    promiscuity: link.promiscuity,
    stp: link.linkinfo?.info_data?.stp_state,
    addresses: (link.addr_info as Array<Record<string, unknown>>).filter((a) => !isLinkLocal(a.local as string)).map((a) => ({ family: a.family, local: a.local, prefixlen: a.prefixlen, broadcast: a.broadcast })),
  };
}

/** The bridge's ports, each with its link flags, MTU and bridge-port settings (state, hairpin, isolated, ...). */
export function portsView(node: Namespace, bridge: string): unknown[] {
  const ports = node.ipJson<Array<Record<string, any>>>('-d', 'link', 'show', 'master', bridge);
  return ports.map((p) => {
    const slave = p.linkinfo?.info_slave_data ?? {};
    return {
      kind: p.linkinfo?.info_kind,
      flags: p.flags,
      mtu: p.mtu,
      operstate: p.operstate,
      port: {
        state: slave.state, hairpin: slave.hairpin, isolated: slave.isolated, learning: slave.learning, flood: slave.flood,
        mcast_flood: slave.mcast_flood, bcast_flood: slave.bcast_flood, proxy_arp: slave.proxy_arp, guard: slave.guard, cost: slave.cost, priority: slave.priority,
      },
    };
  });
}

/** A CNI result with the names and MACs that differ between plugins replaced by their roles. */
export function resultView(result: any): unknown {
  const interfaces = (result.interfaces as Array<Record<string, unknown>>).map((i, index) => ({
    name: index === 1 ? 'HOSTVETH' : i.name,
    mac: typeof i.mac === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(i.mac) ? 'MAC' : i.mac,
    sandbox: i.sandbox === undefined ? undefined : 'SANDBOX',
  }));
  const dns = result.dns && Object.keys(result.dns).length ? result.dns : undefined;
  return { cniVersion: result.cniVersion, interfaces, ips: result.ips, routes: result.routes, dns };
}
