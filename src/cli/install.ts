/**
 * `sluice install` / `sluice uninstall`: what a DaemonSet's init step does on a node.
 *
 *   <bin-dir>/sluice          the native shim (native/build/sluice-shim); when it was not built (no C
 *                             compiler at `npm install`), the launcher below in its place: a plain
 *                             CNI plugin that starts Node for every call
 *   <bin-dir>/sluice-plugin   the standalone plugin's launcher, which the shim runs when no agent
 *                             answers: a three-line script that this node binary runs itself (a #! line
 *                             naming it), loading this package's dist/src/cli/launch.cjs, which runs
 *                             the bundled plugin (absolute paths, written at install time). When a #!
 *                             line cannot name the node binary, a shell script that execs it instead.
 *   <conf-dir>/10-sluice.conflist   a default network (ebpf mode, built-in IPAM); an existing one is
 *                             kept unless --force
 *
 * Files are written to a temporary name in the target directory and renamed into place, so a runtime
 * never runs half a binary, and one running the old binary keeps it.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { builtShim, launchEntryPoint } from './package.js';

export const SHIM_NAME = 'sluice';
export const LAUNCHER_NAME = 'sluice-plugin';
export const CONFLIST_NAME = '10-sluice.conflist';
/** A string every launcher holds (the shell launchers of earlier versions too). */
const LAUNCHER_MARK = 'sluice-plugin: written by `sluice install`';
/** A string the shim binary holds (its messages start with it). */
const SHIM_MARK = 'sluice-shim: ';
export const DEFAULT_SUBNETS = ['10.85.0.0/16'];

export interface InstallOptions {
  binDir: string;
  confDir: string;
  subnet?: string[];
  network: string;
  conflist: boolean;
  force?: boolean;
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Whether a launcher in `dir` can be a script that `node` runs itself, through a #! line: the kernel
 * takes an interpreter path without blanks, in a line of at most 127 bytes on every kernel; Node runs
 * a file without an extension as CommonJS unless the nearest package.json above says "type": "module".
 */
export function nodeRunsLauncherIn(dir: string, node: string): boolean {
  if (!/^\/\S+$/.test(node) || Buffer.byteLength(node) > 120) return false;
  for (let d = existsSync(dir) ? realpathSync(dir) : dir; ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type !== 'module';
      } catch {
        return false;
      }
    }
    if (dirname(d) === d) return true;
  }
}

/**
 * The standalone plugin's launcher, to be written into `dir`: node runs it directly (#!), and it hands
 * over to launch.cjs; a shell script exec'ing node on launch.cjs where a #! line cannot do it.
 */
export function launcherScript(dir: string, node = process.execPath, launch = realpathSync(launchEntryPoint())): string {
  const what = 'The standalone sluice CNI plugin, which the shim runs when no agent answers.';
  if (nodeRunsLauncherIn(dir, node)) return `#!${node}\n// ${LAUNCHER_MARK}. ${what}\nrequire(${JSON.stringify(launch)}).launch();\n`;
  return `#!/bin/sh\n# ${LAUNCHER_MARK}. ${what}\nexec ${quote(node)} ${quote(launch)} "$@"\n`;
}

/** The default network: mode ebpf, the built-in IPAM over the given subnets (one range set each). */
export function defaultConflist(network: string, subnets: readonly string[]): string {
  const conflist = {
    cniVersion: '1.0.0',
    name: network,
    plugins: [{ type: 'sluice', ipam: { type: 'sluice', ranges: subnets.map((subnet) => [{ subnet }]) } }],
  };
  return `${JSON.stringify(conflist, null, 2)}\n`;
}

