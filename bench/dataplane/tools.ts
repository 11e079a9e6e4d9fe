// What the data-plane benchmark runs besides Node: iperf3, sockperf, the reference CNI plugins, nft,
// nsenter, and its own connection-rate tool compiled with the machine's C compiler. Missing Debian
// packages are installed with the project's scripts/install-deps.sh (as root, from the configured apt
// sources); nothing else is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { which } from '../../src/demo/deps.js';
import { repoRoot } from '../lib/report.js';

export const CNI_BIN_DIR = '/usr/lib/cni';

/** Each thing the benchmark needs, how to tell it is there, and the Debian package that brings it. */
const NEEDS: Array<{ what: string; present: () => boolean; pkg: string }> = [
  { what: 'iperf3', present: () => which('iperf3') !== undefined, pkg: 'iperf3' },
  { what: 'sockperf', present: () => which('sockperf') !== undefined, pkg: 'sockperf' },
  { what: `${CNI_BIN_DIR}/bridge`, present: () => existsSync(join(CNI_BIN_DIR, 'bridge')) && existsSync(join(CNI_BIN_DIR, 'host-local')), pkg: 'containernetworking-plugins' },
  { what: 'nft', present: () => which('nft') !== undefined, pkg: 'nftables' },
  { what: 'nsenter', present: () => which('nsenter') !== undefined, pkg: 'util-linux' },
];

export interface ToolVersions {
  iperf3: string;
  sockperf: string;
  cc: string;
}

function firstLine(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).find((l) => l !== '') ?? 'unknown';
}

/** Installs what is missing (`log` hears about it), throws when something still is; returns the tools' versions. */
export function ensureTools(log: (line: string) => void = () => {}): ToolVersions {
  let missing = NEEDS.filter((n) => !n.present());
  if (missing.length) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    log(`missing: ${missing.map((m) => m.what).join(', ')}; installing ${pkgs.join(' ')} with scripts/install-deps.sh`);
    const r = spawnSync('bash', [join(repoRoot(), 'scripts', 'install-deps.sh'), ...pkgs], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) log(`scripts/install-deps.sh failed (exit status ${r.status ?? r.signal})`);
    missing = NEEDS.filter((n) => !n.present());
  }
  if (missing.length) throw new Error(`the data-plane benchmark needs ${missing.map((m) => m.what).join(', ')} (as root: bash scripts/install-deps.sh ${missing.map((m) => m.pkg).join(' ')})`);
  const cc = compiler();
  return {
    iperf3: firstLine('iperf3', ['--version']),
    sockperf: firstLine('sockperf', ['--version']).replace(/^sockperf,\s*/, ''),
    cc: cc ? firstLine(cc, ['--version']) : 'none',
  };
}

function compiler(): string | undefined {
  return [process.env.CC, 'cc', 'gcc', 'clang'].find((c): c is string => !!c && which(c) !== undefined);
}

/** bench/native/connrate.c compiled into bench/native/build/connrate (again when the source is newer); returns its path. */
export function buildConnrate(): string {
  const root = repoRoot();
  const source = join(root, 'bench', 'native', 'connrate.c');
  const dir = join(root, 'bench', 'native', 'build');
  const binary = join(dir, 'connrate');
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  const cc = compiler();
  if (!cc) throw new Error('no C compiler (cc, gcc or clang) to build bench/native/connrate.c with');
  mkdirSync(dir, { recursive: true });
  // Built aside and renamed into place: another run building it at the same time never sees half a file.
  const scratch = `${binary}.${process.pid}.tmp`;
  const r = spawnSync(cc, ['-O2', '-std=c11', '-Wall', '-Wextra', '-pthread', '-o', scratch, source], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(scratch, { force: true });
    throw new Error(`${cc} could not build ${source}: ${(r.error?.message ?? r.stderr).trim().slice(0, 500)}`);
  }
  renameSync(scratch, binary);
  return binary;
}
