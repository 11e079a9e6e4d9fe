/**
 * libbpf.so.1 (1.1.x, as Debian bookworm ships it) through koffi: open an object from a file or a
 * buffer, load it, find its programs and maps. libbpf's own log goes to our logger; a failure is
 * raised as a BpfObjectError that names the object, what failed and why (libbpf's messages and, for a
 * verifier rejection, the tail of the verifier log).
 */
import koffi from 'koffi';
import { basename } from 'node:path';
import { log } from '../log.js';
import { errnoName } from '../sys/errno.js';

const lib = koffi.load('libbpf.so.1');
const libc = koffi.load('libc.so.6');

// libbpf's opaque structs, referred to by name (as pointers) in the prototypes below.
for (const name of ['bpf_object', 'bpf_program', 'bpf_map', 'btf']) koffi.opaque(name);
const PrintFn = koffi.proto('int libbpf_print_fn(int level, const char *fmt, void *args)');

const fn = {
  setPrint: lib.func('void *libbpf_set_print(libbpf_print_fn *fn)'),
  openFile: lib.func('bpf_object *bpf_object__open_file(const char *path, const void *opts)'),
  openMem: lib.func('bpf_object *bpf_object__open_mem(const void *buf, size_t size, const void *opts)'),
  load: lib.func('int bpf_object__load(bpf_object *obj)'),
  close: lib.func('void bpf_object__close(bpf_object *obj)'),
  objectName: lib.func('const char *bpf_object__name(bpf_object *obj)'),
  findProgram: lib.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)'),
  nextProgram: lib.func('bpf_program *bpf_object__next_program(bpf_object *obj, bpf_program *prev)'),
  programName: lib.func('const char *bpf_program__name(bpf_program *prog)'),
  programFd: lib.func('int bpf_program__fd(bpf_program *prog)'),
  findMap: lib.func('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)'),
  nextMap: lib.func('bpf_map *bpf_object__next_map(bpf_object *obj, bpf_map *prev)'),
  mapName: lib.func('const char *bpf_map__name(bpf_map *map)'),
  mapFd: lib.func('int bpf_map__fd(bpf_map *map)'),
  mapType: lib.func('int bpf_map__type(bpf_map *map)'),
  mapKeySize: lib.func('uint32_t bpf_map__key_size(bpf_map *map)'),
  mapValueSize: lib.func('uint32_t bpf_map__value_size(bpf_map *map)'),
  mapMaxEntries: lib.func('uint32_t bpf_map__max_entries(bpf_map *map)'),
  mapPinPath: lib.func('const char *bpf_map__pin_path(bpf_map *map)'),
  objectBtf: lib.func('btf *bpf_object__btf(bpf_object *obj)'),
  btfFindByNameKind: lib.func('int32_t btf__find_by_name_kind(btf *btf, const char *name, uint32_t kind)'),
  btfTypeById: lib.func('const void *btf__type_by_id(btf *btf, uint32_t id)'),
  btfNameByOffset: lib.func('const char *btf__name_by_offset(btf *btf, uint32_t offset)'),
  btfResolveSize: lib.func('int64_t btf__resolve_size(btf *btf, uint32_t id)'),
  numPossibleCpus: lib.func('int libbpf_num_possible_cpus()'),
  vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *args)'),
};

/** libbpf_print_level */
const printLevels = ['warn', 'info', 'debug'] as const;

/** What libbpf printed during the current call, so an error can quote it. */
let captured: string[] | undefined;

const printBuffer = Buffer.alloc(4096);
const printCallback = koffi.register((level: number, fmt: string, args: unknown): number => {
  const n = fn.vsnprintf(printBuffer, printBuffer.length, fmt, args) as number;
  const text = printBuffer.toString('utf8', 0, Math.max(0, Math.min(n, printBuffer.length - 1))).trimEnd();
  const levelName = printLevels[level] ?? 'debug';
  if (levelName !== 'debug') captured?.push(text);
  log()[levelName]({ libbpf: true }, text);
  return 0;
}, koffi.pointer(PrintFn));
fn.setPrint(printCallback);

function capturing<T>(work: () => T): { result: T; messages: string[] } {
  const outer = captured;
  const messages: string[] = [];
  captured = messages;
  try {
    return { result: work(), messages };
  } finally {
    captured = outer;
  }
}

export type BpfFailure = 'open' | 'load' | 'verifier' | 'missing-program' | 'missing-map';

/** A libbpf failure: `failure` says which step failed, the message says why. */
export class BpfObjectError extends Error {
  override readonly name = 'BpfObjectError';
  constructor(
    readonly failure: BpfFailure,
    readonly object: string,
    message: string,
    readonly errno?: number,
    /** libbpf's own messages during the failed call. */
    readonly libbpfLog: readonly string[] = [],
    /** The kernel verifier's log, for a rejected program. */
    readonly verifierLog?: string,
  ) {
    super(`${object}: ${message}`);
  }
}

