// The command line on a simulated node: `sluice add|check|del` by hand (through the agent, and
// without one), `sluice endpoints` (the pods, with the eBPF counters moving as they talk),
// `sluice status` (program, maps, links, agent), `sluice gc` on the built-in IPAM's store.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { before } from 'node:test';
import { ping } from '../support/bpf.js';
import { kernelTest } from '../support/kernel.js';
import { nothingLeftAfterAll, PLUGIN_MAIN, type PluginRun, POD_SUBNET_V4, type SimNode, withNode } from '../support/plugin.js';
import { deferredAttachments } from '../../src/datapath/deferred-attach.js';
import { ensureShim, Scratch, startAgent, until } from '../support/agent.js';

before(() => void ensureShim());
nothingLeftAfterAll();

/** Runs `sluice <args>` inside the node, without any CNI_* variable. */
function cli(node: SimNode, args: string[], stdin = ''): Promise<PluginRun> {
  return node.exec([process.execPath, PLUGIN_MAIN, ...args], 'unused', stdin, { env: { CNI_COMMAND: undefined, CNI_PATH: undefined } });
}

kernelTest('sluice add, check, del, endpoints and status, with the agent and without it', async () => {
  const scratch = new Scratch();
  try {
    await withNode(async (node) => {
      const socket = scratch.path('sluice.sock');
      const configFile = scratch.path('10-sluice.conflist');
      // A conflist, as a runtime reads it; the CLI takes its sluice plugin.
      writeFileSync(configFile, JSON.stringify({
        cniVersion: '1.0.0', name: 'cli-net',
        plugins: [{ type: 'sluice', pinRoot: node.pinRoot, stateDir: node.stateDir, logFile: node.logFile, ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }]] } }],
      }));
      const where = ['--socket', socket];
      const local = ['--state-dir', node.stateDir, '--pin-root', node.pinRoot];
      const [a, b] = [node.addPod(), node.addPod()];

      const agent = await startAgent(node, { socket });
      try {
        const added = await cli(node, ['add', '--netns', a!.path, '--container-id', 'cli-a', '--config', configFile, ...where]);
        assert.equal(added.code, 0, `${added.stdout}${added.stderr}`);
        assert.equal(added.json.ips[0].address, '10.252.0.2/32');
        assert.ok(agent.records().some((r) => r.containerId === 'cli-a' && r.msg === 'attachment added'), 'the agent did it');
        // Config on stdin this time.
        const addedB = await cli(node, ['add', '--netns', b!.path, '--container-id', 'cli-b', ...where], JSON.stringify({ cniVersion: '1.0.0', name: 'cli-net', type: 'sluice', pinRoot: node.pinRoot, stateDir: node.stateDir, ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }]] } }));
        assert.equal(addedB.code, 0, addedB.stdout);

        const prev = scratch.path('prev.json');
        writeFileSync(prev, added.stdout);
        const checked = await cli(node, ['check', '--netns', a!.path, '--container-id', 'cli-a', '--config', configFile, '--prev-result', prev, ...where]);
        assert.deepEqual([checked.code, checked.stdout], [0, '']);
        const wrong = await cli(node, ['check', '--netns', a!.path, '--container-id', 'cli-b', '--config', configFile, '--prev-result', prev, ...where]);
        assert.equal(wrong.code, 1);
        assert.equal(wrong.json.code, 999, 'the error object, as the plugin prints it');

        // Traffic, then the counters: a sent 3 pings to b, and b's replies were delivered to a. The
        // agent attaches the programs once quiet (promoter.ts): the counters count from then.
        await until('the agent attached the programs it deferred', () => deferredAttachments(node.stateDir).length === 0);
        assert.equal(await ping(a!.ns, '10.252.0.3', { count: 3 }), 3);
        const endpoints = await cli(node, ['endpoints', '--json', ...where]);
        assert.equal(endpoints.code, 0, endpoints.stderr);
        const byId = Object.fromEntries((endpoints.json as any[]).map((e) => [e.containerId, e]));
        assert.deepEqual(Object.keys(byId).sort(), ['cli-a', 'cli-b']);
        assert.deepEqual({ ...byId['cli-a'], counters: undefined, stateDir: undefined, hostIfindex: undefined }, {
          containerId: 'cli-a', ifname: 'eth0', network: 'cli-net', addresses: ['10.252.0.2'], mac: added.json.interfaces[1].mac,
          hostVeth: added.json.interfaces[0].name, netns: a!.path, counters: undefined, stateDir: undefined, hostIfindex: undefined,
        });
        // (A pod also sends a few packets of its own: IPv6 neighbour discovery on its link, say.)
        assert.ok(byId['cli-a'].counters.egress.packets >= 3);
        assert.equal(byId['cli-a'].counters.ingress.packets, 3, "b's replies, delivered by the program");
        assert.ok(byId['cli-b'].counters.egress.packets >= 3);
        assert.ok(byId['cli-a'].counters.egress.bytes >= 3 * 98);
        const table = await cli(node, ['endpoints', ...where]);
        assert.match(table.stdout, /^CONTAINER +IFNAME +ADDRESSES +MAC +HOST VETH +TX PKTS +TX BYTES +RX PKTS +RX BYTES\n/);
        assert.match(table.stdout, new RegExp(`\\ncli-a +eth0 +10\\.252\\.0\\.2 +${added.json.interfaces[1].mac} +${added.json.interfaces[0].name} +\\d+ +\\d+ +3 +\\d+\\n`));

        const status = await cli(node, ['status', ...where, '--pin-root', node.pinRoot]);
        assert.equal(status.code, 0, status.stderr);
        assert.match(status.stdout, new RegExp(`^agent +listening on ${socket.replaceAll('.', '\\.')} \\(pid \\d+`));
        assert.match(status.stdout, /datapath .*program pod_egress \(id \d+, tag [0-9a-f]{16}\)/);
        assert.match(status.stdout, /maps .*endpoints_v4 \(id \d+, 2 entries\)/);
        assert.match(status.stdout, /links +2 TCX links attached/);
        const statusJson = (await cli(node, ['status', '--json', ...where, '--pin-root', node.pinRoot])).json;
        assert.equal(statusJson.agent.requests.inFlight, 0);
        assert.equal(statusJson.agent.requests.served, 4, 'two ADDs, two CHECKs');
        assert.equal(statusJson.datapaths[0].links.length, 2);

        const deleted = await cli(node, ['del', '--netns', a!.path, '--container-id', 'cli-a', '--config', configFile, ...where]);
        assert.deepEqual([deleted.code, deleted.stdout], [0, '']);
      } finally {
        assert.equal(await agent.stop(), 0, agent.output());
      }

      // No agent: the same commands, answered by the standalone plugin and from the node's files.
      const none = ['--socket', scratch.path('nobody.sock')];
      const again = await cli(node, ['add', '--netns', a!.path, '--container-id', 'cli-a', '--config', configFile, ...none]);
      assert.equal(again.code, 0, again.stdout);
      const listed = await cli(node, ['endpoints', '--json', ...none, ...local]);
      assert.deepEqual((listed.json as any[]).map((e) => e.containerId).sort(), ['cli-a', 'cli-b']);
      const status = await cli(node, ['status', ...none, '--pin-root', node.pinRoot]);
      assert.match(status.stdout, /agent +not listening on .* \(ENOENT\): the shim runs the standalone plugin/);
      assert.match(status.stdout, /links +2 TCX links attached/);

      // gc: cli-b no longer runs (as far as this list says): its lease goes, cli-a's stays.
      const gc = await cli(node, ['gc', 'cli-a', '--network', 'cli-net', '--data-dir', node.ipamDir, '--json']);
      assert.equal(gc.code, 0, gc.stderr);
      assert.deepEqual(gc.json.released.map((l: { ip: string }) => l.ip), ['10.252.0.3']);

      for (const id of ['cli-a', 'cli-b']) {
        const del = await cli(node, ['del', '--container-id', id, '--config', configFile, ...none]);
        assert.equal(del.code, 0, del.stdout);
      }
      assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
    });
  } finally {
    scratch.cleanup();
  }
});
