/**
 * Everything the demo makes is removed again: at the end, on an error, and on SIGINT, SIGTERM or
 * SIGHUP. The teardown is synchronous, so once a signal handler starts it nothing else of the demo
 * runs in between: the child processes (plugin calls, iperf3) are killed and waited for first, so
 * none of them can create anything after its namespace, pin root or directory is gone; then the
 * handles this process holds are closed, then the run's resources are removed by name (topology.ts
 * knows them), which also catches what a killed plugin call left half made.
 */
import { spawn, type ChildProcessWithoutNullStreams, type SpawnOptionsWithoutStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface TeardownReport {
  /** What was removed, in words, for the summary. */
  removed: string[];
  failed: { what: string; error: unknown }[];
}

type Remover = () => string[];

export class Cleanup {
  private readonly closers: { what: string; run: () => void }[] = [];
  private readonly children = new Set<ChildProcessWithoutNullStreams>();
  private remover: Remover | undefined;
  private started = false;

  /**
   * @param mark an environment variable given to every child (SLUICE_DEMO_RUN=<run>), so that a check
   *   can find any process of this run that outlived it.
   */
  constructor(private readonly mark: Record<string, string> = {}) {}

  /** True once the teardown began: no new work may start. */
  get stopping(): boolean {
    return this.started;
  }

  /** A handle of this process (a namespace fd, a socket, the data path) closed before anything is removed; last in, first closed. */
  onClose(what: string, run: () => void): void {
    this.closers.push({ what, run });
  }

  /** Removes the run's resources and says what it removed (set once, before anything is created). */
  setRemover(remover: Remover): void {
    this.remover = remover;
  }

  /** Starts a child process that the teardown kills and waits for. */
  spawn(command: string, args: readonly string[], options: SpawnOptionsWithoutStdio = {}): ChildProcessWithoutNullStreams {
    if (this.started) throw new Interrupted();
    const env = { ...(options.env ?? process.env), ...this.mark };
    const child = spawn(command, args, { ...options, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  /** Throws Interrupted once the teardown began (between steps of the demo). */
  check(): void {
    if (this.started) throw new Interrupted();
  }

  /** Kills the children, closes the handles, removes the resources. Runs once; later calls return an empty report. */
  teardown(): TeardownReport {
    const report: TeardownReport = { removed: [], failed: [] };
    if (this.started) return report;
    this.started = true;
    const attempt = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (error) {
        report.failed.push({ what, error });
      }
    };
    attempt('stopping child processes', () => killAndWait([...this.children]));
    for (const closer of this.closers.reverse()) attempt(closer.what, closer.run);
    if (this.remover) attempt('removing the demo\'s namespaces and directories', () => report.removed.push(...this.remover!()));
    return report;
  }
}

/** Thrown into the demo's flow when a signal started the teardown. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/** SIGKILLs the processes and waits (synchronously, up to 5 s) until each one is a zombie or gone. */
function killAndWait(children: ChildProcessWithoutNullStreams[]): void {
  const pids = children.flatMap((c) => (c.pid !== undefined && c.exitCode === null && c.signalCode === null ? [c.pid] : []));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 5000;
  let alive = pids;
  while (alive.length && Date.now() < deadline) {
    alive = alive.filter(running);
    if (alive.length) sleepSync(5);
  }
  if (alive.length) throw new Error(`processes ${alive.join(', ')} did not end after SIGKILL`);
}

/** True while the process exists and is not a zombie (our own children stay zombies until Node reaps them). */
function running(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // "pid (comm) S ...": the state follows the last ')' (comm may hold spaces and parentheses).
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** True when a process with this pid exists. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
