// The data-path tests' world: a "node" namespace holding two host veths whose peers are eth0 in two
// "pod" namespaces, wired as DESIGN.md describes (a /32 per pod, a link-local gateway with a permanent
// neighbour entry, a /32 route per pod on the node), with forwarding off on the node so that traffic
// between the pods can only flow by the program's redirect. Also a ping and a TCP stream that run
// between those namespaces only.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createInterface } from 'node:readline';
import { removePinRoot, PinPaths } from '../../src/bpf/pins.js';
import type { EndpointSpec } from '../../src/bpf/datapath.js';
import type { NetNs } from '../../src/netns.js';
import * as libc from '../../src/sys/libc.js';
import { test, type TestContext } from 'node:test';
import { isRoot, NEEDS_ROOT, withNamespace, type TestNamespace } from './kernel.js';

/** A kernel test (root only) with a generous safety timeout: a broken redirect hangs a TCP stream. */
export function bpfTest(name: string, timeoutMs: number, fn: (t: TestContext) => Promise<void>): void {
  test(name, isRoot ? { timeout: timeoutMs } : { skip: NEEDS_ROOT }, fn);
}

export interface Pod {
  readonly ns: TestNamespace;
  /** The host veth's name in the node namespace. */
  readonly hostIfname: string;
  readonly hostIfindex: number;
  readonly podMac: string;
  readonly gatewayMac: string;
  readonly ipv4: string;
  readonly ipv6?: string;
  readonly endpoint: EndpointSpec;
}

export interface Topology {
  readonly node: TestNamespace;
  readonly a: Pod;
  readonly b: Pod;
  /** A bpffs pin root of this test's own, removed afterwards. */
  readonly pinRoot: string;
  /** Turns IPv4 and IPv6 forwarding on or off in the node namespace (off to begin with). */
  setForwarding(on: boolean): void;
}

/** This process's pin roots: /sys/fs/bpf/sluice-test-<pid>-<random>. */
export const pinRootPrefix = `/sys/fs/bpf/sluice-test-${process.pid}-`;

const GATEWAY_V4 = '169.254.1.1';
const GATEWAY_V6 = 'fe80::1';

function sysctl(ns: NetNs, key: string, value: string): void {
  ns.run(() => writeFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, value));
}

async function wirePod(node: TestNamespace, pod: TestNamespace, index: number, ipv6: boolean): Promise<Pod> {
  const hostIfname = `slt${index}`;
  const podMac = `02:00:00:00:0${index}:01`;
  const gatewayMac = `02:00:00:00:0${index}:fe`;
  const ipv4 = `10.213.0.${index}`;
  const v6 = ipv6 ? `fd00:213::${index}` : undefined;
  if (!ipv6) sysctl(pod.ns, 'net.ipv6.conf.default.disable_ipv6', '1');
  else sysctl(pod.ns, 'net.ipv6.conf.default.addr_gen_mode', '1'); // no link-local address, so no RS/ND chatter
  node.ipBatch([
    `link add ${hostIfname} address ${gatewayMac} type veth peer name eth0 address ${podMac} netns ${pod.name}`,
    `link set ${hostIfname} up`,
    `route add ${ipv4}/32 dev ${hostIfname}`,
    ...(v6 ? [`route add ${v6}/128 dev ${hostIfname}`] : []),
  ]);
  pod.ipBatch([
    'link set lo up',
    `addr add ${ipv4}/32 dev eth0`,
    ...(v6 ? [`addr add ${v6}/128 dev eth0 nodad`] : []),
    'link set eth0 up',
    `route add ${GATEWAY_V4} dev eth0 scope link`,
    `route add default via ${GATEWAY_V4} dev eth0`,
    `neigh add ${GATEWAY_V4} lladdr ${gatewayMac} dev eth0 nud permanent`,
    ...(v6 ? [`route add default via ${GATEWAY_V6} dev eth0`, `neigh add ${GATEWAY_V6} lladdr ${gatewayMac} dev eth0 nud permanent`] : []),
  ]);
  const [link] = node.ipJson<Array<{ ifindex: number }>>('link', 'show', 'dev', hostIfname);
  const hostIfindex = link!.ifindex;
  const addresses = v6 ? [ipv4, v6] : [ipv4];
  return {
    ns: pod,
    hostIfname,
    hostIfindex,
    podMac,
    gatewayMac,
    ipv4,
    ...(v6 ? { ipv6: v6 } : {}),
    endpoint: { id: 10 + index, ifindex: hostIfindex, podMac, gatewayMac, addresses },
  };
}

/** Runs fn in a fresh topology; the namespaces and the pin root are removed afterwards, whatever happens. */
export async function withTopology<T>(options: { ipv6?: boolean }, fn: (t: Topology) => Promise<T>): Promise<T> {
  return withNamespace((node) =>
    withNamespace((podA) =>
      withNamespace(async (podB) => {
        const pinRoot = `${pinRootPrefix}${randomBytes(4).toString('hex')}`;
        try {
          sysctl(node.ns, 'net.ipv4.ip_forward', '0');
          sysctl(node.ns, 'net.ipv6.conf.all.forwarding', '0');
          const a = await wirePod(node, podA, 1, options.ipv6 ?? false);
          const b = await wirePod(node, podB, 2, options.ipv6 ?? false);
          const setForwarding = (on: boolean) => {
            sysctl(node.ns, 'net.ipv4.ip_forward', on ? '1' : '0');
            sysctl(node.ns, 'net.ipv6.conf.all.forwarding', on ? '1' : '0');
          };
          return await fn({ node, a, b, pinRoot, setForwarding });
        } finally {
          removePinRoot(new PinPaths(pinRoot));
        }
      }),
    ),
  );
}

