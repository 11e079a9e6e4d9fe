/**
 * Traffic between the demo's namespaces, and only there:
 *
 *   ping    ICMP / ICMPv6 echo over a raw socket opened inside the sending namespace (switch in, open
 *           the socket, switch back: the socket stays there), so nothing needs installing. Each echo
 *           is sent when the previous one is answered; the round-trip time is measured around a
 *           blocking poll, which is as close to the wire as a Node process gets. Between echoes the
 *           event loop runs, so Ctrl-C is handled at once.
 *   iperf3  one TCP stream, the server in one namespace and the client in the other (nsenter), JSON
 *           results; both are child processes the cleanup kills.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { createInterface } from 'node:readline';
import type { NetNs } from '../netns.js';
import * as libc from '../sys/libc.js';
import type { Cleanup } from './cleanup.js';

const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const PAYLOAD = 56;

export interface PingResult {
  sent: number;
  received: number;
  /** Round-trip times of the answered echoes, in microseconds. */
  rttUs: number[];
}

function sockaddr(address: string): Buffer {
  if (isIP(address) === 4) {
    const sa = Buffer.alloc(16);
    sa.writeUInt16LE(AF_INET, 0);
    Buffer.from(address.split('.').map(Number)).copy(sa, 4);
    return sa;
  }
  const sa = Buffer.alloc(28);
  sa.writeUInt16LE(AF_INET6, 0);
  ipv6ToBytes(address).copy(sa, 8);
  return sa;
}

function ipv6ToBytes(address: string): Buffer {
  const halves = address.split('::');
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const all = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

/** The Internet checksum (ICMPv4 needs it; the kernel computes ICMPv6's). */
function inetChecksum(data: Buffer): number {
  let sum = 0;
  for (let i = 0; i < data.length; i += 2) sum += (data[i]! << 8) | (data[i + 1] ?? 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

/** Sends `count` echo requests from inside `from` to `dst`, one after the other. */
export async function ping(from: NetNs, dst: string, count: number, cleanup: Cleanup): Promise<PingResult> {
  const v6 = isIP(dst) === 6;
  const fd = from.run(() => libc.socket(v6 ? AF_INET6 : AF_INET, libc.SOCK_RAW | libc.SOCK_CLOEXEC, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP));
  const result: PingResult = { sent: 0, received: 0, rttUs: [] };
  try {
    const id = randomBytes(2).readUInt16BE(0);
    const to = sockaddr(dst);
    const reply = Buffer.alloc(2048);
    const fds = libc.pollFds([{ fd, events: libc.POLLIN }]);
    for (let seq = 1; seq <= count; seq++) {
      await new Promise((r) => setImmediate(r)); // signals are handled here
      cleanup.check();
      const request = Buffer.alloc(8 + PAYLOAD, 0x5a);
      request.writeUInt8(v6 ? 128 : 8, 0);
      request.writeUInt8(0, 1);
      request.writeUInt16BE(0, 2);
      request.writeUInt16BE(id, 4);
      request.writeUInt16BE(seq, 6);
      if (!v6) request.writeUInt16BE(inetChecksum(request), 2);
      const start = process.hrtime.bigint();
      libc.sendto(fd, request, to);
      result.sent++;
      const deadline = start + 1_000_000_000n;
      for (;;) {
        const left = Number((deadline - process.hrtime.bigint()) / 1_000_000n);
        if (left < 0 || libc.pollSync(fds, 1, left) === 0) break;
        const n = libc.recv(fd, reply, libc.MSG_DONTWAIT);
        if (n <= 0) continue;
        const at = v6 ? 0 : (reply[0]! & 0x0f) * 4; // a raw IPv4 socket hands over the IP header too
        if (reply[at] === (v6 ? 129 : 0) && reply.readUInt16BE(at + 4) === id && reply.readUInt16BE(at + 6) === seq) {
          result.rttUs.push(Number(process.hrtime.bigint() - start) / 1000);
          result.received++;
          break;
        }
      }
    }
  } finally {
    libc.close(fd);
  }
  return result;
}

export interface StreamResult {
  bitsPerSecond: number;
  bytes: number;
  retransmits: number;
}

/**
 * One TCP stream for `seconds` from the client namespace to `server.address` in the server namespace,
 * measured by iperf3 (the receiver's rate).
 */
export async function iperf3Stream(cleanup: Cleanup, server: { path: string; address: string }, client: { path: string }, seconds: number): Promise<StreamResult> {
  const port = '5201'; // the namespaces are the demo's own: the default port is always free there
  const srv = cleanup.spawn('nsenter', [`--net=${server.path}`, 'iperf3', '--server', '--one-off', '--bind', server.address, '--port', port, '--forceflush']);
  const serverDone = new Promise<void>((resolve) => srv.once('close', () => resolve()));
  let serverOut = '';
  srv.stderr.on('data', (d: Buffer) => (serverOut += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: srv.stdout });
      const timer = setTimeout(() => reject(new Error(`iperf3 server did not start: ${serverOut.trim()}`)), 10_000);
      lines.on('line', (line) => {
        serverOut += `${line}\n`;
        if (/listening/i.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      });
      srv.once('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`iperf3 server exited (${code}): ${serverOut.trim()}`));
      });
    });
    cleanup.check();
    const args = [`--net=${client.path}`, 'iperf3', '--client', server.address, '--port', port, '--time', String(seconds), '--json', '--connect-timeout', '5000'];
    const cli = cleanup.spawn('nsenter', args);
    let out = '';
    let err = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const watchdog = setTimeout(() => cli.kill('SIGKILL'), (seconds + 15) * 1000);
    const code = await new Promise<number | null>((resolve) => cli.once('close', resolve));
    clearTimeout(watchdog);
    cleanup.check();
    let report: any;
    try {
      report = JSON.parse(out);
    } catch {
      throw new Error(`iperf3 client failed (exit ${code}): ${(out + err).trim().slice(0, 500)}`);
    }
    if (report.error) throw new Error(`iperf3: ${report.error}`);
    const received = report.end?.sum_received;
    return {
      bitsPerSecond: Number(received?.bits_per_second ?? 0),
      bytes: Number(received?.bytes ?? 0),
      retransmits: Number(report.end?.sum_sent?.retransmits ?? 0),
    };
  } finally {
    if (srv.exitCode === null && srv.signalCode === null) srv.kill('SIGKILL');
    await serverDone;
  }
}
