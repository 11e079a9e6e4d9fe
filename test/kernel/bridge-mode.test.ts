// Mode bridge on its own: the fields sluice refuses (code 2, naming them) and those it accepts; a
// conflist written for the reference plugin, chained with the reference portmap plugin, working after
// its `type` became "sluice" and `"mode": "bridge"` was added; portIsolation and
// disableContainerInterface (which Debian's reference plugin predates); DEL twice, without CNI_NETNS
// and after the namespace is gone; concurrent ADDs sharing one bridge; traffic from the first packet
// after ADD; CHECK naming what was broken; a device of the bridge's name that is not a bridge.
import assert from 'node:assert/strict';
import { ping } from '../support/bpf.js';
import { echoServer, inNs, nftShape, NODE_OUTSIDE_V4, OUTSIDE_V4, portsView, seenFrom, sluiceConfig, sluiceElements, withOutside } from '../support/bridge.js';
import { kernelTest } from '../support/kernel.js';
import { NETWORK, type NodeSnapshot, nothingLeftAfterAll, POD_SUBNET_V4, type SimNode, withNode } from '../support/plugin.js';

nothingLeftAfterAll();

function comparable(node: SimNode): { snapshot: NodeSnapshot; elements: Record<string, unknown[]> } {
  const s = node.snapshot();
  return {
    snapshot: { ...s, ipam: Object.fromEntries(Object.entries(s.ipam).filter(([f]) => !/last_reserved_ip|\/lock$/.test(f))), state: s.state.filter((f) => !f.endsWith('/') && !f.endsWith('.lock')) },
    elements: sluiceElements(node),
  };
}

const linkNames = (n: { ipJson<T>(...args: string[]): T }, ...args: string[]) => n.ipJson<{ ifname: string }[]>('link', 'show', ...args).map((l) => l.ifname);

kernelTest('mode bridge refuses vlan, vlanTrunk and ipMasqBackend "iptables" with code 2 naming them, and accepts the rest', async () => {
  await withNode(async (node) => {
    const pod = node.addPod();
    const call = { containerId: pod.containerId, netns: pod.path };
    const before = comparable(node);
    const refused: Array<[Record<string, unknown>, string]> = [
      [{ vlan: 100 }, 'unsupported field "vlan" (value 100)'],
      [{ vlanTrunk: [{ id: 5 }] }, 'unsupported field "vlanTrunk"'],
      [{ vlanTrunk: [] }, 'unsupported field "vlanTrunk" (value [])'],
      [{ vlan: 7, preserveDefaultVlan: true }, 'unsupported field "vlan"'],
      [{ ipMasq: true, ipMasqBackend: 'iptables' }, 'unsupported field "ipMasqBackend" (value "iptables")'],
      [{ gateway: { ipv4: '169.254.1.1' } }, 'unsupported field "gateway"'],
      [{ vlanFiltering: true }, 'unsupported field "vlanFiltering"'],
    ];
    for (const [fields, msg] of refused) {
      const out = await node.run('ADD', sluiceConfig(node, fields), call);
      assert.equal(out.code, 1);
      assert.equal(out.json.code, 2, `${JSON.stringify(fields)}: ${out.stdout}`);
      assert.ok((out.json.msg as string).startsWith(msg), `${out.json.msg} starts with ${msg}`);
    }
    // Refused before anything was made; DEL of such a config still works (there is nothing to remove).
    assert.deepEqual(comparable(node), before);
    assert.equal((await node.run('DEL', sluiceConfig(node, { vlan: 100 }), call)).code, 0);

    // Accepted: what has no effect without VLANs in the reference plugin too, and the nftables backend.
    const config = sluiceConfig(node, { vlan: 0, preserveDefaultVlan: true, ipMasq: true, ipMasqBackend: 'nftables' });
    const ok = await node.run('ADD', config, call);
    assert.equal(ok.code, 0, ok.stdout);
    const check = await node.run('CHECK', { ...sluiceConfig(node, { vlan: 9 }), prevResult: ok.json }, call);
    assert.equal(check.json.code, 2, 'CHECK refuses it too');
    assert.equal((await node.run('DEL', config, call)).code, 0);
  });
});