// ---- ping: ICMP echo over a raw socket opened inside the sending namespace ----

const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
/** 56 bytes of payload, as ping sends: 98-byte frames for IPv4, 118 for IPv6. */
export const PING_PAYLOAD = 56;
export const PING_FRAME_V4 = 14 + 20 + 8 + PING_PAYLOAD;
export const PING_FRAME_V6 = 14 + 40 + 8 + PING_PAYLOAD;

function sockaddr(address: string): Buffer {
  if (isIP(address) === 4) {
    const sa = Buffer.alloc(16);
    sa.writeUInt16LE(AF_INET, 0);
    address.split('.').forEach((o, i) => sa.writeUInt8(Number(o), 4 + i));
    return sa;
  }
  const sa = Buffer.alloc(28);
  sa.writeUInt16LE(AF_INET6, 0);
  ipv6Bytes(address).copy(sa, 8);
  return sa;
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const words = (s: string) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  const buf = Buffer.alloc(16);
  all.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Sends `count` echo requests from namespace `from` to `dst` (from `source` when given), one at a
 * time, each waiting up to `waitMs` for its reply; returns how many were answered.
 */
export async function ping(from: NetNs, dst: string, options: { count?: number; source?: string; waitMs?: number } = {}): Promise<number> {
  const v6 = isIP(dst) === 6;
  const fd = from.run(() => libc.socket(v6 ? AF_INET6 : AF_INET, libc.SOCK_RAW | libc.SOCK_CLOEXEC, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP));
  try {
    if (options.source) libc.bind(fd, sockaddr(options.source));
    const id = randomBytes(2).readUInt16BE(0);
    let answered = 0;
    for (let seq = 1; seq <= (options.count ?? 1); seq++) {
      const request = Buffer.alloc(8 + PING_PAYLOAD);
      request.writeUInt8(v6 ? 128 : 8, 0);
      request.writeUInt16BE(id, 4);
      request.writeUInt16BE(seq, 6);
      request.fill(0xa5, 8);
      if (!v6) request.writeUInt16BE(checksum(request), 2); // the kernel fills in ICMPv6's
      libc.sendto(fd, request, sockaddr(dst));
      if (await awaitReply(fd, v6, id, seq, options.waitMs ?? 2000)) answered++;
    }
    return answered;
  } finally {
    libc.close(fd);
  }
}

async function awaitReply(fd: number, v6: boolean, id: number, seq: number, waitMs: number): Promise<boolean> {
  const buf = Buffer.alloc(2048);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    if ((await libc.pollAsync(libc.pollFds([{ fd, events: libc.POLLIN }]), 1, left)) === 0) return false;
    const n = libc.recv(fd, buf, libc.MSG_DONTWAIT);
    if (n <= 0) continue;
    const icmp = v6 ? 0 : (buf[0]! & 0x0f) * 4; // raw IPv4 sockets see the IP header, IPv6 ones do not
    if (buf[icmp] === (v6 ? 129 : 0) && buf.readUInt16BE(icmp + 4) === id && buf.readUInt16BE(icmp + 6) === seq) return true;
  }
}

// ---- TCP: a node child process in each namespace ----

const serverScript = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const server = net.createServer((c) => {
  let received = 0;
  c.on('data', (d) => { received += d.length; });
  c.on('end', () => { process.stdout.write(JSON.stringify({ received }) + '\\n'); c.end(); server.close(); });
  c.on('error', (e) => { process.stderr.write(String(e)); process.exit(2); });
});
server.listen(Number(port), host, () => process.stdout.write('listening\\n'));
`;

// Sends until it has sent \`limit\` bytes (0: until its stdin closes), then closes and reports.
const clientScript = `
const net = require('node:net');
const [host, port, limit] = process.argv.slice(1);
const chunk = Buffer.alloc(64 * 1024, 0x5a);
let sent = 0, stop = false;
const c = net.connect(Number(port), host);
const finish = () => c.end(() => { process.stdout.write(JSON.stringify({ sent }) + '\\n'); process.exit(0); });
const pump = () => {
  while (!stop && (Number(limit) === 0 || sent < Number(limit))) {
    sent += chunk.length;
    if (!c.write(chunk)) return c.once('drain', pump);
  }
  if (!stop) { stop = true; finish(); }
};
c.on('connect', () => { process.stdout.write('connected\\n'); pump(); });
c.on('error', (e) => { process.stderr.write(String(e)); process.exit(2); });
process.stdin.on('end', () => { if (!stop) { stop = true; finish(); } });
process.stdin.resume();
`;

export interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  /** The next line the child prints. */
  line(): Promise<string>;
  /** Resolves with the exit code (and stderr) once it ends. */
  exit(): Promise<{ code: number | null; stderr: string }>;
}

function inNamespace(ns: TestNamespace, script: string, args: string[]): Child {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script, ...args]);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  return {
    process: child,
    async line() {
      const next = await lines.next();
      if (next.done) throw new Error(`child in ${ns.name} ended without output: ${stderr}`);
      return next.value as string;
    },
    exit: () => exited,
  };
}

export async function tcpServer(ns: TestNamespace, host: string, port: number): Promise<Child> {
  const server = inNamespace(ns, serverScript, [host, String(port)]);
  const first = await server.line();
  if (first !== 'listening') throw new Error(`server: ${first}`);
  return server;
}

/** A client sending `limit` bytes, or with limit 0 until its stdin is closed. */
export function tcpClient(ns: TestNamespace, host: string, port: number, limit: number): Child {
  return inNamespace(ns, clientScript, [host, String(port), String(limit)]);
}

/** Polls `check` until it holds; fails with `what` after `attempts` tries 50 ms apart. */
export async function eventually(what: string, check: () => boolean, attempts = 400): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}
