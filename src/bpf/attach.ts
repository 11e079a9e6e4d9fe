/**
 * Attaching a tc program to a device: a TCX link (kernel 6.6+), pinned so it outlives the process,
 * or on older kernels (or with `forceClsBpf`) a clsact qdisc with a direct-action cls_bpf filter,
 * programmed through our netlink client. Which one the kernel supports is found by trying TCX once.
 * Detach is idempotent: a missing link, filter or device is success.
 */
import koffi from 'koffi';
import { SyncClient } from '../netlink/client.js';
import { Family } from '../netlink/message.js';
import { filter, qdisc, type FilterMessage } from '../netlink/rtnetlink/tc.js';
import { NetlinkError } from '../netlink/errors.js';
import { NETLINK_ROUTE, NetlinkSocket } from '../netlink/socket.js';
import type { NetNs } from '../netns.js';
import { log } from '../log.js';
import { SystemError } from '../sys/errno.js';
import { listPins, pinExists, removePin, type Direction, type PinPaths } from './pins.js';
import { AttachType, closeFd, linkCreate, linkDetach, linkInfo, linkUpdate, objGet, objPin, progInfo } from './syscall.js';

const libc = koffi.load('libc.so.6');
const ifNameToIndex = libc.func('unsigned int if_nametoindex(const char *name)');

export type AttachMode = 'tcx' | 'cls_bpf';

/** A device in the attacher's namespace: by name (preferred: it names the pin) or ifindex. */
export type DeviceRef = string | number;

export interface Program {
  readonly fd: number;
  readonly name: string;
}

export interface Attachment {
  readonly mode: AttachMode;
  readonly ifindex: number;
  readonly direction: Direction;
  readonly programId: number;
  /** The TCX link's id and pin. */
  readonly linkId?: number;
  readonly pin?: string;
}

export interface AttacherOptions {
  /** The namespace holding the devices (the node's); default: the caller's. */
  netns?: NetNs;
  /** Use clsact + cls_bpf even where TCX exists. */
  forceClsBpf?: boolean;
}

const tcAttachType: Record<Direction, number> = { ingress: AttachType.TCX_INGRESS, egress: AttachType.TCX_EGRESS };
/** Our cls_bpf filter's place under clsact: priority and handle chosen to stay clear of `tc`'s defaults. */
const CLS_BPF_PRIORITY = 0x5c;
const CLS_BPF_HANDLE = 0x5c;
const clsBpfName = (program: Program): string => `sluice:${program.name}`;

const tcFamily = new Family('rtnetlink tc', [qdisc, filter]);

export class Attacher {
  private tcx: boolean | undefined;
  private socket: NetlinkSocket | undefined;
  private client: SyncClient | undefined;

  constructor(
    private readonly paths: PinPaths,
    private readonly options: AttacherOptions = {},
  ) {
    if (options.forceClsBpf) this.tcx = false;
  }

  /** The mode attach() uses; undefined until the first attach found out. */
  get mode(): AttachMode | undefined {
    return this.tcx === undefined ? undefined : this.tcx ? 'tcx' : 'cls_bpf';
  }

  ifindexOf(device: DeviceRef): number {
    if (typeof device === 'number') {
      if (!Number.isInteger(device) || device <= 0) throw new RangeError(`not an ifindex: ${device}`);
      return device;
    }
    return this.inNetns(() => {
      const n = ifNameToIndex(device) as number;
      if (n === 0) throw new SystemError(koffi.errno(), `if_nametoindex ${device}`);
      return n;
    });
  }

  /** Attaches `program` (or keeps it attached: calling again is harmless). */
  attach(device: DeviceRef, direction: Direction, program: Program): Attachment {
    const ifindex = this.ifindexOf(device);
    if (this.tcx !== false) {
      try {
        const attachment = this.attachTcx(device, ifindex, direction, program);
        this.tcx = true;
        return attachment;
      } catch (err) {
        // Kernels before 6.6 know no TCX attach type: BPF_LINK_CREATE says EINVAL.
        if (this.tcx === true || !(err instanceof SystemError) || err.code !== 'EINVAL') throw err;
        log().info({ ifindex, err: err.message }, 'no TCX links on this kernel: attaching with clsact and cls_bpf');
        this.tcx = false;
      }
    }
    return this.attachClsBpf(ifindex, direction, program);
  }

  /** Removes what attach() created; true when something was there. */
  detach(device: DeviceRef, direction: Direction): boolean {
    let removed = this.detachPinnedLink(this.paths.link(device, direction));
    if (this.mayUseClsBpf) {
      let ifindex: number | undefined;
      try {
        ifindex = this.ifindexOf(device);
      } catch (err) {
        if (!(err instanceof SystemError) || err.code !== 'ENODEV') throw err;
      }
      if (ifindex !== undefined) {
        removed = this.rtnl().bpfFilterDelete({ ifindex, direction, priority: CLS_BPF_PRIORITY, handle: CLS_BPF_HANDLE }) || removed;
      }
    }
    return removed;
  }

