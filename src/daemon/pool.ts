/**
 * The agent's worker threads (worker.ts): CNI calls are handed to the least busy one, so that calls
 * for different containers wait on the kernel side by side instead of one after the other on the main
 * thread (RCU grace periods when a veth is deleted, say; a TCX attach waits for one too, but under the
 * kernel's rtnl lock, so those queue up anyway). Ordering (per container, GC alone) is decided before a
 * call gets here (server.ts).
 *
 * A worker that dies (a bug: the handler itself never throws) fails the calls it held with an error,
 * which the server answers as CNI error 999, and is replaced.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { CniOutput } from '../cni/dispatch.js';
import { CniError } from '../cni/errors.js';
import type { DriverOptions } from '../cni/main.js';
import type { IpamRequest, IpamResult } from '../ipam/types.js';
import type { RequestMeta } from './handler.js';
import type { Location } from './inventory.js';
import { CpuSteering } from './steering.js';

export interface WorkerData {
  logLevel: string;
  testHooks: boolean;
  driver: Omit<DriverOptions, 'logger' | 'failAt' | 'nodeNetns'>;
  /** Tests: the simulated node's namespace file (each worker opens it). */
  nodeNetnsPath?: string;
  /** Tests: sample the thread's namespace at every turn of the worker's event loop. */
  watchNamespaces?: boolean;
}

/** An error crossing threads: a CniError keeps its code and parts. */
export interface ErrorData {
  message: string;
  cni?: { code: number; msg: string; details: string };
}

export type ToWorker =
  | { type: 'call'; id: number; env: Record<string, string>; stdin: Uint8Array; meta: RequestMeta }
  | { type: 'allocate'; id: number; req: IpamRequest }
  | { type: 'watch' };

export type FromWorker =
  | { type: 'ready'; tid: number }
  | { type: 'log'; line: string }
  | { type: 'done'; id: number; out: CniOutput; locations: Location[] }
  | { type: 'allocated'; id: number; result?: IpamResult; error?: ErrorData }
  | { type: 'watch'; samples: number; away: number };

export function errorData(err: unknown): ErrorData {
  if (err instanceof CniError) return { message: err.message, cni: { code: err.code, msg: err.msg, details: err.details } };
  return { message: err instanceof Error ? err.message : String(err) };
}

export function errorFromData(data: ErrorData): Error {
  return data.cni ? new CniError(data.cni.code, data.cni.msg, data.cni.details) : new Error(data.message);
}

interface Pending<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  tid?: number;
  inFlight: Map<number, Pending<CniOutput>>;
  /** Built-in IPAM allocations it runs for calls on the main thread (allocate()). */
  allocations: Map<number, Pending<IpamResult>>;
  ready: Promise<void>;
  /** It said it was ready: one that dies before is not replaced (it would die again). */
  started: boolean;
  watchReply?: (w: { samples: number; away: number }) => void;
}

const LEVEL_NAMES: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closing = false;
  private readonly known = new Map<string, Location>();
  private readonly steering: CpuSteering;

  constructor(
    readonly size: number,
    private readonly data: WorkerData,
    private readonly log: Logger,
  ) {
    this.steering = new CpuSteering(log);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn(i));
  }

  /** Resolves once every worker has loaded its modules. */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
  }

  /** The thread ids of the workers (tests tell them from the other threads). */
  get threadIds(): number[] {
    return this.slots.map((s) => s.tid).filter((t): t is number => t !== undefined);
  }

  /** Every (stateDir, pinRoot) a worker has served a config for. */
  get locations(): Location[] {
    return [...this.known.values()];
  }

  /** Calls the workers hold now. */
  get inFlight(): number {
    return this.slots.reduce((n, s) => n + s.inFlight.size, 0);
  }

  run(env: Record<string, string>, stdin: Buffer, meta: RequestMeta): Promise<CniOutput> {
    const slot = this.leastBusy();
    const id = this.nextId++;
    return new Promise<CniOutput>((resolve, reject) => {
      slot.inFlight.set(id, { resolve, reject });
      this.steering.release(slot.tid);
      slot.worker.postMessage({ type: 'call', id, env, stdin, meta } satisfies ToWorker);
    });
  }

  /**
   * A built-in IPAM allocation for a call running on the main thread: the worker does the store's
   * file work while the main thread makes the veth (see agent.ts), on another CPU (steering.ts).
   */
  allocate(req: IpamRequest): Promise<IpamResult> {
    const slot = this.leastBusy();
    const id = this.nextId++;
    return new Promise<IpamResult>((resolve, reject) => {
      slot.allocations.set(id, { resolve, reject });
      this.steering.awayFromCaller(slot.tid);
      slot.worker.postMessage({ type: 'allocate', id, req } satisfies ToWorker);
    });
  }

  /** The worker with the fewest calls (the first of them: the same one while the agent is quiet). */
  private leastBusy(): Slot {
    return this.slots.reduce((best, s) => (s.inFlight.size + s.allocations.size < best.inFlight.size + best.allocations.size ? s : best));
  }

  /** Tests: the namespace samples each worker took. */
  async watchReport(): Promise<{ samples: number; away: number }[]> {
    return Promise.all(this.slots.map((s) => new Promise<{ samples: number; away: number }>((resolve) => {
      s.watchReply = resolve;
      s.worker.postMessage({ type: 'watch' } satisfies ToWorker);
    })));
  }

  /** Stops the workers (call it once no call is running). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(index: number): Slot {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: this.data });
    const slot: Slot = { worker, inFlight: new Map(), allocations: new Map(), ready: Promise.resolve(), started: false };
    slot.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.type === 'ready') {
          slot.tid = m.tid;
          slot.started = true;
          resolve();
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker ${index} exited (${code}) before it was ready`)));
    });
    slot.ready.catch(() => undefined);
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'log':
          this.relog(m.line);
          break;
        case 'done': {
          for (const l of m.locations) this.known.set(`${l.stateDir}\0${l.pinRoot}`, l);
          const call = slot.inFlight.get(m.id);
          slot.inFlight.delete(m.id);
          call?.resolve(m.out);
          break;
        }
        case 'allocated': {
          const allocation = slot.allocations.get(m.id);
          slot.allocations.delete(m.id);
          if (m.result) allocation?.resolve(m.result);
          else allocation?.reject(errorFromData(m.error ?? { message: 'the worker gave no allocation' }));
          break;
        }
        case 'watch':
          slot.watchReply?.({ samples: m.samples, away: m.away });
          break;
        case 'ready':
          break;
      }
    });
    // 'error' (an exception the worker did not catch) is always followed by 'exit'.
    let failure: string | undefined;
    worker.on('error', (err) => (failure = err.message));
    worker.on('exit', (code) => {
      const lost = [...slot.inFlight.values(), ...slot.allocations.values()];
      slot.inFlight.clear();
      slot.allocations.clear();
      this.steering.forget(slot.tid);
      const why = failure ?? `exit status ${code}`;
      for (const call of lost) call.reject(new Error(`the agent's worker thread stopped during the call: ${why}`));
      if (this.closing || !slot.started) return;
      this.log.error({ worker: index, why, lost: lost.length }, 'a worker thread stopped: starting another');
      this.slots[this.slots.indexOf(slot)] = this.spawn(index);
    });
    return slot;
  }

  /** A worker's record, written by the agent's own logger (one writer, one format). */
  private relog(line: string): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, ...rest } = record;
    const name = LEVEL_NAMES[level as number] ?? 'info';
    this.log[name](rest, typeof msg === 'string' ? msg : '');
  }
}