kernelTest('a conflist written for the reference plugin works with "type": "sluice" and "mode": "bridge", chained with portmap', async () => {
  await withNode((node) => withOutside(node, async (outside) => {
    const conflist = {
      cniVersion: '1.0.0',
      name: NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni-pods',
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'host-local', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      ],
    };
    // The two changes the issue allows; the node's state directory only keeps the simulated node's
    // records out of the machine's /run/sluice.
    const converted = { ...conflist, plugins: [{ ...conflist.plugins[0], type: 'sluice', mode: 'bridge', stateDir: node.stateDir }, conflist.plugins[1]] };
    const portMappings = [{ hostPort: 8080, containerPort: 7070, protocol: 'tcp' }];

    // As libcni runs a list: each plugin gets cniVersion and name, the runtime config of the capabilities
    // it declares, and the previous plugin's result; DEL runs the list backwards.
    const pod = node.addPod();
    const call = { containerId: pod.containerId, netns: pod.path };
    const netconf = (plugin: Record<string, unknown>, prevResult?: unknown) => ({
      ...plugin, cniVersion: converted.cniVersion, name: converted.name,
      ...(plugin.capabilities ? { runtimeConfig: { portMappings } } : {}), ...(prevResult ? { prevResult } : {}),
    });
    const [bridgeConf, portmapConf] = converted.plugins as unknown as [Record<string, unknown>, Record<string, unknown>];
    const first = await node.run('ADD', netconf(bridgeConf), call);
    assert.equal(first.code, 0, first.stdout);
    const second = await node.runReference('portmap', 'ADD', netconf(portmapConf, first.json), call);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.deepEqual(second.json.interfaces.map((i: { name: string }) => i.name), ['cni-pods', first.json.interfaces[1].name, 'eth0']);
    const podIp = first.json.ips[0].address.split('/')[0];

    const podServer = await echoServer(pod);
    const outsideServer = await echoServer(outside);
    try {
      // portmap: the outside reaches the pod through the node's port 8080, as itself.
      const viaPort = inNs(outside, process.execPath, '-e',
        `const s=require('net').connect(8080,'${NODE_OUTSIDE_V4}');let d='';s.on('data',(c)=>d+=c);s.on('end',()=>process.stdout.write(d));s.on('error',(e)=>process.stdout.write('error '+e.code))`);
      assert.equal(viaPort, OUTSIDE_V4, 'the port mapping reaches the pod');
      assert.equal(seenFrom(pod, OUTSIDE_V4), NODE_OUTSIDE_V4, 'ipMasq: the pod reaches the outside as the node');
      assert.deepEqual(sluiceElements(node)['inet pods4'], [podIp]);
    } finally {
      await podServer.stop();
      await outsideServer.stop();
    }

    const check = await node.run('CHECK', netconf(bridgeConf, second.json), call);
    assert.equal(check.code, 0, check.stdout);
    const delPortmap = await node.runReference('portmap', 'DEL', netconf(portmapConf, second.json), call);
    assert.equal(delPortmap.code, 0, delPortmap.stdout + delPortmap.stderr);
    const del = await node.run('DEL', netconf(bridgeConf, second.json), call);
    assert.equal(del.code, 0, del.stdout);
    assert.deepEqual(linkNames(pod), ['lo']);
    assert.deepEqual(sluiceElements(node)['inet pods4'], []);
  }));
});

kernelTest('portIsolation: isolated pods do not reach each other, but reach the gateway and the node', async () => {
  await withNode(async (node) => {
    const config = sluiceConfig(node, { bridge: 'br-iso', isGateway: true, portIsolation: true }, { ipv6: false });
    const [a, b] = [node.addPod(), node.addPod()];
    await node.add(a, config);
    const rb = await node.add(b, config);
    assert.deepEqual(portsView(node, 'br-iso').map((p) => (p as { port: { isolated: boolean } }).port.isolated), [true, true]);
    assert.equal(await ping(a.ns, rb.ips[0].address.split('/')[0], { count: 1, waitMs: 600 }), 0, 'isolated from each other');
    assert.equal(await ping(a.ns, '10.252.0.1', { count: 1 }), 1, 'the gateway answers');
    // A port that is not isolated talks to both.
    const c = node.addPod();
    const rc = await node.add(c, sluiceConfig(node, { bridge: 'br-iso', isGateway: true }, { ipv6: false }));
    assert.equal(await ping(a.ns, rc.ips[0].address.split('/')[0], { count: 1 }), 1);
  });
});