  /**
   * Moves every attachment from `from` to `to` without a gap: each TCX link is updated in place
   * (BPF_LINK_UPDATE with BPF_F_REPLACE), each cls_bpf filter replaced. Links whose device is gone
   * are unpinned. `clsBpfDevices` lists the ifindexes that may carry our filter. Returns how many
   * attachments now run `to`.
   */
  replaceProgram(from: Program, to: Program, clsBpfDevices: Iterable<number>): number {
    let moved = 0;
    const fromId = progInfo(from.fd).id;
    for (const pin of listPins(this.paths.links)) {
      const fd = objGet(pin);
      try {
        const info = linkInfo(fd);
        if (info.tcx && info.tcx.ifindex === 0) {
          removePin(pin);
          continue;
        }
        linkUpdate(fd, to.fd, info.progId === fromId ? from.fd : undefined);
        moved++;
      } finally {
        closeFd(fd);
      }
    }
    if (this.mayUseClsBpf) {
      for (const ifindex of clsBpfDevices) {
        for (const direction of ['ingress', 'egress'] as const) {
          if (this.hasClsBpf(ifindex, direction, from)) {
            this.addClsBpf(ifindex, direction, to);
            moved++;
          }
        }
      }
    }
    return moved;
  }

  /** Detaches and unpins every TCX link, and removes our filter from `clsBpfDevices`. */
  detachAll(clsBpfDevices: Iterable<number>): void {
    for (const pin of listPins(this.paths.links)) this.detachPinnedLink(pin);
    if (this.mayUseClsBpf) {
      for (const ifindex of clsBpfDevices) {
        for (const direction of ['ingress', 'egress'] as const) {
          this.rtnl().bpfFilterDelete({ ifindex, direction, priority: CLS_BPF_PRIORITY, handle: CLS_BPF_HANDLE });
        }
      }
    }
  }

  /** Until an attach in this process found TCX working, filters from an earlier process may exist. */
  private get mayUseClsBpf(): boolean {
    return this.tcx !== true;
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
    this.client = undefined;
  }

  private attachTcx(device: DeviceRef, ifindex: number, direction: Direction, program: Program): Attachment {
    const pin = this.paths.link(device, direction);
    const programId = progInfo(program.fd).id;
    if (pinExists(pin)) {
      const fd = objGet(pin);
      try {
        const info = linkInfo(fd);
        if (info.tcx?.ifindex === ifindex && info.tcx.attachType === tcAttachType[direction]) {
          if (info.progId !== programId) linkUpdate(fd, program.fd);
          return { mode: 'tcx', ifindex, direction, programId, linkId: info.id, pin };
        }
        // A link left from a device that is gone (or a name now on another device): replace it.
        linkDetachQuietly(fd);
        removePin(pin);
      } finally {
        closeFd(fd);
      }
    }
    const fd = this.inNetns(() => linkCreate({ progFd: program.fd, targetIfindex: ifindex, attachType: tcAttachType[direction] }));
    try {
      objPin(fd, pin);
      return { mode: 'tcx', ifindex, direction, programId, linkId: linkInfo(fd).id, pin };
    } catch (err) {
      linkDetachQuietly(fd);
      throw err;
    } finally {
      closeFd(fd);
    }
  }

  private attachClsBpf(ifindex: number, direction: Direction, program: Program): Attachment {
    this.rtnl().clsactAdd(ifindex, { exclusive: false });
    this.addClsBpf(ifindex, direction, program);
    return { mode: 'cls_bpf', ifindex, direction, programId: progInfo(program.fd).id };
  }

  private addClsBpf(ifindex: number, direction: Direction, program: Program): void {
    this.rtnl().bpfFilterAdd({ ifindex, direction, fd: program.fd, name: clsBpfName(program), priority: CLS_BPF_PRIORITY, handle: CLS_BPF_HANDLE });
  }

  private hasClsBpf(ifindex: number, direction: Direction, program: Program): boolean {
    let filters: FilterMessage[];
    try {
      filters = this.rtnl().filterList(ifindex, direction);
    } catch (err) {
      // No clsact qdisc (EINVAL) or no device (ENODEV): no filter of ours either.
      if (err instanceof NetlinkError && ['EINVAL', 'ENOENT', 'ENODEV'].includes(err.code)) return false;
      throw err;
    }
    return filters.some((f) => {
      const options = (f.attrs as { kind?: string; options?: { name?: string } }).options;
      return f.tcm.handle === CLS_BPF_HANDLE && options?.name === clsBpfName(program);
    });
  }

  private detachPinnedLink(pin: string): boolean {
    if (!pinExists(pin)) return false;
    const fd = objGet(pin);
    try {
      linkDetachQuietly(fd);
    } finally {
      closeFd(fd);
    }
    return removePin(pin);
  }

  private rtnl(): SyncClient {
    if (!this.client) {
      this.socket = NetlinkSocket.open(NETLINK_ROUTE, { family: tcFamily, ...(this.options.netns ? { netns: this.options.netns } : {}) });
      this.client = new SyncClient(this.socket);
    }
    return this.client;
  }

  private inNetns<T>(work: () => T): T {
    return this.options.netns ? this.options.netns.run(work) : work();
  }
}

const ENOENT = 2;
const EINVAL = 22;
const ENOLINK = 67;

/** A link whose device is already gone is detached already. */
function linkDetachQuietly(fd: number): void {
  try {
    linkDetach(fd);
  } catch (err) {
    if (!(err instanceof SystemError) || ![ENOLINK, EINVAL, ENOENT].includes(err.errno)) throw err;
  }
}
