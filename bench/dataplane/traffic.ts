// The three traffic patterns between two pods, the server in one pod's namespace and the client in the
// other's (both started with nsenter, as child processes the cleanup kills):
//   stream  one TCP stream for S seconds (iperf3 --json), the receiver's rate
//   rr      TCP request/response ping-pong for S seconds (sockperf --full-rtt): round-trip percentiles
//           and round trips per second
//   crr     new TCP connections for S seconds (bench/native/connrate.c): connect, one byte from the
//           server, close; connections per second
// A server is started for each run and stopped after it; the client only starts once the server's
// socket listens (read from /proc/<pid>/net/tcp: the server's own namespace).
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import type { Cleanup } from '../../src/demo/cleanup.js';
import { listensOn, parseConnrate, parseIperf3, parseSockperf, type ConnrateResult, type Iperf3Stream, type SockperfPingPong } from './parse.js';

export interface PodPair {
  client: { path: string };
  server: { path: string; ip: string };
}

const PORTS = { iperf3: 5201, sockperf: 11111, connrate: 7100 } as const;
const START_TIMEOUT_MS = 10_000;

interface Running {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  exited: Promise<number | null>;
}

function start(cleanup: Cleanup, nsPath: string, argv: readonly string[]): Running {
  const child = cleanup.spawn('nsenter', [`--net=${nsPath}`, ...argv]);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  child.stdin.end();
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    child.once('error', (err) => {
      output += String(err);
      resolve(-1);
    });
  });
  return { child, output: () => output, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a server inside `nsPath` and resolves once it listens on ip:port; stop() kills it. */
async function startServer(cleanup: Cleanup, nsPath: string, argv: readonly string[], ip: string, port: number): Promise<{ stop(): Promise<void> }> {
  const server = start(cleanup, nsPath, argv);
  let ended = false;
  void server.exited.then(() => (ended = true));
  const stop = async () => {
    if (!ended) server.child.kill('SIGKILL');
    await server.exited;
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    let table = '';
    try {
      // nsenter execs the server in place: same pid, and /proc/<pid>/net is its namespace's.
      table = readFileSync(`/proc/${server.child.pid}/net/tcp`, 'utf8');
    } catch {
      // not started yet, or gone (checked next)
    }
    if (listensOn(table, ip, port, endianness())) return { stop };
    if (ended || Date.now() > deadline) {
      await stop();
      throw new Error(`${argv[0]} server did not start listening on ${ip}:${port}: ${server.output().trim().slice(0, 300) || '(no output)'}`);
    }
    await sleep(20);
  }
}

/** Runs a client inside `nsPath` to its end (killed after `timeoutMs`); its output, or an error saying why it failed. */
async function runClient(cleanup: Cleanup, nsPath: string, argv: readonly string[], timeoutMs: number): Promise<string> {
  const client = start(cleanup, nsPath, argv);
  const watchdog = setTimeout(() => client.child.kill('SIGKILL'), timeoutMs);
  const code = await client.exited;
  clearTimeout(watchdog);
  cleanup.check();
  if (code !== 0) throw new Error(`${argv[0]} client exited with ${code ?? 'a signal'}: ${client.output().trim().slice(0, 400) || '(no output)'}`);
  return client.output();
}

async function withServer<T>(cleanup: Cleanup, pair: PodPair, argv: readonly string[], port: number, fn: () => Promise<T>): Promise<T> {
  const server = await startServer(cleanup, pair.server.path, argv, pair.server.ip, port);
  try {
    return await fn();
  } finally {
    await server.stop();
  }
}

export function tcpStream(cleanup: Cleanup, pair: PodPair, seconds: number): Promise<Iperf3Stream> {
  const port = PORTS.iperf3;
  return withServer(cleanup, pair, ['iperf3', '--server', '--one-off', '--bind', pair.server.ip, '--port', String(port)], port, async () => {
    const argv = ['iperf3', '--client', pair.server.ip, '--port', String(port), '--time', String(seconds), '--json', '--connect-timeout', '5000'];
    return parseIperf3(await runClient(cleanup, pair.client.path, argv, (seconds + 20) * 1000));
  });
}

export function pingPong(cleanup: Cleanup, pair: PodPair, seconds: number, messageBytes: number): Promise<SockperfPingPong> {
  const port = PORTS.sockperf;
  return withServer(cleanup, pair, ['sockperf', 'server', '--tcp', '-i', pair.server.ip, '-p', String(port)], port, async () => {
    const argv = ['sockperf', 'ping-pong', '--tcp', '--full-rtt', '-i', pair.server.ip, '-p', String(port), '-t', String(seconds), '-m', String(messageBytes)];
    const result = parseSockperf(await runClient(cleanup, pair.client.path, argv, (seconds + 20) * 1000));
    if (!result.roundTrip) throw new Error('sockperf reported half round trips although --full-rtt was given');
    return result;
  });
}

export function connectionRate(cleanup: Cleanup, pair: PodPair, binary: string, seconds: number, connectors: number): Promise<ConnrateResult> {
  const port = PORTS.connrate;
  return withServer(cleanup, pair, [binary, 'server', pair.server.ip, String(port), String(connectors)], port, async () => {
    const argv = [binary, 'client', pair.server.ip, String(port), String(seconds), String(connectors)];
    return parseConnrate(await runClient(cleanup, pair.client.path, argv, (seconds + 20) * 1000));
  });
}
