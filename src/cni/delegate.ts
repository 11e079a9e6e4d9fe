/**
 * IPAM delegation (spec section 4): the plugin named by `ipam.type` is looked up in CNI_PATH and run
 * with the request's own environment (CNI_COMMAND set to the verb) and the whole network config on
 * stdin. Its result, in any version, is read into the 1.x shape; its error is passed on with its code,
 * msg and details unchanged, as the reference plugins do.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Ipam, IpamGcRequest, IpamRequest, IpamResult, IpamStatus } from '../ipam/types.js';
import type { EnvVars } from './env.js';
import { CniCode, CniError } from './errors.js';
import { isPlainObject, preview } from './fields.js';
import { ResultShapeError, parseResult } from './version.js';

export interface DelegationOptions {
  /** The request's environment (CNI_PATH, CNI_ARGS, ... and whatever else the runtime set). */
  env: EnvVars;
  /** Where the plugin's stderr goes (the spec: to the calling plugin's stderr). Default: process.stderr. */
  stderr?: (chunk: Buffer) => void;
  /** Kills the plugin after this long. Default: no limit (dhcp, say, may wait long for a lease). */
  timeoutMs?: number;
}

type Verb = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS';

interface PluginRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Attempts when exec fails with ETXTBSY (the binary is being replaced), a second apart, as libcni does. */
const TEXT_BUSY_ATTEMPTS = 6;
/** How much of a failed plugin's output an error carries. */
const MAX_DETAILS = 1000;

export class DelegatingIpam implements Ipam {
  constructor(
    readonly type: string,
    private readonly options: DelegationOptions,
  ) {}

  async add(req: IpamRequest): Promise<IpamResult> {
    try {
      return this.readResult(await this.run('ADD', req.netConf, attachmentEnv(req)), req.netConf);
    } catch (err) {
      // Spec, section 4: a delegated plugin that failed ADD is run again with DEL before failing. So is
      // one whose result cannot be read: whatever it allocated would otherwise leak.
      await this.run('DEL', req.netConf, attachmentEnv(req)).catch(() => undefined);
      throw err;
    }
  }

  async del(req: IpamRequest): Promise<void> {
    try {
      await this.run('DEL', req.netConf, attachmentEnv(req));
    } catch (err) {
      // "Container unknown": nothing is held for it, which is what DEL wants.
      if (err instanceof CniError && err.code === CniCode.UnknownContainer) return;
      throw err;
    }
  }

  /** The plugin reads what to expect from `prevResult` in the config, so `expected` is not sent separately. */
  async check(req: IpamRequest, _expected: IpamResult): Promise<void> {
    await this.run('CHECK', req.netConf, attachmentEnv(req));
  }

  async gc(req: IpamGcRequest): Promise<void> {
    const netConf = { ...req.netConf, 'cni.dev/valid-attachments': req.validAttachments, 'cni.dev/attachments': req.validAttachments };
    await this.run('GC', netConf, {});
  }

  /** A plugin's STATUS error (50, 51, ...) is thrown with its code, so the caller can pass it on. */
  async status(req: Omit<IpamGcRequest, 'validAttachments'>): Promise<IpamStatus> {
    await this.run('STATUS', req.netConf, {});
    return { ok: true };
  }

