/** Where the package's own files are, from the compiled CLI (dist/src/cli/) or the sources (src/cli/). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root directory: the nearest one above this module whose package.json names sluice. */
export function packageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sluice') return dir;
      } catch {
        // not readable: keep looking
      }
    }
    if (dirname(dir) === dir) throw new Error('cannot find the sluice package directory');
  }
}

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The CLI entry point (with CNI_COMMAND set: the standalone plugin, unbundled) next to this module. */
export function cliEntryPoint(): string {
  return fileURLToPath(new URL('./main.js', import.meta.url));
}

/** What the launcher runs (launch.cts): the bundled standalone plugin for a CNI call, else the CLI. */
export function launchEntryPoint(): string {
  return fileURLToPath(new URL('./launch.cjs', import.meta.url));
}

/** The shim scripts/build-native.sh builds. */
export function builtShim(): string {
  return join(packageRoot(), 'native', 'build', 'sluice-shim');
}
