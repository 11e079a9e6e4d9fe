// nf_tables changes travel in a batch: NFNL_MSG_BATCH_BEGIN (nfgenmsg.resId = NFNL_SUBSYS_NFTABLES), the
// changes, NFNL_MSG_BATCH_END, sent as one datagram and committed as one transaction: all or nothing.
// The begin message may carry the ruleset generation the batch was computed from (NFNL_BATCH_GENID);
// the kernel then refuses the batch with ERESTART if anything was committed since (compare-and-swap).
import { space } from '../attributes.js';
import { NetlinkError } from '../errors.js';
import { encodeMessageTo, messageKind, NLM_F, type AnyMessage, type MessageKind, type MessageOf, type RequestOf } from '../message.js';
import type { NetlinkSocket } from '../socket.js';
import { be32 } from '../types.js';
import { Writer } from '../writer.js';
import { NFNETLINK_V0, NFNL_SUBSYS_NFTABLES, nfgenmsg } from './common.js';

/** Reserved nfnetlink control messages (NLMSG_MIN_TYPE and the next). */
export const NFNL_MSG_BATCH_BEGIN = 0x10;
export const NFNL_MSG_BATCH_END = 0x11;

/** ERESTART: the batch's NFNL_BATCH_GENID is not the current generation any more. */
export const ERESTART = 85;

/** NFNL_BATCH_* (the attributes of a batch begin message). */
export const nftBatchAttrs = space('NFNL_BATCH', {
  1: ['genid', be32],
});

export const nftBatchControl = messageKind({
  name: 'nftBatch',
  headerKey: 'nfgen',
  header: nfgenmsg,
  attrs: nftBatchAttrs,
  types: { [NFNL_MSG_BATCH_BEGIN]: 'NFNL_MSG_BATCH_BEGIN', [NFNL_MSG_BATCH_END]: 'NFNL_MSG_BATCH_END' },
});
export type NftBatchControlMessage = MessageOf<typeof nftBatchControl>;

export interface NftBatchOptions {
  /** The generation the changes were computed from; the kernel refuses the batch (ERESTART) if it moved on. */
  genid?: number;
}

/**
 * The changes of one nf_tables transaction. Each message is sent with NLM_F_REQUEST | NLM_F_ACK added to
 * the flags it was given, so the kernel confirms each (or reports each failure); nfgenmsg.version is
 * NFNETLINK_V0 unless given. Usage: `new NftBatch().add(nftTable, {...}, 'table inet sluice').commit(sock)`.
 */
export class NftBatch {
  private readonly messages: Array<{ kind: MessageKind<string, any, any>; request: RequestOf<MessageKind<string, any, any>>; what: string | undefined }> = [];

  constructor(readonly options: NftBatchOptions = {}) {}

  /** How many changes the batch holds. */
  get size(): number {
    return this.messages.length;
  }

  add<M extends MessageKind<string, any, any>>(kind: M, request: RequestOf<M>, what?: string): this {
    this.messages.push({ kind, request: request as RequestOf<MessageKind<string, any, any>>, what });
    return this;
  }

  /** The whole datagram: BATCH_BEGIN, the changes, BATCH_END; and how to describe each message in errors. */
  encode(): { bytes: Buffer; what: Array<string | undefined> } {
    const w = new Writer(512);
    const control = { version: NFNETLINK_V0, resId: NFNL_SUBSYS_NFTABLES };
    const genid = this.options.genid;
    encodeMessageTo(w, nftBatchControl, {
      header: { type: NFNL_MSG_BATCH_BEGIN, flags: NLM_F.REQUEST },
      nfgen: control,
      attrs: genid === undefined ? {} : { genid },
    });
    const what: Array<string | undefined> = [genid === undefined ? 'nf_tables batch' : `nf_tables batch (generation ${genid})`];
    for (const m of this.messages) {
      const header = { ...m.request.header, flags: (m.request.header.flags ?? 0) | NLM_F.REQUEST | NLM_F.ACK };
      const request = { ...m.request, header } as Record<string, unknown>;
      request.nfgen = { version: NFNETLINK_V0, ...(m.request as Record<string, unknown>).nfgen as object };
      encodeMessageTo(w, m.kind, request as RequestOf<MessageKind<string, any, any>>);
      what.push(m.what);
    }
    encodeMessageTo(w, nftBatchControl, { header: { type: NFNL_MSG_BATCH_END, flags: NLM_F.REQUEST }, nfgen: control });
    what.push('nf_tables batch end');
    return { bytes: w.finish(), what };
  }

  /**
   * Sends the batch on a NETLINK_NETFILTER socket and waits for the kernel's answer to every change.
   * Returns what the kernel echoed (nothing, unless a change asked for NLM_F_ECHO). Throws the first
   * NetlinkError; isGenerationConflict(e) tells a generation mismatch (retry from a fresh read).
   * An empty batch is not sent.
   */
  commit(sock: NetlinkSocket): AnyMessage[] {
    if (this.messages.length === 0) return [];
    const { bytes, what } = this.encode();
    return sock.requestBatch(bytes, what);
  }
}

/** Whether `e` is the kernel refusing a batch because the ruleset generation moved on (ERESTART). */
export function isGenerationConflict(e: unknown): boolean {
  return e instanceof NetlinkError && e.errno === ERESTART;
}
