/**
 * The agent's and the command line's logger: pino, writing JSON lines (one object per record) unless
 * the output is a terminal, where the same records are printed as readable lines instead. pino-pretty
 * is not a dependency: the few lines below do what is needed.
 */
import { once } from 'node:events';
import pino, { type DestinationStream, type Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

const LABELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** One pino record as a readable line: "12:04:05.123 INFO  listening  socket=/run/sluice/sluice.sock". */
export function prettyLine(json: string, colour: boolean): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = typeof record.level === 'number' ? record.level : 30;
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 23) : '';
  const label = (LABELS[level] ?? String(level)).padEnd(5);
  const paint = (code: string | undefined, text: string) => (colour && code ? `\x1b[${code}m${text}\x1b[0m` : text);
  const fields = Object.entries(record)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${paint('90', `${k}=`)}${formatValue(v)}`);
  const msg = typeof record.msg === 'string' ? record.msg : '';
  return `${paint('90', time)} ${paint(COLOURS[level], label)} ${msg}${fields.length ? `  ${fields.join(' ')}` : ''}\n`;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (v && typeof v === 'object' && 'stack' in v && typeof (v as { stack?: unknown }).stack === 'string') {
    const err = v as { type?: string; message?: string };
    return JSON.stringify(`${err.type ?? 'Error'}: ${err.message ?? ''}`);
  }
  return JSON.stringify(v);
}

export interface LoggerOptions {
  level?: LogLevelName;
  /** Append JSON records to this file instead of writing to `stream`. */
  file?: string;
  /** Where records go without `file`: default process.stdout. */
  stream?: NodeJS.WriteStream;
  /** Readable lines instead of JSON; default: when the stream is a terminal. */
  pretty?: boolean;
}

/** A pino logger writing JSON, or readable lines on a terminal. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (options.file) return pino({ level }, pino.destination({ dest: options.file, append: true, mkdir: true, sync: true }));
  const stream = options.stream ?? process.stdout;
  const pretty = options.pretty ?? stream.isTTY === true;
  if (!pretty) return pino({ level }, pino.destination({ fd: (stream as { fd?: number }).fd ?? 1, sync: true }));
  const colour = stream.isTTY === true && !process.env.NO_COLOR;
  const destination: DestinationStream = { write: (line: string) => void stream.write(prettyLine(line, colour)) };
  return pino({ level }, destination);
}

/** Resolves once `stream` has written what it holds (before process.exit). */
export async function drained(stream: NodeJS.WritableStream & { writableLength?: number }): Promise<void> {
  if (stream.writableLength) await once(stream, 'drain');
}
