import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsErrorCode } from '../../sys/fs.js';
import { formatIp, parseIp } from './address.js';
import { crashPoint } from './crashpoint.js';
import { removeIfPresent, replaceFile } from './files.js';

/**
 * Attachment → its lease addresses: a hash table on disk. An attachment key hashes to one of 1,024
 * bucket files, each holding sorted lines `<key> <ip>[,<ip>]`; a lookup or an update reads and
 * rewrites that one small file, so release and lookup by container cost the same at 100 leases as at
 * 65,000 (64 lines a bucket), and a rebuild writes at most 1,024 files. Changes are kept in memory
 * until flush() (the ledger's commit), then each changed bucket is rewritten once: atomically (a new
 * file renamed over it) or, when the caller's seal covers a torn copy (Ledger), in place; emptied in
 * place, it stays as an empty file for the next attachment that hashes to it.
 *
 * Entries are hints, checked against the lease files before use (see Ledger).
 */
const BUCKETS = 1024;
/** `<key> <ip>[,<ip>...]`; keys are percent-encoded or hashed (attachmentKey), so hold no space. */
const LINE = /^[^ ]+ [0-9a-fA-F.:]+(,[0-9a-fA-F.:]+)*$/;

export type Bucket = Map<string, string[]>;

/** What an index knows without reading its folder again (for a later operation: Ledger's memory). */
export interface IndexState {
  /** Buckets read or written (the caller holds the lock: nobody else writes them); an absent file is an empty one. */
  buckets: Map<string, Bucket>;
  /** The bucket files that exist, when the folder was listed: any other is empty without a look. */
  present?: Set<string>;
}

export class AttachmentIndex {
  private state: IndexState = { buckets: new Map() };
  /** Buckets changed since the last flush: true when a torn copy is covered (in place), false when not. */
  private readonly changed = new Map<string, boolean>();

  constructor(
    readonly dir: string,
    private readonly scratch: string,
  ) {}

  /** The addresses recorded for `key`; undefined when none; throws IndexCorrupt on a garbled bucket. */
  get(key: string): string[] | undefined {
    const ips = this.readBucket(bucketOf(key)).get(key);
    const bad = ips?.find((ip) => !isCanonicalIp(ip));
    if (bad !== undefined) throw new IndexCorrupt(`${join(this.dir, bucketOf(key))} gives ${key} the address ${JSON.stringify(bad)}`);
    return ips && [...ips];
  }

  /** What this index knows, for a later operation to adopt while nothing else has written (flushed first). */
  get known(): IndexState {
    return this.state;
  }

  /** Starts from what an earlier operation knew (see Ledger.open). */
  adopt(state: IndexState): void {
    this.state = state;
  }

  /** Lists the folder once, so that lookups in buckets that do not exist cost nothing from then on. */
  learnListing(): void {
    this.state.present = new Set(readdirSync(this.dir));
  }

  /** Changes `key`'s entry; written by flush(). `inPlace`: a torn copy of the bucket is covered (see Ledger). */
  put(key: string, ips: readonly string[], inPlace = false): void {
    const name = bucketOf(key);
    const bucket = this.readBucket(name);
    if (ips.length > 0) bucket.set(key, [...ips]);
    else if (!bucket.delete(key)) return;
    this.changed.set(name, inPlace && (this.changed.get(name) ?? true));
  }

  remove(key: string, inPlace = false): void {
    this.put(key, [], inPlace);
  }

  /** Writes every bucket changed since the last flush. */
  flush(): void {
    for (const [name, inPlace] of this.changed) {
      this.writeBucket(name, this.state.buckets.get(name)!, inPlace);
      this.changed.delete(name);
    }
  }

  /**
   * Makes the index hold exactly `entries`, rewriting only the buckets that differ (after a kill or a
   * foreign write, a handful) and removing anything else in the folder.
   */
  reconcile(entries: ReadonlyMap<string, readonly string[]>): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.state.buckets.clear();
    this.changed.clear();
    const wanted = new Map<string, Bucket>();
    for (const [key, ips] of entries) {
      const name = bucketOf(key);
      if (!wanted.has(name)) wanted.set(name, new Map());
      wanted.get(name)!.set(key, [...ips]);
    }
    for (const name of readdirSync(this.dir)) {
      if (!wanted.has(name)) rmSync(join(this.dir, name), { recursive: true, force: true });
    }
    for (const [name, bucket] of wanted) {
      if (this.rawBucket(name) !== serialize(bucket)) this.writeBucket(name, bucket);
    }
    if (this.state.present) this.state.present = new Set(wanted.keys());
    crashPoint();
  }

  private rawBucket(name: string): string | undefined {
    try {
      return readFileSync(join(this.dir, name), 'utf8');
    } catch (err) {
      const code = fsErrorCode(err);
      if (code === 'ENOENT') return undefined;
      if (code === 'EISDIR') throw new IndexCorrupt(`${join(this.dir, name)} is a directory`);
      throw err;
    }
  }

  private readBucket(name: string): Bucket {
    const cached = this.state.buckets.get(name);
    if (cached) return cached;
    const text = this.state.present && !this.state.present.has(name) ? undefined : this.rawBucket(name);
    const bucket: Bucket = new Map();
    for (const line of text?.split('\n') ?? []) {
      if (line === '') continue;
      if (!LINE.test(line)) throw new IndexCorrupt(`${join(this.dir, name)} holds ${JSON.stringify(line.slice(0, 80))}`);
      const space = line.indexOf(' ');
      bucket.set(line.slice(0, space), line.slice(space + 1).split(','));
    }
    this.state.buckets.set(name, bucket);
    return bucket;
  }

  private writeBucket(name: string, bucket: Bucket, inPlace = false): void {
    const { buckets, present } = this.state;
    buckets.delete(name);
    present?.delete(name);
    if (inPlace) writeFileSync(join(this.dir, name), serialize(bucket), { mode: 0o600 });
    else if (bucket.size === 0) removeIfPresent(join(this.dir, name));
    else replaceFile(join(this.dir, name), serialize(bucket), this.scratch);
    if (inPlace || bucket.size > 0) present?.add(name);
    buckets.set(name, bucket);
    crashPoint();
  }
}

function bucketOf(key: string): string {
  const hash = createHash('sha1').update(key).digest().readUInt16BE(0) % BUCKETS;
  return hash.toString(16).padStart(3, '0');
}

function serialize(bucket: Bucket): string {
  return [...bucket.keys()]
    .sort()
    .map((key) => `${key} ${bucket.get(key)!.join(',')}\n`)
    .join('');
}

function isCanonicalIp(text: string): boolean {
  const ip = parseIp(text);
  return ip !== undefined && formatIp(ip) === text;
}

/** sluice's own index holds something it never writes: rebuild it from the lease files. */
export class IndexCorrupt extends Error {
  override readonly name = 'IndexCorrupt';
}
