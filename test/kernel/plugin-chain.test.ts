// Chained after sluice (cniVersion 1.0.0: Debian's reference plugins, v1.1.1, speak up to 1.0.0), the
// reference tuning and portmap plugins succeed on sluice's prevResult and do their job: tuning's sysctl
// and MTU show inside the pod; portmap's NAT chains appear in the node namespace (where it runs, as it
// would on a node) and a published port on the node's address reaches a server in the pod. DEL in
// reverse order removes portmap's rules and sluice's attachment.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { kernelTest } from '../support/kernel.js';
import { tcpClient, tcpServer } from '../support/bpf.js';
import { CNI_BIN_DIR, NETWORK, NODE_V4, nothingLeftAfterAll, type SimNode, withNode } from '../support/plugin.js';
import { existsSync } from 'node:fs';

nothingLeftAfterAll();

const HOST_PORT = 18080;
const POD_PORT = 8080;

function natRules(node: SimNode): string {
  return execFileSync('ip', ['netns', 'exec', node.name, 'iptables', '-w', '-t', 'nat', '-S'], { encoding: 'utf8' });
}

kernelTest('tuning and portmap chained after sluice work on its result', async (t) => {
  if (!existsSync(`${CNI_BIN_DIR}/portmap`) || !existsSync(`${CNI_BIN_DIR}/tuning`)) {
    t.skip(`the reference plugins are not in ${CNI_BIN_DIR} (scripts/install-deps.sh installs them)`);
    return;
  }
  await withNode(async (node) => {
    const pod = node.addPod();
    const call = { containerId: pod.containerId, netns: pod.path, ifname: 'eth0' };
    const portMappings = [{ hostPort: HOST_PORT, containerPort: POD_PORT, protocol: 'tcp' }];
    const sluice = node.config({ cniVersion: '1.0.0', ipv4: true, ipv6: true, overrides: { capabilities: { portMappings: true }, runtimeConfig: { portMappings } } });
    const tuning = { cniVersion: '1.0.0', name: NETWORK, type: 'tuning', mtu: 1400, sysctl: { 'net.ipv4.conf.eth0.arp_announce': '2' } };
    const portmap = { cniVersion: '1.0.0', name: NETWORK, type: 'portmap', capabilities: { portMappings: true }, runtimeConfig: { portMappings }, snat: true };

    const first = await node.add(pod, sluice);
    const second = await node.runReference('tuning', 'ADD', { ...tuning, prevResult: first }, call);
    assert.equal(second.code, 0, `tuning ADD: ${second.stdout}${second.stderr}`);
    const third = await node.runReference('portmap', 'ADD', { ...portmap, prevResult: second.json }, call);
    assert.equal(third.code, 0, `portmap ADD: ${third.stdout}${third.stderr}`);
    const final = third.json;
    assert.deepEqual(final.ips.map((ip: { address: string }) => ip.address), first.ips.map((ip: { address: string }) => ip.address), "sluice's addresses went through the chain");
    const podV4 = (final.ips[0].address as string).split('/')[0]!;

    // tuning: its sysctl and MTU, inside the pod.
    assert.equal(execFileSync('ip', ['netns', 'exec', pod.name, 'cat', '/proc/sys/net/ipv4/conf/eth0/arp_announce'], { encoding: 'utf8' }).trim(), '2');
    assert.equal(pod.ipJson<{ mtu: number }[]>('link', 'show', 'eth0')[0]!.mtu, 1400);

    // portmap: its chains in the node namespace, and the published port reaches the pod.
    const rules = natRules(node);
    assert.match(rules, /-N CNI-HOSTPORT-DNAT/);
    assert.match(rules, new RegExp(`--dport ${HOST_PORT} .*-j DNAT --to-destination ${podV4.replaceAll('.', '\\.')}:${POD_PORT}`));
    const server = await tcpServer(pod, '0.0.0.0', POD_PORT);
    const client = tcpClient(node, NODE_V4, HOST_PORT, 256 * 1024);
    assert.equal(await client.line(), 'connected');
    assert.deepEqual(JSON.parse(await client.line()), { sent: 256 * 1024 });
    assert.deepEqual(JSON.parse(await server.line()), { received: 256 * 1024 });
    assert.equal((await client.exit()).code, 0);
    assert.equal((await server.exit()).code, 0);

    // sluice's CHECK on the chain's final result.
    const checked = await node.run('CHECK', { ...sluice, prevResult: final }, call);
    assert.equal(checked.code, 0, checked.stdout);

    // DEL in reverse order, each given the final result.
    for (const [name, run] of [
      ['portmap', () => node.runReference('portmap', 'DEL', { ...portmap, prevResult: final }, call)],
      ['tuning', () => node.runReference('tuning', 'DEL', { ...tuning, prevResult: final }, call)],
      ['sluice', () => node.run('DEL', { ...sluice, prevResult: final }, call)],
    ] as const) {
      const out = await run();
      assert.equal(out.code, 0, `${name} DEL: ${out.stdout}${out.stderr}`);
    }
    assert.doesNotMatch(natRules(node), new RegExp(`--to-destination ${podV4.replaceAll('.', '\\.')}:`), "portmap's DNAT rule is gone");
    assert.deepEqual(pod.ipJson('link', 'show').map((l: { ifname: string }) => l.ifname), ['lo']);
    assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
  });
});
