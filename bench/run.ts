// `npm run bench`: installs what the parts need, runs every part of the benchmark in turn (each its own
// program, listed in bench/report/sections.ts), then writes the report (bench/report/build.ts).
//
//   sudo npm run bench [-- --only codec,ipam] [--quick] [--no-install] [--no-report]
//
// --only     the parts to run (comma-separated); the report still shows the others' earlier figures
// --quick    the parts' quick settings (fewer runs, smaller sizes): for trying it out, not for publishing
// Ctrl-C stops the part that is running (it removes what it made) and runs nothing else, not even the report.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { repoRoot } from './lib/report.js';
import { buildReport } from './report/build.js';
import { PARTS, type Part } from './report/sections.js';

export interface Selection {
  parts: Part[];
  /** Names asked for that no registered part has. */
  unknown: string[];
}

/** The registered parts named in `only` (all of them without it), in the registry's order. */
export function selectParts(parts: readonly Part[], only: string | undefined): Selection {
  if (only === undefined) return { parts: [...parts], unknown: [] };
  const names = only.split(',').map((n) => n.trim()).filter(Boolean);
  return {
    parts: parts.filter((p) => names.includes(p.part)),
    unknown: names.filter((n) => !parts.some((p) => p.part === n)),
  };
}

/** The Debian packages the selected parts need, each once. */
export function packagesFor(parts: readonly Part[]): string[] {
  return [...new Set(parts.flatMap((p) => p.run.packages ?? []))];
}

/** The arguments a part runs with. */
export function argsFor(part: Part, quick: boolean): string[] {
  return quick ? (part.run.quick ?? []) : [];
}

/** How this run was asked for, as the report prints it. */
export function commandLine(args: readonly string[], root: boolean): string {
  return `${root ? 'sudo ' : ''}npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
}

// ---- running children so that Ctrl-C reaches them once, and waiting for them to clean up ----

let running: ChildProcess | undefined;
let stopping: NodeJS.Signals | undefined;

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    process.stderr.write(`\n${signal}: still waiting for the running part to clean up\n`);
    return;
  }
  stopping = signal;
  process.stderr.write(`\n${signal}: stopping${running ? ' once the running part has cleaned up' : ''}; nothing else will run\n`);
  // The child leads a process group of its own (so a terminal's Ctrl-C does not reach it twice, from
  // the terminal and from here): signal the whole group, as the terminal would have.
  if (running?.pid) {
    try {
      process.kill(-running.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Runs a program to its end; resolves with its exit code (or 128 + the signal's number). */
function run(command: string, args: readonly string[], cwd: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    running = child;
    child.once('error', (e) => {
      process.stderr.write(`${command}: ${e.message}\n`);
      running = undefined;
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      running = undefined;
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 9));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-install': { type: 'boolean', default: false },
      'no-report': { type: 'boolean', default: false },
    },
  });
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  const root = repoRoot();
  const isRoot = process.getuid?.() === 0;
  const { parts, unknown } = selectParts(PARTS, values.only);
  for (const name of unknown) console.log(`${name}: no such part in this build, skipped (parts: ${PARTS.map((p) => p.part).join(', ')})`);
  if (parts.length === 0) {
    console.error('nothing to run');
    process.exitCode = 2;
    return;
  }

  const packages = packagesFor(parts);
  if (packages.length && !values['no-install']) {
    const code = await run('bash', [join(root, 'scripts', 'install-deps.sh'), ...packages], root);
    if (stopping) return void (process.exitCode = 130);
    if (code !== 0) console.log(`could not install ${packages.join(' ')} (exit ${code}): the parts that need them may fail or leave out a contender`);
  }

  const ran: string[] = [];
  const failed: Record<string, string> = {};
  const status: string[] = [];
  for (const part of parts) {
    if (stopping) break;
    const entry = join(root, 'dist', 'bench', part.run.entry);
    if (!existsSync(entry)) {
      status.push(`${part.part}: skipped, dist/bench/${part.run.entry} is not built (npm run build)`);
      console.log(status.at(-1));
      continue;
    }
    if (part.run.root && !isRoot) {
      status.push(`${part.part}: skipped, it needs root (it creates network namespaces): run with sudo`);
      console.log(status.at(-1));
      continue;
    }
    const args = argsFor(part, values.quick);
    const quickNote = values.quick && !part.run.quick ? ' (it has no quick mode: a full run)' : '';
    console.log(`\n==== ${part.part}: node dist/bench/${part.run.entry}${args.length ? ` ${args.join(' ')}` : ''}${quickNote}\n`);
    const started = Date.now();
    const code = await run(process.execPath, [entry, ...args], root);
    const seconds = Math.round((Date.now() - started) / 1000);
    if (stopping) {
      status.push(`${part.part}: interrupted after ${seconds} s`);
      break;
    }
    if (code === 0) {
      ran.push(part.part);
      status.push(`${part.part}: done in ${seconds} s`);
    } else {
      failed[part.part] = `its run failed (exit ${code}) in \`${commandLine(process.argv.slice(2), isRoot)}\``;
      status.push(`${part.part}: FAILED (exit ${code}) after ${seconds} s`);
    }
  }

  console.log(`\n==== summary\n${status.join('\n')}`);
  if (stopping) {
    console.log('stopped: no report written');
    process.exitCode = 130;
    return;
  }
  if (!values['no-report'] && (ran.length || Object.keys(failed).length)) {
    console.log('\n==== report\n');
    const { outcomes, written } = buildReport({
      resultsDir: join(root, 'bench', 'results'),
      outDir: join(root, 'docs', 'benchmarks'),
      readmePath: join(root, 'README.md'),
      command: commandLine(process.argv.slice(2), isRoot),
      ran,
      failed,
    });
    for (const o of outcomes) console.log(`${o.part.part.padEnd(14)} ${o.status}${o.status === 'unreadable' || o.status === 'failed' ? `: ${o.error}` : ''}`);
    console.log(`wrote ${written.map((p) => p.slice(root.length + 1)).join(', ')}`);
  }
  if (Object.keys(failed).length) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
