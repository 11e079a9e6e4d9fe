// node-netlink (npm package `netlink`, a devDependency), the library the benchmarks compare against.
//
// Its parser and encoder are plain JavaScript; its socket needs a native binding. The package ships
// prebuilds for common platforms, and otherwise builds one from source in its install script, which
// `npm ci` does not run (npm 11 runs no dependency install scripts). ensureBinding() checks that the
// binding loads, builds it when it does not, and says what happened.
//
// The types below describe only the few functions the benchmarks call: the package's own .d.ts pull in
// an old @types/node of their own.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const require = createRequire(import.meta.url);

/** A netlink message as node-netlink's parseMessages returns it: the header fields and the payload. */
export interface NnMessage {
  type: number;
  flags: number;
  seq: number;
  port: number;
  data: Buffer;
}

/** node-netlink's attribute stream: the encoder's output, a list of buffers for sendmsg(). */
export interface NnAttrStream {
  readonly bufs: Uint8Array[];
  emit(data: NnStreamData): void;
  push(type: number, data: NnStreamData): void;
}
export type NnStreamData = Uint8Array | Uint8Array[] | ((out: NnAttrStream) => unknown);

/** netlink/dist/structs: the netlink framing. */
export interface NnStructs {
  parseMessages(buf: Buffer): NnMessage[];
  formatMessage(x: { type: number; flags: number; seq: number; port: number; data: Uint8Array | Uint8Array[] }): Uint8Array[];
  AttrStream: new () => NnAttrStream;
  putString(s: string): Buffer;
  putU32(n: number): Buffer;
}

/** A decoded rtnetlink message: `data` is the fixed header (ifinfomsg, rtmsg, ...), `attrs` the attributes. */
export interface NnRtMessage {
  kind: string;
  data: Record<string, unknown>;
  attrs: Record<string, unknown>;
}

/** netlink/dist/rt/structs: the rtnetlink objects. */
export interface NnRt {
  parseMessage(type: number, payload: Buffer): NnRtMessage;
  formatRouteMessage(x: NnRtMessage, out: NnAttrStream): void;
  formatLinkMessage(x: NnRtMessage, out: NnAttrStream): void;
  formatAddressMessage(x: NnRtMessage, out: NnAttrStream): void;
  formatNeighborMessage(x: NnRtMessage, out: NnAttrStream): void;
}

export interface NnRtSocket {
  getRoutes(data?: Record<string, unknown>): Promise<NnRtMessage[]>;
  readonly socket: { close(): void };
}

/** The package's top level (loading it loads the native binding). */
export interface NnPackage {
  createRtNetlink(options?: Record<string, unknown>): NnRtSocket;
}

/** The folder node-netlink is installed in. */
export function packageDir(): string {
  return dirname(require.resolve('netlink/package.json'));
}

export function packageVersion(dir = packageDir()): string {
  return (require(`${dir}/package.json`) as { version: string }).version;
}

/** The codec half of node-netlink: pure JavaScript, no native binding needed. */
export function loadCodec(dir = packageDir()): { structs: NnStructs; rt: NnRt } {
  return {
    structs: require(`${dir}/dist/structs.js`) as NnStructs,
    rt: require(`${dir}/dist/rt/structs.js`) as NnRt,
  };
}

/** The whole package, socket included (throws when the native binding is missing: see ensureBinding). */
export function loadPackage(dir = packageDir()): NnPackage {
  return require(dir) as NnPackage;
}

export interface BindingStatus {
  ok: boolean;
  /** How the binding was obtained: 'present' (a prebuild or an earlier build), or the build command that made it. */
  how?: string;
  /** Why it is unavailable, when !ok. */
  error?: string;
  /** Seconds spent building, when a build ran. */
  buildSeconds?: number;
}

/** Whether node-netlink loads with its native binding, tried in a child process so that a failure leaves no half-loaded module here. */
export function bindingLoads(dir = packageDir()): { ok: boolean; error: string } {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(dir)})`], { encoding: 'utf8', timeout: 60_000 });
  const lines = (r.stderr ?? '').split('\n').map((l) => l.trim());
  const firstError = lines.find((l) => /^[A-Za-z]*Error\b/.test(l)) ?? lines.find((l) => /Error/.test(l));
  return { ok: r.status === 0, error: r.error?.message ?? firstError ?? `exit status ${r.status}` };
}

/**
 * Makes sure node-netlink's native binding loads: if it does not, builds it from source (g++, make,
 * python3 and the Node headers are needed), first with `npx --no-install node-gyp-build` in the
 * package's folder, then with `npm rebuild netlink --ignore-scripts=false` in the project. `log`
 * receives one line per step.
 */
export function ensureBinding(options: { dir?: string; projectRoot: string; log?: (line: string) => void }): BindingStatus {
  const dir = options.dir ?? packageDir();
  const log = options.log ?? (() => {});
  const first = bindingLoads(dir);
  if (first.ok) return { ok: true, how: 'present' };
  log(`node-netlink: its native binding does not load (${first.error}); building it from source`);
  const attempts: Array<{ how: string; command: string; args: string[]; cwd: string }> = [
    { how: 'npx node-gyp-build (in node_modules/netlink)', command: 'npx', args: ['--no-install', 'node-gyp-build'], cwd: dir },
    { how: 'npm rebuild netlink --ignore-scripts=false', command: 'npm', args: ['rebuild', 'netlink', '--ignore-scripts=false'], cwd: options.projectRoot },
  ];
  let lastError = first.error;
  for (const a of attempts) {
    const start = process.hrtime.bigint();
    const r = spawnSync(a.command, a.args, { cwd: a.cwd, encoding: 'utf8', timeout: 300_000 });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const after = bindingLoads(dir);
    if (after.ok) {
      log(`node-netlink: built its native binding with \`${a.how}\` in ${seconds.toFixed(1)} s`);
      return { ok: true, how: a.how, buildSeconds: Math.round(seconds * 10) / 10 };
    }
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ');
    lastError = r.error ? `${a.how}: ${r.error.message}` : `${a.how} exited with ${r.status ?? r.signal}: ${tail}`;
    log(`node-netlink: ${lastError}`);
  }
  return { ok: false, error: lastError };
}
