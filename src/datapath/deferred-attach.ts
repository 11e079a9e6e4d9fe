/**
 * Finishing an ADD whose attach was deferred (ebpf.ts, `deferAttach`): the TCX link attached to the
 * host veth and pinned, the host veth taken out of the spoof guard, the record's mark dropped, in
 * that order, so that a crash anywhere leaves a state this same function completes (the attach is
 * idempotent, so is the release). The agent's promoter calls it in the container's turn, never
 * alongside an ADD, CHECK or DEL of the same attachment.
 */
import type { Datapath } from '../bpf/datapath.js';
import type { NetNs } from '../netns.js';
import type { SpoofGuard } from './spoof-guard.js';
import { EndpointState, type EndpointRecord } from './state.js';
import { NO_STATS, nodeClient, releaseNodeClient } from './attachment-steps.js';

export interface DeferredAttachment {
  stateDir: string;
  record: EndpointRecord & { deferredAttach: { pinRoot: string } };
}

export type DeferredOutcome = 'attached' | 'gone';

/** The attachments under `stateDir` whose ADD deferred the attach. */
export function deferredAttachments(stateDir: string): DeferredAttachment[] {
  return new EndpointState(stateDir).list().flatMap((record) => (record.deferredAttach ? [{ stateDir, record: record as DeferredAttachment['record'] }] : []));
}

export interface CompleteOptions {
  nodeNetns?: NetNs;
  /** The spoof guard of the node, kept open by the caller. */
  guard: SpoofGuard;
  /** The data path at the record's pin root, opened (and kept) by the caller. */
  datapath(pinRoot: string): Promise<Datapath>;
}

/**
 * Attaches what `pending` deferred. 'gone' when the attachment no longer is what the record says
 * (DEL removed it, or its host veth is another device now): nothing is attached then, and the
 * guard element of the recorded ifindex is released.
 */
export async function completeDeferredAttach(pending: DeferredAttachment, options: CompleteOptions): Promise<DeferredOutcome> {
  const store = new EndpointState(pending.stateDir);
  const record = store.read(pending.record.hostVeth);
  if (!record?.deferredAttach || record.id !== pending.record.id) return 'gone';
  const node = nodeClient(options.nodeNetns);
  let ifindex: number | undefined;
  try {
    ifindex = node.linkGet(record.hostVeth, NO_STATS)?.ifinfo.index;
  } finally {
    releaseNodeClient(node);
  }
  const { guard } = options;
  if (ifindex === undefined || ifindex !== record.hostIfindex) {
    if (record.hostIfindex !== undefined) guard.release(record.hostIfindex);
    return 'gone';
  }
  const datapath = await options.datapath(record.deferredAttach.pinRoot);
  datapath.attach(record.hostVeth, 'ingress');
  guard.release(ifindex);
  const { deferredAttach: _, ...attached } = record;
  store.write(attached);
  return 'attached';
}
