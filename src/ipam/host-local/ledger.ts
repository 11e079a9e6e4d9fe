import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../../log.js';
import type { Attachment } from '../types.js';
import { type Ip, parseIp } from './address.js';
import { AttachmentIndex, IndexCorrupt } from './attachment-index.js';
import { crashPoint } from './crashpoint.js';
import { removeIfPresent, writeFresh } from './files.js';
import { type LeaseOwner, attachmentKey, isOwnedBy, leaseText, ownerKey } from './lease.js';
import type { RangeSet } from './range.js';
import { type Seal, readSeal, sameStamp, writeSeal } from './seal.js';
import { LeaseDir } from './store.js';
import { UsageHint } from './usage-hint.js';

/** Where sluice keeps its index of a network's store: beside the lease folders, never inside one. */
export function sidecarPath(dataDir: string, network: string): string {
  return join(dataDir, '.sluice', network);
}

export interface LeaseRecord {
  ip: string;
  owner: LeaseOwner;
}

/**
 * A network's leases (host-local's folder, the truth) with sluice's index of them (attachment buckets
 * and usage hints, trusted only while the seal matches the folder). Used under the store lock, by one
 * operation: open, query and change, commit.
 *
 * Order of writes, which is what makes a kill at any point harmless: lease files change first, the index
 * follows, the seal comes last. A kill in between leaves the folder different from the seal, so the next
 * operation rebuilds the index from the lease files before using it.
 */
export class Ledger {
  readonly leases: LeaseDir;
  private readonly home: string;
  private readonly index: AttachmentIndex;
  private readonly hints = new Map<RangeSet, UsageHint>();
  /** The seal's generation: bumped by each commit; usage hints are valid only at the current one. */
  private generation = 0;
  private dirty = false;
  /** The lease text in the scratch lease file, so the link attempts of one search share one write. */
  private scratchText: string | undefined;

  constructor(
    dataDir: string,
    network: string,
    private readonly sets: readonly RangeSet[],
  ) {
    this.leases = new LeaseDir(join(dataDir, network));
    this.home = sidecarPath(dataDir, network);
    this.index = new AttachmentIndex(join(this.home, 'att'), this.scratch('att'));
  }

