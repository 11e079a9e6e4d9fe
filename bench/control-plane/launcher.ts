// The bench's side of launcher.c: compiled with the machine's C compiler into a directory of the
// bench's own, started once per simulated node inside the node's namespace; runs the plugin calls
// and times them there (see launcher.c for why a runtime's calls are not made with child_process).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { runIn, type NetNs } from '../../src/netns.js';
import { repoRoot } from '../lib/report.js';

export const LAUNCHER_SOURCE = join(repoRoot(), 'bench', 'control-plane', 'launcher.c');

/** Compiles launcher.c into `dir` and returns the binary's path. */
export function buildLauncher(dir: string, compiler = process.env.CC ?? 'cc'): string {
  const out = join(dir, 'launcher');
  execFileSync(compiler, ['-std=c11', '-O2', '-Wall', '-o', out, LAUNCHER_SOURCE], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

export interface LaunchResult {
  /** From just before the spawn to the child's exit and the end of its stdout. */
  ms: number;
  /** Exit status (128 + signal when killed); -1 when it could not be started. */
  code: number;
  stdout: string;
}

interface Pending {
  resolve(r: LaunchResult): void;
  reject(err: Error): void;
}

export class Launcher {
  private readonly child: ChildProcess;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private buffered: Buffer = Buffer.alloc(0);
  private readonly exited: Promise<void>;
  private stderr = '';
  /** Why calls cannot be made any more: set once the launcher has exited. */
  private gone: Error | undefined;

  /** Starts the launcher binary, inside `ns` when given (its children are started there too). */
  constructor(binary: string, ns?: NetNs) {
    const start = () => spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = ns ? runIn(ns, start) : start();
    this.child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        const err = new Error(`the launcher exited (${code ?? signal})${this.stderr ? `: ${this.stderr.trim()}` : ''}`);
        this.gone = err;
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        resolve();
      });
    });
  }

  /** Runs `file` with `args` (argv[0] first), exactly `env`, `stdin` on its stdin. */
  run(file: string, args: readonly string[], env: Readonly<Record<string, string>>, stdin: string): Promise<LaunchResult> {
    const id = String(this.nextId++);
    const envList = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const fields = [id, file, String(args.length), ...args, String(envList.length), ...envList];
    for (const f of fields) if (f.includes('\0')) throw new TypeError(`launcher: a NUL byte in ${JSON.stringify(f)}`);
    const payload = Buffer.concat([Buffer.from(fields.map((f) => `${f}\0`).join('')), Buffer.from(stdin)]);
    const header = Buffer.alloc(4);
    header.writeUInt32LE(payload.length);
    return new Promise((resolve, reject) => {
      if (this.gone) return reject(this.gone);
      this.pending.set(id, { resolve, reject });
      this.child.stdin!.write(Buffer.concat([header, payload]));
    });
  }

  /** Closes its stdin: it exits once the calls under way have ended. */
  async close(): Promise<void> {
    this.child.stdin!.end();
    await this.exited;
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.buffered.length >= 4) {
      const len = this.buffered.readUInt32LE(0);
      if (this.buffered.length < 4 + len) return;
      const frame = this.buffered.subarray(4, 4 + len);
      this.buffered = this.buffered.subarray(4 + len);
      const { fields: [id = '', ms, code], rest } = splitFields(frame, 3);
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      p.resolve({ ms: Number(ms), code: Number(code), stdout: rest.toString() });
    }
  }
}

/** The first `n` NUL-terminated fields of an answer, and the bytes after them. */
function splitFields(frame: Buffer, n: number): { fields: string[]; rest: Buffer } {
  const fields: string[] = [];
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const end = frame.indexOf(0, pos);
    if (end < 0) throw new Error('launcher: a malformed answer');
    fields.push(frame.subarray(pos, end).toString());
    pos = end + 1;
  }
  return { fields, rest: frame.subarray(pos) };
}
