// Fault injection: ADD made to fail at each of its steps in turn, just before the step and just after
// it completed (SLUICE_FAIL_AT_STEP, honoured with SLUICE_TEST_HOOKS=1), leaves the node and the pod
// exactly as they were: no veth, address, route, neighbour, map entry, link pin, record, lease, and
// the forwarding sysctls as they were (off here, so that the last step's undo has something to undo).
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { ADD_STEPS } from '../../src/datapath/ebpf.js';
import { kernelTest, ipNetnsList } from '../support/kernel.js';
import { leftoverPinRoots, withNode, type NodeSnapshot } from '../support/plugin.js';

after(() => {
  assert.deepEqual(ipNetnsList().filter((n) => n.startsWith(`sl-t${process.pid}-`)), [], 'every namespace the tests created is gone');
  assert.deepEqual(leftoverPinRoots(), [], 'every pin root the tests created is gone');
});

function comparable(s: NodeSnapshot): NodeSnapshot {
  return { ...s, ipam: Object.fromEntries(Object.entries(s.ipam).filter(([f]) => !/last_reserved_ip/.test(f))) };
}

kernelTest('a failure at any step of ADD undoes every earlier step', async (t) => {
  await withNode(async (node) => {
    const config = node.config({ ipv4: true, ipv6: true });
    const resident = node.addPod();
    await node.add(resident, config);
    await node.settled(resident);
    node.sysctl('net.ipv4.ip_forward', '0');
    node.sysctl('net.ipv6.conf.all.forwarding', '0');
    const pod = node.addPod();

    for (const step of ADD_STEPS) {
      for (const when of ['before', 'after'] as const) {
        await t.test(`${when} ${step}`, async () => {
          const before = comparable(node.snapshot());
          const out = await node.run('ADD', config, {
            containerId: pod.containerId,
            netns: pod.path,
            env: { SLUICE_TEST_HOOKS: '1', SLUICE_FAIL_AT_STEP: when === 'after' ? `${step}:after` : step },
          });
          assert.equal(out.code, 1, out.stdout);
          assert.equal(out.json.msg, `ADD failed at step "${step}": injected failure ${when} step "${step}" (SLUICE_FAIL_AT_STEP)`);
          assert.equal(out.json.details, undefined, 'every undo succeeded');
          assert.deepEqual(comparable(node.snapshot()), before, 'nothing is left behind');
        });
      }
    }

    // Without the test flag the variable is ignored: ADD succeeds, and the attachment works.
    const out = await node.run('ADD', config, { containerId: pod.containerId, netns: pod.path, env: { SLUICE_FAIL_AT_STEP: 'veth' } });
    assert.equal(out.code, 0, out.stdout);
    const check = await node.run('CHECK', { ...config, prevResult: out.json }, { containerId: pod.containerId, netns: pod.path });
    assert.equal(check.code, 0, check.stdout);
  });
});

kernelTest('after ADD died at any step (no undo at all), DEL removes everything it left', async (t) => {
  await withNode(async (node) => {
    const config = node.config({ ipv4: true, ipv6: true });
    const resident = node.addPod();
    await node.add(resident, config);
    await node.settled(resident);
    const pod = node.addPod();

    for (const step of ADD_STEPS) {
      await t.test(`killed after ${step}`, async () => {
        const before = comparable(node.snapshot());
        const call = { containerId: pod.containerId, netns: pod.path };
        const out = await node.run('ADD', config, { ...call, env: { SLUICE_TEST_HOOKS: '1', SLUICE_FAIL_AT_STEP: `${step}:crash` } });
        assert.equal(out.code, null, 'the plugin was killed');
        assert.equal(out.stdout, '');
        const del = await node.run('DEL', config, call);
        assert.equal(del.code, 0, del.stdout);
        assert.deepEqual(comparable(node.snapshot()), before, 'DEL left nothing behind');
      });
    }
  });
});
