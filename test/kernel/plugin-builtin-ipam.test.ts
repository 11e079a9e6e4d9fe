// The plugin binary with sluice's built-in allocator (`"ipam": {"type": "sluice"}`, served in-process,
// host-local's store) in cniVersion 1.1.0: ADD, CHECK (the IPAM checks its own lease), GC with
// cni.dev/valid-attachments (the node's side and the leases of the others go), STATUS, DEL.
import assert from 'node:assert/strict';
import { kernelTest } from '../support/kernel.js';
import { NETWORK, nothingLeftAfterAll, POD_SUBNET_V4, POD_SUBNET_V6, type SimNode, withNode } from '../support/plugin.js';

nothingLeftAfterAll();

const leases = (node: SimNode) => Object.keys(node.snapshot().ipam).filter((f) => /^[^/]+\/[0-9a-f.:]+$/.test(f) && !f.includes('last_reserved')).sort();

kernelTest('the built-in IPAM: ADD, CHECK, GC, STATUS and DEL in 1.1.0', async () => {
  await withNode(async (node) => {
    const config = node.config({ cniVersion: '1.1.0', overrides: { ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }], [{ subnet: POD_SUBNET_V6 }]] } } });
    const pods = [node.addPod(), node.addPod(), node.addPod()];
    const results = [];
    for (const pod of pods) results.push(await node.add(pod, config));
    assert.deepEqual(results.map((r) => r.ips.map((ip: { address: string }) => ip.address)), [
      ['10.252.0.2/32', 'fd00:252::2/128'],
      ['10.252.0.3/32', 'fd00:252::3/128'],
      ['10.252.0.4/32', 'fd00:252::4/128'],
    ]);
    assert.deepEqual(leases(node), [`${NETWORK}/10.252.0.2`, `${NETWORK}/10.252.0.3`, `${NETWORK}/10.252.0.4`, `${NETWORK}/fd00:252::2`, `${NETWORK}/fd00:252::3`, `${NETWORK}/fd00:252::4`]);

    for (const [i, pod] of pods.entries()) {
      const check = await node.run('CHECK', { ...config, prevResult: results[i] }, { containerId: pod.containerId, netns: pod.path });
      assert.equal(check.code, 0, check.stdout);
    }

    const [keep] = pods;
    const valid = [{ containerID: keep!.containerId, ifname: 'eth0' }];
    const gc = await node.run('GC', { ...config, 'cni.dev/valid-attachments': valid, 'cni.dev/attachments': valid }, {});
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual(leases(node), [`${NETWORK}/10.252.0.2`, `${NETWORK}/fd00:252::2`], 'only the valid attachment keeps its leases');
    for (const pod of pods.slice(1)) assert.deepEqual(pod.ipJson('link', 'show').map((l: { ifname: string }) => l.ifname), ['lo'], `${pod.name} was collected`);
    assert.deepEqual(node.snapshot().maps.endpoints_v4, ['10.252.0.2']);

    const status = await node.run('STATUS', config, {});
    assert.equal(status.code, 0, status.stdout);

    assert.equal((await node.del(keep!, config)).code, 0);
    assert.deepEqual(leases(node), []);
    assert.deepEqual(node.snapshot().maps, { endpoints_v4: [], endpoints_v6: [], devices: [] });
  });
});
