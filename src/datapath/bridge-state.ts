/**
 * What the bridge driver remembers per attachment: `<stateDir>/bridge/endpoints/<host veth>.json`
 * (records.ts). DEL and GC need it when the pod's namespace and prevResult are gone: the masquerade
 * elements, the anti-spoofing entry and the IPAM lease are found through it. The lock files of the
 * bridges live beside it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isAttachmentRecord, RecordStore, type AttachmentRecord } from './records.js';

export interface BridgeRecord extends AttachmentRecord {
  /** The bridge the host veth is (to be) a port of. */
  bridge: string;
  /** With macspoofchk: the anti-spoofing entry (bridge-spoofcheck.ts). */
  spoofcheck?: { table: string; mac: string };
}

function isRecord(value: unknown): value is BridgeRecord {
  return isAttachmentRecord(value) && typeof (value as Partial<BridgeRecord>).bridge === 'string';
}

export class BridgeState extends RecordStore<BridgeRecord> {
  readonly locks: string;

  constructor(stateDir: string) {
    super(stateDir, 'bridge', isRecord);
    this.locks = join(this.modeDir, 'locks');
  }

  /** The lock file of a bridge (the name is a valid interface name: no "/", not "." or ".."). */
  lockPath(bridge: string): string {
    mkdirSync(this.locks, { recursive: true, mode: 0o700 });
    return join(this.locks, `${bridge}.lock`);
  }
}
