import { CniCode, CniError } from '../../cni/errors.js';
import type { RangeSet } from './range.js';

export function ioError(what: string, cause: unknown): CniError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new CniError(CniCode.IoFailure, what, reason);
}

/** libcni has no code for it: the spec's generic 999, with the range set named in msg. */
export function rangeExhausted(set: RangeSet, network: string): CniError {
  return new CniError(CniCode.Internal, `range exhausted: no free address left in range set ${set}`, `network ${network}`);
}

export function allocationError(msg: string, details = ''): CniError {
  return new CniError(CniCode.Internal, msg, details);
}
