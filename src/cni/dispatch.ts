/**
 * The CNI entry point: environment and stdin in, `{stdout, exitCode}` out. Everything about the
 * protocol happens here (verbs, versions, validation, result conversion, errors); what a verb does to
 * the node is the Driver's job. Nothing reaches stdout but the result or the error object.
 */
import type { Logger } from 'pino';
import type { Attachment, Ipam, IpamGcRequest, IpamRequest } from '../ipam/types.js';
import { configVersion, decodeConfig, parseConfig } from './config.js';
import { DelegatingIpam } from './delegate.js';
import { parseCommand, parseEnv, type CniEnv, type EnvVars, type NetnsInspector } from './env.js';
import { CniCode, CniError } from './errors.js';
import { invalidField } from './fields.js';
import { hostVethName } from './names.js';
import { appendResult } from './result.js';
import { LATEST_VERSION, SUPPORTED_VERSIONS, type CniArgs, type CniCommand, type CniResult, type CniVersion, type PluginConfig } from './types.js';
import { compareVersions, formatResult, isSupportedVersion, quoteVersions, versionsFrom } from './version.js';

// ---- what the data path implements ----------------------------------------------------------------

/** What every request carries. */
export interface RequestContext {
  config: PluginConfig;
  /** The request's environment as given; delegated plugins are run with it. */
  env: EnvVars;
  /** CNI_PATH, split. */
  cniPath: string[];
  /** The IPAM for `config.ipam` (delegation to the plugin `ipam.type`), undefined without `ipam`. */
  ipam: Ipam | undefined;
}

/** ADD, DEL and CHECK: one attachment, (CNI_CONTAINERID, CNI_IFNAME). */
export interface AttachmentRequest extends RequestContext {
  containerId: string;
  ifname: string;
  args: CniArgs;
  /** The deterministic host-side veth name (names.ts) for this attachment and config. */
  hostVethName: string;
  /** The pod interface's MAC if one was asked for: runtimeConfig.mac, else args.cni.mac, else CNI_ARGS MAC. */
  requestedMac: string | undefined;
  /** What to hand `ipam` for this attachment (requested IPs already gathered). */
  ipamRequest: IpamRequest;
}

export interface AddRequest extends AttachmentRequest {
  netns: string;
  prevResult: CniResult | undefined;
}

export interface DelRequest extends AttachmentRequest {
  /** Undefined when the runtime gave none or the namespace is gone: clean up the host side anyway. */
  netns: string | undefined;
  prevResult: CniResult | undefined;
}

export interface CheckRequest extends AttachmentRequest {
  netns: string;
  /** The final result of the attachment's ADD: what to verify. */
  prevResult: CniResult;
}

export interface GcRequest extends RequestContext {
  /** Every attachment the runtime still uses; anything else of this network may be removed. */
  validAttachments: Attachment[];
  ipamGcRequest: IpamGcRequest;
}

export interface StatusRequest extends RequestContext {
  ipamStatusRequest: Omit<IpamGcRequest, 'validAttachments'>;
}

/**
 * The data path behind the protocol. Requests arrive validated (env, config, netns). Each method throws
 * a CniError to fail with a spec code; anything else thrown becomes code 999. The driver makes all
 * IPAM calls itself (through `req.ipam`), including forwarding GC and STATUS, so it can order them and
 * undo them.
 */
export interface Driver {
  /**
   * Creates the attachment and returns only what it made: interfaces (host side without sandbox, pod
   * side with sandbox = netns), ips with `interface` indexing into those, routes. The dispatcher appends
   * this to prevResult, fills dns from the config and writes it in the request's version.
   */
  add(req: AddRequest): Promise<CniResult>;
  /** Removes whatever of the attachment still exists; succeeds when nothing does. */
  del(req: DelRequest): Promise<void>;
  /** Throws a CniError saying precisely what differs from `prevResult` and the config. */
  check(req: CheckRequest): Promise<void>;
  gc(req: GcRequest): Promise<void>;
  /** Throws CniError 50 (cannot serve ADD) or 51 (and existing pods may be degraded) when not ready. */
  status(req: StatusRequest): Promise<void>;
}

