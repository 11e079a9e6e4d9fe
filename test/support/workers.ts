// Several processes started at once against one node, to test what sluice does when plugin processes
// race: each runs `script` (an ES module given to `node -e`) with its JSON argument in process.argv[1],
// prints "ready" once set up, waits for a line on stdin ("go", written to all of them together), does
// its work and prints what it has to say.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { TestContext } from 'node:test';

export interface WorkerResult {
  code: number | null;
  /** What the worker printed after "ready", trimmed. */
  out: string;
  err: string;
}

/** Starts `count` workers running `script`, lets them all go at once, and returns how each ended. */
export async function runWorkers(t: TestContext, script: string, args: (i: number) => object, count: number): Promise<WorkerResult[]> {
  const children: ChildProcessWithoutNullStreams[] = [];
  try {
    const results: Array<Promise<WorkerResult>> = [];
    const ready: Array<Promise<void>> = [];
    for (let i = 0; i < count; i++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(args(i))]);
      children.push(child);
      let out = '';
      let err = '';
      ready.push(new Promise((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.startsWith('ready\n')) resolve();
        });
        child.once('exit', () => reject(new Error(`worker ${i} exited before it was ready: ${err}`)));
      }));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      results.push(new Promise((resolve) => child.once('close', (code) => resolve({ code, out: out.slice('ready\n'.length).trim(), err }))));
    }
    await Promise.all(ready);
    for (const child of children) child.stdin.write('go\n');
    const done = await Promise.all(results);
    t.diagnostic(`workers: ${done.map((r) => r.out).join(' ')}`);
    return done;
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}