kernelTest('disableContainerInterface: without ipam the pod\'s interface stays down (refused with ipam, code 7)', async () => {
  await withNode(async (node) => {
    const pod = node.addPod();
    const call = { containerId: pod.containerId, netns: pod.path };
    const refused = await node.run('ADD', sluiceConfig(node, { disableContainerInterface: true }), call);
    assert.equal(refused.json.code, 7);
    assert.match(refused.json.msg, /"disableContainerInterface" cannot be true when "ipam" is set/);
    const config = sluiceConfig(node, { disableContainerInterface: true, ipam: undefined });
    const out = await node.run('ADD', config, call);
    assert.equal(out.code, 0, out.stdout);
    assert.equal(out.json.ips, undefined, 'no address');
    const [eth0] = pod.ipJson<{ flags: string[] }[]>('link', 'show', 'eth0');
    assert.ok(!eth0!.flags.includes('UP'), 'eth0 is down');
    assert.equal((await node.run('CHECK', { ...config, prevResult: out.json }, call)).code, 0);
    assert.equal((await node.run('DEL', config, call)).code, 0);
  });
});

kernelTest('mode bridge: DEL twice, DEL without CNI_NETNS, DEL after the namespace is gone: nothing left but the bridge', async () => {
  await withNode(async (node) => {
    const config = sluiceConfig(node, { bridge: 'br-del', isDefaultGateway: true, ipMasq: true, macspoofchk: true });
    const resident = node.addPod();
    await node.add(resident, config);
    await node.settled(resident);
    await node.settled(node);
    const before = comparable(node);

    const pod = node.addPod();
    await node.add(pod, config);
    assert.equal((await node.del(pod, config)).code, 0);
    node.removePod(pod);
    assert.deepEqual(comparable(node), before, 'DEL removed everything');
    assert.equal((await node.run('DEL', config, { containerId: pod.containerId })).code, 0, 'a second DEL succeeds');

    const noNetns = node.addPod();
    await node.add(noNetns, config);
    const out = await node.run('DEL', config, { containerId: noNetns.containerId });
    assert.equal(out.code, 0, out.stdout);
    node.removePod(noNetns);
    assert.deepEqual(comparable(node), before, 'DEL without CNI_NETNS or prevResult removed everything');

    const gone = node.addPod();
    await node.add(gone, config);
    const path = gone.path;
    node.removePod(gone);
    assert.equal((await node.run('DEL', config, { containerId: gone.containerId, netns: path })).code, 0);
    assert.deepEqual(comparable(node), before, 'DEL after the namespace was deleted removed everything');
  });
});

kernelTest('mode bridge: 8 concurrent ADDs on a cold node share one bridge, one gateway address, one rule set; the first packet gets through', async () => {
  await withNode(async (node) => {
    const config = sluiceConfig(node, { bridge: 'br-cc', isGateway: true, ipMasq: true, macspoofchk: true }, { ipv6: false });
    const pods = Array.from({ length: 8 }, () => node.addPod());
    const results = await Promise.all(pods.map(async (pod) => {
      const result = await node.add(pod, config);
      // Right after ADD: one echo request, answered (no packet lost to a port still coming up).
      assert.equal(await ping(pod.ns, '10.252.0.1', { count: 1, waitMs: 1000 }), 1, `${pod.name} reaches the gateway at once`);
      return result;
    }));
    assert.equal(new Set(results.map((r) => r.ips[0].address)).size, 8);
    assert.equal(portsView(node, 'br-cc').length, 8);
    const addresses = node.ipJson<{ addr_info: { local: string; prefixlen: number; family: string }[] }[]>('addr', 'show', 'br-cc')[0]!.addr_info.filter((a) => a.family === 'inet');
    assert.deepEqual(addresses.map((a) => `${a.local}/${a.prefixlen}`), ['10.252.0.1/24']);
    assert.deepEqual(nftShape(node, 'inet'), { tables: 1, chains: 1, sets: 4, rules: 2 });
    assert.deepEqual(nftShape(node, 'bridge'), { tables: 1, chains: 1, sets: 2, rules: 1 });
    assert.equal(sluiceElements(node)['bridge allowed']!.length, 8);
    const dels = await Promise.all(pods.map((pod) => node.del(pod, config)));
    for (const d of dels) assert.equal(d.code, 0, d.stdout);
    assert.deepEqual(portsView(node, 'br-cc'), []);
    assert.deepEqual(sluiceElements(node)['inet pods4'], []);
  });
});

