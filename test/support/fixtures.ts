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

/**
 * The rules in what `nft --debug=netlink -f` printed (see test/fixtures/nftables/capture.sh): each
 * rule's "family table chain" line and its expressions, one "[ ... ]" line each.
 */
export function nftDebugRules(name: string): Array<{ chain: string; expressions: string[] }> {
  const lines = readFileSync(root + name, 'utf8').split('\n');
  const rules: Array<{ chain: string; expressions: string[] }> = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\w+ \S+ \S+$/.test(lines[i]!) || !/^ {2}\[ /.test(lines[i + 1] ?? '')) continue;
    const expressions: string[] = [];
    const chain = lines[i]!;
    for (i++; /^ {2}\[ .* \]$/.test(lines[i] ?? ''); i++) expressions.push(lines[i]!.trim());
    rules.push({ chain, expressions });
  }
  return rules;
}
