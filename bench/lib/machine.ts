// What the numbers were measured on: printed above every table and stored with the results.
import * as os from 'node:os';

export interface Machine {
  cpu: string;
  /** Logical CPUs this process may use. */
  cores: number;
  arch: string;
  memoryGiB: number;
  /** `uname -sr`, e.g. "Linux 6.18.44". */
  kernel: string;
  node: string;
  v8: string;
  /** 1-minute load average when the run started. */
  load1: number;
  date: string;
}

export function describeMachine(now = new Date()): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim().replace(/\s+/g, ' ') || 'unknown CPU',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    arch: process.arch,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    v8: process.versions.v8,
    load1: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    date: now.toISOString(),
  };
}

/** One line: "AMD EPYC, 2 cores (x64), 23.5 GiB RAM; Linux 6.18.44; Node v20.20.2 (V8 11.3); load 0.12". */
export function formatMachine(m: Machine): string {
  return `${m.cpu}, ${m.cores} ${m.cores === 1 ? 'core' : 'cores'} (${m.arch}), ${m.memoryGiB} GiB RAM; ${m.kernel}; ` +
    `Node ${m.node} (V8 ${m.v8}); load ${m.load1} at start; ${m.date}`;
}

/** The 1-minute load average now (other work on the machine makes every figure noisier). */
export function loadNow(): number {
  return Math.round((os.loadavg()[0] ?? 0) * 100) / 100;
}