kernelTest('mode bridge: CHECK names what was broken', async () => {
  await withNode(async (node) => {
    const config = sluiceConfig(node, { bridge: 'br-ck', isGateway: true, hairpinMode: true, macspoofchk: true }, { ipv6: false });
    const pod = node.addPod();
    const result = await node.add(pod, config);
    const hostVeth = result.interfaces[1].name as string;
    const check = () => node.run('CHECK', { ...config, prevResult: result }, { containerId: pod.containerId, netns: pod.path });
    assert.equal((await check()).code, 0);

    node.ip('link', 'set', hostVeth, 'type', 'bridge_slave', 'hairpin', 'off');
    let out = await check();
    assert.equal(out.json.msg, `CHECK: port ${hostVeth} has hairpin off, but hairpinMode is true`);
    node.ip('link', 'set', hostVeth, 'type', 'bridge_slave', 'hairpin', 'on');

    node.ip('address', 'del', '10.252.0.1/24', 'dev', 'br-ck');
    node.ip('netns', 'exec', node.name, 'nft', 'flush', 'set', 'bridge', 'sluice', 'ports');
    out = await check();
    assert.deepEqual((out.json.details as string).split('; ').sort(), [
      'gateway address 10.252.0.1/24 is missing on bridge br-ck',
      `port ${hostVeth} is missing from set ports of table bridge sluice`,
    ]);

    node.ip('link', 'set', hostVeth, 'nomaster');
    out = await check();
    assert.match(out.json.details, new RegExp(`host veth ${hostVeth} is not a port of br-ck`));
    assert.equal((await node.del(pod, config)).code, 0);
  });
});

kernelTest('mode bridge: a device of the bridge\'s name that is not a bridge fails ADD, which leaves nothing', async () => {
  await withNode(async (node) => {
    node.ip('link', 'add', 'br-nb', 'type', 'veth', 'peer', 'name', 'br-nb-peer');
    const config = sluiceConfig(node, { bridge: 'br-nb' });
    const pod = node.addPod();
    const before = comparable(node);
    const out = await node.run('ADD', config, { containerId: pod.containerId, netns: pod.path });
    assert.equal(out.code, 1);
    assert.equal(out.json.msg, 'ADD failed at step "bridge": "br-nb" already exists but is not a bridge (it is a veth)');
    assert.deepEqual(comparable(node), before);
  });
});

kernelTest('mode bridge: GC removes the attachments the runtime no longer lists, with their masquerade and anti-spoofing entries', async () => {
  await withNode(async (node) => {
    // The built-in IPAM: Debian's host-local (v1.1.1) predates GC.
    const config = sluiceConfig(node, {
      cniVersion: '1.1.0', bridge: 'br-gc', isGateway: true, ipMasq: true, macspoofchk: true,
      ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }]] },
    });
    const pods = [node.addPod(), node.addPod(), node.addPod()];
    const results = [];
    for (const pod of pods) results.push(await node.add(pod, config));
    const [keep] = pods;
    const valid = [{ containerID: keep!.containerId, ifname: 'eth0' }];
    const gc = await node.run('GC', { ...config, 'cni.dev/valid-attachments': valid }, {});
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual(linkNames(node, 'master', 'br-gc'), [results[0].interfaces[1].name]);
    for (const pod of pods.slice(1)) assert.deepEqual(linkNames(pod), ['lo'], `${pod.name} was collected`);
    const elements = sluiceElements(node);
    assert.deepEqual(elements['inet pods4'], [results[0].ips[0].address.split('/')[0]]);
    assert.deepEqual(elements['bridge ports'], [results[0].interfaces[1].name]);
    assert.equal((await node.run('STATUS', config, {})).code, 0);
    assert.equal((await node.del(keep!, config)).code, 0);
    assert.deepEqual(sluiceElements(node), { 'inet pods4': [], 'inet pods6': [], 'bridge ports': [], 'bridge allowed': [] });
  });
});

