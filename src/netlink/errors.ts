import { errnoName } from '../sys/errno.js';

/** Raised by every decoder on malformed input; `offset` is the byte offset in the buffer given to decode. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`netlink decode error at offset ${offset}: ${reason}`);
  }
}

/** Raised on a value that cannot be encoded (wrong type, out of range, unknown attribute name). */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

export interface ExtendedAck {
  /** NLMSGERR_ATTR_MSG: the kernel's own explanation. */
  message?: string;
  /** NLMSGERR_ATTR_OFFS: offset of the offending attribute in the request. */
  offset?: number;
  cookie?: Uint8Array;
  /** NLMSGERR_ATTR_MISS_TYPE: the attribute type that was required but missing. */
  missingType?: number;
  /** NLMSGERR_ATTR_MISS_NEST: offset of the nest in which it was missing. */
  missingNest?: number;
  policy?: Uint8Array;
}

/** A negative errno answered by the kernel to a request, with the extended ACK and what was asked. */
export class NetlinkError extends Error {
  override readonly name = 'NetlinkError';
  /** Positive errno value, e.g. 17. */
  readonly errno: number;
  /** Symbolic errno, e.g. 'EEXIST'. */
  readonly code: string;
  constructor(
    errno: number,
    /** Human description of the request, e.g. "RTM_NEWLINK veth0". */
    readonly request: string,
    readonly ack: ExtendedAck = {},
  ) {
    const code = errnoName(errno);
    const detail = ack.message ? `: ${ack.message}` : '';
    const where = ack.missingType !== undefined ? ` (missing attribute type ${ack.missingType})` : '';
    super(`${request}: ${code}${detail}${where}`);
    this.errno = errno;
    this.code = code;
  }
}

/** A dump the kernel marked NLM_F_DUMP_INTR: its contents changed while it was read and it is not whole. */
export class DumpInterruptedError extends Error {
  override readonly name = 'DumpInterruptedError';
  constructor(readonly request: string) {
    super(`${request}: dump interrupted by a concurrent change (NLM_F_DUMP_INTR); retry it`);
  }
}
