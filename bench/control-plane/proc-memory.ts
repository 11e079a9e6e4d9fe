// A process's memory as /proc/<pid>/status reports it: the resident set now and its high-water mark.
// The figures cover the whole process, every thread included (threads share one address space).
import { readFileSync } from 'node:fs';

export interface ProcMemory {
  /** VmRSS: resident now, KiB. */
  rssKiB: number;
  /** VmHWM: the peak resident set since the process started (exec), KiB. */
  hwmKiB: number;
  /** Threads: how many threads the process has. */
  threads: number;
}

function field(status: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status);
  if (!m) throw new Error(`no ${name} line in /proc/<pid>/status`);
  return Number(m[1]);
}

/** Reads VmRSS, VmHWM and Threads out of the text of /proc/<pid>/status. */
export function parseProcStatus(status: string): ProcMemory {
  return { rssKiB: field(status, 'VmRSS'), hwmKiB: field(status, 'VmHWM'), threads: field(status, 'Threads') };
}

export function procMemory(pid: number): ProcMemory {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}
