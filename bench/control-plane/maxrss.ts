// The memory pass's wrapper (maxrss.c): compiled with the machine's C compiler into a directory of the
// bench's own; a call run through it leaves the peak RSS of its process tree in a file.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../lib/report.js';

export const MAXRSS_SOURCE = join(repoRoot(), 'bench', 'control-plane', 'maxrss.c');

/** Compiles maxrss.c into `dir` and returns the binary's path. */
export function buildMaxrss(dir: string, compiler = process.env.CC ?? 'cc'): string {
  const out = join(dir, 'maxrss');
  execFileSync(compiler, ['-std=c11', '-O2', '-Wall', '-o', out, MAXRSS_SOURCE], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

/** The figure maxrss wrote: KiB. */
export function readMaxrss(file: string): number {
  const text = readFileSync(file, 'utf8').trim();
  if (!/^\d+$/.test(text)) throw new Error(`maxrss wrote ${JSON.stringify(text)} to ${file}`);
  return Number(text);
}
