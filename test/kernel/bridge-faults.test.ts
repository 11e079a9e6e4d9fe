// Mode bridge, fault injection (SLUICE_FAIL_AT_STEP with SLUICE_TEST_HOOKS=1): ADD made to fail just
// before and just after each of its steps leaves the node and the pods exactly as they were (links,
// addresses, routes, neighbours, leases, records, forwarding sysctls, masquerade and anti-spoofing
// elements); on a cold node that includes the bridge the failed ADD had made. ADD killed after any step
// (no undo at all) is cleaned up by DEL.
import assert from 'node:assert/strict';
import { BRIDGE_ADD_STEPS } from '../../src/datapath/bridge.js';
import { sluiceConfig, sluiceElements } from '../support/bridge.js';
import { kernelTest } from '../support/kernel.js';
import { addResident, crashAtEachStep, failAtEachStep, type NodeSnapshot, nothingLeftAfterAll, type SimNode, withNode } from '../support/plugin.js';

nothingLeftAfterAll();

/** Every field that makes a step of its own do something. */
const FIELDS = { bridge: 'br-ft', isDefaultGateway: true, ipMasq: true, macspoofchk: true, hairpinMode: true, portIsolation: true };

/**
 * The node as ADD + undo must leave it: the IPAM's round-robin cursor and lock file aside, and of the state directory
 * only the files (the directories and the bridges' lock files stay, as the IPAM's lock file does).
 */
function comparable(node: SimNode): { snapshot: NodeSnapshot; elements: Record<string, unknown[]> } {
  const s = node.snapshot();
  return {
    snapshot: {
      ...s,
      ipam: Object.fromEntries(Object.entries(s.ipam).filter(([f]) => !/last_reserved_ip|\/lock$/.test(f))),
      state: s.state.filter((f) => !f.endsWith('/') && !f.endsWith('.lock')),
    },
    elements: sluiceElements(node),
  };
}

/** A pod the node already holds; the gateway addresses on the bridge leave DAD a second or so later, and their routes appear then. */
async function addBridgeResident(node: SimNode, config: Record<string, unknown>): Promise<void> {
  await addResident(node, config);
  await node.settled(node);
}

kernelTest('mode bridge: a failure at any step of ADD undoes every earlier step', async (t) => {
  await withNode(async (node) => {
    const config = sluiceConfig(node, FIELDS);
    await addBridgeResident(node, config);
    node.sysctl('net.ipv4.ip_forward', '0');
    node.sysctl('net.ipv6.conf.all.forwarding', '0');
    await failAtEachStep(t, node, config, BRIDGE_ADD_STEPS, () => comparable(node));
  });
});

kernelTest('mode bridge, cold node: a failed ADD also removes the bridge it made, and puts forwarding back', async (t) => {
  await withNode(async (node) => {
    const config = sluiceConfig(node, { ...FIELDS, promiscMode: true, hairpinMode: false });
    assert.equal(node.sysctl('net.ipv4.ip_forward'), '0');
    await failAtEachStep(t, node, config, BRIDGE_ADD_STEPS, () => comparable(node));
  });
});

kernelTest('mode bridge: after ADD died at any step (no undo at all), DEL removes everything it left', async (t) => {
  await withNode(async (node) => {
    const config = sluiceConfig(node, FIELDS);
    await addBridgeResident(node, config);
    await crashAtEachStep(t, node, config, BRIDGE_ADD_STEPS, () => comparable(node));
  });
});