  open(): void {
    mkdirSync(join(this.home, 'tmp'), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.home, 'att'), { recursive: true, mode: 0o700 });
    // Under the lock nobody is writing: whatever is in tmp/ was left by a killed operation.
    for (const name of readdirSync(join(this.home, 'tmp'))) removeIfPresent(join(this.home, 'tmp', name));
    const seal = readSeal(this.sealPath);
    this.generation = seal?.gen ?? 0;
    if (seal && this.describesFolder(seal)) {
      this.loadHints();
    } else {
      this.rebuild(seal ? 'the lease folder changed since sluice last wrote it' : 'sluice has no index of it yet');
    }
  }

  /**
   * The addresses leased to `att`, each checked against its lease file; when it has none, those leased
   * to its container ID alone (host-local's legacy format), as host-local's lookup falls back to.
   */
  leasesOf(att: Attachment, options: { legacy: boolean } = { legacy: true }): string[] {
    const exact = this.exactLeasesOf(att);
    return exact.length > 0 || !options.legacy ? exact : this.legacyLeasesOf(att);
  }

  /** Releases every lease of `att` (or, when it has none, of its container ID in the legacy format). */
  releaseAttachment(att: Attachment): string[] {
    let key = exactKey(att);
    let ips = this.exactLeasesOf(att);
    if (ips.length === 0) {
      key = legacyKey(att);
      ips = this.legacyLeasesOf(att);
    }
    for (const ip of ips) this.release(ip);
    if (ips.length > 0) this.updateIndex(() => this.index.remove(key));
    return ips;
  }

  ownerOf(ip: string): LeaseOwner | undefined {
    return this.leases.readLease(ip);
  }

  /** Takes `ip` for `att`; false when it is already leased. */
  reserve(ip: string, att: Attachment): boolean {
    const text = leaseText(att);
    if (this.scratchText !== text) {
      writeFresh(this.scratch('lease'), text);
      this.scratchText = text;
      crashPoint();
    }
    const reserved = this.leases.reserve(ip, this.scratch('lease'), text);
    // Either way the address now has a lease.
    this.markHints(ip, true);
    if (reserved) {
      this.dirty = true;
      // The scratch file is now the lease itself: the next lease gets a file (an inode) of its own.
      this.scratchText = undefined;
    }
    return reserved;
  }

  release(ip: string): void {
    this.leases.release(ip);
    this.dirty = true;
    crashPoint();
    this.markHints(ip, false);
  }

  /** Gives a lease whose file lost part of its text (`previous` is what it said) its whole text back. */
  repair(ip: string, att: Attachment, previous: LeaseOwner): void {
    this.leases.rewrite(ip, leaseText(att), this.scratch('repair'));
    this.dirty = true;
    crashPoint();
    const oldKey = ownerKey(previous);
    const key = exactKey(att);
    const ips = this.exactLeasesOf(att);
    this.updateIndex(() => {
      if (oldKey) this.index.put(oldKey, (this.index.get(oldKey) ?? []).filter((other) => other !== ip));
      if (!ips.includes(ip)) this.index.put(key, [...ips, ip]);
    });
  }

  record(att: Attachment, ips: readonly string[]): void {
    this.updateIndex(() => this.index.put(exactKey(att), ips));
  }

  forget(owner: LeaseOwner): void {
    const key = ownerKey(owner);
    if (key) this.updateIndex(() => this.index.remove(key));
  }

  lastReserved(rangeIndex: number): Ip | undefined {
    const text = this.leases.lastReserved(rangeIndex);
    return text === undefined ? undefined : parseIp(text);
  }

  setLastReserved(rangeIndex: number, ip: string): void {
    this.leases.setLastReserved(rangeIndex, ip);
    this.dirty = true;
    crashPoint();
  }

  /** The usage hint of one of the operation's range sets; undefined for sets too big to keep one. */
  hint(set: RangeSet): UsageHint | undefined {
    return this.hints.get(set);
  }

  /** Re-reads which addresses of `set` are leased from the folder's listing (before calling it full). */
  relist(set: RangeSet): UsageHint | undefined {
    if (!UsageHint.supports(set)) return undefined;
    const hint = UsageHint.fromLeaseNames(set, this.leases.leaseNames());
    this.hints.set(set, hint);
    this.dirty = true;
    return hint;
  }

  /** Every lease file with its owner: the full walk only GC and a rebuild need. */
  allLeases(): LeaseRecord[] {
    const out: LeaseRecord[] = [];
    for (const ip of this.leases.leaseNames()) {
      const owner = this.leases.readLease(ip);
      if (owner) out.push({ ip, owner });
    }
    return out;
  }

  /** Saves the hints, then the seal, when anything changed. */
  commit(): void {
    this.scratchText = undefined;
    removeIfPresent(this.scratch('lease'));
    if (!this.dirty) return;
    const gen = this.generation + 1;
    for (const [set, hint] of this.hints) {
      hint.save(this.hintPath(set), gen);
      crashPoint();
    }
    const seal: Seal = { v: 1, gen, dir: this.leases.stamp(), lastReserved: this.lastReservedContents() };
    writeSeal(this.sealPath, seal);
    crashPoint();
    this.generation = gen;
    this.dirty = false;
  }

  private get sealPath(): string {
    return join(this.home, 'seal');
  }

  private scratch(name: string): string {
    return join(this.home, 'tmp', name);
  }

  private hintPath(set: RangeSet): string {
    return join(this.home, UsageHint.fileName(set));
  }

  private describesFolder(seal: Seal): boolean {
    if (!sameStamp(seal.dir, this.leases.stamp())) return false;
    return Object.entries(seal.lastReserved).every(([i, text]) => (this.leases.lastReserved(Number(i)) ?? null) === text);
  }

  private lastReservedContents(): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    this.sets.forEach((_, i) => {
      out[i] = this.leases.lastReserved(i) ?? null;
    });
    return out;
  }

  private loadHints(): void {
    let names: string[] | undefined;
    for (const set of this.sets) {
      if (!UsageHint.supports(set)) continue;
      let hint = UsageHint.load(this.hintPath(set), set, this.generation);
      if (!hint) {
        names ??= this.leases.leaseNames();
        hint = UsageHint.fromLeaseNames(set, names);
        this.dirty = true;
      }
      this.hints.set(set, hint);
    }
  }

  private exactLeasesOf(att: Attachment): string[] {
    return this.checkedEntry(exactKey(att), (o) => isOwnedBy(o, att));
  }

  private legacyLeasesOf(att: Attachment): string[] {
    const id = att.containerID.trim();
    return this.checkedEntry(legacyKey(att), (o) => o.kind === 'legacy' && o.containerID === id);
  }

  /** An index entry's addresses that the lease files confirm; a garbled index is rebuilt first. */
  private checkedEntry(key: string, owns: (owner: LeaseOwner) => boolean): string[] {
    let recorded: string[] | undefined;
    try {
      recorded = this.index.get(key);
    } catch (err) {
      if (!(err instanceof IndexCorrupt)) throw err;
      this.rebuild(err.message);
      recorded = this.index.get(key);
    }
    if (!recorded) return [];
    const valid = recorded.filter((ip) => {
      const owner = this.leases.readLease(ip);
      return owner !== undefined && owns(owner);
    });
    if (valid.length !== recorded.length) {
      // Released or re-leased behind sluice's back: drop what the lease files no longer confirm.
      this.updateIndex(() => this.index.put(key, valid));
    }
    return valid;
  }

  /**
   * Applies an index change that follows a lease change. A garbled index is rebuilt from the lease
   * files instead, which already hold the change.
   */
  private updateIndex(change: () => void): void {
    try {
      change();
    } catch (err) {
      if (!(err instanceof IndexCorrupt)) throw err;
      this.rebuild(err.message);
    }
    this.dirty = true;
  }

  private markHints(ip: string, used: boolean): void {
    const parsed = parseIp(ip);
    if (!parsed) return;
    for (const [set, hint] of this.hints) {
      const offset = set.offsetOf(parsed);
      if (offset !== undefined) hint.mark(Number(offset), used);
    }
  }

  /** Rebuilds the whole index from the lease files: one walk, paid only after a foreign write or a kill. */
  private rebuild(reason: string): void {
    // Until the new seal is written nobody may trust the index being rewritten.
    removeIfPresent(this.sealPath);
    for (const name of readdirSync(this.home)) if (name.startsWith('usage-')) removeIfPresent(join(this.home, name));
    crashPoint();
    const entries = new Map<string, string[]>();
    const malformed: string[] = [];
    const leases = this.allLeases();
    for (const { ip, owner } of leases) {
      const key = ownerKey(owner);
      if (key) entries.set(key, [...(entries.get(key) ?? []), ip]);
      else if (owner.kind === 'malformed') malformed.push(`${ip} (${owner.reason})`);
    }
    this.index.reconcile(entries);
    const names = leases.map((l) => l.ip);
    this.hints.clear();
    for (const set of this.sets) if (UsageHint.supports(set)) this.hints.set(set, UsageHint.fromLeaseNames(set, names));
    log().info({ store: this.leases.path, leases: leases.length, reason }, 'rebuilt the IPAM index from the lease files');
    if (malformed.length > 0) {
      log().warn(
        { store: this.leases.path, malformed },
        'malformed lease files: their addresses stay reserved until GC (or an operator) removes them',
      );
    }
    this.dirty = true;
    this.commit();
  }
}

function exactKey(att: Attachment): string {
  return attachmentKey(att.containerID, att.ifname);
}

function legacyKey(att: Attachment): string {
  return attachmentKey(att.containerID, '');
}
