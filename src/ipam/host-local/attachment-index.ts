import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fsErrorCode } from '../../sys/fs.js';
import { formatIp, parseIp } from './address.js';
import { crashPoint } from './crashpoint.js';
import { removeIfPresent, replaceFile } from './files.js';

/**
 * Attachment → its lease addresses: a hash table on disk. An attachment key hashes to one of 1,024
 * bucket files, each holding sorted lines `<key> <ip>[,<ip>]`; a lookup or an update reads and
 * (atomically, by rename) rewrites that one small file, so release and lookup by container cost the
 * same at 100 leases as at 65,000 (64 lines a bucket), and a rebuild writes at most 1,024 files.
 *
 * Entries are hints, checked against the lease files before use (see Ledger).
 */
const BUCKETS = 1024;
/** `<key> <ip>[,<ip>...]`; keys are percent-encoded or hashed (attachmentKey), so hold no space. */
const LINE = /^[^ ]+ [0-9a-fA-F.:]+(,[0-9a-fA-F.:]+)*$/;

type Bucket = Map<string, string[]>;

export class AttachmentIndex {
  /** Buckets already read by this operation (the caller holds the lock: nobody else writes them). */
  private readonly cache = new Map<string, Bucket>();

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

  put(key: string, ips: readonly string[]): void {
    const name = bucketOf(key);
    const bucket = this.readBucket(name);
    if (ips.length > 0) bucket.set(key, [...ips]);
    else if (!bucket.delete(key)) return;
    this.writeBucket(name, bucket);
  }

  remove(key: string): void {
    this.put(key, []);
  }

  /**
   * Makes the index hold exactly `entries`, rewriting only the buckets that differ (after a kill or a
   * foreign write, a handful) and removing anything else in the folder.
   */
  reconcile(entries: ReadonlyMap<string, readonly string[]>): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.cache.clear();
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
    const cached = this.cache.get(name);
    if (cached) return cached;
    const text = this.rawBucket(name);
    const bucket: Bucket = new Map();
    for (const line of text?.split('\n') ?? []) {
      if (line === '') continue;
      if (!LINE.test(line)) throw new IndexCorrupt(`${join(this.dir, name)} holds ${JSON.stringify(line.slice(0, 80))}`);
      const space = line.indexOf(' ');
      bucket.set(line.slice(0, space), line.slice(space + 1).split(','));
    }
    this.cache.set(name, bucket);
    return bucket;
  }

  private writeBucket(name: string, bucket: Bucket): void {
    this.cache.delete(name);
    if (bucket.size === 0) removeIfPresent(join(this.dir, name));
    else replaceFile(join(this.dir, name), serialize(bucket), this.scratch);
    this.cache.set(name, bucket);
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
