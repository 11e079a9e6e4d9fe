/** `sluice daemon`: the node agent (src/daemon/agent.ts) with the command line's options. */
import { runAgent } from '../daemon/agent.js';
import { createLogger, type LogLevelName } from '../daemon/logger.js';

export interface DaemonCommandOptions {
  socket: string;
  pinRoot: string;
  stateDir: string;
  allowUid?: number[];
  maxRequestBytes: number;
  readTimeout: number;
  requestTimeout: number;
  workers: number;
  preload: boolean;
  clsBpf?: boolean;
  deferAttach: boolean;
  promoteQuiet: number;
  logLevel: LogLevelName;
  logFile?: string;
}

export async function daemonCommand(options: DaemonCommandOptions, version: string): Promise<number> {
  const logger = createLogger({ level: options.logLevel, ...(options.logFile ? { file: options.logFile } : {}) });
  return runAgent({
    socketPath: options.socket,
    pinRoot: options.pinRoot,
    stateDir: options.stateDir,
    preload: options.preload,
    allowedUids: options.allowUid ?? [],
    maxRequestBytes: options.maxRequestBytes,
    readTimeoutMs: options.readTimeout,
    requestTimeoutMs: options.requestTimeout,
    workers: options.workers,
    logger,
    ...(options.clsBpf ? { forceClsBpf: true } : {}),
    deferAttach: options.deferAttach,
    promoteQuietMs: options.promoteQuiet,
    testHooks: process.env.SLUICE_TEST_HOOKS === '1',
    version,
  });
}
