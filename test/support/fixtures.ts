import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

/** The messages of a captured fixture (one hex message per line; '#' lines are comments). */
export function loadFixture(name: string): Buffer[] {
  return readFileSync(root + name, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => Buffer.from(l, 'hex'));
}
