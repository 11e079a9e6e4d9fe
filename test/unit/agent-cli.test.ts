// The command line around the agent, without root: --help of every command, install/uninstall into
// temporary directories (and the installed shim working as a plain CNI plugin with no agent), gc on a
// built-in IPAM store of the test's own, endpoints and status with nothing to report.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { builtinIpam } from '../../src/ipam/host-local/index.js';
import { ensureShim, SHIM } from '../support/agent.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const LAUNCH = realpathSync(fileURLToPath(new URL('../../src/cli/launch.cjs', import.meta.url)));
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  ensureShim();
});
after(() => rmSync(dir, { recursive: true, force: true }));

function sluice(args: string[], env: Record<string, string> = {}, input = '') {
  const out = spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}

describe('--help', () => {
  test('every command has help that names its options', () => {
    const top = sluice(['--help']);
    assert.equal(top.code, 0);
    for (const command of ['daemon', 'install', 'uninstall', 'endpoints', 'status', 'add', 'check', 'del', 'gc', 'version']) assert.match(top.stdout, new RegExp(`\\n  ${command} `), command);
    const expected: Record<string, string[]> = {
      daemon: ['--socket', '--pin-root', '--state-dir', '--allow-uid', '--max-request-bytes', '--read-timeout', '--request-timeout', '--workers', '--no-preload', '--cls-bpf', '--log-level', '--log-file', 'SIGTERM'],
      install: ['--bin-dir', '--conf-dir', '--subnet', '--network', '--no-conflist', '--force', 'sluice-plugin'],
      uninstall: ['--bin-dir', '--conf-dir', '--purge', '--pin-root', '--masq-table', '--guard-table'],
      endpoints: ['--json', '--socket', '--state-dir', '--pin-root'],
      status: ['--json', '--socket', '--pin-root'],
      add: ['--netns', '--container-id', '--ifname', '--config', '--args', '--cni-path', '--socket', '--standalone'],
      check: ['--prev-result', '--netns', '--container-id'],
      del: ['--prev-result', '--container-id'],
      gc: ['--live-containers', '--network', '--data-dir', '--dry-run', '--json', 'container-ids'],
    };
    for (const [command, options] of Object.entries(expected)) {
      const help = sluice([command, '--help']);
      assert.equal(help.code, 0, command);
      for (const o of options) assert.ok(help.stdout.includes(o), `${command} --help mentions ${o}`);
    }
  });

  test('a missing required option is refused with a message', () => {
    const out = sluice(['add', '--netns', '/run/netns/x']);
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /--container-id/);
    const gc = sluice(['gc']);
    assert.equal(gc.code, 2);
    assert.match(gc.stderr, /give the running containers/);
  });
});

