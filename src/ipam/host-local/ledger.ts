import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../../log.js';
import type { Attachment } from '../types.js';
import { type Ip, parseIp } from './address.js';
import { AttachmentIndex, IndexCorrupt, type IndexState } from './attachment-index.js';
import { crashPoint } from './crashpoint.js';
import { removeIfPresent, writeFresh } from './files.js';
import { type LeaseOwner, attachmentKey, isOwnedBy, leaseText, ownerKey } from './lease.js';
import type { RangeSet } from './range.js';
import { type Seal, readSeal, sameStamp, writeSeal } from './seal.js';
import { type DirStamp, LeaseDir } from './store.js';
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
 * What a committed ledger knows, kept by a long-lived caller (the agent: session.ts) for its next
 * operation on the same store: the index buckets it has read or written and the usage hints, as of
 * the seal it wrote or found. Trusted again only while that seal is still the store's and still
 * describes the lease folder, so nobody (host-local, another thread or process) has written since.
 */
export interface LedgerMemory {
  gen: number;
  dir: DirStamp;
  lastReserved: Record<string, string | null>;
  hints: Map<string, UsageHint>;
  index: IndexState;
}

/**
 * A network's leases (host-local's folder, the truth) with sluice's index of them (attachment buckets
 * and usage hints, trusted only while the seal matches the folder). Used under the store lock, by one
 * operation: open, query and change, commit.
 *
 * Order of writes, which is what makes a kill at any point harmless: lease files change first, the index
 * follows (its changed buckets, written by commit), the seal comes last. A kill in between leaves the folder different from the seal, so the next
 * operation rebuilds the index from the lease files before using it. That is also why an index bucket
 * that follows a lease change is rewritten in place (no new inode, no rename), while one changed on its
 * own (a stale entry dropped) is replaced atomically: a torn copy of it would sit behind a valid seal.
 */
export class Ledger {
  readonly leases: LeaseDir;
  private readonly home: string;
  private readonly index: AttachmentIndex;
  /** Usage hints by range set key. */
  private hints = new Map<string, UsageHint>();
  /** The seal's generation: bumped by each commit; usage hints are valid only at the current one. */
  private generation = 0;
  private dirty = false;
  /** This operation changed lease files: index buckets it writes are covered by the folder's stamp. */
  private leasesChanged = false;
  /** last_reserved_ip contents by range set index, as read or written by this operation. */
  private readonly lastReservedText = new Map<number, string | undefined>();
  /** The lease text in the scratch lease file, so the link attempts of one search share one write. */
  private scratchText: string | undefined;
  /** What commit() leaves for the next operation (see LedgerMemory). */
  private kept: LedgerMemory | undefined;

  constructor(
    dataDir: string,
    network: string,
    private readonly sets: readonly RangeSet[],
    /** The caller keeps the memory (session.ts): worth listing the index once to skip reads later. */
    private readonly remembered = false,
  ) {
    this.leases = new LeaseDir(join(dataDir, network));
    this.home = sidecarPath(dataDir, network);
    this.index = new AttachmentIndex(join(this.home, 'att'), this.scratch('att'));
  }

