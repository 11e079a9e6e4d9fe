/**
 * What the bridge driver remembers per attachment: `<stateDir>/bridge/endpoints/<host veth>.json`,
 * written (atomically) before anything is created on the node and updated as ADD learns more. DEL and
 * GC need it when the pod's namespace and prevResult are gone: the masquerade elements, the anti-spoofing
 * entry and the IPAM lease are found through it. The lock files of the bridges live beside it.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MasqueradeRecord } from './masq-step.js';

export interface BridgeRecord {
  containerId: string;
  ifname: string;
  /** The network (config name). */
  network: string;
  hostVeth: string;
  /** The bridge the host veth is (to be) a port of. */
  bridge: string;
  netns?: string;
  /** The pod's own addresses, without prefix length. */
  addresses: string[];
  podMac?: string;
  /** What the IPAM gave, for its CHECK. */
  ipam?: { address: string; gateway?: string }[];
  masquerade?: MasqueradeRecord;
  /** With macspoofchk: the anti-spoofing entry (bridge-spoofcheck.ts). */
  spoofcheck?: { table: string; mac: string };
}

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

function isRecord(value: unknown): value is BridgeRecord {
  const r = value as Partial<BridgeRecord> | null;
  return (
    typeof r === 'object' && r !== null && typeof r.containerId === 'string' && typeof r.ifname === 'string' &&
    typeof r.network === 'string' && typeof r.hostVeth === 'string' && typeof r.bridge === 'string' && Array.isArray(r.addresses)
  );
}

export class BridgeState {
  readonly endpoints: string;
  readonly locks: string;

  constructor(readonly stateDir: string) {
    this.endpoints = join(stateDir, 'bridge', 'endpoints');
    this.locks = join(stateDir, 'bridge', 'locks');
  }

  private path(hostVeth: string): string {
    if (!/^[\w-]{1,15}$/.test(hostVeth)) throw new TypeError(`not a host veth name: ${JSON.stringify(hostVeth)}`);
    return join(this.endpoints, `${hostVeth}.json`);
  }

  /** The lock file of a bridge (the name is a valid interface name: no "/", not "." or ".."). */
  lockPath(bridge: string): string {
    mkdirSync(this.locks, { recursive: true, mode: 0o700 });
    return join(this.locks, `${bridge}.lock`);
  }

  read(hostVeth: string): BridgeRecord | undefined {
    let text: string;
    try {
      text = readFileSync(this.path(hostVeth), 'utf8');
    } catch (err) {
      if (code(err) === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (isRecord(value)) return value;
    } catch {
      // torn or foreign: treated as absent, overwritten by the next ADD
    }
    return undefined;
  }

  write(record: BridgeRecord): void {
    mkdirSync(this.endpoints, { recursive: true, mode: 0o700 });
    const path = this.path(record.hostVeth);
    const scratch = `${path}.${process.pid}.tmp`;
    writeFileSync(scratch, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    try {
      renameSync(scratch, path);
    } catch (err) {
      removeQuietly(scratch);
      throw err;
    }
  }

  remove(hostVeth: string): void {
    removeQuietly(this.path(hostVeth));
  }

  list(): BridgeRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.endpoints);
    } catch (err) {
      if (code(err) === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => n.endsWith('.json')).flatMap((n) => this.read(n.slice(0, -5)) ?? []);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err;
  }
}
