/**
 * What the demo needs from the machine besides Node and this package:
 *
 *   nsenter        (util-linux, essential in Debian) runs the plugin and iperf3 inside a namespace
 *   libbpf.so.1    (libbpf1) the plugin loads the eBPF object with it
 *   iperf3         the throughput comparison (that section is skipped, saying so, when it cannot be had)
 *
 * When one is missing, the project's own scripts/install-deps.sh installs the Debian packages (as
 * root, from the configured apt sources); nothing else is installed or assumed.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { say } from './format.js';

const INSTALL_DEPS = fileURLToPath(new URL('../../../scripts/install-deps.sh', import.meta.url));
const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib'];

export interface Tools {
  iperf3: boolean;
}

/** The full path of an executable in PATH (and the sbin directories sudo may leave out), or undefined. */
export function which(command: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, command);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

function hasLibbpf(): boolean {
  return LIB_DIRS.some((d) => existsSync(join(d, 'libbpf.so.1')));
}

/** What is missing, with the Debian package that brings it. */
function missing(): Array<{ tool: string; pkg: string }> {
  const out: Array<{ tool: string; pkg: string }> = [];
  if (!which('nsenter')) out.push({ tool: 'nsenter', pkg: 'util-linux' });
  if (!hasLibbpf()) out.push({ tool: 'libbpf.so.1', pkg: 'libbpf1' });
  if (!which('iperf3')) out.push({ tool: 'iperf3', pkg: 'iperf3' });
  return out;
}

/**
 * Makes sure the tools are there, installing the project's Debian dependencies when one is missing.
 * Throws when nsenter or libbpf cannot be had; reports whether iperf3 can be used.
 */
export function ensureTools(): Tools {
  let absent = missing();
  if (absent.length) {
    const pkgs = absent.map((m) => m.pkg);
    say(`  missing: ${absent.map((m) => m.tool).join(', ')}; installing ${pkgs.join(' ')} with scripts/install-deps.sh ...`);
    const run = existsSync(INSTALL_DEPS) ? spawnSync('bash', [INSTALL_DEPS, ...pkgs], { stdio: ['ignore', 'inherit', 'inherit'] }) : undefined;
    if (!run) say(`  ${INSTALL_DEPS} is not there`);
    else if (run.status !== 0) say(`  scripts/install-deps.sh failed (exit status ${run.status ?? run.signal})`);
    absent = missing();
  }
  const fatal = absent.filter((m) => m.tool !== 'iperf3').map((m) => m.tool);
  if (fatal.length) throw new Error(`the demo needs ${fatal.join(' and ')}: install them (as root: bash scripts/install-deps.sh) and run it again`);
  return { iperf3: !absent.some((m) => m.tool === 'iperf3') };
}
