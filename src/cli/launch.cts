/**
 * What the launcher `sluice-plugin` (written by `sluice install`, see install.ts) runs: it requires this
 * file and calls launch(). A CNI call runs the standalone plugin from its bundle, plugin.bundle.cjs next
 * to this file (scripts/bundle-plugin.js builds it from plugin.ts), compiled with the V8 code cache the
 * same script wrote beside it, so that Node neither resolves a hundred modules nor parses 600 KiB of
 * JavaScript before the call starts. Anything else (the shim execs the plugin for `sluice <command>`),
 * or no bundle, runs the unbundled main.js.
 *
 * CommonJS on purpose: Node starts it without its ES module loader.
 *
 * The cache holds bytecode for every function of the bundle (compiled eagerly when it was made), so a
 * verb runs without compiling. V8 checks that it was made by this V8 with these flags, but of the
 * source it checks only the length: the cache carries the bundle's id (the first line of the bundle,
 * a hash of its content) and is used only for the bundle of that id. A cache made by another Node, or
 * for another bundle, is ignored: the bundle is then compiled as usual, just slower.
 *
 * SLUICE_LAUNCH_DEBUG=1 says on stderr what was run and whether the code cache was used.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm = require('node:vm');
import Module = require('node:module');

export const BUNDLE = join(__dirname, 'plugin.bundle.cjs');
export const CLI = join(__dirname, 'main.js');
/** The code cache of a bundle: `<bundle>.cache`, the bundle's id then V8's data. */
export const cacheFileOf = (bundle: string): string => `${bundle}.cache`;
export const BUNDLE_ID_PREFIX = '// sluice-plugin bundle ';
export const BUNDLE_ID_LENGTH = 16;

/** The id on the bundle's first line, or undefined when it has none. */
export function bundleId(source: string): string | undefined {
  if (!source.startsWith(BUNDLE_ID_PREFIX)) return undefined;
  const id = source.slice(BUNDLE_ID_PREFIX.length, BUNDLE_ID_PREFIX.length + BUNDLE_ID_LENGTH);
  return /^[0-9a-f]+$/.test(id) && id.length === BUNDLE_ID_LENGTH ? id : undefined;
}

/** V8's data from a cache file made for this bundle source; undefined when absent or made for another. */
export function cachedDataFor(source: string, cache: Buffer | undefined): Buffer | undefined {
  const id = bundleId(source);
  if (!id || !cache || cache.length <= BUNDLE_ID_LENGTH) return undefined;
  return cache.subarray(0, BUNDLE_ID_LENGTH).toString('latin1') === id ? cache.subarray(BUNDLE_ID_LENGTH) : undefined;
}

/** The bundle as Node would compile a CommonJS module (the same wrapper), with the cached code when given. */
export function compileBundle(source: string, filename: string, cachedData?: Buffer): vm.Script {
  // No importModuleDynamically: the bundle holds no import() (scripts/bundle-plugin.js sees to it).
  return new vm.Script(Module.wrap(source), { filename, ...(cachedData ? { cachedData } : {}) });
}

function debug(message: string): void {
  if (process.env.SLUICE_LAUNCH_DEBUG === '1') process.stderr.write(`sluice-plugin: ${message}\n`);
}

function readIfThere(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function runUnbundled(why: string): void {
  debug(`${CLI} (${why})`);
  import(pathToFileURL(CLI).href).catch((err: unknown) => {
    process.stderr.write(`sluice: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}

export function launch(bundle = BUNDLE): void {
  if (process.env.CNI_COMMAND === undefined) return runUnbundled('not a CNI call');
  const source = readIfThere(bundle)?.toString('utf8');
  if (source === undefined) return runUnbundled(`no bundle at ${bundle}`);
  const cachedData = cachedDataFor(source, readIfThere(cacheFileOf(bundle)));
  const script = compileBundle(source, bundle, cachedData);
  debug(`${bundle} (code cache ${!cachedData ? 'absent' : script.cachedDataRejected ? 'rejected' : 'used'})`);
  // Run as Node runs a CommonJS module: the same arguments, and the module in require.cache.
  const bundleModule = new Module(bundle, require.main);
  bundleModule.filename = bundle;
  require.cache[bundle] = bundleModule;
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(bundleModule.exports, bundleModule.exports, Module.createRequire(bundle), bundleModule, bundle, dirname(bundle));
  bundleModule.loaded = true;
}

// Run as a script (the shell launcher, for a node path a #! line cannot hold): launch at once.
if (require.main === module) launch();
