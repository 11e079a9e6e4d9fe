import koffi from 'koffi';
import { SystemError } from './errno.js';
import { libc } from './libc.js';

/** CPU affinity of threads (sched_setaffinity(2)); a thread is named by its tid, 0 being the caller. */

/** cpu_set_t of glibc: 1024 bits. */
const CPU_SET_BYTES = 128;

const raw = {
  sched_getcpu: libc.func('int sched_getcpu()'),
  sched_getaffinity: libc.func('int sched_getaffinity(int pid, size_t size, _Out_ uint8_t *mask)'),
  sched_setaffinity: libc.func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)'),
};

/** The CPU the calling thread runs on now. */
export function currentCpu(): number {
  const cpu = raw.sched_getcpu() as number;
  if (cpu < 0) throw new SystemError(koffi.errno(), 'sched_getcpu');
  return cpu;
}

/** The CPUs thread `tid` may run on, ascending. */
export function affinityOf(tid: number): number[] {
  const mask = Buffer.alloc(CPU_SET_BYTES);
  if ((raw.sched_getaffinity(tid, CPU_SET_BYTES, mask) as number) < 0) throw new SystemError(koffi.errno(), 'sched_getaffinity');
  const cpus: number[] = [];
  for (let byte = 0; byte < CPU_SET_BYTES; byte++) {
    const bits = mask[byte]!;
    if (bits === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (bits & (1 << bit)) cpus.push(byte * 8 + bit);
  }
  return cpus;
}

/** Lets thread `tid` run on `cpus` only. */
export function setAffinity(tid: number, cpus: readonly number[]): void {
  const mask = Buffer.alloc(CPU_SET_BYTES);
  for (const cpu of cpus) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= CPU_SET_BYTES * 8) throw new RangeError(`no CPU ${cpu} in a cpu_set_t`);
    mask[cpu >> 3] = mask[cpu >> 3]! | (1 << (cpu & 7));
  }
  if ((raw.sched_setaffinity(tid, CPU_SET_BYTES, mask) as number) < 0) throw new SystemError(koffi.errno(), 'sched_setaffinity');
}
