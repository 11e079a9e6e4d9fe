#!/usr/bin/env node
// Bundles the standalone CNI plugin (src/cli/plugin.ts, compiled by tsc to dist/src/cli/plugin.js) with
// everything a CNI call can need into one CommonJS file, dist/src/cli/plugin.bundle.cjs, and writes
// its V8 code cache beside it (plugin.bundle.cjs.cache). The launcher runs both (src/cli/launch.cts).
// Part of `npm run build`, after tsc.
//
// - CommonJS: Node loads it without starting its ES module loader, and a module the sources import
//   lazily stays lazy (esbuild wraps it in a function run on first import), including the require() of
//   an external package inside it: koffi loads only when a verb reaches the data path.
// - koffi stays external: a native addon, loaded from node_modules. pino and the rest are inside.
// - No import() is left: launch.cts compiles the bundle with vm.Script, outside any ES module loader.
// - import.meta.url is the bundle's own URL. The bundle lives in dist/src/cli/, as deep as the compiled
//   modules, so paths taken relative to a module's URL (the eBPF object's) resolve the same.
// - The first line carries the bundle's id (a hash of its content), which the cache repeats.
// - The code cache: every function compiled eagerly, then serialised. V8 refuses a cache made under
//   other flags, so the lazy-compilation flag is put back before serialising. A child Node then checks
//   that it takes the cache; if not, there is none (the launcher compiles the bundle as usual).
// - Written to temporary names and renamed into place, the cache first: a plugin running meanwhile
//   reads the old bundle or the new one, never half of one, and never uses a cache of the other.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

const root = fileURLToPath(new URL('..', import.meta.url));
const launchModule = `${root}dist/src/cli/launch.cjs`;
const { BUNDLE, BUNDLE_ID_LENGTH, BUNDLE_ID_PREFIX, cacheFileOf, compileBundle } = createRequire(import.meta.url)(launchModule);
const entry = `${root}dist/src/cli/plugin.js`;
const URL_NAME = '__sluice_bundle_url';
const placeholder = `${BUNDLE_ID_PREFIX}${'0'.repeat(BUNDLE_ID_LENGTH)}`;

function writeAtomically(path, contents) {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, contents);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

const result = await build({
  entryPoints: [entry],
  outfile: BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi'],
  // import() becomes require() (and, for bundled modules, a call of their lazy initialiser): the
  // launcher compiles the bundle with vm.Script, which has no ES module loader to hand import() to.
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': URL_NAME },
  // "use strict" first (the sources are ES modules, strict), then the URL: a directive after a statement is none.
  banner: { js: `${placeholder}\n'use strict';\nconst ${URL_NAME} = require('node:url').pathToFileURL(__filename).href;` },
  sourcemap: 'linked',
  legalComments: 'eof',
  write: false,
  metafile: true,
  logLevel: 'warning',
});
const output = result.outputFiles.find((f) => f.path === BUNDLE);
if (!output?.text.startsWith(`${placeholder}\n`)) throw new Error(`esbuild wrote no bundle with the id line at ${BUNDLE}`);
const dynamic = Object.values(result.metafile.outputs).flatMap((o) => o.imports).filter((i) => i.kind === 'dynamic-import');
if (dynamic.length) throw new Error(`the bundle would import() ${dynamic.map((i) => i.path).join(', ')}: the launcher could not run it`);
const id = createHash('sha256').update(output.text).digest('hex').slice(0, BUNDLE_ID_LENGTH);
const source = output.text.replace(placeholder, `${BUNDLE_ID_PREFIX}${id}`);

setFlagsFromString('--no-lazy');
const script = compileBundle(source, BUNDLE);
setFlagsFromString('--lazy');
const cache = Buffer.concat([Buffer.from(id, 'latin1'), script.createCachedData()]);

const cacheFile = cacheFileOf(BUNDLE);
writeAtomically(cacheFile, cache);
for (const file of result.outputFiles) writeAtomically(file.path, file === output ? source : file.contents);

// Does a Node started as the launcher starts it take the cache?
const check = spawnSync(process.execPath, ['-e', `
  const fs = require('node:fs');
  const { cachedDataFor, compileBundle } = require(${JSON.stringify(launchModule)});
  const source = fs.readFileSync(${JSON.stringify(BUNDLE)}, 'utf8');
  const data = cachedDataFor(source, fs.readFileSync(${JSON.stringify(cacheFile)}));
  process.exit(data && !compileBundle(source, ${JSON.stringify(BUNDLE)}, data).cachedDataRejected ? 0 : 3);
`], { stdio: 'inherit' });
const kib = (n) => `${Math.round(n / 1024)} KiB`;
if (check.status === 0) {
  console.log(`bundled ${BUNDLE.slice(root.length)} (${kib(source.length)}, id ${id}) and its code cache (${kib(cache.length)})`);
} else {
  rmSync(cacheFile, { force: true });
  console.log(`bundled ${BUNDLE.slice(root.length)} (${kib(source.length)}, id ${id}); warning: this Node refuses the code cache, none written`);
}
