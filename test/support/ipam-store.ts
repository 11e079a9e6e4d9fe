/**
 * Helpers for the IPAM tests: temp data dirs, requests, and an audit of a store (the lease files are
 * the truth; sluice's index must agree with them whenever it is sealed).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IpamRequest } from '../../src/ipam/types.js';
import { formatIp, parseIp } from '../../src/ipam/host-local/address.js';
import { AttachmentIndex } from '../../src/ipam/host-local/attachment-index.js';
import { ownerKey } from '../../src/ipam/host-local/lease.js';
import { sidecarPath } from '../../src/ipam/host-local/ledger.js';
import { readSeal, sameStamp } from '../../src/ipam/host-local/seal.js';
import { LeaseDir } from '../../src/ipam/host-local/store.js';

export const NETWORK = 'ipamtest';

/** A fresh data dir, removed by the returned cleanup (register it with t.after). */
export function tempDataDir(): { dataDir: string; cleanup: () => void } {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-ipam-'));
  return { dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}

export function ipamConfig(dataDir: string, ranges: unknown[][], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'sluice', dataDir, ranges, ...extra };
}

export function request(config: Record<string, unknown>, containerID: string, extra: Partial<IpamRequest> = {}): IpamRequest {
  return {
    containerID,
    ifname: 'eth0',
    network: NETWORK,
    config,
    netConf: { cniVersion: '1.1.0', name: NETWORK, ipam: config },
    requestedIPs: [],
    ...extra,
  };
}

export function leaseFolder(dataDir: string, network = NETWORK): string {
  return join(dataDir, network);
}

/** Lease file name → raw content, for every lease (address-named file) in the folder. */
export function leaseFiles(dataDir: string, network = NETWORK): Map<string, string> {
  const out = new Map<string, string>();
  const dir = leaseFolder(dataDir, network);
  for (const name of readdirSync(dir).sort()) {
    const ip = parseIp(name);
    if (ip && formatIp(ip) === name) out.set(name, readFileSync(join(dir, name), 'latin1'));
  }
  return out;
}

/** Lease address → "containerID/ifname" for well-formed leases. */
export function leaseOwners(dataDir: string, network = NETWORK): Map<string, string> {
  const out = new Map<string, string>();
  for (const [ip, content] of leaseFiles(dataDir, network)) {
    const [id, ifname] = content.trim().split('\r\n');
    out.set(ip, `${id}/${ifname ?? ''}`);
  }
  return out;
}

/**
 * When the seal matches the folder, sluice trusts its index: then every lease with an owner must have
 * its index entry and every entry must point at leases of that owner. Returns whether it was sealed.
 */
export function auditIndex(dataDir: string, network = NETWORK): boolean {
  const home = sidecarPath(dataDir, network);
  const seal = readSeal(join(home, 'seal'));
  const folder = new LeaseDir(leaseFolder(dataDir, network));
  if (!seal || !sameStamp(seal.dir, folder.stamp())) return false;
  const expected = new Map<string, string[]>();
  for (const ip of folder.leaseNames()) {
    const owner = folder.readLease(ip)!;
    const key = ownerKey(owner);
    if (key) expected.set(key, [...(expected.get(key) ?? []), ip].sort());
  }
  const actual = new Map<string, string[]>();
  for (const bucket of readdirSync(join(home, 'att'))) {
    for (const line of readFileSync(join(home, 'att', bucket), 'utf8').split('\n')) {
      if (line === '') continue;
      const [key, ips] = line.split(' ');
      assert.ok(key && ips && !actual.has(key), `index line ${JSON.stringify(line)} in bucket ${bucket}`);
      actual.set(key, ips.split(',').sort());
    }
  }
  assert.deepEqual(Object.fromEntries([...actual].sort()), Object.fromEntries([...expected].sort()), 'the sealed index matches the lease files');
  return true;
}

/** Writes an index entry behind sluice's back (for the tests of a wrong or garbled index). */
export function plantIndexEntry(dataDir: string, key: string, line: string): void {
  const index = new AttachmentIndex(join(sidecarPath(dataDir, NETWORK), 'att'), join(sidecarPath(dataDir, NETWORK), 'tmp', 'plant'));
  index.put(key, ['10.255.255.255']);
  index.flush();
  const bucket = readdirSync(join(sidecarPath(dataDir, NETWORK), 'att')).find((b) =>
    readFileSync(join(sidecarPath(dataDir, NETWORK), 'att', b), 'utf8').includes(`${key} 10.255.255.255`),
  )!;
  const path = join(sidecarPath(dataDir, NETWORK), 'att', bucket);
  writeFileSync(path, readFileSync(path, 'utf8').replace(`${key} 10.255.255.255\n`, line));
}
