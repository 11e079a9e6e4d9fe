// Fault injection: ADD made to fail at each of its steps in turn, just before the step and just after
// it completed (SLUICE_FAIL_AT_STEP, honoured with SLUICE_TEST_HOOKS=1), leaves the node and the pod
// exactly as they were: no veth, address, route, neighbour, map entry, link pin, record, lease, and
// the forwarding sysctls as they were (off here, so that the last step's undo has something to undo).
import assert from 'node:assert/strict';
import { ADD_STEPS } from '../../src/datapath/ebpf.js';
import { kernelTest } from '../support/kernel.js';
import { addResident, crashAtEachStep, failAtEachStep, type NodeSnapshot, nothingLeftAfterAll, withNode } from '../support/plugin.js';

nothingLeftAfterAll();

function comparable(s: NodeSnapshot): NodeSnapshot {
  return { ...s, ipam: Object.fromEntries(Object.entries(s.ipam).filter(([f]) => !/last_reserved_ip/.test(f))) };
}

kernelTest('a failure at any step of ADD undoes every earlier step', async (t) => {
  await withNode(async (node) => {
    const config = node.config({ ipv4: true, ipv6: true });
    await addResident(node, config);
    node.sysctl('net.ipv4.ip_forward', '0');
    node.sysctl('net.ipv6.conf.all.forwarding', '0');
    await failAtEachStep(t, node, config, ADD_STEPS, () => comparable(node.snapshot()));
  });
});

kernelTest('after ADD died at any step (no undo at all), DEL removes everything it left', async (t) => {
  await withNode(async (node) => {
    const config = node.config({ ipv4: true, ipv6: true });
    await addResident(node, config);
    await crashAtEachStep(t, node, config, ADD_STEPS, () => comparable(node.snapshot()));
  });
});
