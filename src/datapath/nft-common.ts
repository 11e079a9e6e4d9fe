// What sluice's nf_tables managers share (masquerade.ts, bridge-spoofcheck.ts, spoof-guard.ts): the
// socket, get requests, the ruleset generation their compare-and-swap batches carry, the comment that
// identifies a rule of ours (its name and a hash of its expressions, so a rule of another sluice
// version is told apart), the back-off between attempts, and deleting a whole table.
import { createHash } from 'node:crypto';
import { NetlinkError } from '../netlink/errors.js';
import { encodeMessage, type MessageKind } from '../netlink/message.js';
import {
  NFPROTO, NFT_MSG, NftBatch, nftCommentUserdata, nftExpressionList, nftGen, nftTable, nftType, nftables, type NftExpression,
} from '../netlink/nftables/index.js';
import { NetlinkSocket, NETLINK_NETFILTER } from '../netlink/socket.js';
import { Writer } from '../netlink/writer.js';
import type { NetNs } from '../netns.js';

/** Validates a table name as nft accepts identifiers (and as a CNI config may carry it). */
export function validateTableName(name: string): void {
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/.test(name)) {
    throw new TypeError(`invalid nftables table name ${JSON.stringify(name)}: letters, digits, "_", "-" and "." (at most 63, starting with a letter or "_")`);
  }
}

/** Whether `e` is the kernel answering errno `code` ("ENOENT", "EEXIST", ...). */
export const isErrno = (e: unknown, code: string): boolean => e instanceof NetlinkError && e.code === code;

/** A NETLINK_NETFILTER socket decoding nf_tables messages, in `netns` (default: the calling thread's). */
export function openNftSocket(netns?: NetNs): NetlinkSocket {
  return NetlinkSocket.open(NETLINK_NETFILTER, netns ? { family: nftables, netns } : { family: nftables });
}

let keepSockets = false;
const keptSockets = new Map<string, NetlinkSocket>();

/**
 * From now on this thread keeps its nf_tables sockets open, one per namespace (the agent does): closing
 * a socket right after it deleted something waits for the kernel's deferred destruction of it, an RCU
 * grace period (~13 ms here), which a DEL would pay.
 */
export function keepNftSockets(): void {
  keepSockets = true;
}

/** The thread's kept socket for `netns` once keepNftSockets() was called, else undefined (open one). */
export function keptNftSocket(netns?: NetNs): NetlinkSocket | undefined {
  if (!keepSockets) return undefined;
  const key = netns?.path ?? '';
  let socket = keptSockets.get(key);
  if (!socket) keptSockets.set(key, (socket = openNftSocket(netns)));
  return socket;
}

/** A get or dump request for NFT_MSG_`msg` with these attributes (the socket adds the request flags). */
export function nftGetRequest(kind: MessageKind<'nfgen', any, any>, msg: number, attrs: object, family: number): Buffer {
  return encodeMessage(kind, { header: { type: nftType(msg) }, nfgen: { family }, attrs } as never);
}

/** The current ruleset generation (NFT_MSG_GETGEN), for a batch computed from what is read after it. */
export function nftGeneration(sock: NetlinkSocket): number {
  const replies = sock.request(nftGetRequest(nftGen, NFT_MSG.GETGEN, {}, NFPROTO.UNSPEC), 'NFT_MSG_GETGEN');
  const gen = replies.find((m) => m.kind === nftGen.name) as { attrs: { id?: number } } | undefined;
  if (gen?.attrs.id === undefined) throw new Error('NFT_MSG_GETGEN: the kernel answered no generation id');
  return gen.attrs.id;
}

/** A constant rule of ours: its expressions and the nft comment ("<name> <hash>") that identifies it. */
export interface TaggedRule {
  readonly comment: string;
  readonly userdata: Buffer;
  readonly expressions: NftExpression[];
}

/** The rule `expressions` with the comment `<name> <first 12 hex digits of the SHA-256 of their encoding>`. */
export function taggedRule(name: string, expressions: NftExpression[]): TaggedRule {
  const w = new Writer(512);
  nftExpressionList.encode(w, expressions, { siblings: {} });
  const comment = `${name} ${createHash('sha256').update(w.finish()).digest('hex').slice(0, 12)}`;
  return { comment, userdata: nftCommentUserdata(comment), expressions };
}

/** Sleeps a random few milliseconds before attempt `attempt + 1` (up to 2^attempt, at most 32). */
export function backoff(attempt: number): void {
  const ms = Math.floor(Math.random() * Math.min(1 << attempt, 32));
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Deletes a table with everything in it; false when there was none. */
export function deleteNftTable(sock: NetlinkSocket, family: number, table: string, familyName = 'inet'): boolean {
  try {
    new NftBatch()
      .add(nftTable, { header: { type: nftType(NFT_MSG.DELTABLE) }, nfgen: { family }, attrs: { name: table } }, `delete table ${familyName} ${table}`)
      .commit(sock);
    return true;
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false;
    throw e;
  }
}
