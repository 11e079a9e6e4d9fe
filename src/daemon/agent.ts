/**
 * `sluice daemon`: the node agent (DESIGN.md, "The agent and the shim"). It serves CNI calls on its
 * unix socket (server.ts) by running them in-process (handler.ts), and keeps warm what a plugin process
 * would load on every call: the Node runtime and sluice's modules, JIT-compiled; the eBPF program and
 * maps, loaded and pinned at start-up and held open; and the netlink and IPAM code paths.
 *
 * Each call still opens the pinned objects and its netlink sockets afresh: they are cheap to open,
 * and what a call sees is then always what is pinned now (after an upgrade or an uninstall by another
 * process, a handle kept from start-up would point at objects no longer in use).
 *
 * SIGTERM (or SIGINT): stop accepting, answer every connection already accepted, close the handles,
 * exit 0. Pods keep their traffic: their program, maps and TCX links are pinned and outlive the agent.
 * The shim runs calls that arrive meanwhile with the standalone plugin (native/sluice-shim.c).
 */
import { stat } from 'node:fs/promises';
import { setNamespaceTypeProbe } from '../sys/ns-check.js';
import { namespaceTypeOf } from '../sys/ns-type.js';
import { keepNftSockets } from '../datapath/nft-common.js';
import type { Logger } from 'pino';
import type { Datapath } from '../bpf/datapath.js';
import { DEFAULTS } from '../cni/config.js';
import type { IpamRequest } from '../ipam/types.js';
import type { NetNs } from '../netns.js';
import type { CniOutput } from '../cni/dispatch.js';
import { CniHandler, type RequestMeta } from './handler.js';
import { listEndpoints, pinnedObjects, type Location } from './inventory.js';
import { DEFAULT_SOCKET } from './protocol.js';
import { WorkerPool } from './pool.js';
import { Promoter, type PromoterStats } from './promoter.js';
import { AgentServer, type ServerStats } from './server.js';

export interface AgentOptions {
  socketPath?: string;
  /** The pin root loaded at start-up and reported by status (configs may name others). */
  pinRoot?: string;
  /** The state directory listed by `sluice endpoints` before any config names one. */
  stateDir?: string;
  /** Load (or open) the eBPF objects at start-up. Default true. */
  preload?: boolean;
  allowedUids?: readonly number[];
  maxRequestBytes?: number;
  readTimeoutMs?: number;
  requestTimeoutMs?: number;
  logger: Logger;
  /** Tests: the simulated node's namespace, for an agent running in the test's own process. */
  nodeNetns?: NetNs;
  forceClsBpf?: boolean;
  /**
   * Answer ADD before the TCX link is attached and attach it when the agent is quiet (promoter.ts);
   * the spoof guard covers the pod meanwhile. Default true; not with forceClsBpf.
   */
  deferAttach?: boolean;
  /** Quiet time before deferred attaches are done (default DEFAULT_PROMOTE_QUIET_MS). */
  promoteQuietMs?: number;
  objectPath?: string;
  /** Honour SLUICE_FAIL_AT_STEP in requests (the agent was started with SLUICE_TEST_HOOKS=1). */
  testHooks?: boolean;
  /** Worker threads running the calls (pool.ts); 0 runs them on the main thread. Default 4. */
  workers?: number;
  /** Run an ADD or CHECK that comes while no other call runs on the main thread, not on a worker. Default true. */
  inlineAlone?: boolean;
  /** Tests: workers sample their thread's namespace at every turn of their event loop. */
  watchNamespaces?: boolean;
  version?: string;
}

export interface AgentStatus {
  pid: number;
  version: string;
  socket: string;
  startedAt: string;
  uptimeSeconds: number;
  requests: ServerStats;
  /** The eBPF objects at each pin root the agent knows, as pinned now. */
  datapaths: ReturnType<typeof pinnedObjects>[];
  /** The start-up load: program id held open, or why it failed. */
  preload: { programId?: number; error?: string } | undefined;
  /** Worker threads running the calls (0: the main thread). */
  workers: number;
  /** Deferred TCX attaches (undefined when ADD attaches at once). */
  deferredAttach: PromoterStats | undefined;
  locations: Location[];
}

/** Worker threads by default: calls wait on the kernel side by side (see pool.ts). */
export const DEFAULT_WORKERS = 4;

