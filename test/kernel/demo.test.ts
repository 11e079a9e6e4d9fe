// `npm run demo` (dist/src/demo/main.js) end to end, as root: a whole run prints every section and
// leaves nothing behind; a run stopped by SIGINT or SIGTERM in the middle (while the plugin is adding
// a pod, while the pods talk, while iperf3 streams) cleans up just as completely. "Nothing behind":
// no namespace, pin root or run directory of the run, no process of it, no new link on the machine,
// the default pin root as it was.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ipNetnsList, isRoot, NEEDS_ROOT } from '../support/kernel.js';

const DEMO = fileURLToPath(new URL('../../src/demo/main.js', import.meta.url));
/** Only so that a hung run fails instead of blocking the suite; nothing here measures time. */
const SAFETY_TIMEOUT_MS = 180_000;
const options = isRoot ? { timeout: SAFETY_TIMEOUT_MS } : { skip: NEEDS_ROOT };

interface Demo {
  readonly child: ChildProcessWithoutNullStreams;
  output(): string;
  /** Resolves once the output matches (rejects when the demo ends first). */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves once a process of this run matching `cmdline` runs (rejects when the demo ends first). */
  waitForProcess(cmdline: RegExp): Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The run's name (sluice-demo-<id>), once printed. */
  run(): Promise<string>;
}

function startDemo(): Demo {
  const child = spawn(process.execPath, [DEMO], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let ended = false;
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  child.stdout.on('data', (d: Buffer) => ((output += d.toString()), changed()));
  child.stderr.on('data', (d: Buffer) => ((output += d.toString()), changed()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      ended = true;
      changed();
      resolve({ code, signal });
    }),
  );
  const until = <T>(test: () => T | undefined, what: string, poll = false): Promise<T> =>
    new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = () => {
        const hit = test();
        if (hit !== undefined) {
          listeners.delete(check);
          clearInterval(timer);
          resolve(hit);
        } else if (ended) {
          listeners.delete(check);
          clearInterval(timer);
          reject(new Error(`the demo ended before ${what}:\n${output}`));
        }
      };
      listeners.add(check);
      if (poll) timer = setInterval(check, 2);
      check();
    });
  let runName: Promise<string> | undefined;
  const demo: Demo = {
    child,
    exit,
    output: () => output,
    waitFor: (pattern) => until(() => output.match(pattern) ?? undefined, `printing ${pattern}`),
    run: () => (runName ??= demo.waitFor(/^run (sluice-demo-[0-9a-f]{6});/m).then((m) => m[1]!)),
    waitForProcess: async (cmdline) => {
      const run = await demo.run();
      await until(() => (processesOf(run).some((p) => cmdline.test(p.cmdline)) ? true : undefined), `a process matching ${cmdline} ran`, true);
    },
  };
  return demo;
}

