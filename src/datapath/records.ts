/**
 * The record a driver keeps per attachment, `<stateDir>/<mode>/endpoints/<host veth>.json`, written
 * (atomically) before anything is created on the node and updated as ADD learns more. DEL and GC need it
 * when the pod's namespace and prevResult (or the veth) are gone. One store for both modes; what a mode
 * keeps besides (ebpf: counter ids, state.ts; bridge: lock files, bridge-state.ts) extends it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MasqueradeRecord } from './masq-step.js';

/** What every mode records of an attachment. */
export interface AttachmentRecord {
  containerId: string;
  ifname: string;
  /** The network (config name) it belongs to. */
  network: string;
  hostVeth: string;
  netns?: string;
  /** The pod's own addresses, without prefix length. */
  addresses: string[];
  podMac?: string;
  /** What the IPAM gave (its prefix lengths and gateways), for its CHECK. */
  ipam?: { address: string; gateway?: string }[];
  /** With ipMasq: what ADD added to the masquerade sets. */
  masquerade?: MasqueradeRecord;
}

export type DataPathMode = 'ebpf' | 'bridge';

export const errnoCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

/** Whether a parsed file has the fields every record has (a mode's guard adds its own). */
export function isAttachmentRecord(value: unknown): value is AttachmentRecord {
  const r = value as Partial<AttachmentRecord> | null;
  return (
    typeof r === 'object' && r !== null && typeof r.containerId === 'string' && typeof r.ifname === 'string' &&
    typeof r.network === 'string' && typeof r.hostVeth === 'string' && Array.isArray(r.addresses)
  );
}

/** Directories this thread made or found (see ensureDirectory). */
const knownDirectories = new Set<string>();

/**
 * Makes `dir` (mode 0700, parents too) unless this thread made or found it before, or `again`: a write
 * that fails with ENOENT afterwards (someone removed the state directory) asks again and retries.
 */
export function ensureDirectory(dir: string, again = false): void {
  if (!again && knownDirectories.has(dir)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  knownDirectories.add(dir);
}

export class RecordStore<R extends AttachmentRecord> {
  /** <stateDir>/<mode>: what the mode keeps besides its records lives here too. */
  readonly modeDir: string;
  readonly endpoints: string;

  constructor(
    readonly stateDir: string,
    mode: DataPathMode,
    private readonly isRecord: (value: unknown) => value is R,
  ) {
    this.modeDir = join(stateDir, mode);
    this.endpoints = join(this.modeDir, 'endpoints');
  }

  protected recordPath(hostVeth: string): string {
    if (!/^[\w-]{1,15}$/.test(hostVeth)) throw new TypeError(`not a host veth name: ${JSON.stringify(hostVeth)}`);
    return join(this.endpoints, `${hostVeth}.json`);
  }

  read(hostVeth: string): R | undefined {
    const path = this.recordPath(hostVeth);
    // Most lookups find nothing (ADD's check for a stale record): asked first, without the cost of an exception.
    if (!existsSync(path)) return undefined;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (this.isRecord(value)) return value;
    } catch {
      // a torn or foreign file: treated as absent, and overwritten by the next ADD
    }
    return undefined;
  }

  /** Replaces the record atomically. */
  write(record: R): void {
    const path = this.recordPath(record.hostVeth);
    const scratch = `${path}.${process.pid}.tmp`;
    const text = `${JSON.stringify(record)}\n`;
    ensureDirectory(this.endpoints);
    try {
      writeFileSync(scratch, text, { mode: 0o600 });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      ensureDirectory(this.endpoints, true);
      writeFileSync(scratch, text, { mode: 0o600 });
    }
    try {
      renameSync(scratch, path);
    } catch (err) {
      removeQuietly(scratch);
      throw err;
    }
  }

  /** Removes the record of hostVeth. */
  removeRecord(hostVeth: string): void {
    removeQuietly(this.recordPath(hostVeth));
  }

  /**
   * Forgets an attachment once nothing of it is left: its record (and, in a mode that reserves
   * anything for it, the reservations; `record` is what was read, undefined when there was none).
   */
  discard(hostVeth: string, _record: R | undefined): void {
    this.removeRecord(hostVeth);
  }

  /** Every readable record. */
  list(): R[] {
    let names: string[];
    try {
      names = readdirSync(this.endpoints);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => n.endsWith('.json')).flatMap((n) => this.read(n.slice(0, -5)) ?? []);
  }
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}
