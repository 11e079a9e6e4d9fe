// Helpers for tests that touch the kernel: they run only as root, each inside namespaces of its own.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { createNamed, deleteNamed, NetNs } from '../../src/netns.js';

export const isRoot = process.getuid?.() === 0;
export const NEEDS_ROOT = 'needs root (kernel test)';

/** A node:test test that runs as root and is skipped, saying why, otherwise. */
export function kernelTest(name: string, fn: (t: TestContext) => void | Promise<void>): void {
  test(name, isRoot ? {} : { skip: NEEDS_ROOT }, fn);
}

let created = 0;

/** A name no other test, run or leftover uses: "sl-t<pid>-<n>-<random>" (at most 31 characters). */
export function uniqueName(prefix = 'sl-t'): string {
  return `${prefix}${process.pid}-${++created}-${randomBytes(3).toString('hex')}`;
}

export interface TestNamespace {
  readonly name: string;
  /** The namespace, open for the duration of the test (closed before it is deleted). */
  readonly ns: NetNs;
  /** Runs `ip -n <name> ...args` and returns its stdout. */
  ip(...args: string[]): string;
  /** Runs `ip -n <name> -j ...args` and parses its JSON. */
  ipJson<T = Array<Record<string, unknown>>>(...args: string[]): T;
  /** Feeds `ip -n <name> -batch -` these lines (one command each). */
  ipBatch(lines: readonly string[]): void;
}

/**
 * Runs fn with a freshly created, uniquely named namespace and deletes it afterwards, also when fn
 * fails. Whatever fn created inside dies with the namespace once nothing holds it: close sockets and
 * NetNs handles before returning.
 */
export async function withNamespace<T>(fn: (n: TestNamespace) => T | Promise<T>): Promise<T> {
  const name = uniqueName();
  createNamed(name);
  let ns: NetNs | undefined;
  let failed = false;
  try {
    ns = NetNs.named(name);
    return await fn(testNamespace(name, ns));
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    ns?.close();
    try {
      deleteNamed(name);
    } catch (e) {
      // Do not hide the test's own failure behind a cleanup failure.
      if (!failed) throw e;
      process.stderr.write(`cleanup: deleting namespace ${name} failed: ${String(e)}\n`);
    }
  }
}

function testNamespace(name: string, ns: NetNs): TestNamespace {
  const ip = (...args: string[]) => execFileSync('ip', ['-n', name, ...args], { encoding: 'utf8' });
  return {
    name,
    ns,
    ip,
    ipJson: <T>(...args: string[]) => JSON.parse(ip('-j', ...args) || '[]') as T,
    ipBatch: (lines) => {
      execFileSync('ip', ['-n', name, '-batch', '-'], { input: `${lines.join('\n')}\n`, encoding: 'utf8' });
    },
  };
}

/** Names in `ip netns list`. */
export function ipNetnsList(): string[] {
  const out = execFileSync('ip', ['-j', 'netns', 'list'], { encoding: 'utf8' }).trim();
  return out ? (JSON.parse(out) as Array<{ name: string }>).map((n) => n.name) : [];
}

/** Namespaces uniqueName() made in this process that still exist (other test files may run alongside). */
export function leftoverNamespaces(prefix = 'sl-t'): string[] {
  return ipNetnsList().filter((n) => n.startsWith(`${prefix}${process.pid}-`));
}
