import { parseIp } from './address.js';
import type { Ledger } from './ledger.js';
import type { RangeSet } from './range.js';

/** How many addresses of `set` are neither leased nor a gateway. */
export function freeAddresses(ledger: Ledger, set: RangeSet): bigint {
  const hint = ledger.hint(set);
  if (hint) {
    const free = hint.freeCount();
    // "Full" is checked against the folder itself: a hint may hold leases host-local has released.
    return free > 0 ? BigInt(free) : BigInt(ledger.relist(set)!.freeCount());
  }
  let used = 0n;
  for (const name of ledger.leases.leaseNames()) {
    const ip = parseIp(name)!;
    const offset = set.offsetOf(ip);
    if (offset !== undefined && !set.gatewayOffsets.has(offset)) used++;
  }
  return set.capacity - used;
}

/** The range sets with no address left, for STATUS. */
export function exhaustedSets(ledger: Ledger, sets: readonly RangeSet[]): RangeSet[] {
  return sets.filter((set) => freeAddresses(ledger, set) <= 0n);
}