  private async run(verb: Verb, netConf: Record<string, unknown>, overrides: Record<string, string>): Promise<string> {
    const file = findPlugin(this.type, this.options.env.CNI_PATH);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.options.env)) if (value !== undefined) env[key] = value;
    Object.assign(env, overrides, { CNI_COMMAND: verb });

    const run = await runWithRetry(file, JSON.stringify(netConf), env, this.options);
    if (run.stderr) (this.options.stderr ?? ((chunk: Buffer) => process.stderr.write(chunk)))(Buffer.from(run.stderr));
    if (run.status === 0) return run.stdout;
    throw pluginError(this.type, verb, run);
  }

  private readResult(stdout: string, netConf: Record<string, unknown>): IpamResult {
    const undecodable = (details: string) => new CniError(CniCode.DecodingFailure, `IPAM plugin "${this.type}" returned a result sluice cannot read`, details);
    let raw: unknown;
    try {
      raw = JSON.parse(stdout);
    } catch (err) {
      throw undecodable(`${(err as Error).message}; output: ${preview(stdout)}`);
    }
    // As libcni: a result without cniVersion is taken to be in the config's version.
    const configVersion = typeof netConf.cniVersion === 'string' && netConf.cniVersion ? netConf.cniVersion : '0.1.0';
    try {
      const result = parseResult(raw, configVersion, 'result');
      const out: IpamResult = {
        ips: result.ips.map(({ address, gateway }) => (gateway === undefined ? { address } : { address, gateway })),
        routes: result.routes,
      };
      if (result.dns) out.dns = result.dns;
      return out;
    } catch (err) {
      if (err instanceof ResultShapeError) throw undecodable(err.message);
      throw err;
    }
  }
}

function attachmentEnv(req: IpamRequest): Record<string, string> {
  const env: Record<string, string> = { CNI_CONTAINERID: req.containerID, CNI_IFNAME: req.ifname };
  if (req.netns !== undefined) env.CNI_NETNS = req.netns;
  if (req.args !== undefined) env.CNI_ARGS = req.args;
  return env;
}

/** The executable `type` in the first CNI_PATH directory holding a regular file of that name. */
export function findPlugin(type: string, cniPath: string | undefined): string {
  if (!type || /[/\\]/.test(type)) {
    throw new CniError(CniCode.InvalidNetworkConfig, `invalid network config: "ipam.type" must be a plugin name without path separators, not ${preview(type)}`);
  }
  const dirs = (cniPath ?? '').split(':').filter((d) => d !== '');
  if (dirs.length === 0) throw new CniError(CniCode.InvalidEnvironment, `invalid CNI_PATH: it is empty, so IPAM plugin "${type}" cannot be found`);
  for (const dir of dirs) {
    const file = `${dir.replace(/\/+$/, '')}/${type}`;
    try {
      if (statSync(file).isFile()) return file;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(CniCode.InvalidNetworkConfig, `IPAM plugin "${type}" (ipam.type) not found in CNI_PATH`, `searched ${dirs.join(', ')}`);
}

async function runWithRetry(file: string, stdin: string, env: Record<string, string>, options: DelegationOptions): Promise<PluginRun> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOnce(file, stdin, env, options.timeoutMs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ETXTBSY' && attempt < TEXT_BUSY_ATTEMPTS) {
        await sleep(1000);
        continue;
      }
      throw new CniError(CniCode.Internal, `cannot run IPAM plugin ${file}`, (err as Error).message);
    }
  }
}

function runOnce(file: string, stdin: string, env: Record<string, string>, timeoutMs: number | undefined): Promise<PluginRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { env, stdio: ['pipe', 'pipe', 'pipe'], ...(timeoutMs ? { timeout: timeoutMs, killSignal: 'SIGKILL' as const } : {}) });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // A plugin may exit without reading stdin; its exit status tells what happened, not EPIPE.
    child.stdin.on('error', () => undefined);
    child.once('error', reject);
    child.once('close', (status, signal) => {
      resolve({ status, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
    });
    child.stdin.end(stdin);
  });
}

/** The plugin's own error when its stdout holds one, else an error describing how it failed. */
function pluginError(type: string, verb: Verb, run: PluginRun): CniError {
  try {
    const parsed: unknown = JSON.parse(run.stdout);
    if (isPlainObject(parsed) && typeof parsed.code === 'number' && typeof parsed.msg === 'string') {
      return new CniError(parsed.code, parsed.msg, typeof parsed.details === 'string' ? parsed.details : '');
    }
  } catch {
    // not a CNI error object: described below
  }
  const how = run.signal ? `was killed by ${run.signal}` : `exited with status ${run.status}`;
  const output = run.stdout.trim() || run.stderr.trim();
  return new CniError(CniCode.Internal, `IPAM plugin "${type}" failed ${verb}: it ${how}`, output ? output.slice(0, MAX_DETAILS) : 'no output');
}
