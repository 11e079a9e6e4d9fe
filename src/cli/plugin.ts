/**
 * The standalone CNI plugin's entry point, which main.ts runs for a CNI call and the launcher the shim
 * falls back to (`sluice-plugin`, see launch.cts) runs bundled: scripts/bundle-plugin.js bundles it at
 * build time, with everything a CNI call can need (pino included; koffi, a native addon, left out),
 * into one CommonJS file, dist/src/cli/plugin.bundle.cjs, so that a call reads one file instead of
 * resolving and loading a hundred modules. The bundle keeps the sources' lazy imports lazy: VERSION
 * runs the protocol layer only; koffi, libbpf and pino load when a verb reaches the data path.
 *
 * No top-level await, and nothing outside the bundle imported: the bundle is CommonJS (which Node
 * loads faster than an ES module) and runs without an ES module loader (see launch.cts).
 */
if (process.env.CNI_COMMAND === undefined) {
  process.stderr.write('sluice: this is the CNI plugin, run with CNI_COMMAND set; for the command line run `sluice` (dist/src/cli/main.js)\n');
  process.exit(2);
}

import('../cni/main.js')
  .then(({ main }) => main())
  // stdout and stderr are synchronous for files and pipes on Linux: nothing is lost by exiting now,
  // and a handle some library left open cannot keep the runtime waiting.
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    process.stderr.write(`sluice: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });

export {};
