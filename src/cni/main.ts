/**
 * The standalone CNI plugin process: the environment and stdin in, the result (or the error object) on
 * stdout, exit status 0 or 1. The runtime starts a Node process per call, so start-up counts: only the
 * protocol layer is imported up front; the data path (netlink, koffi, libbpf) is imported when a verb
 * needs it, and pino only when something is actually logged.
 *
 * IPAM: `"ipam": {"type": "sluice"}` is the built-in allocator (in-process); any other type is the
 * plugin of that name in CNI_PATH.
 *
 * Logs go to the config's `logFile` (else SLUICE_LOG_FILE, else stderr) at its `logLevel` (else
 * SLUICE_LOG_LEVEL, else warn). Until the data path is loaded (which brings pino with it), records
 * are kept in memory and written at the end of the call, so VERSION and refused requests never load
 * pino unless they have something to log.
 * Tests: SLUICE_TEST_HOOKS=1 with SLUICE_FAIL_AT_STEP=<step>[:after] makes ADD fail at that step.
 */
import type { LogFn } from 'pino';
import type { EbpfDriverOptions } from '../datapath/ebpf.js';
import type { BuiltinIpamOptions } from '../ipam/host-local/index.js';
import type { Ipam } from '../ipam/types.js';
import { DelegatingIpam } from './delegate.js';
import type { AddRequest, CheckRequest, DelRequest, Driver, GcRequest, StatusRequest } from './dispatch.js';
import type { EnvVars } from './env.js';
import { CniCode, CniError } from './errors.js';
import { invalidField } from './fields.js';
import { LATEST_VERSION, type PluginConfig } from './types.js';

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
type Level = keyof typeof LEVELS;
type Emitting = Exclude<Level, 'silent'>;

interface LogRecord {
  level: Emitting;
  obj: object;
  msg: string;
  at: string;
}

/**
 * A logger that keeps the records of the call and hands them to pino at the end: a call that logs
 * nothing at its level never loads pino.
 */
export class DeferredLogger {
  private readonly records: LogRecord[] = [];
  readonly trace: LogFn = (a: unknown, b?: unknown) => this.keep('trace', a, b);
  readonly debug: LogFn = (a: unknown, b?: unknown) => this.keep('debug', a, b);
  readonly info: LogFn = (a: unknown, b?: unknown) => this.keep('info', a, b);
  readonly warn: LogFn = (a: unknown, b?: unknown) => this.keep('warn', a, b);
  readonly error: LogFn = (a: unknown, b?: unknown) => this.keep('error', a, b);

  constructor(
    readonly level: Level,
    readonly file: string | undefined,
  ) {}

  private keep(level: Emitting, a: unknown, b: unknown): void {
    if (LEVELS[level] < LEVELS[this.level]) return;
    const obj = typeof a === 'object' && a !== null ? (a as object) : {};
    const msg = typeof a === 'string' ? a : typeof b === 'string' ? b : '';
    this.records.push({ level, obj, msg, at: new Date().toISOString() });
  }

  get pending(): number {
    return this.records.length;
  }

  async flush(): Promise<void> {
    if (!this.records.length) return;
    const { log, setLogDestination } = await import('../log.js');
    setLogDestination(this.file, this.level);
    const logger = log().child({ cni: true });
    for (const r of this.records.splice(0)) logger[r.level]({ ...r.obj, at: r.at }, r.msg);
  }
}

/** logFile and logLevel from the config, when stdin is a JSON object holding usable ones (checked properly later). */
export function logSettings(stdin: string, env: Readonly<Record<string, string | undefined>>): { level: Level; file: string | undefined } {
  let config: { logFile?: unknown; logLevel?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(stdin);
    if (typeof parsed === 'object' && parsed !== null) config = parsed as typeof config;
  } catch {
    // not JSON: the dispatcher says so; logging keeps its defaults
  }
  const isLevel = (v: unknown): v is Level => typeof v === 'string' && Object.hasOwn(LEVELS, v);
  const isFile = (v: unknown): v is string => typeof v === 'string' && v.startsWith('/') && !v.split('/').includes('..');
  const level = isLevel(config.logLevel) ? config.logLevel : isLevel(env.SLUICE_LOG_LEVEL) ? env.SLUICE_LOG_LEVEL : 'warn';
  const file = isFile(config.logFile) ? config.logFile : isFile(env.SLUICE_LOG_FILE) ? env.SLUICE_LOG_FILE : undefined;
  return { level, file };
}

/** What any driver may be given: the node's namespace, a logger, test fault injection, attach and object choices. */
export type DriverOptions = Pick<EbpfDriverOptions, 'nodeNetns' | 'logger' | 'failAt' | 'forceClsBpf' | 'objectPath' | 'deferAttach' | 'keepHandles'>;

