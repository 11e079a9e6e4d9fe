/**
 * DEL and GC, alike for both data paths: what an attachment left on the node is removed through the
 * driver's `cleanup` (found by its record and the host veth's name, so neither CNI_NETNS nor prevResult
 * is needed), then the IPAM lease, then the record. Plus the pieces of a cleanup both drivers use.
 */
import type { DelRequest, GcRequest } from '../cni/dispatch.js';
import { CniCode, CniError } from '../cni/errors.js';
import type { NetNs } from '../netns.js';
import type { SyncClient } from '../netlink/client.js';
import { nodeClient, releaseNodeClient, type AttachmentDriver } from './attachment-steps.js';
import { removeMasquerade } from './masq-step.js';
import type { AttachmentRecord } from './records.js';
import { messageOf } from './steps.js';

/** DEL: everything the attachment left, in any state; fails naming what is left behind. */
export async function removeAttachment<R extends AttachmentRecord>(d: AttachmentDriver<R>, req: DelRequest): Promise<void> {
  const settings = req.config.sluice;
  const store = d.store(settings);
  const record = store.read(req.hostVethName);
  const node = nodeClient(d.nodeNetns);
  let problems: string[];
  try {
    problems = await d.cleanup(node, settings, req.hostVethName, record);
  } finally {
    releaseNodeClient(node);
  }
  try {
    await req.ipam?.del(req.ipamRequest);
  } catch (err) {
    // Alone, the IPAM's own error goes out as it is (its code may say "try again later").
    if (!problems.length) throw err;
    problems.push(`releasing the addresses (IPAM ${req.config.ipam?.type}): ${messageOf(err)}`);
  }
  if (problems.length) throw new CniError(CniCode.Internal, `DEL of ${req.containerId} ${req.ifname} left something behind`, problems.join('; '));
  store.discard(req.hostVethName, record);
  d.log.info({ containerId: req.containerId, ifname: req.ifname, hostVeth: req.hostVethName }, 'attachment deleted');
}

/** GC: the attachments of this network the runtime no longer lists, removed; then the IPAM's GC. */
export async function collectStale<R extends AttachmentRecord>(d: AttachmentDriver<R>, req: GcRequest): Promise<void> {
  const settings = req.config.sluice;
  const store = d.store(settings);
  const valid = new Set(req.validAttachments.map((a) => `${a.containerID}/${a.ifname}`));
  const problems: string[] = [];
  const stale = store.list().filter((r) => r.network === req.config.name && !valid.has(`${r.containerId}/${r.ifname}`));
  if (stale.length) {
    const node = nodeClient(d.nodeNetns);
    try {
      for (const record of stale) {
        const left = await d.cleanup(node, settings, record.hostVeth, record);
        if (left.length) problems.push(...left.map((p) => `${record.containerId} ${record.ifname}: ${p}`));
        else store.discard(record.hostVeth, record);
        d.log.info({ containerId: record.containerId, ifname: record.ifname, hostVeth: record.hostVeth }, 'stale attachment collected');
      }
    } finally {
      releaseNodeClient(node);
    }
  }
  // The IPAM plugin releases the leases of every attachment not in the list itself.
  try {
    await req.ipam?.gc(req.ipamGcRequest);
  } catch (err) {
    if (!problems.length && err instanceof CniError) throw err;
    problems.push(`IPAM GC: ${messageOf(err)}`);
  }
  if (problems.length) throw new CniError(CniCode.Internal, 'GC could not remove everything', problems.join('; '));
}

/** Runs `fn`; a failure goes into `problems` as "<what>: <why>" instead of being thrown. */
export async function attempt(problems: string[], what: string, fn: () => void | Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    problems.push(`${what}: ${messageOf(err)}`);
  }
}

/** The same, for what is synchronous. */
export function attemptSync(problems: string[], what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    problems.push(`${what}: ${messageOf(err)}`);
  }
}

/** The masquerade elements a record lists, removed; returns what failed. */
export async function masqueradeProblems(record: AttachmentRecord | undefined, netns: NetNs | undefined): Promise<string[]> {
  const problems: string[] = [];
  const masquerade = record?.masquerade;
  if (masquerade) {
    await attempt(problems, `removing the masquerade elements ${masquerade.prefixes.join(', ')} from table inet ${masquerade.table}`, () => removeMasquerade(masquerade, netns));
  }
  return problems;
}

/** Deletes the host veth, if it is there (the pod's end goes with it); returns what failed. */
export function hostVethProblems(node: SyncClient, hostVeth: string): string[] {
  const problems: string[] = [];
  attemptSync(problems, `deleting ${hostVeth}`, () => void node.linkDeleteIfExists(hostVeth));
  return problems;
}
