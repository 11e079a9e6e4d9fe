/**
 * A CNI call run inside the agent: the same runCni, driver (driverFor) and IPAM (ipamFor) as the
 * standalone plugin, in-process, so a call costs what the data path costs and nothing for starting
 * Node. What differs from the standalone plugin, on purpose:
 *
 * - Logs go to the agent's log, each record tagged with the request; a config's `logFile` (or the
 *   caller's SLUICE_LOG_FILE) gets the request's records too, at its `logLevel`, as from the plugin.
 * - Fault injection (SLUICE_FAIL_AT_STEP) is honoured only when the agent itself runs with
 *   SLUICE_TEST_HOOKS=1: a caller cannot turn it on.
 *
 * The namespace rule holds with many calls interleaved: every driver step that switches namespace
 * does so inside a synchronous runIn() and is back before it returns, so no await ever happens while
 * the thread is switched, whatever other call resumes in between.
 */
import type { LogFn, Logger } from 'pino';
import pino from 'pino';
import { runCni, type AddRequest, type CheckRequest, type CniOutput, type DelRequest, type Driver, type GcRequest, type StatusRequest } from '../cni/dispatch.js';
import { CniCode, CniError } from '../cni/errors.js';
import type { EnvVars } from '../cni/env.js';
import { BUILTIN_IPAM_TYPE, driverFor, ipamFor, logSettings, type DriverOptions } from '../cni/main.js';
import type { Ipam, IpamRequest, IpamResult } from '../ipam/types.js';
import type { PluginConfig } from '../cni/types.js';
import { faultPointFromEnv, FAIL_AT_STEP_VAR, TEST_HOOKS_VAR } from '../datapath/steps.js';
import type { Location } from './inventory.js';
import { replyVersion } from './protocol.js';

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
type Level = keyof typeof LEVELS;
type Emitting = 'debug' | 'info' | 'warn' | 'error';

export interface HandlerOptions {
  logger: Logger;
  /** The agent runs with SLUICE_TEST_HOOKS=1: requests may ask for injected faults. */
  testHooks?: boolean;
  /** Passed to every driver (tests give `nodeNetns` to run an in-process agent for a simulated node). */
  driver?: Omit<DriverOptions, 'logger' | 'failAt'>;
  /** Locations listed by `sluice endpoints` before any request named one. */
  locations?: Location[];
  /**
   * Where the built-in IPAM's allocations run, when not on this thread (the agent's main thread hands
   * them to a worker: pool.ts).
   */
  allocate?(req: IpamRequest): Promise<IpamResult>;
}

export interface RequestMeta {
  /** The agent's number for the request (in its log). */
  id: number;
  peer?: { pid: number; uid: number };
}

/** A logger that writes each record to the agent's log and, when the request asked for one, its own file. */
class RequestLogger {
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;

  constructor(agent: Logger, file: Logger | undefined, fileLevel: Level) {
    const emit = (level: Emitting) =>
      ((a: unknown, b?: unknown) => {
        const obj = typeof a === 'object' && a !== null ? (a as object) : {};
        const msg = typeof a === 'string' ? a : typeof b === 'string' ? b : '';
        agent[level](obj, msg);
        if (file && LEVELS[level] >= LEVELS[fileLevel]) file[level](obj, msg);
      }) as LogFn;
    this.debug = emit('debug');
    this.info = emit('info');
    this.warn = emit('warn');
    this.error = emit('error');
  }
}

export class CniHandler {
  private readonly files = new Map<string, Logger>();
  private readonly known = new Map<string, Location>();

  constructor(private readonly options: HandlerOptions) {
    for (const l of options.locations ?? []) this.remember(l);
  }

  /** Every (stateDir, pinRoot) the agent was started with or has served a config for. */
  get locations(): Location[] {
    return [...this.known.values()];
  }

  private remember(location: Location): void {
    const key = `${location.stateDir}\0${location.pinRoot}`;
    if (!this.known.has(key)) this.known.set(key, { stateDir: location.stateDir, pinRoot: location.pinRoot });
  }

  /** Runs one CNI call; never throws (a failure of the agent itself is CNI error 999). */
  async run(env: Record<string, string>, stdin: Buffer, meta: RequestMeta): Promise<CniOutput> {
    const base = { req: meta.id, command: env.CNI_COMMAND, ...(env.CNI_CONTAINERID ? { containerId: env.CNI_CONTAINERID } : {}), ...(env.CNI_IFNAME ? { ifname: env.CNI_IFNAME } : {}) };
    try {
      const settings = logSettings(stdin.toString('utf8'), env);
      const logger = new RequestLogger(this.options.logger.child(base), this.fileLogger(settings.file), settings.level);
      const hooks = this.options.testHooks ? { [TEST_HOOKS_VAR]: '1', [FAIL_AT_STEP_VAR]: env[FAIL_AT_STEP_VAR] } : {};
      const driverOf = async (config: PluginConfig): Promise<Driver> => {
        this.remember(config.sluice);
        const failAt = faultPointFromEnv(hooks);
        return driverFor(config, { ...this.options.driver, logger, ...(failAt ? { failAt } : {}) });
      };
      const driver: Driver = {
        add: async (req: AddRequest) => (await driverOf(req.config)).add(req),
        del: async (req: DelRequest) => (await driverOf(req.config)).del(req),
        check: async (req: CheckRequest) => (await driverOf(req.config)).check(req),
        gc: async (req: GcRequest) => (await driverOf(req.config)).gc(req),
        status: async (req: StatusRequest) => (await driverOf(req.config)).status(req),
      };
      return await runCni(env, stdin, driver, { logger, ipamFor: (config, ipamEnv) => this.ipamFor(config, ipamEnv) });
    } catch (err) {
      // runCni answers every failure of a call itself: only a fault of the agent gets here.
      this.options.logger.error({ ...base, err }, 'the agent failed to run a CNI call');
      const error = new CniError(CniCode.Internal, 'sluice agent failed', err instanceof Error ? err.message : String(err));
      return { stdout: JSON.stringify(error.toJSON(replyVersion(stdin))), exitCode: 1 };
    }
  }

  /**
   * The plugin's IPAM, except that the built-in one keeps its stores' index in memory between calls,
   * and allocates where `allocate` says.
   */
  private ipamFor(config: PluginConfig, env: EnvVars): Ipam | undefined {
    const ipam = ipamFor(config, env, { remember: true });
    const allocate = this.options.allocate;
    if (!ipam || !allocate || config.ipam?.type !== BUILTIN_IPAM_TYPE) return ipam;
    return { ...ipam, add: (req) => allocate(req) };
  }

  /** A pino logger appending to `file` (one per file, kept open), or undefined when there is none or it cannot be opened. */
  private fileLogger(file: string | undefined): Logger | undefined {
    if (!file) return undefined;
    let logger = this.files.get(file);
    if (!logger) {
      try {
        logger = pino({ level: 'trace', base: { pid: process.pid } }, pino.destination({ dest: file, append: true, mkdir: true, sync: true })).child({ cni: true });
      } catch (err) {
        this.options.logger.warn({ file, err }, 'cannot open the log file a request asked for');
        return undefined;
      }
      this.files.set(file, logger);
    }
    return logger;
  }
}
