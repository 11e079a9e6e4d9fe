#!/usr/bin/env node
// Runs the compiled tests under the given folders (dist/<folder>/**/*.test.js) with node's test runner,
// prints the spec report, and with CI=true (or --no-skips) fails the run when any test was skipped:
// CI runs as root, so a skipped kernel test there is a failure, not a pass.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const noSkips = args.includes('--no-skips') || process.env.CI === 'true';
const folders = args.filter((a) => !a.startsWith('--'));

function collect(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(collect(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const files = folders.flatMap((f) => collect(join('dist', f)));
if (files.length === 0) {
  console.error(`no compiled tests under ${folders.map((f) => `dist/${f}`).join(', ')}: run npm run build first`);
  process.exit(1);
}
if (process.getuid?.() !== 0 && folders.some((f) => f.includes('kernel'))) {
  console.error('note: not root: kernel tests will be skipped (they need root to create namespaces and load eBPF)');
}

const tmp = mkdtempSync(join(tmpdir(), 'sluice-tests-'));
const tap = join(tmp, 'report.tap');
const run = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
  { stdio: 'inherit' },
);
const report = readFileSync(tap, 'utf8');
rmSync(tmp, { recursive: true, force: true });
const count = (key) => Number((report.match(new RegExp(`^# ${key} (\\d+)$`, "m")) ?? [])[1] ?? 0);
const skipped = count('skipped');
const todo = count('todo');
if (run.status !== 0) process.exit(run.status ?? 1);
if (noSkips && skipped + todo > 0) {
  const names = [...report.matchAll(/^\s*ok \d+ - (.*) # SKIP(.*)$/gm)].map((m) => `  ${m[1]}:${m[2]}`);
  console.error(`\n${skipped + todo} test(s) skipped or todo, which CI does not allow:\n${names.join('\n')}`);
  process.exit(1);
}
