// `sluice uninstall --purge` on a simulated node: after pods with ipMasq were added, it detaches and
// unpins the data path and deletes the masquerade table, leaving the pods' host veths without a program.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelTest } from '../support/kernel.js';
import { PLUGIN_MAIN, withNode } from '../support/plugin.js';
import { nftShape } from '../support/bridge.js';

kernelTest('uninstall --purge removes the pinned data path and the masquerade table, and is idempotent', async () => {
  await withNode(async (node) => {
    const table = `purge_${process.pid}`;
    const config = node.config({ ipv4: true, ipv6: false, overrides: { ipMasq: true, ipMasqTable: table } });
    const pod = node.addPod();
    const result = await node.add(pod, config);
    const hostVeth = (result.interfaces as Array<{ name: string; sandbox?: string }>).find((i) => !i.sandbox)!.name;
    assert.ok(existsSync(node.pinRoot), 'ADD pinned the data path');
    assert.equal(nftShape(node).tables, 1, 'ADD created the masquerade table');
    const linkPins = readdirSync(join(node.pinRoot, 'links'));
    assert.ok(linkPins.some((l) => l.startsWith(hostVeth)), `the host veth's TCX link is pinned (${linkPins.join(', ')})`);

    const dirs = mkdtempSync(join(tmpdir(), 'sluice-purge-'));
    try {
      const uninstall = () => execFileSync('nsenter', [`--net=${node.path}`, process.execPath, PLUGIN_MAIN, 'uninstall', '--purge',
        '--bin-dir', dirs, '--conf-dir', dirs, '--pin-root', node.pinRoot, '--masq-table', table], { encoding: 'utf8' });
      const out = uninstall();
      assert.match(out, /removed the eBPF data path/);
      assert.ok(!existsSync(node.pinRoot), 'the pin root is gone');
      assert.equal(nftShape(node).tables, 0, 'the masquerade table is gone');
      // A second purge finds nothing and still succeeds.
      assert.doesNotMatch(uninstall(), /removed the eBPF data path/);
    } finally {
      rmSync(dirs, { recursive: true, force: true });
    }
  });
});
