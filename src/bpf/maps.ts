/**
 * Typed access to a BPF map whose key and value follow a layout from layout.ts. Opening checks the
 * kernel's view of the map (type, key/value size, entries) against the layout, so a map pinned by
 * an older, differently laid out build is refused instead of misread.
 */
import type { MapLayout } from './layout.js';
import { mapTypes } from './layout.js';
import { possibleCpus } from './libbpf.js';
import { closeFd, mapDelete, mapInfo, mapLookup, mapNextKey, mapUpdate, BPF_ANY } from './syscall.js';

export class MapLayoutMismatch extends Error {
  override readonly name = 'MapLayoutMismatch';
}

function checkLayout(layout: MapLayout<unknown, unknown>, fd: number): void {
  const info = mapInfo(fd);
  const expected = { type: mapTypes[layout.type], keySize: layout.key.size, valueSize: layout.value.size, maxEntries: layout.maxEntries };
  const wrong = (Object.keys(expected) as (keyof typeof expected)[]).filter((k) => info[k] !== expected[k]);
  if (wrong.length > 0) {
    const detail = wrong.map((k) => `${k} ${info[k]}, expected ${expected[k]}`).join('; ');
    throw new MapLayoutMismatch(`map ${layout.name} (id ${info.id}) does not match its layout: ${detail}`);
  }
}

abstract class TypedMap<K, V> {
  constructor(
    readonly layout: MapLayout<K, V>,
    /** Owned by this object: close() closes it. */
    readonly fd: number,
  ) {
    checkLayout(layout as MapLayout<unknown, unknown>, fd);
  }

  protected encodeKey(key: K): Buffer {
    const buf = Buffer.alloc(this.layout.key.size);
    this.layout.key.encode(buf, 0, key);
    return buf;
  }

  *keys(): Generator<K> {
    for (let key = mapNextKey(this.fd, null, this.layout.key.size); key; key = mapNextKey(this.fd, key, this.layout.key.size)) {
      yield this.layout.key.decode(key, 0);
    }
  }

  get id(): number {
    return mapInfo(this.fd).id;
  }

  close(): void {
    closeFd(this.fd);
  }
}

/** A map with one value per key (hash, array). */
export class BpfMap<K, V> extends TypedMap<K, V> {
  get(key: K): V | undefined {
    const value = mapLookup(this.fd, this.encodeKey(key), this.layout.value.size);
    return value && this.layout.value.unpack(value);
  }

  set(key: K, value: V, flags = BPF_ANY): void {
    mapUpdate(this.fd, this.encodeKey(key), this.layout.value.pack(value), flags);
  }

  /** False when the key was not there. */
  delete(key: K): boolean {
    return mapDelete(this.fd, this.encodeKey(key));
  }
}

/** A per-CPU map: each key holds one value per possible CPU, each slot rounded up to 8 bytes. */
export class PerCpuMap<K, V> extends TypedMap<K, V> {
  private readonly cpus = possibleCpus();
  private readonly slot = Math.ceil(this.layout.value.size / 8) * 8;

  /** The value of every CPU, or undefined when the key is absent. */
  get(key: K): V[] | undefined {
    const all = mapLookup(this.fd, this.encodeKey(key), this.slot * this.cpus);
    if (!all) return undefined;
    return Array.from({ length: this.cpus }, (_, cpu) => this.layout.value.decode(all, cpu * this.slot));
  }

  /** Writes the same value on every CPU (e.g. zeroes, to reset). */
  setAll(key: K, value: V): void {
    const all = Buffer.alloc(this.slot * this.cpus);
    for (let cpu = 0; cpu < this.cpus; cpu++) this.layout.value.encode(all, cpu * this.slot, value);
    mapUpdate(this.fd, this.encodeKey(key), all, BPF_ANY);
  }
}