function dedupe(locations: Location[]): Location[] {
  return [...new Map(locations.map((l) => [`${l.stateDir}\0${l.pinRoot}`, l])).values()];
}

export class Agent {
  private stopping: Promise<void> | undefined;
  private readonly started = new Date();

  private constructor(
    readonly server: AgentServer,
    private readonly locations: () => Location[],
    /** The worker threads, when calls run there. */
    readonly pool: WorkerPool | undefined,
    private readonly promoter: Promoter | undefined,
    private readonly options: AgentOptions,
    private datapath: Datapath | undefined,
    private readonly preload: AgentStatus['preload'],
  ) {}

  static async start(options: AgentOptions): Promise<Agent> {
    const log = options.logger;
    // libuv starts its thread pool on first use, and its threads inherit the network namespace of the
    // thread that starts them: start it now, at home, rather than from inside some call.
    await stat('/');
    // Namespace files are typed by ioctl here, not by reading mountinfo (see ns-check.ts).
    setNamespaceTypeProbe(namespaceTypeOf);
    keepNftSockets();
    // The modules every call needs, loaded (and compiled) now rather than by the first call.
    await Promise.all([import('../cni/dispatch.js'), import('../datapath/ebpf.js'), import('../ipam/host-local/index.js')]);
    const pinRoot = options.pinRoot ?? DEFAULTS.pinRoot;
    const stateDir = options.stateDir ?? DEFAULTS.stateDir;
    let datapath: Datapath | undefined;
    let preload: AgentStatus['preload'];
    if (options.preload ?? true) {
      try {
        const { Datapath } = await import('../bpf/datapath.js');
        datapath = await Datapath.open({
          pinRoot, ...(options.nodeNetns ? { netns: options.nodeNetns } : {}), ...(options.objectPath ? { objectPath: options.objectPath } : {}), ...(options.forceClsBpf ? { forceClsBpf: true } : {}),
        });
        preload = { programId: datapath.program.id };
        log.info({ pinRoot, programId: preload.programId, maps: datapath.mapIds }, 'eBPF data path loaded');
      } catch (err) {
        preload = { error: err instanceof Error ? err.message : String(err) };
        log.error({ pinRoot, err }, 'cannot load the eBPF data path: calls will try again');
      }
    }
    const deferAttach = (options.deferAttach ?? true) && !options.forceClsBpf;
    const driver = {
      keepHandles: true,
      ...(options.forceClsBpf ? { forceClsBpf: true } : {}), ...(options.objectPath ? { objectPath: options.objectPath } : {}), ...(deferAttach ? { deferAttach: true } : {}),
    };
    const workers = options.workers ?? DEFAULT_WORKERS;
    let pool: WorkerPool | undefined;
    const handler = new CniHandler({
      logger: log,
      testHooks: options.testHooks ?? false,
      driver: { ...driver, ...(options.nodeNetns ? { nodeNetns: options.nodeNetns } : {}) },
      locations: [{ stateDir, pinRoot }],
      // A call on the main thread has a worker do the built-in IPAM's file work meanwhile: ADD's IPAM
      // step runs in the background while the veth is made (both data paths), so the two overlap.
      ...(workers > 0 ? { allocate: (req: IpamRequest) => pool!.allocate(req) } : {}),
    });
    if (workers > 0) {
      pool = new WorkerPool(workers, {
        logLevel: log.level, testHooks: options.testHooks ?? false, driver,
        ...(options.nodeNetns ? { nodeNetnsPath: options.nodeNetns.path } : {}), ...(options.watchNamespaces ? { watchNamespaces: true } : {}),
      }, log);
      try {
        await pool.ready();
      } catch (err) {
        await pool.close();
        datapath?.close();
        throw err;
      }
    }
    // An ADD or CHECK that comes alone runs on the main thread: handing it to a worker and back costs
    // two thread wake-ups, over a millisecond on a VM whose CPUs had gone idle. Calls that overlap it go
    // to the workers, where they wait on the kernel side by side; so does every DEL and GC, which wait
    // for RCU grace periods (deleting a device) that would hold up the main thread, and the calls
    // behind it, for tens of milliseconds.
    let onMain = 0;
    const inlined = new Set(['ADD', 'CHECK', 'STATUS', 'VERSION']);
    const run = (env: Record<string, string>, stdin: Buffer, meta: RequestMeta): Promise<CniOutput> => {
      const alone = onMain === 0 && (pool?.inFlight ?? 0) === 0 && inlined.has(env.CNI_COMMAND ?? '');
      if (pool && (options.inlineAlone === false || !alone)) return pool.run(env, stdin, meta);
      onMain++;
      return handler.run(env, stdin, meta).finally(() => onMain--);
    };
    const locations = () => dedupe([...handler.locations, ...(pool?.locations ?? [])]);
    let agent: Agent | undefined;
    let promoter: Promoter | undefined;
    const server = new AgentServer({
      onCallDone: (command) => {
        if (command === 'ADD') promoter?.wake();
      },
      socketPath: options.socketPath ?? DEFAULT_SOCKET,
      logger: log,
      ...(options.allowedUids ? { allowedUids: options.allowedUids } : {}),
      ...(options.maxRequestBytes ? { maxRequestBytes: options.maxRequestBytes } : {}),
      ...(options.readTimeoutMs ? { readTimeoutMs: options.readTimeoutMs } : {}),
      ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      handlers: {
        cni: run,
        endpoints: async () => listEndpoints(locations()),
        status: async () => agent!.status(),
      },
    });
    try {
      await server.listen();
    } catch (err) {
      await pool?.close();
      datapath?.close();
      throw err;
    }
    if (deferAttach) {
      // The guard's table made now, so that the first ADD's guard costs one message.
      try {
        const { SpoofGuard } = await import('../datapath/spoof-guard.js');
        const guard = SpoofGuard.open(options.nodeNetns ? { netns: options.nodeNetns } : {});
        try {
          guard.ensure();
        } finally {
          guard.close();
        }
      } catch (err) {
        log.warn({ err }, 'cannot set up the spoof guard now: the first ADD will');
      }
      promoter = new Promoter({
        server, logger: log, stateDirs: () => [...new Set(locations().map((l) => l.stateDir))],
        ...(options.nodeNetns ? { nodeNetns: options.nodeNetns } : {}), ...(options.objectPath ? { objectPath: options.objectPath } : {}),
        ...(options.promoteQuietMs !== undefined ? { quietMs: options.promoteQuietMs } : {}),
      });
      // What an earlier agent left deferred.
      promoter.wake();
    }
    agent = new Agent(server, locations, pool, promoter, options, datapath, preload);
    log.info({ socket: server.socketPath, pid: process.pid, allowedUids: [0, ...(options.allowedUids ?? [])] }, 'listening');
    return agent;
  }