  /**
   * Opens the index: `memory` (an earlier operation's, see LedgerMemory) when the seal shows nobody
   * wrote since, else the saved index when the seal describes the folder, else a rebuild.
   */
  open(memory?: LedgerMemory): void {
    const seal = readSeal(this.sealPath);
    const stamp = this.leases.stamp();
    if (memory && seal?.gen === memory.gen && sameStamp(memory.dir, stamp) && this.describesFolder(seal, stamp)) {
      this.generation = memory.gen;
      this.hints = memory.hints;
      this.index.adopt(memory.index);
      this.kept = memory;
      return;
    }
    mkdirSync(join(this.home, 'tmp'), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.home, 'att'), { recursive: true, mode: 0o700 });
    // Under the lock nobody is writing: whatever is in tmp/ was left by a killed operation.
    for (const name of readdirSync(join(this.home, 'tmp'))) removeIfPresent(join(this.home, 'tmp', name));
    this.generation = seal?.gen ?? 0;
    if (this.remembered) this.index.learnListing();
    if (seal && this.describesFolder(seal, stamp)) {
      this.loadHints();
      if (!this.dirty) this.kept = this.memoryOf(seal);
    } else {
      this.rebuild(seal ? 'the lease folder changed since sluice last wrote it' : 'sluice has no index of it yet');
    }
  }

  /** What the next operation may start from, once this one is committed (undefined: nothing). */
  get memory(): LedgerMemory | undefined {
    return this.dirty ? undefined : this.kept;
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
    if (ips.length > 0) this.updateIndex((inPlace) => this.index.remove(key, inPlace));
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
      this.leasesChanged = true;
      // The scratch file is now the lease itself: the next lease gets a file (an inode) of its own.
      this.scratchText = undefined;
    }
    return reserved;
  }

  release(ip: string): void {
    this.leases.release(ip);
    this.dirty = true;
    this.leasesChanged = true;
    crashPoint();
    this.markHints(ip, false);
  }

  /** Gives a lease whose file lost part of its text (`previous` is what it said) its whole text back. */
  repair(ip: string, att: Attachment, previous: LeaseOwner): void {
    this.leases.rewrite(ip, leaseText(att), this.scratch('repair'));
    this.dirty = true;
    this.leasesChanged = true;
    crashPoint();
    const oldKey = ownerKey(previous);
    const key = exactKey(att);
    const ips = this.exactLeasesOf(att);
    this.updateIndex((inPlace) => {
      if (oldKey) this.index.put(oldKey, (this.index.get(oldKey) ?? []).filter((other) => other !== ip), inPlace);
      if (!ips.includes(ip)) this.index.put(key, [...ips, ip], inPlace);
    });
  }

  record(att: Attachment, ips: readonly string[]): void {
    this.updateIndex((inPlace) => this.index.put(exactKey(att), ips, inPlace));
  }

  forget(owner: LeaseOwner): void {
    const key = ownerKey(owner);
    if (key) this.updateIndex((inPlace) => this.index.remove(key, inPlace));
  }

  lastReserved(rangeIndex: number): Ip | undefined {
    const text = this.lastReservedOf(rangeIndex);
    return text === undefined ? undefined : parseIp(text);
  }

  setLastReserved(rangeIndex: number, ip: string): void {
    this.leases.setLastReserved(rangeIndex, ip, this.lastReservedOf(rangeIndex));
    this.lastReservedText.set(rangeIndex, ip);
    this.dirty = true;
    crashPoint();
  }

  /** The usage hint of one of the operation's range sets; undefined for sets too big to keep one. */
  hint(set: RangeSet): UsageHint | undefined {
    return this.hints.get(set.key);
  }

  /** Re-reads which addresses of `set` are leased from the folder's listing (before calling it full). */
  relist(set: RangeSet): UsageHint | undefined {
    if (!UsageHint.supports(set)) return undefined;
    const hint = UsageHint.fromLeaseNames(set, this.leases.leaseNames());
    this.hints.set(set.key, hint);
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
    this.kept = undefined;
    this.index.flush();
    const gen = this.generation + 1;
    for (const hint of this.hints.values()) {
      hint.save(this.hintPath(hint.set), gen);
      crashPoint();
    }
    const seal: Seal = { v: 1, gen, dir: this.leases.stamp(), lastReserved: this.lastReservedContents() };
    writeSeal(this.sealPath, seal);
    crashPoint();
    this.generation = gen;
    this.dirty = false;
    this.leasesChanged = false;
    this.kept = this.memoryOf(seal);
  }

  private memoryOf(seal: Seal): LedgerMemory {
    return { gen: seal.gen, dir: seal.dir, lastReserved: seal.lastReserved, hints: this.hints, index: this.index.known };
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

  private describesFolder(seal: Seal, stamp: DirStamp): boolean {
    if (!sameStamp(seal.dir, stamp)) return false;
    return Object.entries(seal.lastReserved).every(([i, text]) => (this.lastReservedOf(Number(i)) ?? null) === text);
  }

  /** last_reserved_ip.<index>, read once per operation (only this operation writes it under the lock). */
  private lastReservedOf(rangeIndex: number): string | undefined {
    if (!this.lastReservedText.has(rangeIndex)) this.lastReservedText.set(rangeIndex, this.leases.lastReserved(rangeIndex));
    return this.lastReservedText.get(rangeIndex);
  }

  private lastReservedContents(): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    this.sets.forEach((_, i) => {
      out[i] = this.lastReservedOf(i) ?? null;
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
      this.hints.set(set.key, hint);
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
  private updateIndex(change: (inPlace: boolean) => void): void {
    try {
      change(this.leasesChanged);
    } catch (err) {
      if (!(err instanceof IndexCorrupt)) throw err;
      this.rebuild(err.message);
    }
    this.dirty = true;
  }

  private markHints(ip: string, used: boolean): void {
    const parsed = parseIp(ip);
    if (!parsed) return;
    for (const hint of this.hints.values()) {
      const offset = hint.set.offsetOf(parsed);
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
    this.hints = new Map();
    for (const set of this.sets) if (UsageHint.supports(set)) this.hints.set(set.key, UsageHint.fromLeaseNames(set, names));
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