describe('install and uninstall', () => {
  test('the shim, the launcher and a conflist; the installed shim works as a plain plugin without an agent', () => {
    const bin = join(dir, 'opt', 'cni', 'bin');
    const conf = join(dir, 'etc', 'cni', 'net.d');
    const out = sluice(['install', '--bin-dir', bin, '--conf-dir', conf, '--subnet', '10.70.0.0/16', '--subnet', 'fd00:70::/64']);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(readFileSync(join(bin, 'sluice')), readFileSync(SHIM), 'the shim itself');
    const launcher = readFileSync(join(bin, 'sluice-plugin'), 'utf8');
    assert.ok(launcher.startsWith(`#!${process.execPath}\n`), 'node runs the launcher itself');
    assert.ok(launcher.includes(LAUNCH), 'and it runs launch.cjs');
    for (const f of ['sluice', 'sluice-plugin']) assert.equal(statSync(join(bin, f)).mode & 0o777, 0o755);
    const conflist = JSON.parse(readFileSync(join(conf, '10-sluice.conflist'), 'utf8'));
    assert.deepEqual(conflist, {
      cniVersion: '1.0.0', name: 'sluice',
      plugins: [{ type: 'sluice', ipam: { type: 'sluice', ranges: [[{ subnet: '10.70.0.0/16' }], [{ subnet: 'fd00:70::/64' }]] } }],
    });

    // A runtime running the installed binary, no agent anywhere: the standalone plugin answers.
    const run = spawnSync(join(bin, 'sluice'), [], {
      input: '{"cniVersion":"1.0.0"}', encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin', CNI_COMMAND: 'VERSION', SLUICE_SOCKET: join(dir, 'no-agent.sock') },
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
    // And without CNI_COMMAND, the sluice command line.
    const cli = spawnSync(join(bin, 'sluice'), ['version', '--json'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    assert.equal(JSON.parse(cli.stdout).cniVersions.length, 5);

    // Again: the conflist is kept unless --force.
    writeFileSync(join(conf, '10-sluice.conflist'), JSON.stringify({ ...conflist, name: 'edited' }));
    assert.match(sluice(['install', '--bin-dir', bin, '--conf-dir', conf]).stdout, /kept .*10-sluice\.conflist/);
    assert.equal(JSON.parse(readFileSync(join(conf, '10-sluice.conflist'), 'utf8')).name, 'edited');
    assert.equal(sluice(['install', '--bin-dir', bin, '--conf-dir', conf, '--force']).code, 0);
    assert.equal(JSON.parse(readFileSync(join(conf, '10-sluice.conflist'), 'utf8')).name, 'sluice');

    const removed = sluice(['uninstall', '--bin-dir', bin, '--conf-dir', conf]);
    assert.equal(removed.code, 0, removed.stderr);
    for (const f of [join(bin, 'sluice'), join(bin, 'sluice-plugin'), join(conf, '10-sluice.conflist')]) assert.equal(existsSync(f), false, f);
  });

  test('uninstall leaves files that are not sluice\'s', () => {
    const bin = join(dir, 'foreign-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'sluice'), '#!/bin/sh\necho someone else\n');
    const out = sluice(['uninstall', '--bin-dir', bin, '--conf-dir', join(dir, 'none')]);
    assert.equal(out.code, 0);
    assert.match(out.stderr, /not one sluice installed/);
    assert.ok(existsSync(join(bin, 'sluice')));
  });

  test('a bad subnet is refused before anything is written', () => {
    const bin = join(dir, 'bad-bin');
    const out = sluice(['install', '--bin-dir', bin, '--conf-dir', join(dir, 'bad-conf'), '--subnet', 'ten/8']);
    assert.equal(out.code, 2);
    assert.equal(existsSync(bin), false);
  });
});

describe('gc', () => {
  test('releases the leases of containers not given, keeps the others; --dry-run changes nothing', async () => {
    const dataDir = join(dir, 'ipam');
    const ipam = builtinIpam();
    const config = { type: 'sluice', dataDir, ranges: [[{ subnet: '10.71.0.0/24' }]] };
    for (const id of ['keep-1', 'keep-2', 'gone-1', 'gone-2']) {
      await ipam.add({ network: 'net', config, netConf: { name: 'net', ipam: config }, containerID: id, ifname: 'eth0', requestedIPs: [] });
    }
    const leases = () => readdirLeases(join(dataDir, 'net'));
    assert.equal(leases().length, 4);

    const dry = sluice(['gc', 'keep-1', 'keep-2', '--network', 'net', '--data-dir', dataDir, '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(JSON.parse(dry.stdout).released.map((l: { ip: string }) => l.ip).sort(), ['10.71.0.4', '10.71.0.5']);
    assert.equal(leases().length, 4);

    const list = join(dir, 'live.txt');
    writeFileSync(list, '# running\nkeep-1\n\n');
    const out = sluice(['gc', 'keep-2', '--live-containers', list, '--network', 'net', '--data-dir', dataDir]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^released 2 leases of network net, kept 2 \(2 running containers given\)/);
    assert.deepEqual(leases(), ['10.71.0.2', '10.71.0.3']);
  });
});

function readdirLeases(path: string): string[] {
  return (spawnSync('ls', [path], { encoding: 'utf8' }).stdout.split('\n').filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))).sort();
}

describe('endpoints and status, nothing there', () => {
  test('no agent, nothing recorded, nothing pinned', () => {
    const args = ['--socket', join(dir, 'none.sock'), '--pin-root', join(dir, 'no-pins')];
    const endpoints = sluice(['endpoints', ...args, '--state-dir', join(dir, 'no-state')]);
    assert.equal(endpoints.code, 0, endpoints.stderr);
    assert.match(endpoints.stdout, /^no endpoints \(.*no-state \(no agent\)\)\n$/);
    assert.deepEqual(JSON.parse(sluice(['endpoints', '--json', ...args, '--state-dir', join(dir, 'no-state')]).stdout), []);
    const status = sluice(['status', ...args]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /agent +not listening on .*none\.sock \(ENOENT\)/);
    assert.match(status.stdout, /nothing loaded under .*no-pins/);
    const json = JSON.parse(sluice(['status', '--json', ...args]).stdout);
    assert.equal(json.agent, null);
    assert.equal(json.agentProblem, 'ENOENT');
  });
});
