// The `sluice` executable (dist/src/cli/main.js): with CNI_COMMAND set it is the CNI plugin, stdout
// carrying only the answer and logs going to stderr or the config's logFile; without it, the command
// line with --help and version. Needs no root.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PLUGIN_MAIN } from '../support/plugin.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

function sluice(args: string[], env: Record<string, string> = {}, input = '') {
  const out = spawnSync(process.execPath, [PLUGIN_MAIN, ...args], { input, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}

test('without CNI_COMMAND: --help and version', () => {
  const help = sluice(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: sluice /);
  assert.match(help.stdout, /version/);
  const version = sluice(['version']);
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `sluice ${pkg.version}\nCNI spec versions: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n`);
  assert.deepEqual(JSON.parse(sluice(['version', '--json']).stdout), { version: pkg.version, cniVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  const unknown = sluice(['frobnicate']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
});

test('with CNI_COMMAND: the plugin, stdout carrying only the answer', () => {
  const version = sluice([], { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
  assert.equal(version.code, 0);
  assert.deepEqual(JSON.parse(version.stdout), { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  assert.equal(version.stderr, '', 'VERSION logs nothing');

  // An error: the spec's object on stdout, exit status 1, the log line on stderr.
  const config = { cniVersion: '1.0.0', name: 'n', type: 'sluice', ipam: { type: 'host-local' } };
  const bad = sluice([], { CNI_COMMAND: 'ADD' }, JSON.stringify(config));
  assert.equal(bad.code, 1);
  assert.deepEqual(Object.keys(JSON.parse(bad.stdout)), ['cniVersion', 'code', 'msg', 'details']);
  assert.equal(JSON.parse(bad.stdout).code, 4);
  assert.equal(JSON.parse(bad.stderr.trim()).level, 40, 'one warning on stderr, as JSON');

  // With logFile, nothing on stderr: the log goes to the file.
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  try {
    const logFile = join(dir, 'sluice.log');
    const logged = sluice([], { CNI_COMMAND: 'ADD' }, JSON.stringify({ ...config, logFile }));
    assert.equal(logged.code, 1);
    assert.equal(logged.stderr, '');
    assert.match(readFileSync(logFile, 'utf8'), /required environment variables missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // CNI_COMMAND set but empty is still the plugin: error 4 naming it.
  const empty = sluice(['version'], { CNI_COMMAND: '' });
  assert.equal(empty.code, 1);
  assert.match(JSON.parse(empty.stdout).msg, /CNI_COMMAND/);
});
