import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Attachment } from '../types.js';
import { checkNetworkName, DEFAULT_DATA_DIR } from './config.js';
import { type LeaseOwner, describeOwner } from './lease.js';
import type { Ledger } from './ledger.js';
import { withLedger } from './session.js';

/**
 * Garbage collection: release every lease whose attachment the runtime no longer knows (the leases a
 * node reboot leaks, since DEL never ran). Lease files that name nobody:
 *  - empty ones are what host-local leaves when killed between its create and its write (sluice never
 *    does: see LeaseDir.reserve), or a power cut before the data reached the disk; either way no
 *    running container holds the address (the ADD died, or the node did), so they are released;
 *  - any other unreadable content is kept, and reported: sluice cannot tell whose address it is, and
 *    freeing it could give a live container's address to another.
 * A legacy lease (container ID alone) whose ID was cut short is given back to the one live attachment
 * it is the start of (at least 12 characters, like a short container ID), rather than freed.
 */

export type Verdict = { action: 'keep' } | { action: 'release' } | { action: 'repair'; to: Attachment };

export interface Liveness {
  judge(owner: LeaseOwner): Verdict;
}

const MIN_ID_PREFIX = 12;

/** CNI GC: `cni.dev/valid-attachments`. */
export function liveAttachments(valid: readonly Attachment[]): Liveness {
  const exact = new Set(valid.map((a) => `${a.containerID.trim()}\n${a.ifname}`));
  const ids = new Set(valid.map((a) => a.containerID.trim()));
  return {
    judge(owner) {
      switch (owner.kind) {
        case 'attachment':
          return exact.has(`${owner.containerID}\n${owner.ifname}`) ? keep : release;
        case 'legacy': {
          if (ids.has(owner.containerID)) return keep;
          const whole = uniqueExtension(owner.containerID, valid.map((a) => a.containerID.trim()));
          const to = whole === undefined ? undefined : valid.find((a) => a.containerID.trim() === whole);
          return to ? { action: 'repair', to } : release;
        }
        case 'malformed':
          return owner.reason === 'empty' ? release : keep;
      }
    },
  };
}

/** `sluice gc`: the runtime's list of live container IDs (interface names unknown). */
export function liveContainers(containerIDs: readonly string[]): Liveness {
  const ids = new Set(containerIDs.map((id) => id.trim()));
  return {
    judge(owner) {
      switch (owner.kind) {
        case 'attachment':
          return ids.has(owner.containerID) ? keep : release;
        case 'legacy':
          return ids.has(owner.containerID) || uniqueExtension(owner.containerID, [...ids]) !== undefined ? keep : release;
        case 'malformed':
          return owner.reason === 'empty' ? release : keep;
      }
    },
  };
}

const keep: Verdict = { action: 'keep' };
const release: Verdict = { action: 'release' };

function uniqueExtension(prefix: string, ids: readonly string[]): string | undefined {
  if (prefix.length < MIN_ID_PREFIX) return undefined;
  const matches = [...new Set(ids.filter((id) => id.length > prefix.length && id.startsWith(prefix)))];
  return matches.length === 1 ? matches[0] : undefined;
}

export interface GcLease {
  ip: string;
  owner: string;
  path: string;
}

export interface GcReport {
  released: GcLease[];
  repaired: GcLease[];
  /** Leases kept, including the malformed ones listed below. */
  kept: number;
  /** Lease files naming nobody sluice can identify: kept, for an operator to look at. */
  malformed: GcLease[];
}

export function collectGarbage(ledger: Ledger, liveness: Liveness, dryRun = false): GcReport {
  const report: GcReport = { released: [], repaired: [], kept: 0, malformed: [] };
  const released: LeaseOwner[] = [];
  for (const { ip, owner } of ledger.allLeases()) {
    const verdict = liveness.judge(owner);
    const entry = { ip, owner: describeOwner(owner), path: ledger.leases.leasePath(ip) };
    if (verdict.action === 'release') {
      report.released.push(entry);
      released.push(owner);
      if (!dryRun) ledger.release(ip);
    } else if (verdict.action === 'repair') {
      report.repaired.push({ ...entry, owner: `${entry.owner} → container ${verdict.to.containerID} interface ${verdict.to.ifname}` });
      if (!dryRun) ledger.repair(ip, verdict.to, owner);
      report.kept++;
    } else {
      report.kept++;
      if (owner.kind === 'malformed') report.malformed.push(entry);
    }
  }
  if (!dryRun) for (const owner of released) ledger.forget(owner);
  return report;
}

export interface GcLeasesOptions {
  /** Defaults to host-local's /var/lib/cni/networks. */
  dataDir?: string;
  network: string;
  /** Every container the runtime still runs; every lease of any other container is released. */
  liveContainerIDs: readonly string[];
  /** Report what would be released without changing anything. */
  dryRun?: boolean;
  lockTimeoutMs?: number;
}

/** What `sluice gc` runs: reclaims the leases of containers that are gone (after a reboot, say). */
export async function gcLeases(options: GcLeasesOptions): Promise<GcReport> {
  const network = checkNetworkName(options.network, 'network');
  const dataDir = options.dataDir || DEFAULT_DATA_DIR;
  if (!existsSync(join(dataDir, network))) return { released: [], repaired: [], kept: 0, malformed: [] };
  return withLedger(
    { dataDir, network },
    [],
    (ledger) => collectGarbage(ledger, liveContainers(options.liveContainerIDs), options.dryRun),
    options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs },
  );
}
