/** Shared pieces of the cni-* tests: a real network namespace to point CNI_NETNS at, and a fake Driver. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import type { AddRequest, CheckRequest, DelRequest, Driver, GcRequest, StatusRequest } from '../../src/cni/dispatch.js';
import type { CniResult } from '../../src/cni/types.js';

export interface NetnsHolder {
  path: string;
  stop(): void;
}

/**
 * A network namespace held open by a sleeping child: `unshare -n` as root, `unshare -rn` (a user
 * namespace too) otherwise. Tests need a namespace other than their own, as CNI_NETNS is refused when
 * it is the plugin's own.
 */
export async function holdNetns(): Promise<NetnsHolder> {
  const own = statSync('/proc/self/ns/net').ino;
  const flags = process.getuid?.() === 0 ? ['-n'] : ['-r', '-n'];
  if (spawnSync('unshare', [...flags, 'true']).status !== 0) {
    throw new Error(`unshare ${flags.join(' ')} failed: the cni tests need root or unprivileged user namespaces`);
  }
  const child: ChildProcess = spawn('unshare', [...flags, 'sleep', '300'], { stdio: 'ignore' });
  const path = `/proc/${child.pid}/ns/net`;
  // unshare() runs just after the fork: wait until the child is really in its own namespace.
  for (let i = 0; i < 200; i++) {
    try {
      if (statSync(path).ino !== own) return { path, stop: () => child.kill('SIGKILL') };
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  throw new Error('the unshared child never entered a namespace of its own');
}

export type DriverCall =
  | { verb: 'add'; req: AddRequest }
  | { verb: 'del'; req: DelRequest }
  | { verb: 'check'; req: CheckRequest }
  | { verb: 'gc'; req: GcRequest }
  | { verb: 'status'; req: StatusRequest };

/** Records every call; ADD answers a veth pair with the requested addresses, or what `addResult` says. */
export class FakeDriver implements Driver {
  readonly calls: DriverCall[] = [];
  addResult?: (req: AddRequest) => CniResult;
  failWith?: Error;

  async add(req: AddRequest): Promise<CniResult> {
    this.calls.push({ verb: 'add', req });
    if (this.failWith) throw this.failWith;
    if (this.addResult) return this.addResult(req);
    return {
      interfaces: [
        { name: req.hostVethName, mac: '02:00:00:00:00:01', mtu: 1500 },
        { name: req.ifname, mac: '02:00:00:00:00:02', mtu: 1500, sandbox: req.netns },
      ],
      ips: [
        { address: '10.22.0.5/32', gateway: '169.254.1.1', interface: 1 },
        { address: 'fd00:22::5/128', gateway: 'fe80::1', interface: 1 },
      ],
      routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }, { dst: '::/0', gw: 'fe80::1' }],
    };
  }

  async del(req: DelRequest): Promise<void> {
    this.calls.push({ verb: 'del', req });
    if (this.failWith) throw this.failWith;
  }

  async check(req: CheckRequest): Promise<void> {
    this.calls.push({ verb: 'check', req });
    if (this.failWith) throw this.failWith;
  }

  async gc(req: GcRequest): Promise<void> {
    this.calls.push({ verb: 'gc', req });
    if (this.failWith) throw this.failWith;
  }

  async status(req: StatusRequest): Promise<void> {
    this.calls.push({ verb: 'status', req });
    if (this.failWith) throw this.failWith;
  }
}

export const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** A minimal valid sluice config of the given version. */
export function baseConfig(cniVersion: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion,
    name: 'podnet',
    type: 'sluice',
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.22.0.0/16' }]] },
    ...extra,
  };
}

export function attachmentEnv(command: string, netns: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: 'c0ffee01',
    CNI_NETNS: netns,
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
    ...extra,
  };
}