// ---- the entry point ----------------------------------------------------------------------------

export interface RunOptions {
  /** How CNI_NETNS is inspected (default: nsfs check of the path). */
  inspectNetns?: NetnsInspector;
  /** Builds the IPAM of a request (default: delegation to `ipam.type`; undefined without `ipam`). */
  ipamFor?: (config: PluginConfig, env: EnvVars) => Ipam | undefined;
  logger?: Pick<Logger, 'debug' | 'warn' | 'error'>;
}

export interface CniOutput {
  /** The result, the VERSION answer, an error object, or nothing (DEL, CHECK, GC, STATUS succeeded). */
  stdout: string;
  exitCode: 0 | 1;
}

/** Strict UTF-8 (a decoder used without `stream` keeps no state between calls). */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** libcni's own plugins refuse these verbs (code 1) when the config's version predates them. */
const MINIMUM_VERSION: Partial<Record<CniCommand, CniVersion>> = { CHECK: '0.4.0', GC: '1.1.0', STATUS: '1.1.0' };

export async function runCni(env: EnvVars, stdin: string | Uint8Array, driver: Driver, options: RunOptions = {}): Promise<CniOutput> {
  const input = readStdin(stdin);
  // Errors carry the request's version whenever stdin says which one it is, even a bad CNI_COMMAND's.
  const replyVersion: CniVersion = !(input.config instanceof CniError) && isSupportedVersion(input.config.cniVersion) ? input.config.cniVersion : LATEST_VERSION;
  try {
    const command = parseCommand(env);
    if (command === 'VERSION') return success(JSON.stringify(versionInfo(input.text)));
    if (input.config instanceof CniError) throw input.config;
    const version = configVersion(input.config);
    requireVersion(command, version);
    const cniEnv = parseEnv(env, options.inspectNetns);
    const config = parseConfig(input.config, version);
    return success(await dispatch(cniEnv, config, env, driver, options));
  } catch (err) {
    return failure(err, replyVersion, options.logger);
  }
}

/** stdin as text, and as the config object or the code-6 error saying why it is not one. */
function readStdin(stdin: string | Uint8Array): { text: string | undefined; config: Record<string, unknown> | CniError } {
  let text: string | undefined;
  try {
    text = typeof stdin === 'string' ? stdin : utf8.decode(stdin);
  } catch {
    return { text, config: new CniError(CniCode.DecodingFailure, 'cannot decode the network config on stdin', 'it is not UTF-8') };
  }
  try {
    return { text, config: decodeConfig(text) };
  } catch (err) {
    return { text, config: err as CniError };
  }
}

function success(stdout: string): CniOutput {
  return { stdout, exitCode: 0 };
}

function failure(err: unknown, cniVersion: CniVersion, logger: RunOptions['logger']): CniOutput {
  let error: CniError;
  if (err instanceof CniError) {
    error = err;
    logger?.warn({ code: err.code, details: err.details }, err.msg);
  } else {
    const message = err instanceof Error ? err.message : String(err);
    error = new CniError(CniCode.Internal, message);
    logger?.error({ err }, `unexpected failure: ${message}`);
  }
  return { stdout: JSON.stringify(error.toJSON(cniVersion)), exitCode: 1 };
}

