// Bad input, row by row, against the plugin binary on a simulated node that already holds a pod: each
// row gets the spec's code and a message naming what is wrong, and leaves the node and every pod exactly
// as they were (links, addresses, routes, permanent neighbours, map entries, pins, forwarding sysctls,
// state records and IPAM leases: `ip -j`, the pin tree, the directories).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernelTest } from '../support/kernel.js';
import { type CallOptions, type NodeSnapshot, nothingLeftAfterAll, type SimNode, withNode } from '../support/plugin.js';

nothingLeftAfterAll();

interface Row {
  name: string;
  command?: string;
  /** The config, or stdin as a string; default the node's config. */
  config?: (node: SimNode, base: Record<string, unknown>) => Record<string, unknown> | string;
  call?: (ctx: RowContext) => Partial<CallOptions>;
  /** Prepares the node (before the "before" snapshot). */
  setup?: (ctx: RowContext) => void;
  code: number;
  msg: RegExp;
}

interface RowContext {
  node: SimNode;
  target: { containerId: string; path: string };
  resident: { v4: string };
}

const env = (vars: Record<string, string | undefined>) => () => ({ env: vars });
const withConfig = (overrides: Record<string, unknown>) => (_node: SimNode, base: Record<string, unknown>) => {
  const out = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
};

const rows: Row[] = [
  // ---- the environment: code 4, naming the variable ----
  { name: 'unknown CNI_COMMAND', command: 'FROB', code: 4, msg: /CNI_COMMAND/ },
  { name: 'no CNI_CONTAINERID', call: env({ CNI_CONTAINERID: undefined }), code: 4, msg: /CNI_CONTAINERID/ },
  { name: 'CNI_CONTAINERID with "/"', call: env({ CNI_CONTAINERID: 'bad/id' }), code: 4, msg: /CNI_CONTAINERID/ },
  { name: 'CNI_CONTAINERID starting with "-"', call: env({ CNI_CONTAINERID: '-lead' }), code: 4, msg: /CNI_CONTAINERID/ },
  { name: 'CNI_CONTAINERID with a space', call: env({ CNI_CONTAINERID: 'a b' }), code: 4, msg: /CNI_CONTAINERID/ },
  { name: 'empty CNI_IFNAME', call: env({ CNI_IFNAME: '' }), code: 4, msg: /CNI_IFNAME/ },
  { name: 'CNI_IFNAME longer than 15 bytes', call: env({ CNI_IFNAME: 'eth0123456789abc' }), code: 4, msg: /CNI_IFNAME.*longer than 15 bytes/ },
  { name: 'CNI_IFNAME with "/"', call: env({ CNI_IFNAME: 'et/h0' }), code: 4, msg: /CNI_IFNAME.*'\/'/ },
  { name: 'CNI_IFNAME with whitespace', call: env({ CNI_IFNAME: 'eth 0' }), code: 4, msg: /CNI_IFNAME.*whitespace/ },
  { name: 'CNI_IFNAME "."', call: env({ CNI_IFNAME: '.' }), code: 4, msg: /CNI_IFNAME/ },
  { name: 'CNI_IFNAME ".."', call: env({ CNI_IFNAME: '..' }), code: 4, msg: /CNI_IFNAME/ },
  { name: 'no CNI_NETNS', call: env({ CNI_NETNS: undefined }), code: 4, msg: /CNI_NETNS/ },
  { name: 'relative CNI_NETNS', call: env({ CNI_NETNS: 'run/netns/x' }), code: 4, msg: /CNI_NETNS.*not an absolute path/ },
  { name: 'CNI_NETNS that does not exist', call: ({ node }) => ({ netns: join(node.dir, 'missing') }), code: 4, msg: /CNI_NETNS.*does not exist/ },
  { name: 'CNI_NETNS a regular file', call: ({ node }) => ({ netns: join(node.dir, 'file') }), code: 4, msg: /CNI_NETNS.*not a network namespace/ },
  { name: 'CNI_NETNS a directory', call: () => ({ netns: '/run/netns' }), code: 4, msg: /CNI_NETNS.*not a network namespace/ },
  { name: 'CNI_NETNS a mount namespace', call: () => ({ netns: '/proc/self/ns/mnt' }), code: 4, msg: /CNI_NETNS.*mnt namespace/ },
  { name: "CNI_NETNS the node's own namespace", call: ({ node }) => ({ netns: node.path }), code: 4, msg: /CNI_NETNS.*own network namespace/ },
  { name: 'CNI_ARGS with a bad MAC', call: () => ({ cniArgs: 'MAC=zz' }), code: 4, msg: /CNI_ARGS.*MAC/ },
  { name: 'empty CNI_PATH (IPAM cannot be found)', call: env({ CNI_PATH: '' }), code: 4, msg: /^ADD failed at step "ipam": invalid CNI_PATH/ },

  // ---- stdin and versions ----
  { name: 'stdin is not JSON', config: () => 'this is not json', code: 6, msg: /cannot decode/ },
  { name: 'stdin is a JSON list', config: () => '[1, 2]', code: 6, msg: /cannot decode/ },
  { name: 'cniVersion 0.2.0', config: withConfig({ cniVersion: '0.2.0' }), code: 1, msg: /incompatible CNI version "0\.2\.0"/ },
  { name: 'cniVersion 2.0.0', config: withConfig({ cniVersion: '2.0.0' }), code: 1, msg: /incompatible CNI version "2\.0\.0"/ },
  { name: 'CHECK in 0.3.1', command: 'CHECK', config: withConfig({ cniVersion: '0.3.1' }), code: 1, msg: /does not allow CHECK/ },
  { name: 'GC in 1.0.0', command: 'GC', config: withConfig({ cniVersion: '1.0.0' }), code: 1, msg: /does not allow GC/ },
  { name: 'STATUS in 1.0.0', command: 'STATUS', config: withConfig({ cniVersion: '1.0.0' }), code: 1, msg: /does not allow STATUS/ },

  // ---- the config: code 2 for an unsupported field, 7 for a bad value, naming the field ----
  { name: 'a field sluice does not know', config: withConfig({ frobnicate: 1 }), code: 2, msg: /"frobnicate"/ },
  { name: 'a bridge field in mode ebpf', config: withConfig({ hairpinMode: true }), code: 2, msg: /"hairpinMode"/ },
  { name: 'mtu below 68', config: withConfig({ mtu: 10 }), code: 7, msg: /"mtu"/ },
  { name: 'an unknown mode', config: withConfig({ mode: 'warp' }), code: 7, msg: /"mode"/ },
  { name: 'an IPv6 gateway.ipv4', config: withConfig({ gateway: { ipv4: '::1' } }), code: 7, msg: /"gateway\.ipv4"/ },
  { name: 'a relative logFile', config: withConfig({ logFile: 'sluice.log' }), code: 7, msg: /"logFile"/ },
  { name: 'no ipam', config: withConfig({ ipam: undefined }), code: 7, msg: /"ipam"/ },
  { name: 'ipam.type with a path', config: (_n, base) => ({ ...base, ipam: { ...(base.ipam as object), type: '../host-local' } }), code: 7, msg: /"ipam\.type"/ },
  { name: 'a multicast runtimeConfig.mac', config: withConfig({ runtimeConfig: { mac: '01:00:5e:00:00:01' } }), code: 7, msg: /"runtimeConfig\.mac"/ },
  { name: 'a malformed prevResult', config: withConfig({ prevResult: { ips: 'x' } }), code: 7, msg: /"prevResult\.ips"/ },

  // ---- failures inside ADD: everything done before is undone ----
  { name: 'an IPAM plugin not in CNI_PATH', config: (_n, base) => ({ ...base, ipam: { ...(base.ipam as object), type: 'no-such-ipam' } }), code: 7, msg: /^ADD failed at step "ipam": IPAM plugin "no-such-ipam" \(ipam\.type\) not found in CNI_PATH/ },
  { name: 'an address the IPAM cannot give (taken)', call: ({ resident }) => ({ cniArgs: `IP=${resident.v4}` }), code: 999, msg: /^ADD failed at step "ipam": .*requested IP address .* is not available/ },
  { name: 'an address outside the IPAM ranges', call: () => ({ cniArgs: 'IP=10.9.9.9' }), code: 999, msg: /^ADD failed at step "ipam": .*10\.9\.9\.9/ },
  {
    name: "the pod's address already routed on the node",
    setup: ({ node }) => void node.ip('route', 'add', '10.252.0.77/32', 'dev', 'up1'),
    call: () => ({ cniArgs: 'IP=10.252.0.77' }),
    code: 999,
    msg: /^ADD failed at step "host-routes": a route to 10\.252\.0\.77\/32 already exists on the node: via up1/,
  },
];

