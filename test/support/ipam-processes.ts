/** Runs the built-in IPAM, or the reference host-local binary, in child processes. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Attachment, IpamRequest } from '../../src/ipam/types.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'ipam-child.js');

export interface ChildOutcome {
  /** The signal that ended the child (SIGKILL when it crashed itself), or null. */
  signal: NodeJS.Signals | null;
  status: number | null;
  reply?: { ok: boolean; result?: unknown; code?: number; msg?: string };
  stderr: string;
}

export interface ChildJob {
  op: 'add' | 'del' | 'status' | 'gc';
  req: IpamRequest;
  validAttachments?: Attachment[];
  /** The agent's IPAM (remembering, committing after the answer), warmed up by an ADD of `warmup` first. */
  agent?: boolean;
  warmup?: IpamRequest;
}

interface Started {
  ready: Promise<void>;
  go(): void;
  done: Promise<ChildOutcome>;
}

function start(job: ChildJob & { barrier?: boolean }, env: Record<string, string>): Started {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(job)], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes('ready\n')) markReady();
  });
  child.stdin.on('error', () => {});
  const done = new Promise<ChildOutcome>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      markReady();
      const line = stdout.trim().split('\n').pop();
      const outcome: ChildOutcome = { signal, status, stderr };
      if (line) outcome.reply = JSON.parse(line) as ChildOutcome['reply'];
      resolve(outcome);
    });
  });
  if (!job.barrier) child.stdin.end();
  return { ready, go: () => child.stdin.end('go\n'), done };
}

export function runChild(job: ChildJob, env: Record<string, string> = {}): Promise<ChildOutcome> {
  return start(job, env).done;
}

/** Starts every job in its own process, waits until all are loaded, then lets them go at once. */
export async function runTogether(jobs: ChildJob[]): Promise<ChildOutcome[]> {
  const started = jobs.map((job) => start({ ...job, barrier: true }, {}));
  await Promise.all(started.map((s) => s.ready));
  for (const s of started) s.go();
  return Promise.all(started.map((s) => s.done));
}

export const HOST_LOCAL = '/usr/lib/cni/host-local';

export function hostLocalAvailable(): boolean {
  return existsSync(HOST_LOCAL);
}

export interface HostLocalOutcome {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The parsed result (ADD) or error object. */
  json?: Record<string, unknown>;
}

function hostLocalEnv(command: string, containerID: string, ifname: string, cniArgs: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerID,
    CNI_NETNS: '/proc/self/ns/net',
    CNI_IFNAME: ifname,
    CNI_PATH: dirname(HOST_LOCAL),
    CNI_ARGS: cniArgs,
  };
}

/** Runs the reference host-local plugin with a network config on stdin. */
export function runHostLocal(command: 'ADD' | 'DEL' | 'CHECK', netConf: Record<string, unknown>, containerID: string, ifname = 'eth0', cniArgs = ''): HostLocalOutcome {
  const run = spawnSync(HOST_LOCAL, [], {
    input: JSON.stringify(netConf),
    env: hostLocalEnv(command, containerID, ifname, cniArgs),
    encoding: 'utf8',
  });
  const outcome: HostLocalOutcome = { status: run.status, stdout: run.stdout, stderr: run.stderr };
  if (run.stdout.trim()) outcome.json = JSON.parse(run.stdout) as Record<string, unknown>;
  return outcome;
}

export function runHostLocalAsync(command: 'ADD' | 'DEL', netConf: Record<string, unknown>, containerID: string, ifname = 'eth0'): Promise<HostLocalOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(HOST_LOCAL, [], { env: hostLocalEnv(command, containerID, ifname, ''), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => {
      const outcome: HostLocalOutcome = { status, stdout, stderr };
      if (stdout.trim()) outcome.json = JSON.parse(stdout) as Record<string, unknown>;
      resolve(outcome);
    });
    child.stdin.end(JSON.stringify(netConf));
  });
}