/** The processes whose environment carries the run's mark (the demo gives it to every child). */
function processesOf(run: string): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (!environ.includes(`SLUICE_DEMO_RUN=${run}`)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (/\) [ZX] /.test(stat)) continue; // a zombie waiting for its reaper holds nothing
      out.push({ pid: Number(name), cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const hostLinks = (): string[] => (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname);
const defaultPins = (): string[] | undefined => (existsSync('/sys/fs/bpf/sluice') ? readdirSync('/sys/fs/bpf/sluice', { recursive: true }).map(String).sort() : undefined);

interface MachineBefore {
  links: Set<string>;
  pins: string[] | undefined;
}

const machine = (): MachineBefore => ({ links: new Set(hostLinks()), pins: defaultPins() });

function assertNothingLeft(run: string, before: MachineBefore, output: string): void {
  assert.deepEqual(ipNetnsList().filter((n) => n.startsWith(`${run}-`)), [], `the run's namespaces are gone\n${output}`);
  assert.equal(existsSync(`/sys/fs/bpf/${run}`), false, 'the pin root is gone');
  assert.equal(existsSync(`/run/${run}`), false, 'the run directory is gone');
  assert.deepEqual(readdirSync('/run').filter((n) => n.startsWith(`.${run}.`)), [], 'no scratch directory is left');
  assert.deepEqual(processesOf(run), [], 'no process of the run is left');
  const newLinks = hostLinks().filter((l) => !before.links.has(l));
  assert.deepEqual(newLinks.filter((l) => /^sl[0-9a-f]{13}$/.test(l) || output.includes(l) || l === 'uplink'), [], "no link of the demo's appeared on the machine");
  assert.deepEqual(defaultPins(), before.pins, 'the default pin root is as it was');
}

function section(output: string, number: number): string {
  const start = output.search(new RegExp(`^${number}\\. `, 'm'));
  assert.notEqual(start, -1, `section ${number} is printed\n${output}`);
  const rest = output.slice(start);
  const end = rest.slice(1).search(/^\d\. /m);
  return end === -1 ? rest : rest.slice(0, end + 1);
}

test('the demo runs end to end, shows every section and leaves nothing behind', options, async () => {
  const before = machine();
  const demo = startDemo();
  const run = await demo.run();
  const { code } = await demo.exit;
  const output = demo.output();
  assert.equal(code, 0, output);

  assert.match(section(output, 1), /node +network namespace sluice-demo-[0-9a-f]{6}-node/);
  assert.match(section(output, 1), /network +sluice-demo: mode ebpf/);

  const pods = section(output, 2);
  for (const n of [1, 2, 3]) assert.match(pods, new RegExp(`^  pod${n} +${run}-pod${n} +10\\.244\\.0\\.\\d+/32.* sl[0-9a-f]{13} +\\d+ ms$`, 'm'));

  const table = section(output, 3);
  assert.match(table, /POD +IPV4 +IPV6 +MAC +HOST VETH +TX PACKETS +TX BYTES +RX PACKETS +RX BYTES/);
  for (const n of [1, 2, 3]) assert.match(table, new RegExp(`^  pod${n} +10\\.244\\.0\\.\\d+ +\\S+ +[0-9a-f:]{17} +sl[0-9a-f]{13} +[\\d,]+ +[\\d.]+ (B|KiB|MiB) `, 'm'));

  const traffic = section(output, 4);
  assert.match(traffic, /^  pod1 +pod2 +10\.244\.0\.\d+ +eBPF: redirected into the peer pod +20\/20 +\d+ µs/m, 'pod to pod');
  assert.match(traffic, /^  pod2 +node +10\.250\.0\.1 +the kernel: delivered to the node +20\/20 /m, 'pod to host');
  // pod1 pinged two pods: 40 echo requests out, 40 replies redirected in (plus whatever IPv6 itself sends).
  const pod1 = traffic.match(/^  pod1 +\+([\d,]+) +\+\S+ \S+ +\+([\d,]+) +\+\S+ \S+ +0$/m);
  assert.ok(pod1, `the counters of pod1 moved\n${traffic}`);
  assert.ok(Number(pod1[1]!.replaceAll(',', '')) >= 40 && Number(pod1[2]!.replaceAll(',', '')) >= 40, traffic);

  const throughput = section(output, 5);
  assert.match(throughput, /^  a veth pair joining two namespaces \(the floor\) +\d+(\.\d)? [GMk]bit\/s /m);
  assert.match(throughput, /^  pod1 → pod2 through sluice \(bpf_redirect_peer\) +\d+(\.\d)? [GMk]bit\/s /m);
  assert.match(throughput, /^  sluice carried \d+ % of the plain veth's best throughput/m);
  assert.match(throughput, /^  pod1 +\+[\d,]+ +\+[\d.]+ [GM]iB /m, 'the stream moved the counters');

  const cleanup = section(output, 6);
  assert.match(cleanup, /CNI DEL +pod1 \d+ ms, pod2 \d+ ms, pod3 \d+ ms; attachment records left: 0/);
  assert.match(cleanup, /removed +\d+ network namespaces/);
  assert.match(cleanup, /nothing left behind/);
  assert.match(output, /^done in [\d.]+ s$/m);
  assertNothingLeft(run, before, output);
});

for (const c of [
  { when: 'while the plugin adds a pod', signal: 'SIGINT', code: 130, at: (d: Demo) => d.waitForProcess(/cli\/main\.js/) },
  { when: 'once the pods talk', signal: 'SIGINT', code: 130, at: (d: Demo) => d.waitFor(/^4\. Traffic/m) },
  { when: 'while iperf3 streams', signal: 'SIGTERM', code: 143, at: (d: Demo) => d.waitForProcess(/iperf3 --client/) },
] as const) {
  test(`${c.signal} ${c.when}: the demo cleans up and leaves nothing behind`, options, async () => {
    const before = machine();
    const demo = startDemo();
    const run = await demo.run();
    await c.at(demo);
    assert.notDeepEqual(ipNetnsList().filter((n) => n.startsWith(`${run}-`)), [], 'the run has namespaces to remove');
    demo.child.kill(c.signal);
    const { code } = await demo.exit;
    const output = demo.output();
    assert.equal(code, c.code, output);
    assert.match(output, new RegExp(`^${c.signal}: stopping and cleaning up$`, 'm'));
    assert.match(output, /^ {2}removed +\d+ network namespaces? \(sluice-demo-/m);
    assert.match(output, /^nothing left behind$/m);
    assert.doesNotMatch(output, /^done in/m);
    assertNothingLeft(run, before, output);
  });
}

test('a demo killed with SIGKILL leaves its run behind, and the next demo removes it', options, async () => {
  const before = machine();
  const killed = startDemo();
  const abandoned = await killed.run();
  await killed.waitForProcess(/cli\/main\.js/); // a plugin call under way: it finishes on its own, orphaned
  killed.child.kill('SIGKILL');
  await killed.exit;
  while (processesOf(abandoned).length) await new Promise((r) => setTimeout(r, 20));
  assert.notDeepEqual(ipNetnsList().filter((n) => n.startsWith(`${abandoned}-`)), [], 'the killed run left namespaces');
  assert.equal(existsSync(`/run/${abandoned}`), true, 'and its run directory');

  const next = startDemo();
  const run = await next.run();
  await next.waitFor(/^1\. A node of its own/m);
  next.child.kill('SIGINT');
  const { code } = await next.exit;
  const output = next.output();
  assert.equal(code, 130, output);
  assert.match(output, new RegExp(`^  removed what earlier demos that were killed left behind: .*\\b${abandoned}\\b`, 'm'));
  assertNothingLeft(abandoned, before, killed.output() + output);
  assertNothingLeft(run, before, output);
});