const KERNEL_LOG_SIZE = 1 << 20;
const OPEN_OPTS_SIZE = 80;

/**
 * struct bpf_object_open_opts (libbpf 1.1, x86_64): sz @0, object_name @8, pin_root_path @24,
 * kernel_log_buf @56, kernel_log_size @64, kernel_log_level @72. The strings and the log buffer are
 * Node buffers kept alive by the BpfObject: libbpf keeps pointing at the log buffer until load.
 */
function openOptions(name: Buffer, pinRoot: Buffer | undefined, kernelLog: Buffer): Buffer {
  const opts = Buffer.alloc(OPEN_OPTS_SIZE);
  opts.writeBigUInt64LE(BigInt(OPEN_OPTS_SIZE), 0);
  opts.writeBigUInt64LE(koffi.address(name), 8);
  if (pinRoot) opts.writeBigUInt64LE(koffi.address(pinRoot), 24);
  opts.writeBigUInt64LE(koffi.address(kernelLog), 56);
  opts.writeBigUInt64LE(BigInt(kernelLog.length), 64);
  return opts;
}

const cstring = (s: string): Buffer => Buffer.from(`${s}\0`);

export interface OpenOptions {
  /** Maps declared with LIBBPF_PIN_BY_NAME are reused from, or pinned into, this bpffs directory. */
  pinRoot?: string;
}

/** A map or program of an object; `fd` is negative until load(), and closed with the object. */
export interface ObjectMap {
  readonly name: string;
  readonly fd: number;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

export interface ObjectProgram {
  readonly name: string;
  readonly fd: number;
}

/** An opened (and, after load(), loaded) BPF object. close() releases everything it holds. */
export class BpfObject {
  private handle: unknown;

  private constructor(
    handle: unknown,
    readonly label: string,
    /** libbpf's kernel_log_buf: the verifier writes here when a program is rejected. */
    private readonly kernelLog: Buffer,
    /** Kept alive for libbpf, which holds pointers into them until load. */
    private readonly keepAlive: Buffer[],
  ) {
    this.handle = handle;
  }

  static openFile(path: string, options: OpenOptions = {}): BpfObject {
    return BpfObject.open(path, basename(path).replace(/\.o$/, ''), options, (opts) => fn.openFile(path, opts));
  }

  static openBuffer(bytes: Buffer, name: string, options: OpenOptions = {}): BpfObject {
    const copy = Buffer.from(bytes);
    return BpfObject.open(name, name, options, (opts) => fn.openMem(copy, copy.length, opts), [copy]);
  }

  private static open(label: string, name: string, options: OpenOptions, call: (opts: Buffer) => unknown, extra: Buffer[] = []): BpfObject {
    const nameBuf = cstring(name);
    const pinRoot = options.pinRoot === undefined ? undefined : cstring(options.pinRoot);
    const kernelLog = Buffer.alloc(KERNEL_LOG_SIZE);
    const opts = openOptions(nameBuf, pinRoot, kernelLog);
    const { result: handle, messages } = capturing(() => call(opts));
    if (!handle) {
      const errno = koffi.errno();
      throw new BpfObjectError('open', label, `cannot open BPF object (${errorName(errno)}): ${summary(messages)}`, errno, messages);
    }
    return new BpfObject(handle, label, kernelLog, [nameBuf, opts, ...(pinRoot ? [pinRoot] : []), ...extra]);
  }

  private get ptr(): unknown {
    if (!this.handle) throw new Error(`${this.label}: BPF object already closed`);
    return this.handle;
  }

  /** Creates (or reuses pinned) maps and loads every program into the kernel. */
  load(): void {
    const { result: rc, messages } = capturing(() => fn.load(this.ptr) as number);
    if (rc === 0) return;
    const errno = -rc;
    const end = this.kernelLog.indexOf(0);
    const verifierLog = this.kernelLog.toString('utf8', 0, end < 0 ? this.kernelLog.length : end).trimEnd();
    const failedProgram = messages.map((m) => /prog '([^']+)': failed to load/.exec(m)?.[1]).find(Boolean);
    if (failedProgram && verifierLog) {
      const why = verifierLog.split('\n').slice(-3).join(' | ');
      throw new BpfObjectError(
        'verifier',
        this.label,
        `the verifier rejected program '${failedProgram}' (${errorName(errno)}): ${why}`,
        errno,
        messages,
        verifierLog,
      );
    }
    throw new BpfObjectError('load', this.label, `cannot load BPF object (${errorName(errno)}): ${summary(messages)}`, errno, messages);
  }

  programNames(): string[] {
    return this.walk(fn.nextProgram, fn.programName);
  }

