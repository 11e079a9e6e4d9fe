/**
 * The CNI_* environment of a request, checked per verb as the spec says (section 2, "Parameters"):
 *   ADD, CHECK  CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME required; CNI_ARGS, CNI_PATH optional
 *   DEL         CNI_CONTAINERID, CNI_IFNAME required; CNI_NETNS optional (the pod may be gone)
 *   GC          CNI_PATH required
 *   STATUS      CNI_PATH optional
 *   VERSION     nothing else
 * Every failure is code 4 and names the variable.
 */
import { inspectNetns, type NetnsInspection } from '../sys/ns-check.js';
import { parseCniArgs } from './cni-args.js';
import { CniCode, CniError } from './errors.js';
import type { CniArgs, CniCommand } from './types.js';
import { CNI_NAME, interfaceNameProblem } from './values.js';

export type EnvVars = Readonly<Record<string, string | undefined>>;
export type NetnsInspector = (path: string) => NetnsInspection;

interface AttachmentEnv {
  containerId: string;
  ifname: string;
  args: CniArgs;
  path: string[];
}

export type CniEnv =
  | { command: 'VERSION' }
  | ({ command: 'ADD' | 'CHECK'; netns: string } & AttachmentEnv)
  /** `netns` is undefined when none was given or it no longer is a network namespace (`netnsGone` says why). */
  | ({ command: 'DEL'; netns: string | undefined; netnsGone?: string } & AttachmentEnv)
  | { command: 'GC' | 'STATUS'; path: string[] };

const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'];
/** Container IDs end up in file names (state files, lease files): keep them within NAME_MAX. */
const MAX_CONTAINER_ID = 255;

const REQUIRED: Record<CniCommand, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  GC: ['CNI_PATH'],
  STATUS: [],
  VERSION: [],
};

export function invalidEnv(variable: string, reason: string, details = ''): CniError {
  return new CniError(CniCode.InvalidEnvironment, `invalid ${variable}: ${reason}`, details);
}

export function parseCommand(env: EnvVars): CniCommand {
  const command = env.CNI_COMMAND;
  if (!command) throw new CniError(CniCode.InvalidEnvironment, 'required environment variable CNI_COMMAND is missing');
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw invalidEnv('CNI_COMMAND', `unknown command ${JSON.stringify(command)}`, `expected one of ${COMMANDS.join(', ')}`);
  }
  return command as CniCommand;
}

export function parseEnv(env: EnvVars, inspect: NetnsInspector = inspectNetns): CniEnv {
  const command = parseCommand(env);
  const missing = REQUIRED[command].filter((name) => !env[name]);
  if (missing.length) {
    throw new CniError(CniCode.InvalidEnvironment, `required environment variables missing: ${missing.join(', ')}`, `CNI_COMMAND=${command} needs ${REQUIRED[command].join(', ')}`);
  }
  const path = parseCniPath(env.CNI_PATH);
  switch (command) {
    case 'VERSION':
      return { command };
    case 'GC':
    case 'STATUS':
      return { command, path };
    case 'ADD':
    case 'CHECK': {
      const attachment = parseAttachment(env, path);
      return { command, ...attachment, netns: requireNetns(env.CNI_NETNS!, inspect) };
    }
    case 'DEL': {
      const attachment = parseAttachment(env, path);
      return { command, ...attachment, ...netnsForDel(env.CNI_NETNS, inspect) };
    }
  }
}

/** `:`-separated, empty entries skipped. */
export function parseCniPath(value: string | undefined): string[] {
  return (value ?? '').split(':').filter((dir) => dir !== '');
}

function parseAttachment(env: EnvVars, path: string[]): AttachmentEnv {
  const containerId = env.CNI_CONTAINERID!;
  if (!CNI_NAME.test(containerId)) {
    throw invalidEnv('CNI_CONTAINERID', 'must start with a letter or digit, followed by letters, digits, "_", "." or "-"', JSON.stringify(containerId));
  }
  if (containerId.length > MAX_CONTAINER_ID) throw invalidEnv('CNI_CONTAINERID', `is longer than ${MAX_CONTAINER_ID} characters`);
  const ifname = env.CNI_IFNAME!;
  const problem = interfaceNameProblem(ifname);
  if (problem) throw invalidEnv('CNI_IFNAME', `${JSON.stringify(ifname)} ${problem}`);
  return { containerId, ifname, args: parseCniArgs(env.CNI_ARGS), path };
}

function requireNetns(path: string, inspect: NetnsInspector): string {
  if (!path.startsWith('/')) throw invalidEnv('CNI_NETNS', `${JSON.stringify(path)} is not an absolute path`);
  const found = inspect(path);
  switch (found.kind) {
    case 'missing':
      throw invalidEnv('CNI_NETNS', `${path} does not exist`);
    case 'not-a-namespace':
      throw invalidEnv('CNI_NETNS', `${path} is not a network namespace: ${found.reason}`);
    case 'network':
      if (found.own) throw invalidEnv('CNI_NETNS', `${path} is the plugin's own network namespace, not the container's`);
      return path;
  }
}

/**
 * DEL is best effort: a namespace that is gone (or whose mount point is left empty) means there is
 * nothing to clean inside the pod. Only the plugin's own namespace is refused, since deleting CNI_IFNAME
 * there would remove a host interface.
 */
function netnsForDel(path: string | undefined, inspect: NetnsInspector): { netns: string | undefined; netnsGone?: string } {
  if (!path) return { netns: undefined };
  if (!path.startsWith('/')) throw invalidEnv('CNI_NETNS', `${JSON.stringify(path)} is not an absolute path`);
  const found = inspect(path);
  switch (found.kind) {
    case 'missing':
      return { netns: undefined, netnsGone: `${path} does not exist` };
    case 'not-a-namespace':
      return { netns: undefined, netnsGone: `${path} is not a network namespace: ${found.reason}` };
    case 'network':
      if (found.own) throw invalidEnv('CNI_NETNS', `${path} is the plugin's own network namespace, not the container's`);
      return { netns: path };
  }
}
