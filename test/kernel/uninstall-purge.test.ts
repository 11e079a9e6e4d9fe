// `sluice uninstall --purge` on a simulated node: after pods with ipMasq were added (and a host veth
// put under the spoof guard), it detaches and unpins the data path and deletes the masquerade and
// spoof guard tables, leaving the pods' host veths without a program.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelTest } from '../support/kernel.js';
import { PLUGIN_MAIN, withNode } from '../support/plugin.js';
import { nftShape } from '../support/bridge.js';
import { SpoofGuard } from '../../src/datapath/spoof-guard.js';

kernelTest('uninstall --purge removes the pinned data path, the masquerade and spoof guard tables, and is idempotent', async () => {
  await withNode(async (node) => {
    const table = `purge_${process.pid}`;
    const guardTable = `purge_guard_${process.pid}`;
    const config = node.config({ ipv4: true, ipv6: false, overrides: { ipMasq: true, ipMasqTable: table } });
    const pod = node.addPod();
    const result = await node.add(pod, config);
    const hostVeth = (result.interfaces as Array<{ name: string; sandbox?: string }>).find((i) => !i.sandbox)!.name;
    assert.ok(existsSync(node.pinRoot), 'ADD pinned the data path');
    assert.equal(nftShape(node).tables, 1, 'ADD created the masquerade table');
    const guard = SpoofGuard.open({ netns: node.ns, table: guardTable });
    try {
      guard.guard(node.ipJson<Array<{ ifindex: number }>>('link', 'show', 'dev', hostVeth)[0]!.ifindex);
    } finally {
      guard.close();
    }
    assert.equal(nftShape(node).tables, 2, 'and the spoof guard its own');
    const linkPins = readdirSync(join(node.pinRoot, 'links'));
    assert.ok(linkPins.some((l) => l.startsWith(hostVeth)), `the host veth's TCX link is pinned (${linkPins.join(', ')})`);

    const dirs = mkdtempSync(join(tmpdir(), 'sluice-purge-'));
    try {
      const uninstall = () => execFileSync('nsenter', [`--net=${node.path}`, process.execPath, PLUGIN_MAIN, 'uninstall', '--purge',
        '--bin-dir', dirs, '--conf-dir', dirs, '--pin-root', node.pinRoot, '--masq-table', table, '--guard-table', guardTable], { encoding: 'utf8' });
      const out = uninstall();
      assert.match(out, /removed the eBPF data path/);
      assert.ok(!existsSync(node.pinRoot), 'the pin root is gone');
      assert.match(out, new RegExp(`removed the nf_tables table inet ${guardTable} \\(the spoof guard\\)`));
      assert.equal(nftShape(node).tables, 0, 'the masquerade and spoof guard tables are gone');
      // A second purge finds nothing and still succeeds.
      const again = uninstall();
      assert.doesNotMatch(again, /removed the eBPF data path/);
      assert.doesNotMatch(again, /spoof guard/);
    } finally {
      rmSync(dirs, { recursive: true, force: true });
    }
  });
});
