#!/usr/bin/env node
/**
 * The `sluice` executable. With CNI_COMMAND in the environment it is the CNI plugin (the entry point the
 * native shim falls back to when no agent listens); otherwise the command line, of which only `--help`
 * and `version` exist yet.
 */
import { readFileSync } from 'node:fs';

if (process.env.CNI_COMMAND !== undefined) {
  const { main } = await import('../cni/main.js');
  const code = await main();
  // stdout and stderr are synchronous for files and pipes on Linux: nothing is lost by exiting now,
  // and a handle some library left open cannot keep the runtime waiting.
  process.exit(code);
} else {
  await cli(process.argv);
}

function packageVersion(): string {
  for (const up of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sluice' && pkg.version) return pkg.version;
    } catch {
      // not there: try the next layout (compiled under dist/ or run from the sources)
    }
  }
  return 'unknown';
}

async function cli(argv: string[]): Promise<void> {
  const { Command } = await import('commander');
  const { SUPPORTED_VERSIONS } = await import('../cni/types.js');
  const program = new Command('sluice')
    .description('A CNI plugin and node agent: eBPF-routed pod networking.\nRun by a container runtime with CNI_COMMAND set, sluice is the CNI plugin.')
    .showHelpAfterError();
  program
    .command('version')
    .description('print the version of sluice and the CNI spec versions it speaks')
    .option('--json', 'print it as JSON')
    .action((options: { json?: boolean }) => {
      const version = packageVersion();
      if (options.json) process.stdout.write(`${JSON.stringify({ version, cniVersions: SUPPORTED_VERSIONS })}\n`);
      else process.stdout.write(`sluice ${version}\nCNI spec versions: ${SUPPORTED_VERSIONS.join(', ')}\n`);
    });
  await program.parseAsync(argv);
}