  mapNames(): string[] {
    return this.walk(fn.nextMap, fn.mapName);
  }

  program(name: string): ObjectProgram {
    const prog = fn.findProgram(this.ptr, name);
    if (!prog) {
      throw new BpfObjectError('missing-program', this.label, `no program named '${name}' (it has: ${this.programNames().join(', ') || 'none'})`);
    }
    return { name, fd: fn.programFd(prog) as number };
  }

  map(name: string): ObjectMap {
    const map = fn.findMap(this.ptr, name);
    if (!map) {
      throw new BpfObjectError('missing-map', this.label, `no map named '${name}' (it has: ${this.mapNames().join(', ') || 'none'})`);
    }
    return {
      name,
      fd: fn.mapFd(map) as number,
      type: fn.mapType(map) as number,
      keySize: fn.mapKeySize(map) as number,
      valueSize: fn.mapValueSize(map) as number,
      maxEntries: fn.mapMaxEntries(map) as number,
    };
  }

  /** The object's own BTF (the types its C source declared), readable without loading. */
  btf(): Btf {
    const btf = fn.objectBtf(this.ptr);
    if (!btf) throw new BpfObjectError('open', this.label, 'the object carries no BTF (was it built with -g?)');
    return new Btf(btf, this.label);
  }

  /** Frees libbpf's object; the programs and maps stay in the kernel only where pinned or attached. */
  close(): void {
    if (!this.handle) return;
    fn.close(this.handle);
    this.handle = undefined;
    this.keepAlive.length = 0;
  }

  private walk(next: (obj: unknown, prev: unknown) => unknown, nameOf: (item: unknown) => unknown): string[] {
    const names: string[] = [];
    for (let item = next(this.ptr, null); item; item = next(this.ptr, item)) names.push(nameOf(item) as string);
    return names;
  }
}

const BTF_KIND_STRUCT = 4;

export interface BtfMember {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

/** Read access to an object's BTF: enough to compare its structs with a TypeScript layout. */
export class Btf {
  constructor(
    private readonly handle: unknown,
    private readonly label: string,
  ) {}

  /** A struct's size and members (byte offsets), or undefined when the BTF has no such struct. */
  struct(name: string): { size: number; members: BtfMember[] } | undefined {
    const id = fn.btfFindByNameKind(this.handle, name, BTF_KIND_STRUCT) as number;
    if (id < 0) return undefined;
    const type = fn.btfTypeById(this.handle, id);
    // struct btf_type { u32 name_off; u32 info; u32 size; } then vlen x struct btf_member { name_off, type, offset }
    const header = koffi.decode(type, koffi.array('uint32_t', 3)) as number[];
    const info = header[1]!;
    const vlen = info & 0xffff;
    const bitfields = (info >>> 31) === 1;
    const raw = koffi.decode(type, koffi.array('uint32_t', 3 + vlen * 3)) as number[];
    const members: BtfMember[] = [];
    for (let i = 0; i < vlen; i++) {
      const [nameOff, typeId, offset] = raw.slice(3 + i * 3, 6 + i * 3) as [number, number, number];
      const bitOffset = bitfields ? offset & 0xffffff : offset;
      members.push({
        name: fn.btfNameByOffset(this.handle, nameOff) as string,
        offset: bitOffset / 8,
        size: Number(fn.btfResolveSize(this.handle, typeId)),
      });
    }
    return { size: header[2]!, members };
  }

  toString(): string {
    return `BTF of ${this.label}`;
  }
}

export function possibleCpus(): number {
  const n = fn.numPossibleCpus() as number;
  if (n <= 0) throw new Error(`libbpf_num_possible_cpus: ${errnoName(-n)}`);
  return n;
}

/** libbpf's own error numbers (libbpf.h, enum libbpf_errno) next to the kernel's. */
const libbpfErrnos: Record<number, string> = {
  4000: 'LIBBPF_ERRNO__LIBELF', 4001: 'LIBBPF_ERRNO__FORMAT', 4002: 'LIBBPF_ERRNO__KVERSION', 4003: 'LIBBPF_ERRNO__ENDIAN',
  4004: 'LIBBPF_ERRNO__INTERNAL', 4005: 'LIBBPF_ERRNO__RELOC', 4006: 'LIBBPF_ERRNO__LOAD', 4007: 'LIBBPF_ERRNO__VERIFY',
  4008: 'LIBBPF_ERRNO__PROG2BIG', 4009: 'LIBBPF_ERRNO__KVER', 4010: 'LIBBPF_ERRNO__PROGTYPE',
};

const errorName = (errno: number): string => libbpfErrnos[errno] ?? errnoName(errno);

function summary(messages: string[]): string {
  const text = messages.map((m) => m.replace(/^libbpf: /, '')).join(' | ');
  return text || 'libbpf gave no reason';
}