/** VERSION: `cniVersion` echoes the input's (spec), the latest when the input has none. */
function versionInfo(text: string | undefined): { cniVersion: string; supportedVersions: string[] } {
  let cniVersion: string = LATEST_VERSION;
  try {
    const asked = (JSON.parse(text ?? '') as { cniVersion?: unknown } | null)?.cniVersion;
    if (typeof asked === 'string' && /^\d+\.\d+\.\d+$/.test(asked)) cniVersion = asked;
  } catch {
    // VERSION needs no input: any stdin, even none, gets an answer.
  }
  return { cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
}

function requireVersion(command: CniCommand, version: string): asserts version is CniVersion {
  if (!isSupportedVersion(version)) {
    throw new CniError(CniCode.IncompatibleVersion, `incompatible CNI version "${version}": sluice supports ${quoteVersions(SUPPORTED_VERSIONS)}`, `config is "${version}"`);
  }
  const minimum = MINIMUM_VERSION[command];
  if (minimum && compareVersions(version, minimum) < 0) {
    throw new CniError(CniCode.IncompatibleVersion, `CNI version "${version}" does not allow ${command}`, `${command} needs one of ${quoteVersions(versionsFrom(minimum))}`);
  }
}

async function dispatch(env: CniEnv, config: PluginConfig, rawEnv: EnvVars, driver: Driver, options: RunOptions): Promise<string> {
  const ipam = (options.ipamFor ?? defaultIpam)(config, rawEnv);
  const base = (path: string[]): RequestContext => ({ config, env: rawEnv, cniPath: path, ipam });
  switch (env.command) {
    case 'VERSION': // answered before the config is read; here for exhaustiveness
      return JSON.stringify(versionInfo(undefined));
    case 'ADD': {
      const req: AddRequest = { ...attachment(env, config, base(env.path), rawEnv), netns: env.netns, prevResult: config.prevResult };
      const own = await driver.add(req);
      return JSON.stringify(formatResult(appendResult(config.prevResult, own, config.dns), config.cniVersion));
    }
    case 'DEL': {
      if (env.netnsGone) options.logger?.debug({ containerId: env.containerId }, `DEL without the pod's namespace: ${env.netnsGone}`);
      await driver.del({ ...attachment(env, config, base(env.path), rawEnv), netns: env.netns, prevResult: config.prevResult });
      return '';
    }
    case 'CHECK': {
      if (!config.prevResult) throw invalidField('prevResult', 'is required for CHECK: it is the result of the ADD to verify');
      await driver.check({ ...attachment(env, config, base(env.path), rawEnv), netns: env.netns, prevResult: config.prevResult });
      return '';
    }
    case 'GC': {
      // libcni leaves both keys out when the runtime passed no list: then no attachment is valid.
      const validAttachments = config.validAttachments ?? [];
      await driver.gc({ ...base(env.path), validAttachments, ipamGcRequest: { ...networkOf(config), validAttachments } });
      return '';
    }
    case 'STATUS':
      await driver.status({ ...base(env.path), ipamStatusRequest: networkOf(config) });
      return '';
  }
}

function defaultIpam(config: PluginConfig, env: EnvVars): Ipam | undefined {
  return config.ipam ? new DelegatingIpam(config.ipam.type, { env }) : undefined;
}

function networkOf(config: PluginConfig): Omit<IpamGcRequest, 'validAttachments'> {
  return { network: config.name, config: config.ipam ?? {}, netConf: config.raw };
}

function attachment(
  env: Extract<CniEnv, { command: 'ADD' | 'DEL' | 'CHECK' }>,
  config: PluginConfig,
  base: RequestContext,
  rawEnv: EnvVars,
): AttachmentRequest {
  const ipamRequest: IpamRequest = {
    ...networkOf(config),
    containerID: env.containerId,
    ifname: env.ifname,
    requestedIPs: requestedIps(config, env.args),
  };
  if (env.netns !== undefined) ipamRequest.netns = env.netns;
  if (rawEnv.CNI_ARGS !== undefined) ipamRequest.args = rawEnv.CNI_ARGS;
  return {
    ...base,
    containerId: env.containerId,
    ifname: env.ifname,
    args: env.args,
    hostVethName: hostVethName(env.containerId, env.ifname, config.sluice.hostVethPrefix),
    requestedMac: config.runtimeConfig.mac ?? config.args.mac ?? env.args.mac,
    ipamRequest,
  };
}

/**
 * The most specific source wins: the `ips` capability, else `args.cni.ips`, else CNI_ARGS `IP=`
 * (CONVENTIONS.md: a plugin that understands `args` ignores the CNI_ARGS equivalent).
 */
function requestedIps(config: PluginConfig, args: CniArgs): string[] {
  for (const ips of [config.runtimeConfig.ips, config.args.ips, args.ips]) if (ips?.length) return [...ips];
  return [];
}