kernelTest('mode bridge in-process (as the agent runs it) with the node given as nodeNetns: nothing lands in the caller\'s namespace', async () => {
  const { runCni } = await import('../../src/cni/dispatch.js');
  const { BridgeDriver } = await import('../../src/datapath/bridge.js');
  const { execFileSync } = await import('node:child_process');
  // The bridge and host veths such an ADD makes, and the nf_tables tables, in the test process's namespace.
  const callerView = () => ({
    links: (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname).filter((n) => /^(br-inproc|sl[0-9a-f]{13})$/.test(n)),
    nft: execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }),
  });
  const before = callerView();
  await withNode(async (node) => {
    const driver = new BridgeDriver({ nodeNetns: node.ns });
    const config = sluiceConfig(node, { bridge: 'br-inproc', isDefaultGateway: true, ipMasq: true, macspoofchk: true, hairpinMode: true });
    const run = (command: string, pod: { containerId: string; path: string }, extra: Record<string, unknown> = {}) =>
      runCni({ CNI_COMMAND: command, CNI_PATH: '/usr/lib/cni', CNI_CONTAINERID: pod.containerId, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0' }, JSON.stringify({ ...config, ...extra }), driver);
    const [a, b] = [node.addPod(), node.addPod()];
    const ra = await run('ADD', a);
    assert.equal(ra.exitCode, 0, ra.stdout);
    const rb = await run('ADD', b);
    assert.equal(rb.exitCode, 0, rb.stdout);
    const resultB = JSON.parse(rb.stdout);
    assert.equal(await ping(a.ns, resultB.ips[0].address.split('/')[0], { count: 1 }), 1);
    assert.equal((await run('CHECK', a, { prevResult: JSON.parse(ra.stdout) })).exitCode, 0);
    assert.equal(node.sysctl('net.ipv4.ip_forward'), '1', 'forwarding on in the node');
    assert.equal(sluiceElements(node)['bridge ports']!.length, 2);
    for (const pod of [a, b]) assert.equal((await run('DEL', pod)).exitCode, 0);
    assert.deepEqual(sluiceElements(node), { 'inet pods4': [], 'inet pods6': [], 'bridge ports': [], 'bridge allowed': [] });
  });
  assert.deepEqual(callerView(), before, 'the caller\'s namespace is untouched');
});

kernelTest('enabledad: ADD returns once DAD is over (no tentative address left), woken by the kernel\'s announcement', async () => {
  await withNode(async (node) => {
    const config = sluiceConfig(node, { bridge: 'br-dad', isGateway: true, enabledad: true }, { ipv4: false, ipv6: true });
    const pod = node.addPod();
    const started = Date.now();
    const result = await node.add(pod, config);
    const took = Date.now() - started;
    const addresses = pod.ipJson<{ addr_info: { local: string; tentative?: boolean }[] }[]>('addr', 'show', 'eth0')[0]!.addr_info;
    assert.deepEqual(addresses.filter((a) => a.tentative), [], 'nothing tentative');
    assert.ok(addresses.some((a) => a.local === result.ips[0].address.split('/')[0]));
    assert.equal(inNs(pod, 'sysctl', '-n', 'net.ipv6.conf.eth0.accept_dad').trim(), '1');
    assert.equal(inNs(pod, 'sysctl', '-n', 'net.ipv6.conf.eth0.enhanced_dad').trim(), '1');
    // DAD sends one probe and waits a retransmission time (1 s) for an answer: ADD takes about that.
    assert.ok(took >= 900 && took < 4000, `ADD took ${took} ms`);
  });
});