/**
 * The data-path driver of a config's mode, its module imported on first use: the one place that maps
 * `mode` to a driver. The standalone plugin (below) and the agent (src/daemon) both call it.
 */
export async function driverFor(config: PluginConfig, options: DriverOptions = {}): Promise<Driver> {
  if (config.sluice.mode === 'bridge') {
    driverClasses.BridgeDriver ??= (await import('../datapath/bridge.js')).BridgeDriver;
    return new driverClasses.BridgeDriver(options);
  }
  if (config.sluice.mode !== 'ebpf') throw invalidField('mode', `"${config.sluice.mode}" is not available in this version of sluice: use "ebpf" or "bridge"`);
  driverClasses.EbpfDriver ??= (await import('../datapath/ebpf.js')).EbpfDriver;
  return new driverClasses.EbpfDriver(options);
}

/** The driver classes imported so far: the agent asks for one on every call, and import() is not free. */
const driverClasses: { BridgeDriver?: typeof import('../datapath/bridge.js').BridgeDriver; EbpfDriver?: typeof import('../datapath/ebpf.js').EbpfDriver } = {};

/** The driver of the config's mode, imported on first use. */
function lazyDriver(logger: DeferredLogger, env: NodeJS.ProcessEnv): Driver {
  const drivers = new Map<string, Promise<Driver>>();
  const forConfig = (config: PluginConfig): Promise<Driver> => {
    let driver = drivers.get(config.sluice.mode);
    if (!driver) {
      driver = (async () => {
        const [{ faultPointFromEnv }, { log, setLogDestination }] = await Promise.all([import('../datapath/steps.js'), import('../log.js')]);
        // The data path's modules load pino anyway: from here on records go straight to the log, and
        // what those modules log themselves goes where the config says too.
        setLogDestination(logger.file, logger.level);
        const failAt = faultPointFromEnv(env);
        return driverFor(config, { logger: log().child({ cni: true }), ...(failAt ? { failAt } : {}) });
      })();
      drivers.set(config.sluice.mode, driver);
    }
    return driver;
  };
  return {
    add: async (req: AddRequest) => (await forConfig(req.config)).add(req),
    del: async (req: DelRequest) => (await forConfig(req.config)).del(req),
    check: async (req: CheckRequest) => (await forConfig(req.config)).check(req),
    gc: async (req: GcRequest) => (await forConfig(req.config)).gc(req),
    status: async (req: StatusRequest) => (await forConfig(req.config)).status(req),
  };
}

/** The IPAM type served in-process by sluice's own allocator (src/ipam/host-local) instead of CNI_PATH. */
export const BUILTIN_IPAM_TYPE = 'sluice';

/**
 * `ipam.type` "sluice" is the built-in allocator, imported on first use; any other type is delegated
 * to the plugin of that name in CNI_PATH (the dispatcher's default). `builtinOptions`: the built-in one's
 * options (the agent has it remember its stores between calls).
 */
export function ipamFor(config: PluginConfig, env: EnvVars, builtinOptions: BuiltinIpamOptions = {}): Ipam | undefined {
  if (!config.ipam) return undefined;
  if (config.ipam.type !== BUILTIN_IPAM_TYPE) return new DelegatingIpam(config.ipam.type, { env });
  let loaded: Promise<Ipam> | undefined;
  const builtin = (): Promise<Ipam> => (loaded ??= import('../ipam/host-local/index.js').then((m) => m.builtinIpam(builtinOptions)));
  return {
    add: async (req) => (await builtin()).add(req),
    del: async (req) => (await builtin()).del(req),
    check: async (req, expected) => (await builtin()).check(req, expected),
    gc: async (req) => (await builtin()).gc(req),
    status: async (req) => (await builtin()).status(req),
  };
}

async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Runs one CNI call with this process's environment and stdin; resolves with the exit status. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<0 | 1> {
  let logger: DeferredLogger | undefined;
  let stdout: string;
  let exitCode: 0 | 1;
  try {
    const stdin = await readStdin();
    const settings = logSettings(stdin.toString('utf8'), env);
    logger = new DeferredLogger(settings.level, settings.file);
    const { runCni } = await import('./dispatch.js');
    const out = await runCni(env, stdin, lazyDriver(logger, env), { logger, ipamFor });
    stdout = out.stdout;
    exitCode = out.exitCode;
  } catch (err) {
    // Only a failure of the plugin itself (a module that does not load) gets here.
    const error = new CniError(CniCode.Internal, 'sluice failed', err instanceof Error ? (err.stack ?? err.message) : String(err));
    stdout = JSON.stringify(error.toJSON(LATEST_VERSION));
    exitCode = 1;
  }
  try {
    await logger?.flush();
  } catch (err) {
    process.stderr.write(`sluice: cannot write the log: ${String(err)}\n`);
  }
  if (stdout) process.stdout.write(`${stdout}\n`);
  return exitCode;
}
