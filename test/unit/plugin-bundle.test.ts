// The bundled standalone plugin, without root: the launcher `sluice install` writes runs the bundle
// (dist/src/cli/plugin.bundle.cjs) with its code cache, through the native shim with no agent as a
// runtime would; it answers what the unbundled CLI answers; VERSION and refused calls load neither
// koffi nor libbpf, nor any module but the bundle. The ADD/CHECK/DEL parity is test/kernel/plugin-bundle.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launcherScript, nodeRunsLauncherIn } from '../../src/cli/install.js';
import { ensureShim, SHIM } from '../support/agent.js';
import { moduleReportEnv, moduleReports, nativeLoaded, type ModuleReport } from '../support/module-loading.js';

const CLI_DIR = fileURLToPath(new URL('../../src/cli/', import.meta.url));
const MAIN = join(CLI_DIR, 'main.js');
const LAUNCH = join(CLI_DIR, 'launch.cjs');
const launch = createRequire(import.meta.url)(LAUNCH) as typeof import('../../src/cli/launch.cjs');

let dir: string;
let launcher: string;
before(() => {
  ensureShim();
  dir = mkdtempSync(join(tmpdir(), 'sluice-bundle-'));
  launcher = join(dir, 'sluice-plugin');
  writeFileSync(launcher, launcherScript(dir), { mode: 0o755 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

/** The shim with no agent, falling back to `plugin` (SLUICE_PLUGIN), as a runtime runs it. */
function viaShim(plugin: string, env: Record<string, string>, input: string, args: string[] = []): Run {
  const out = spawnSync(SHIM, args, { input, encoding: 'utf8', env: { ...BASE_ENV, SLUICE_SOCKET: join(dir, 'no-agent.sock'), SLUICE_PLUGIN: plugin, SLUICE_SHIM_DEBUG: '1', SLUICE_LAUNCH_DEBUG: '1', ...env } });
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}

function unbundled(env: Record<string, string>, input: string, args: string[] = []): Run {
  const out = spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', env: { ...BASE_ENV, ...env } });
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}

/** The one report of a run made with moduleReportEnv(file). */
function onlyReport(file: string): ModuleReport {
  const reports = moduleReports(file);
  assert.equal(reports.length, 1, 'one Node process');
  rmSync(file, { force: true });
  return reports[0]!;
}

/** Calls a runtime may make that never reach the data path. */
const CALLS: { name: string; env: Record<string, string>; input: string }[] = [
  { name: 'VERSION', env: { CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}' },
  { name: 'VERSION, 0.4.0', env: { CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"0.4.0"}' },
  { name: 'VERSION, no config', env: { CNI_COMMAND: 'VERSION' }, input: '' },
  { name: 'VERSION, not JSON', env: { CNI_COMMAND: 'VERSION' }, input: 'not JSON' },
  { name: 'an unknown command', env: { CNI_COMMAND: 'FROB' }, input: '{"cniVersion":"1.0.0","name":"n","type":"sluice"}' },
  { name: 'ADD without CNI_CONTAINERID', env: { CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth0', CNI_NETNS: '/run/netns/none', CNI_PATH: '/usr/lib/cni' }, input: '{"cniVersion":"1.0.0","name":"n","type":"sluice"}' },
  { name: 'ADD, an unsupported version', env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: '/run/netns/none', CNI_PATH: '/usr/lib/cni' }, input: '{"cniVersion":"9.9.9","name":"n","type":"sluice"}' },
];

describe('the launcher runs the bundled plugin', () => {
  test('the shim with no agent answers as the unbundled plugin, from the bundle and its code cache, loading nothing else', () => {
    for (const call of CALLS) {
      const report = join(dir, 'report.jsonl');
      const bundled = viaShim(launcher, { ...call.env, ...moduleReportEnv(report) }, call.input);
      const loaded = onlyReport(report);
      const reference = unbundled(call.env, call.input);
      assert.deepEqual({ code: bundled.code, stdout: bundled.stdout }, { code: reference.code, stdout: reference.stdout }, call.name);
      assert.match(bundled.stderr, /sluice-shim: standalone plugin/, `${call.name}: the shim fell back`);
      assert.match(bundled.stderr, new RegExp(`sluice-plugin: ${launch.BUNDLE.replaceAll('.', '\\.')} \\(code cache used\\)`), `${call.name}: the bundle ran, with its cache`);
      assert.equal(loaded.main, launcher, `${call.name}: node ran the launcher itself`);
      assert.deepEqual(loaded.cjs.filter((m) => !m.includes('/test/support/')), [launcher, LAUNCH, launch.BUNDLE], `${call.name}: the launcher, launch.cjs, the bundle; nothing more`);
      assert.deepEqual(loaded.esm.filter((u) => !u.startsWith('node:')), [], `${call.name}: no ES module`);
      assert.deepEqual(nativeLoaded(loaded), { koffi: false, libbpf: false }, `${call.name}: neither koffi nor libbpf`);
    }
  });

  test('the module report can fail: the unbundled plugin loads its modules one by one', () => {
    const report = join(dir, 'report.jsonl');
    unbundled({ CNI_COMMAND: 'VERSION', ...moduleReportEnv(report) }, '{"cniVersion":"1.0.0"}');
    const loaded = onlyReport(report);
    assert.ok(loaded.esm.some((u) => u.endsWith('/dist/src/cni/dispatch.js')), 'cni/dispatch.js, an ES module of its own');
  });

  test('without CNI_COMMAND the launcher is the command line', () => {
    const bundled = viaShim(launcher, {}, '', ['version', '--json']);
    assert.equal(bundled.code, 0, bundled.stderr);
    assert.deepEqual(JSON.parse(bundled.stdout), JSON.parse(unbundled({}, '', ['version', '--json']).stdout));
    assert.match(bundled.stderr, /sluice-plugin: .*main\.js \(not a CNI call\)/);
  });

  test('a shell launcher, for a node path a #! line cannot hold, runs the bundle too', () => {
    const shellDir = join(dir, 'shell');
    mkdirSync(shellDir);
    const shell = join(shellDir, 'sluice-plugin');
    // A node path with a blank cannot follow #!; a link named so leads to this node.
    const node = join(dir, 'node bin', 'node');
    mkdirSync(join(dir, 'node bin'));
    symlinkSync(process.execPath, node);
    writeFileSync(shell, launcherScript(shellDir, node), { mode: 0o755 });
    assert.match(readFileSync(shell, 'utf8'), /^#!\/bin\/sh\n/);
    const out = viaShim(shell, { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.1.0"}');
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout).cniVersion, '1.1.0');
    assert.match(out.stderr, /sluice-plugin: .*plugin\.bundle\.cjs \(code cache used\)/);
  });
});

describe('the launcher script', () => {
  test('node runs it itself where a #! line can name node and Node takes a file without extension as CommonJS', () => {
    assert.equal(nodeRunsLauncherIn(dir, process.execPath), true);
    assert.ok(launcherScript(dir).startsWith(`#!${process.execPath}\n`));
    assert.equal(nodeRunsLauncherIn(dir, '/opt/node 20/bin/node'), false, 'a blank in the path');
    assert.equal(nodeRunsLauncherIn(dir, `/${'n'.repeat(130)}`), false, 'a path too long for a #! line');
    assert.equal(nodeRunsLauncherIn(dir, 'node'), false, 'not an absolute path');
    const esm = join(dir, 'esm-package');
    mkdirSync(join(esm, 'bin'), { recursive: true });
    writeFileSync(join(esm, 'package.json'), '{"type":"module"}');
    assert.equal(nodeRunsLauncherIn(join(esm, 'bin'), process.execPath), false, 'inside a "type": "module" package');
    writeFileSync(join(esm, 'package.json'), '{"type":"commonjs"}');
    assert.equal(nodeRunsLauncherIn(join(esm, 'bin'), process.execPath), true);
  });
});

describe('the code cache', () => {
  test('is taken only for the bundle whose id it carries', () => {
    const source = readFileSync(launch.BUNDLE, 'utf8');
    const cache = readFileSync(launch.cacheFileOf(launch.BUNDLE));
    const id = launch.bundleId(source);
    assert.match(id ?? '', /^[0-9a-f]{16}$/, 'the bundle carries an id');
    assert.equal(cache.subarray(0, 16).toString('latin1'), id, 'the cache carries the same');
    assert.deepEqual(launch.cachedDataFor(source, cache), cache.subarray(16));
    const other = source.replace(id!, id!.replace(/^./, (c) => (c === '0' ? '1' : '0')));
    assert.equal(other.length, source.length, 'the same length, which is all V8 checks');
    assert.equal(launch.cachedDataFor(other, cache), undefined);
    assert.equal(launch.cachedDataFor(source, undefined), undefined);
    assert.equal(launch.cachedDataFor(source, cache.subarray(0, 16)), undefined);
    assert.equal(launch.cachedDataFor('no id line', cache), undefined);
  });

  test('a bundle with a cache made for another, or a cache V8 refuses, still runs: compiled as usual', () => {
    const copies = join(dir, 'copies');
    mkdirSync(copies);
    const bundle = join(copies, 'plugin.bundle.cjs');
    copyFileSync(launch.BUNDLE, bundle);
    const run = () => {
      const out = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(LAUNCH)}).launch(${JSON.stringify(bundle)})`], {
        input: '{"cniVersion":"1.0.0"}', encoding: 'utf8', env: { ...BASE_ENV, CNI_COMMAND: 'VERSION', SLUICE_LAUNCH_DEBUG: '1' },
      });
      assert.equal(out.status, 0, out.stderr);
      assert.equal(JSON.parse(out.stdout).cniVersion, '1.0.0');
      return /code cache (\w+)/.exec(out.stderr)?.[1];
    };
    const cache = readFileSync(launch.cacheFileOf(launch.BUNDLE));
    writeFileSync(launch.cacheFileOf(bundle), cache);
    assert.equal(run(), 'used', 'the copy of the cache, for the copy of the bundle');
    writeFileSync(launch.cacheFileOf(bundle), Buffer.concat([Buffer.from('0123456789abcdef'), cache.subarray(16)]));
    assert.equal(run(), 'absent', 'made for another bundle: not given to V8');
    writeFileSync(launch.cacheFileOf(bundle), Buffer.concat([cache.subarray(0, 16), Buffer.alloc(4096, 7)]));
    assert.equal(run(), 'rejected', 'not V8 data: V8 refuses it');
    rmSync(launch.cacheFileOf(bundle));
    assert.equal(run(), 'absent');
  });
});