  status(): AgentStatus {
    const locations = this.locations();
    const roots = [...new Set(locations.map((l) => l.pinRoot))];
    return {
      pid: process.pid,
      version: this.options.version ?? 'unknown',
      socket: this.server.socketPath,
      startedAt: this.started.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.started.getTime()) / 1000),
      requests: { ...this.server.stats },
      datapaths: roots.map((r) => pinnedObjects(r)),
      preload: this.preload,
      workers: this.pool?.size ?? 0,
      deferredAttach: this.promoter ? { ...this.promoter.stats } : undefined,
      locations,
    };
  }

  /** Graceful stop: no new connections, every accepted one answered, handles closed. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const log = this.options.logger;
      log.info({ inFlight: this.server.stats.inFlight }, 'stopping: no new calls, finishing the ones under way');
      await this.server.close();
      await this.promoter?.stop();
      await this.pool?.close();
      this.datapath?.close();
      this.datapath = undefined;
      log.info({ served: this.server.stats.served }, 'stopped');
    })();
    return this.stopping;
  }
}

/** Runs the agent until SIGTERM or SIGINT, then stops it gracefully; resolves with the exit status. */
export async function runAgent(options: AgentOptions): Promise<number> {
  let agent: Agent;
  try {
    agent = await Agent.start(options);
  } catch (err) {
    options.logger.fatal({ err }, `cannot start the agent: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(s);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
  options.logger.info({ signal }, 'signal received');
  // A second signal while draining means "now".
  const hurry = (s: NodeJS.Signals) => {
    options.logger.warn({ signal: s }, 'second signal: exiting without waiting for the calls under way');
    process.exit(1);
  };
  process.once('SIGTERM', hurry);
  process.once('SIGINT', hurry);
  await agent.stop();
  process.off('SIGTERM', hurry);
  process.off('SIGINT', hurry);
  return 0;
}
