/**
 * `sluice add|check|del`: one CNI call by hand, for trying sluice out or debugging a node, without
 * setting CNI_* variables. The config comes from --config or stdin; a conflist is accepted (its sluice
 * plugin is taken, with the list's name and cniVersion, as libcni would hand it over). The call goes
 * to the agent when one listens, else to the standalone plugin in a process of its own: exactly what
 * the shim would do, so the output is what a runtime would get.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { agentCni } from '../daemon/client.js';
import { launchEntryPoint } from './package.js';

export interface VerbOptions {
  netns?: string;
  containerId: string;
  ifname: string;
  config?: string;
  args?: string;
  cniPath: string;
  socket: string;
  standalone?: boolean;
  prevResult?: string;
}

/** A plugin config from a file's text: a conflist gives its sluice plugin (or its only plugin). */
export function pluginConfig(text: string): Record<string, unknown> {
  const value = JSON.parse(text) as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('the config is not a JSON object');
  if (!Array.isArray(value.plugins)) return value;
  const plugins = value.plugins as Record<string, unknown>[];
  const plugin = plugins.find((p) => p?.type === 'sluice') ?? (plugins.length === 1 ? plugins[0] : undefined);
  if (!plugin) throw new Error('the conflist has no plugin of type "sluice"');
  return { cniVersion: value.cniVersion, name: value.name, ...plugin };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function standalone(env: Record<string, string>, stdin: Buffer): Promise<{ stdout: string; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [launchEntryPoint()], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ stdout: stdout.replace(/\n$/, ''), exitCode: code ?? 1 }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

export async function verbCommand(verb: 'add' | 'check' | 'del', options: VerbOptions): Promise<number> {
  const fail = (msg: string) => {
    process.stderr.write(`sluice ${verb}: ${msg}\n`);
    return 2;
  };
  if (verb !== 'del' && !options.netns) return fail('--netns is required');
  let config: Record<string, unknown>;
  try {
    if (!options.config && process.stdin.isTTY) return fail('give the network config with --config FILE or on stdin');
    config = pluginConfig(options.config ? readFileSync(options.config, 'utf8') : await readStdin());
    if (options.prevResult) config.prevResult = JSON.parse(readFileSync(options.prevResult, 'utf8')) as unknown;
  } catch (err) {
    return fail(`cannot read the config: ${(err as Error).message}`);
  }
  const env: Record<string, string> = {
    ...(Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !k.startsWith('CNI_'))) as Record<string, string>),
    CNI_COMMAND: verb.toUpperCase(),
    CNI_CONTAINERID: options.containerId,
    CNI_IFNAME: options.ifname,
    CNI_PATH: options.cniPath,
  };
  if (options.netns) env.CNI_NETNS = options.netns;
  if (options.args) env.CNI_ARGS = options.args;
  const stdin = Buffer.from(JSON.stringify(config));

  let out: { stdout: string; exitCode: number } | undefined;
  if (!options.standalone) {
    const result = await agentCni(options.socket, env, stdin);
    if (result.outcome === 'answered') out = result.answer;
    else if (result.outcome === 'lost' && result.accepted) {
      return fail(`the agent at ${options.socket} stopped during the call: it may have been done in part${verb === 'add' ? '; run `sluice del` with the same options before adding again' : ''}`);
    }
  }
  out ??= await standalone(env, stdin);
  if (out.stdout) {
    let text = out.stdout;
    if (process.stdout.isTTY) {
      try {
        text = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON: as it is
      }
    }
    process.stdout.write(`${text}\n`);
  }
  return out.exitCode;
}
