// The bundled standalone plugin against the unbundled one, as root: the same calls on two fresh
// simulated nodes, one through the native shim with no agent (so the launcher `sluice install` writes,
// so the bundle), one running dist/src/cli/main.js, give the same answers (exit status and stdout,
// MAC addresses normalised). What each bundled call loaded is checked too: only the launcher, launch.cjs
// and the bundle (plus koffi where the data path is reached); libbpf only for the eBPF data path.
import assert from 'node:assert/strict';
import { before } from 'node:test';
import { ensureShim, runShim, Scratch, shimPath } from '../support/agent.js';
import { kernelTest } from '../support/kernel.js';
import { moduleReportEnv, moduleReports, nativeLoaded, type ModuleReport } from '../support/module-loading.js';
import { nothingLeftAfterAll, type Pod, POD_SUBNET_V4, type SimNode, withNode } from '../support/plugin.js';

before(() => void ensureShim());
nothingLeftAfterAll();

interface Answer {
  step: string;
  code: number | null;
  stdout: string;
}

type Call = (step: string, command: string, config: Record<string, unknown> | string, call?: { containerId?: string; netns?: string }) => Promise<Answer>;

/** ADD, CHECK, STATUS, DEL and refusals, in one order; answers normalised for comparison. */
async function scenario(node: SimNode, call: Call): Promise<Answer[]> {
  const [a, b] = [node.addPod(), node.addPod()] as [Pod, Pod];
  const config = node.config({ cniVersion: '1.1.0', overrides: { logLevel: 'warn', ipam: { type: 'sluice', dataDir: node.ipamDir, ranges: [[{ subnet: POD_SUBNET_V4 }]] } } });
  const bridge = node.config({ overrides: { mode: 'bridge', bridge: 'slb0', logLevel: 'warn' } });
  const at = (pod: Pod, id: string) => ({ containerId: id, netns: pod.path });
  const answers: Answer[] = [];
  const record = async (...args: Parameters<Call>) => {
    const answer = await call(...args);
    answers.push({ ...answer, stdout: answer.stdout.replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, '<mac>').replaceAll(a.path, '<pod a>').replaceAll(b.path, '<pod b>') });
    return answer;
  };
  await record('VERSION', 'VERSION', '{"cniVersion":"1.0.0"}');
  const added = await record('ADD a', 'ADD', config, at(a, 'bundle-a'));
  await record('ADD b, 0.4.0', 'ADD', { ...config, cniVersion: '0.4.0' }, at(b, 'bundle-b'));
  await record('ADD a again', 'ADD', config, at(a, 'bundle-a'));
  await record('ADD, bad mtu', 'ADD', { ...config, mtu: 12 }, at(b, 'bundle-c'));
  await record('CHECK a', 'CHECK', { ...config, prevResult: JSON.parse(added.stdout) }, at(a, 'bundle-a'));
  await record('STATUS', 'STATUS', config);
  await record('DEL a', 'DEL', config, at(a, 'bundle-a'));
  await record('DEL b', 'DEL', { ...config, cniVersion: '0.4.0' }, at(b, 'bundle-b'));
  await record('DEL a again', 'DEL', config, at(a, 'bundle-a'));
  await record('DEL, mode bridge, nothing there', 'DEL', bridge, at(a, 'bundle-d'));
  return answers;
}

kernelTest('the bundled plugin (the shim with no agent) answers ADD, CHECK, DEL ... as the unbundled one; it loads koffi and libbpf only where it needs them', async () => {
  const scratch = new Scratch();
  try {
    const loads: { step: string; report: ModuleReport }[] = [];
    const report = scratch.path('modules.jsonl');
    const bundled = await withNode((node) =>
      scenario(node, async (step, command, config, call = {}) => {
        const run = await runShim(node, scratch, command, config, { ...call, socket: scratch.path('nobody-listens.sock'), env: moduleReportEnv(report) });
        assert.equal(shimPath(run), 'standalone', `${step}: the shim fell back to the launcher`);
        const reports = moduleReports(report);
        assert.equal(reports.length, loads.length + 1, `${step}: one Node process`);
        loads.push({ step, report: reports.at(-1)! });
        return { step, code: run.code, stdout: run.stdout };
      }),
    );
    const unbundled = await withNode((node) =>
      scenario(node, async (step, command, config, call = {}) => {
        const run = await node.run(command, config, call);
        return { step, code: run.code, stdout: run.stdout };
      }),
    );
    assert.deepEqual(bundled, unbundled);
    assert.equal(bundled.find((a) => a.step === 'ADD a')?.code, 0, 'ADD succeeded');
    assert.deepEqual(bundled.filter((a) => a.code !== 0).map((a) => a.step), ['ADD a again', 'ADD, bad mtu'], 'only the calls meant to fail failed');

    for (const { step, report: r } of loads) {
      assert.deepEqual(r.cjs.filter((m) => !m.includes('/node_modules/') && !m.includes('/test/support/')).map((m) => m.replace(/.*\//, '')), ['sluice-plugin', 'launch.cjs', 'plugin.bundle.cjs'], `${step}: the bundle, no module of the package besides`);
      assert.deepEqual(r.cjs.filter((m) => m.includes('/node_modules/') && !/\/node_modules\/(koffi|@koromix\/koffi-[^/]+)\//.test(m)), [], `${step}: no package from node_modules but koffi (and its build for this platform)`);
      assert.deepEqual(r.esm.filter((u) => !u.startsWith('node:')), [], `${step}: no ES module`);
    }
    const native = Object.fromEntries(loads.map(({ step, report: r }) => [step, nativeLoaded(r)]));
    assert.deepEqual(native['VERSION'], { koffi: false, libbpf: false });
    assert.deepEqual(native['ADD a'], { koffi: true, libbpf: true }, 'the eBPF data path');
    assert.deepEqual(native['ADD, bad mtu'], { koffi: false, libbpf: false }, 'refused before the data path');
    assert.deepEqual(native['DEL, mode bridge, nothing there'], { koffi: true, libbpf: false }, 'the bridge data path has no eBPF');
  } finally {
    scratch.cleanup();
  }
});
