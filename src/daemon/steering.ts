/**
 * Keeps a worker that the main thread hands a short job to, and then waits for, off the CPU the main
 * thread runs on. Woken while the main thread is busy (creating the veth, say), the worker is queued
 * on the main thread's CPU more often than not, even with another CPU idle, and there it waits for the
 * main thread to block or use up its time slice: on a two-CPU node that wait (~0.9 ms) was longer than
 * the job. With the main thread's CPU taken out of its affinity, it runs elsewhere at once.
 *
 * Only for such jobs: a worker given a CNI call of its own gets every CPU back (release), so that a
 * burst of calls spreads over the whole machine. The CPUs allowed are the main thread's (read again
 * whenever they matter: a cpuset may change them).
 */
import { SystemError } from '../sys/errno.js';
import * as affinity from '../sys/affinity.js';

export interface SteeringLogger {
  warn(obj: object, msg: string): void;
}

/** The system calls it makes (tests give their own). */
export type AffinityCalls = Pick<typeof affinity, 'affinityOf' | 'currentCpu' | 'setAffinity'>;

export class CpuSteering {
  /** Per worker tid: the CPU it is kept off. */
  private readonly kept = new Map<number, number>();
  private disabled = false;

  constructor(
    private readonly log: SteeringLogger,
    private readonly sys: AffinityCalls = affinity,
  ) {}

  /** Before a job the caller will wait for: thread `tid` may run anywhere but on the caller's CPU. */
  awayFromCaller(tid: number | undefined): void {
    if (tid === undefined || this.disabled) return;
    this.attempt(tid, () => {
      const cpu = this.sys.currentCpu();
      if (this.kept.get(tid) === cpu) return;
      const others = this.sys.affinityOf(0).filter((c) => c !== cpu);
      if (others.length === 0) return;
      this.sys.setAffinity(tid, others);
      this.kept.set(tid, cpu);
    });
  }

  /** Thread `tid` may run on every CPU the main thread may again. */
  release(tid: number | undefined): void {
    if (tid === undefined || !this.kept.has(tid)) return;
    this.kept.delete(tid);
    this.attempt(tid, () => this.sys.setAffinity(tid, this.sys.affinityOf(0)));
  }

  /** Forgets a thread that is gone. */
  forget(tid: number | undefined): void {
    if (tid !== undefined) this.kept.delete(tid);
  }

  /** A thread that is gone is forgotten; any other failure leaves the placement to the scheduler from then on. */
  private attempt(tid: number, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.kept.delete(tid);
      if (err instanceof SystemError && err.code === 'ESRCH') return;
      this.disabled = true;
      this.log.warn({ err }, 'cannot steer worker threads between CPUs: they run where the scheduler puts them');
      for (const other of this.kept.keys()) {
        try {
          this.sys.setAffinity(other, this.sys.affinityOf(0));
        } catch {
          // gone, or the set is refused too: nothing more can be done
        }
      }
      this.kept.clear();
    }
  }
}
