import { CniError } from '../../cni/errors.js';
import { log } from '../../log.js';
import { ioError } from './errors.js';
import { Ledger, type LedgerMemory } from './ledger.js';
import { withStoreLock } from './lock.js';
import type { RangeSet } from './range.js';
import { LeaseDir } from './store.js';
import { join } from 'node:path';

export interface StoreLocation {
  dataDir: string;
  network: string;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

export interface SessionOptions {
  lockTimeoutMs?: number;
  /**
   * Keep what each operation knows of the index in memory for the next one on the same store (a
   * long-lived caller: the agent), so that one finds it without reading the index files again, as long
   * as nothing else wrote in between (Ledger.open checks). Per thread: each thread has its own.
   */
  remember?: boolean;
  /**
   * Resolve as soon as the operation has changed the lease files (host-local's store, the truth), and
   * write sluice's index and seal right after, still under the lock. For a caller with nothing else
   * to do meanwhile (an agent's worker allocating for its main thread): the answer does not wait for
   * the bookkeeping. A failure there costs the next operation a rebuild, never a lease.
   */
  commitAfterResult?: boolean;
}

/** The memories of this thread's stores (SessionOptions.remember), by store and range sets. */
const memories = new Map<string, LedgerMemory>();

/**
 * Runs one operation on a network's store: takes the lock, opens the ledger (rebuilding its index if
 * needed), runs `operation`, commits, unlocks. The ledger is committed even when the operation throws,
 * so a rolled-back allocation leaves a sealed, up-to-date index behind.
 */
export async function withLedger<T>(
  where: StoreLocation,
  sets: readonly RangeSet[],
  operation: (ledger: Ledger) => T,
  options: SessionOptions = {},
): Promise<T> {
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const memoryKey = options.remember ? JSON.stringify([where.dataDir, where.network, sets.map((s) => s.key)]) : undefined;
  const folder = new LeaseDir(join(where.dataDir, where.network));
  try {
    folder.create();
  } catch (err) {
    throw ioError(`cannot create the IPAM store ${folder.path}`, err);
  }
  let ledger: Ledger | undefined;
  const commit = () => {
    ledger!.commit();
    const kept = ledger!.memory;
    if (memoryKey !== undefined && kept) memories.set(memoryKey, kept);
  };
  const commitLater = () => {
    try {
      commit();
    } catch (err) {
      log().warn({ store: folder.path, err }, 'writing the IPAM index failed: the next operation rebuilds it from the lease files');
    }
  };
  const critical = (): T => {
    // Taken out until this operation has committed: a failure part-way leaves nothing to trust.
    const memory = memoryKey === undefined ? undefined : memories.get(memoryKey);
    if (memoryKey !== undefined) memories.delete(memoryKey);
    try {
      ledger = new Ledger(where.dataDir, where.network, sets, memoryKey !== undefined);
      ledger.open(memory);
      let result: T;
      try {
        result = operation(ledger);
      } catch (err) {
        try {
          ledger.commit();
        } catch {
          // The operation's own error says more; an uncommitted ledger is rebuilt next time.
        }
        throw err;
      }
      if (!options.commitAfterResult) commit();
      return result;
    } catch (err) {
      if (err instanceof CniError) throw err;
      throw ioError(`IPAM store ${folder.path} failed`, err);
    }
  };
  return withStoreLock(folder.lockPath, lockTimeoutMs, critical, options.commitAfterResult ? commitLater : undefined);
}
