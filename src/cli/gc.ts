/**
 * `sluice gc`: releases the IP leases of containers that no longer run, from the built-in IPAM's
 * store (host-local's layout), e.g. after a node reboot when no DEL ran. The runtime's list of running
 * containers comes as arguments or from a file. Uses the IPAM's gcLeases (src/ipam/host-local/gc.ts).
 */
import { readFileSync } from 'node:fs';
import { gcLeases } from '../ipam/host-local/index.js';

export interface GcOptions {
  liveContainers?: string;
  network: string;
  dataDir: string;
  dryRun?: boolean;
  json?: boolean;
}

/** Container IDs from a file's text: one per line, blank lines and #-comments ignored. */
export function parseIdList(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '');
}

export async function gcCommand(ids: string[], options: GcOptions): Promise<number> {
  if (!ids.length && options.liveContainers === undefined) {
    process.stderr.write('sluice gc: give the running containers, as IDs or with --live-containers FILE (an empty file releases every lease)\n');
    return 2;
  }
  let live = [...ids];
  if (options.liveContainers !== undefined) {
    try {
      live.push(...parseIdList(readFileSync(options.liveContainers === '-' ? 0 : options.liveContainers, 'utf8')));
    } catch (err) {
      process.stderr.write(`sluice gc: cannot read ${options.liveContainers}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  live = [...new Set(live)];
  try {
    const report = await gcLeases({ network: options.network, dataDir: options.dataDir, liveContainerIDs: live, ...(options.dryRun ? { dryRun: true } : {}) });
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ network: options.network, dryRun: options.dryRun === true, liveContainers: live.length, ...report }, null, 2)}\n`);
      return 0;
    }
    const verb = options.dryRun ? 'would release' : 'released';
    const lines = [`${verb} ${report.released.length} lease${report.released.length === 1 ? '' : 's'} of network ${options.network}, kept ${report.kept} (${live.length} running container${live.length === 1 ? '' : 's'} given)`];
    for (const l of report.released) lines.push(`  ${verb} ${l.ip}: ${l.owner}`);
    for (const l of report.repaired) lines.push(`  repaired ${l.ip}: ${l.owner}`);
    for (const l of report.malformed) lines.push(`  kept ${l.ip}: unreadable lease ${l.path} (${l.owner}), look at it`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`sluice gc: ${(err as Error).message}\n`);
    return 1;
  }
}
