import type { Attachment } from '../types.js';
import { type Ip, formatIp, parseIp } from './address.js';
import { allocationError, rangeExhausted } from './errors.js';
import { describeOwner } from './lease.js';
import type { Ledger } from './ledger.js';
import { type Range, type RangeSet, describeRange } from './range.js';

export interface Allocation {
  ip: Ip;
  range: Range;
}

/**
 * host-local's allocation, on a ledger opened under the lock: one address from each range set, in
 * order; a requested address when one falls in the set, else the next free one after the set's
 * last_reserved_ip (round-robin, gateways skipped). All or nothing: a failure releases what this call
 * took. Requested addresses that fall in no set fail the call, as host-local does.
 */
export function allocate(ledger: Ledger, network: string, sets: readonly RangeSet[], att: Attachment, requested: readonly Ip[]): Allocation[] {
  const pending = [...requested];
  const exact = ledger.leasesOf(att, { legacy: false });
  const held = (exact.length > 0 ? exact : ledger.leasesOf(att)).map((ip) => parseIp(ip)!);
  const taken: Allocation[] = [];
  try {
    sets.forEach((set, index) => {
      const wanted = pending.findIndex((ip) => set.contains(ip));
      if (wanted >= 0) {
        taken.push(reserveRequested(ledger, set, index, att, pending.splice(wanted, 1)[0]!));
        return;
      }
      const already = held.find((ip) => set.contains(ip));
      if (already) {
        throw allocationError(
          `${formatIp(already)} is already allocated to container ${att.containerID} interface ${att.ifname} in range set ${set}: duplicate allocation is not allowed`,
        );
      }
      taken.push(reserveNext(ledger, network, set, index, att));
    });
    if (pending.length > 0) {
      throw allocationError(
        `requested IP address${pending.length > 1 ? 'es' : ''} ${pending.map(formatIp).join(', ')} not in any range set of network ${network}`,
        `range sets: ${sets.map((s) => String(s)).join('; ')}`,
      );
    }
  } catch (err) {
    for (const a of taken) ledger.release(formatIp(a.ip));
    throw err;
  }
  ledger.record(att, [...exact, ...taken.map((a) => formatIp(a.ip))]);
  return taken;
}

function reserveRequested(ledger: Ledger, set: RangeSet, index: number, att: Attachment, ip: Ip): Allocation {
  const range = set.rangeFor(ip)!;
  const text = formatIp(ip);
  if (range.gateway === ip.value) throw allocationError(`requested IP address ${text} is the gateway of range ${describeRange(range)}`);
  if (!ledger.reserve(text, att)) {
    const owner = ledger.ownerOf(text);
    const held = owner ? describeOwner(owner) : 'another container';
    throw allocationError(
      `requested IP address ${text} is not available in range set ${set}: it is held by ${held}`,
      owner?.kind === 'malformed' ? `lease file ${ledger.leases.leasePath(text)} is malformed; remove it, or run GC to reclaim it` : '',
    );
  }
  ledger.setLastReserved(index, text);
  return { ip, range };
}

function reserveNext(ledger: Ledger, network: string, set: RangeSet, index: number, att: Attachment): Allocation {
  const last = ledger.lastReserved(index);
  const lastOffset = last && set.offsetOf(last);
  const start = lastOffset === undefined ? 0n : (lastOffset + 1n) % set.size;
  const found = ledger.hint(set) ? reserveWithHint(ledger, set, Number(start), att) : reserveByProbing(ledger, set, start, att);
  if (!found) throw rangeExhausted(set, network);
  const text = formatIp(found.ip);
  ledger.setLastReserved(index, text);
  return found;
}

/** Free addresses come from the usage hint; a hint that is wrong only costs a retry or a re-listing. */
function reserveWithHint(ledger: Ledger, set: RangeSet, start: number, att: Attachment): Allocation | undefined {
  let hint = ledger.hint(set)!;
  let relisted = false;
  for (;;) {
    const offset = hint.nextFree(start);
    if (offset === undefined) {
      if (relisted) return undefined;
      hint = ledger.relist(set)!;
      relisted = true;
      continue;
    }
    const candidate = set.at(BigInt(offset));
    if (ledger.reserve(formatIp(candidate.ip), att)) return candidate;
  }
}

/** Sets too big for a hint: try addresses in turn from the cursor, as host-local does. */
function reserveByProbing(ledger: Ledger, set: RangeSet, start: bigint, att: Attachment): Allocation | undefined {
  for (let step = 0n; step < set.size; step++) {
    const offset = (start + step) % set.size;
    if (set.gatewayOffsets.has(offset)) continue;
    const candidate = set.at(offset);
    if (ledger.reserve(formatIp(candidate.ip), att)) return candidate;
  }
  return undefined;
}
