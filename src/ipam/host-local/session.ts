import { CniError } from '../../cni/errors.js';
import { ioError } from './errors.js';
import { Ledger } from './ledger.js';
import { withStoreLock } from './lock.js';
import type { RangeSet } from './range.js';
import { LeaseDir } from './store.js';
import { join } from 'node:path';

export interface StoreLocation {
  dataDir: string;
  network: string;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/**
 * Runs one operation on a network's store: takes the lock, opens the ledger (rebuilding its index if
 * needed), runs `operation`, commits, unlocks. The ledger is committed even when the operation throws,
 * so a rolled-back allocation leaves a sealed, up-to-date index behind.
 */
export async function withLedger<T>(
  where: StoreLocation,
  sets: readonly RangeSet[],
  operation: (ledger: Ledger) => T,
  lockTimeoutMs = DEFAULT_LOCK_TIMEOUT_MS,
): Promise<T> {
  const folder = new LeaseDir(join(where.dataDir, where.network));
  try {
    folder.create();
  } catch (err) {
    throw ioError(`cannot create the IPAM store ${folder.path}`, err);
  }
  return withStoreLock(folder.lockPath, lockTimeoutMs, () => {
    try {
      const ledger = new Ledger(where.dataDir, where.network, sets);
      ledger.open();
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
      ledger.commit();
      return result;
    } catch (err) {
      if (err instanceof CniError) throw err;
      throw ioError(`IPAM store ${folder.path} failed`, err);
    }
  });
}
