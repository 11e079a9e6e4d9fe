import pino, { type Logger } from 'pino';

/**
 * The process-wide logger. In CNI mode stdout belongs to the result, so logs go to stderr unless a file
 * is configured (SLUICE_LOG_FILE or setLogDestination).
 */
let logger: Logger | undefined;

export function log(): Logger {
  logger ??= create(process.env.SLUICE_LOG_FILE, process.env.SLUICE_LOG_LEVEL ?? 'warn');
  return logger;
}

function create(file: string | undefined, level: string): Logger {
  const dest = file ? pino.destination({ dest: file, append: true, mkdir: true, sync: true }) : pino.destination({ fd: 2, sync: true });
  return pino({ level, base: { pid: process.pid } }, dest);
}

/** Re-targets the logger (the CNI config's logFile / logLevel). */
export function setLogDestination(file: string | undefined, level: string): void {
  logger = create(file, level);
}