function writeAtomically(path: string, write: (tmp: string) => void, mode: number): void {
  const tmp = `${path}.sluice-tmp-${process.pid}`;
  try {
    write(tmp);
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export async function installCommand(options: InstallOptions): Promise<number> {
  const subnets = options.subnet?.length ? options.subnet : DEFAULT_SUBNETS;
  for (const s of subnets) {
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(s)) {
      process.stderr.write(`sluice install: --subnet ${JSON.stringify(s)} is not a CIDR\n`);
      return 2;
    }
  }
  try {
    mkdirSync(options.binDir, { recursive: true, mode: 0o755 });
    const launcher = join(options.binDir, LAUNCHER_NAME);
    writeAtomically(launcher, (tmp) => writeFileSync(tmp, launcherScript(options.binDir)), 0o755);
    process.stdout.write(`installed ${launcher} (the standalone plugin: ${process.execPath} ${realpathSync(launchEntryPoint())})\n`);

    const shim = join(options.binDir, SHIM_NAME);
    const built = builtShim();
    if (existsSync(built)) {
      writeAtomically(shim, (tmp) => copyFileSync(built, tmp), 0o755);
      process.stdout.write(`installed ${shim} (the shim: the agent when it listens, else ${LAUNCHER_NAME})\n`);
    } else {
      writeAtomically(shim, (tmp) => writeFileSync(tmp, launcherScript(options.binDir)), 0o755);
      process.stderr.write(`sluice install: warning: the shim was not built (${built} is missing: no C compiler at install?): ${shim} is the standalone plugin, every call starts Node\n`);
    }

    if (options.conflist) {
      mkdirSync(options.confDir, { recursive: true, mode: 0o755 });
      const conf = join(options.confDir, CONFLIST_NAME);
      if (existsSync(conf) && !options.force) {
        process.stdout.write(`kept ${conf} (it exists; --force replaces it)\n`);
      } else {
        writeAtomically(conf, (tmp) => writeFileSync(tmp, defaultConflist(options.network, subnets)), 0o644);
        process.stdout.write(`installed ${conf} (network ${options.network}, ${subnets.join(', ')})\n`);
      }
    }
    return 0;
  } catch (err) {
    process.stderr.write(`sluice install: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** Whether a file is one `sluice install` writes: our launcher, or our shim. */
function isOurs(path: string): boolean {
  try {
    const content = readFileSync(path);
    return content.includes(LAUNCHER_MARK) || content.includes(SHIM_MARK);
  } catch {
    return false;
  }
}

function isOurConflist(path: string): boolean {
  try {
    const conf = JSON.parse(readFileSync(path, 'utf8')) as { plugins?: { type?: unknown }[] };
    return Array.isArray(conf.plugins) && conf.plugins.some((p) => p?.type === 'sluice');
  } catch {
    return false;
  }
}

export interface UninstallOptions extends Pick<InstallOptions, 'binDir' | 'confDir'> {
  /** Also remove the node's data path: the pinned eBPF program, maps and links, the masquerade and spoof guard tables. */
  purge?: boolean;
  pinRoot?: string;
  masqTable?: string;
  guardTable?: string;
}

/** Removes the eBPF pins and links under `pinRoot` and sluice's nf_tables tables; what is absent is fine. */
async function purgeNode(pinRoot: string, masqTable: string, guardTable: string): Promise<void> {
  if (existsSync(pinRoot)) {
    const { Datapath } = await import('../bpf/datapath.js');
    await (await Datapath.open({ pinRoot })).uninstall();
    process.stdout.write(`removed the eBPF data path pinned under ${pinRoot}\n`);
  }
  const { Masquerade } = await import('../datapath/masquerade.js');
  const masq = new Masquerade({ table: masqTable });
  try {
    masq.uninstall();
    process.stdout.write(`removed the nf_tables table inet ${masqTable} (if it was there)\n`);
  } finally {
    masq.close();
  }
  const { removeSpoofGuard } = await import('../datapath/spoof-guard.js');
  if (removeSpoofGuard({ table: guardTable })) process.stdout.write(`removed the nf_tables table inet ${guardTable} (the spoof guard)\n`);
}

export async function uninstallCommand(options: UninstallOptions): Promise<number> {
  let failed = false;
  const remove = (path: string, ours: (p: string) => boolean) => {
    if (!existsSync(path)) return;
    if (!ours(path)) {
      process.stderr.write(`sluice uninstall: left ${path}: it is not one sluice installed\n`);
      return;
    }
    try {
      rmSync(path);
      process.stdout.write(`removed ${path}\n`);
    } catch (err) {
      failed = true;
      process.stderr.write(`sluice uninstall: ${path}: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  };
  remove(join(options.binDir, SHIM_NAME), isOurs);
  remove(join(options.binDir, LAUNCHER_NAME), isOurs);
  remove(join(options.confDir, CONFLIST_NAME), isOurConflist);
  if (options.purge) {
    try {
      await purgeNode(options.pinRoot ?? '/sys/fs/bpf/sluice', options.masqTable ?? 'sluice', options.guardTable ?? 'sluice_guard');
    } catch (err) {
      failed = true;
      process.stderr.write(`sluice uninstall --purge: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  return failed ? 1 : 0;
}