function comparable(s: NodeSnapshot): NodeSnapshot {
  return { ...s, ipam: Object.fromEntries(Object.entries(s.ipam).filter(([f]) => !/last_reserved_ip/.test(f))) };
}

kernelTest('every bad input gets its code and leaves the node exactly as it was', async (t) => {
  await withNode(async (node) => {
    writeFileSync(join(node.dir, 'file'), '');
    const base = node.config({ ipv4: true, ipv6: true });
    const residentPod = node.addPod();
    const result = await node.add(residentPod, base);
    await node.settled(residentPod);
    const target = node.addPod();
    const ctx: RowContext = { node, target: { containerId: target.containerId, path: target.path }, resident: { v4: result.ips[0].address.split('/')[0] } };

    for (const row of rows) {
      await t.test(row.name, async () => {
        row.setup?.(ctx);
        const before = comparable(node.snapshot());
        const config = row.config ? row.config(node, base) : base;
        const out = await node.run(row.command ?? 'ADD', config, { containerId: target.containerId, netns: target.path, ...row.call?.(ctx) });
        assert.equal(out.code, 1, `exit status: ${out.stdout}`);
        assert.equal(out.json?.code, row.code, out.stdout);
        assert.match(out.json.msg, row.msg);
        assert.equal(typeof out.json.cniVersion, 'string');
        assert.deepEqual(comparable(node.snapshot()), before, 'the node is as it was');
      });
    }

    // The resident pod never noticed.
    const check = await node.run('CHECK', { ...base, prevResult: result }, { containerId: residentPod.containerId, netns: residentPod.path });
    assert.equal(check.code, 0, check.stdout);
  });
});
