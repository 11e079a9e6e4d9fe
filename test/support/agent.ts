// The agent and the shim in kernel tests: an agent (`sluice daemon`) started inside a simulated node
// (test/support/plugin.ts), listening on a socket in a temporary directory of the test's own, and the
// native shim run as a runtime runs a plugin, pointed at that socket, falling back to the standalone
// plugin through a launcher written by install.ts's launcherScript() (so the bundled plugin).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launcherScript } from '../../src/cli/install.js';
import { agentOp } from '../../src/daemon/client.js';
import { PLUGIN_MAIN, type CallOptions, type PluginRun, type SimNode } from './plugin.js';

export const NATIVE_DIR = fileURLToPath(new URL('../../../native/', import.meta.url));
export const SHIM = join(NATIVE_DIR, 'build', 'sluice-shim');

/** Builds the shim when it is missing or older than its source (npm install normally has). */
export function ensureShim(): string {
  const source = join(NATIVE_DIR, 'sluice-shim.c');
  if (!existsSync(SHIM) || statSync(SHIM).mtimeMs < statSync(source).mtimeMs) {
    execFileSync('make', ['-C', NATIVE_DIR, '--no-print-directory'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return SHIM;
}

/** A temporary directory for sockets and launchers, removed by cleanup(). */
export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'sluice-agent-'));
  /** The standalone plugin's launcher, as `sluice install` writes it. */
  readonly launcher = join(this.dir, 'sluice-plugin');
  constructor() {
    writeFileSync(this.launcher, launcherScript(this.dir));
    chmodSync(this.launcher, 0o755);
  }
  path(name: string): string {
    return join(this.dir, name);
  }
  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly socket: string;
  /** Every log record so far (JSON lines on its stdout), parsed. */
  records(): any[];
  /** Its stdout and stderr so far (for failure messages). */
  output(): string;
  /** Resolves with the exit code (or signal name) once it has exited. */
  readonly exited: Promise<number | string>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface AgentStart {
  socket: string;
  /** SLUICE_TEST_HOOKS=1 for the agent (requests may then inject faults). */
  testHooks?: boolean;
  args?: string[];
  /** The CLI entry to run (another build's dist/src/cli/main.js); default this tree's. */
  main?: string;
}

/** Starts `sluice daemon` inside the node's namespace; resolves once it listens. */
export async function startAgent(node: SimNode, options: AgentStart): Promise<AgentProcess> {
  const args = [
    `--net=${node.path}`, process.execPath, options.main ?? PLUGIN_MAIN, 'daemon', '--socket', options.socket, '--pin-root', node.pinRoot, '--state-dir', node.stateDir,
    '--log-level', 'debug', ...(options.args ?? []),
  ];
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  if (options.testHooks) env.SLUICE_TEST_HOOKS = '1';
  const child = spawn('nsenter', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const records = () => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const agent: AgentProcess = {
    child, socket: options.socket, records, exited,
    output: () => `${stdout}${stderr}`,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  // Ready once it answers on its socket (whatever its log level lets it say).
  let gone = false;
  void exited.then(() => (gone = true));
  const listening = await (async () => {
    for (;;) {
      if (gone) return false;
      try {
        await agentOp(options.socket, 'status');
        return true;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();
  if (!listening) {
    await agent.stop('SIGKILL');
    throw new Error(`the agent did not start:\n${agent.output()}`);
  }
  return agent;
}

export interface ShimCall extends Partial<CallOptions> {
  /** The agent's socket (SLUICE_SOCKET). */
  socket: string;
}

/**
 * Runs the shim in the node as a runtime runs a plugin (SLUICE_SHIM_DEBUG=1: stderr says which way it
 * went). A Buffer config is written as it is (bytes that are not UTF-8 included).
 */
export function runShim(node: SimNode, scratch: Scratch, command: string, config: Record<string, unknown> | string | Buffer, call: ShimCall): Promise<PluginRun> {
  const { socket, ...rest } = call;
  // SimNode.exec hands stdin to child.stdin.end(), which takes bytes as well as text.
  const stdin = (Buffer.isBuffer(config) ? config : typeof config === 'string' ? config : JSON.stringify(config)) as string;
  return node.exec([SHIM], command, stdin, {
    ...rest,
    env: { SLUICE_SOCKET: socket, SLUICE_PLUGIN: scratch.launcher, SLUICE_SHIM_DEBUG: '1', ...(rest.env ?? {}) },
  });
}

/** Which way the shim went, from its debug lines: "agent" or "standalone". */
export function shimPath(run: PluginRun): 'agent' | 'standalone' {
  return /standalone plugin/.test(run.stderr) ? 'standalone' : 'agent';
}

/**
 * An IPAM plugin for holding a call in flight: `gate-ipam`, written into the scratch directory (put it
 * on CNI_PATH, with GATE_DIR in the call's environment). On ADD it creates <GATE_DIR>/started-<container>,
 * waits for <GATE_DIR>/open-<container> (or open-all: a test's cleanup, so that no call stays held),
 * then hands the call to host-local; other verbs go straight to host-local.
 */
export function gateIpam(scratch: Scratch): { type: string; cniPath: string; dir: string; started(id: string): boolean; open(id: string): void; openAll(): void } {
  const dir = scratch.path('gates');
  mkdirSync(dir, { recursive: true });
  const script = scratch.path('gate-ipam');
  writeFileSync(script, `#!/bin/sh
input=$(cat)
if [ "$CNI_COMMAND" = ADD ]; then
  : > "$GATE_DIR/started-$CNI_CONTAINERID"
  while [ ! -e "$GATE_DIR/open-$CNI_CONTAINERID" ] && [ ! -e "$GATE_DIR/open-all" ]; do sleep 0.01; done
fi
printf '%s' "$input" | exec /usr/lib/cni/host-local
`);
  chmodSync(script, 0o755);
  return {
    type: 'gate-ipam',
    cniPath: `${scratch.dir}:/usr/lib/cni`,
    dir,
    started: (id) => existsSync(join(dir, `started-${id}`)),
    open: (id) => writeFileSync(join(dir, `open-${id}`), ''),
    openAll: () => writeFileSync(join(dir, 'open-all'), ''),
  };
}

/** Polls until `check` holds (at most `attempts` times, 20 ms apart). */
export async function until(what: string, check: () => boolean | Promise<boolean>, attempts = 1000): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}
