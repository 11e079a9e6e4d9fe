// deploy/sluice-daemonset.yaml, read with a small YAML-subset reader (block mappings and sequences,
// plain and quoted scalars, comments, `---` between documents: what the manifest uses, nothing more),
// checked against the paths sluice itself uses: `sluice install`'s defaults (from its --help), the
// agent's socket, the config's pinRoot and stateDir, the IPAM data directory and the netns directory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, posix } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../../src/cni/config.js';
import { DEFAULT_SOCKET } from '../../src/daemon/protocol.js';
import { DEFAULT_DATA_DIR } from '../../src/ipam/host-local/config.js';
import { NETNS_RUN_DIR } from '../../src/netns.js';
import { CONFLIST_NAME, LAUNCHER_NAME, SHIM_NAME } from '../../src/cli/install.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const MANIFEST = `${ROOT}deploy/sluice-daemonset.yaml`;

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };
interface Line { indent: number; text: string; no: number }

function scalar(raw: string): Yaml {
  const s = raw.trim();
  if (s.startsWith('"')) return JSON.parse(s) as string;
  if (s.startsWith("'")) return s.slice(1, -1).replaceAll("''", "'");
  if (s === '' || s === '~' || s === 'null') return null;
  if (s === 'true' || s === 'false') return s === 'true';
  if (/^-?\d+$/.test(s)) return Number(s);
  if (/^[[{]/.test(s)) throw new Error(`flow collections are not in the subset: ${s}`);
  return s;
}

/** Removes a comment that starts outside quotes. */
function stripComment(s: string): string {
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) { if (c === quote) quote = ''; continue; }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || s[i - 1] === ' ')) return s.slice(0, i).trimEnd();
  }
  return s.trimEnd();
}

const KEY = /^([A-Za-z0-9_.\/-]+):(?:\s+(.*)|)$/;

function parseBlock(lines: Line[], pos: { i: number }, indent: number): Yaml {
  const first = lines[pos.i];
  if (!first || first.indent < indent) return null;
  if (first.text.startsWith('- ') || first.text === '-') {
    const seq: Yaml[] = [];
    while (pos.i < lines.length && lines[pos.i]!.indent === first.indent && lines[pos.i]!.text.startsWith('-')) {
      const line = lines[pos.i]!;
      const rest = line.text.slice(1).trimStart();
      if (rest === '') { pos.i++; seq.push(parseBlock(lines, pos, line.indent + 1)); continue; }
      // "- key: value" opens a mapping whose keys sit at the column after "- "
      const column = line.indent + (line.text.length - rest.length);
      if (KEY.test(rest)) {
        lines[pos.i] = { indent: column, text: rest, no: line.no };
        seq.push(parseBlock(lines, pos, column));
      } else { pos.i++; seq.push(scalar(rest)); }
    }
    return seq;
  }
  const map: { [key: string]: Yaml } = {};
  while (pos.i < lines.length && lines[pos.i]!.indent === first.indent) {
    const line = lines[pos.i]!;
    const m = KEY.exec(line.text);
    if (!m) throw new Error(`line ${line.no}: not a "key: value" line: ${line.text}`);
    const key = m[1]!;
    if (key in map) throw new Error(`line ${line.no}: duplicate key ${key}`);
    pos.i++;
    if (m[2] !== undefined && m[2] !== '') map[key] = scalar(m[2]);
    else {
      const next = lines[pos.i];
      // a sequence may sit at the same indentation as its key
      if (next && (next.indent > line.indent || (next.indent === line.indent && next.text.startsWith('-')))) map[key] = parseBlock(lines, pos, next.indent);
      else map[key] = null;
    }
  }
  if (pos.i < lines.length && lines[pos.i]!.indent > first.indent) throw new Error(`line ${lines[pos.i]!.no}: bad indentation`);
  return map;
}

export function parseYamlDocuments(text: string): Yaml[] {
  const docs: Line[][] = [[]];
  text.split('\n').forEach((raw, n) => {
    if (raw.includes('\t')) throw new Error(`line ${n + 1}: tab`);
    if (raw.trim() === '---') { docs.push([]); return; }
    const text = stripComment(raw);
    if (text.trim() === '') return;
    docs.at(-1)!.push({ indent: text.length - text.trimStart().length, text: text.trim(), no: n + 1 });
  });
  return docs.filter((d) => d.length > 0).map((lines) => {
    const pos = { i: 0 };
    const value = parseBlock(lines, pos, lines[0]!.indent);
    if (pos.i !== lines.length) throw new Error(`line ${lines[pos.i]!.no}: unexpected`);
    return value;
  });
}

// --- the manifest ----------------------------------------------------------------------------------

interface Mount { name: string; mountPath: string; mountPropagation?: string }
interface Container { name: string; image: string; command: string[]; args?: string[]; securityContext?: { privileged?: boolean }; volumeMounts: Mount[] }
interface Volume { name: string; hostPath?: { path: string; type?: string } }
interface PodSpec { hostNetwork?: boolean; initContainers: Container[]; containers: Container[]; volumes: Volume[] }

function daemonSet(): PodSpec {
  const docs = parseYamlDocuments(readFileSync(MANIFEST, 'utf8')) as { kind?: string; spec?: { template?: { spec?: PodSpec } } }[];
  const ds = docs.filter((d) => d.kind === 'DaemonSet');
  assert.equal(ds.length, 1, 'one DaemonSet');
  const spec = ds[0]!.spec?.template?.spec;
  assert.ok(spec, 'spec.template.spec');
  return spec;
}

/** The value of `--flag v` in an argv, or undefined. */
function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** The default commander prints in `sluice <command> --help` for an option. */
function helpDefault(command: string, option: string): string {
  const out = spawnSync(process.execPath, [MAIN, command, '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  assert.equal(out.status, 0, out.stderr);
  // an option's help may wrap: take its lines up to the next option's
  const lines = out.stdout.split('\n');
  const start = lines.findIndex((l) => l.trimStart().startsWith(`${option} `));
  let end = start + 1;
  while (start >= 0 && end < lines.length && !/^\s+-/.test(lines[end]!) && lines[end]!.trim() !== '') end++;
  const text = start >= 0 ? lines.slice(start, end).map((l) => l.trim()).join(' ') : '';
  const m = /\(default: "([^"]+)"\)/.exec(text);
  assert.ok(m, `no default for ${option} in sluice ${command} --help:\n${out.stdout}`);
  return m[1]!;
}

/** The host path a path inside the container resolves to, through the container's hostPath mounts. */
function hostPathOf(spec: PodSpec, container: Container, path: string): string | undefined {
  let best: { mount: Mount; host: string } | undefined;
  for (const mount of container.volumeMounts) {
    const volume = spec.volumes.find((v) => v.name === mount.name);
    if (!volume?.hostPath) continue;
    const inside = mount.mountPath.replace(/\/$/, '');
    if (path === inside || path.startsWith(`${inside}/`)) {
      if (!best || inside.length > best.mount.mountPath.length) best = { mount, host: volume.hostPath.path + path.slice(inside.length) };
    }
  }
  return best?.host;
}

const argv = (c: Container) => [...c.command, ...(c.args ?? [])];

describe('deploy/sluice-daemonset.yaml', () => {
  test('the YAML reader reads what it claims to', () => {
    const [doc] = parseYamlDocuments('a: 1 # c\nb:\n  - x\n  - k: "v # not a comment"\n    l: \'q\'\nc:\n- true\n');
    assert.deepEqual(doc, { a: 1, b: ['x', { k: 'v # not a comment', l: 'q' }], c: [true] });
    assert.throws(() => parseYamlDocuments('a: 1\na: 2\n'), /duplicate/);
    assert.throws(() => parseYamlDocuments('a: {b: 1}\n'), /flow/);
  });

  test('host network, privileged containers, every volume a hostPath and used', () => {
    const spec = daemonSet();
    assert.equal(spec.hostNetwork, true);
    const all = [...spec.initContainers, ...spec.containers];
    for (const c of all) assert.equal(c.securityContext?.privileged, true, `${c.name} is privileged`);
    const used = new Set(all.flatMap((c) => c.volumeMounts.map((m) => m.name)));
    assert.deepEqual(new Set(spec.volumes.map((v) => v.name)), used);
    for (const v of spec.volumes) assert.ok(v.hostPath?.path.startsWith('/'), `${v.name} is a hostPath`);
  });

  test('the init container runs `sluice install` into the host directories install defaults to', () => {
    const spec = daemonSet();
    assert.equal(spec.initContainers.length, 1);
    const init = spec.initContainers[0]!;
    const args = argv(init);
    assert.deepEqual(args.slice(0, 2), ['sluice', 'install']);
    const binDir = flag(args, '--bin-dir');
    const confDir = flag(args, '--conf-dir');
    assert.ok(binDir && confDir, 'install is given --bin-dir and --conf-dir');
    assert.equal(hostPathOf(spec, init, binDir), helpDefault('install', '--bin-dir'));
    assert.equal(hostPathOf(spec, init, confDir), helpDefault('install', '--conf-dir'));
    // the files install writes land on the node, where the runtime looks for them
    for (const file of [SHIM_NAME, LAUNCHER_NAME]) assert.equal(hostPathOf(spec, init, `${binDir}/${file}`), posix.join(helpDefault('install', '--bin-dir'), file));
    assert.equal(hostPathOf(spec, init, `${confDir}/${CONFLIST_NAME}`), posix.join(helpDefault('install', '--conf-dir'), CONFLIST_NAME));
    // and the init container mounts nothing else
    assert.deepEqual(init.volumeMounts.map((m) => m.mountPath).sort(), [binDir, confDir].sort());
  });

  test('the agent mounts exactly the directories it uses, at the same paths as on the host', () => {
    const spec = daemonSet();
    assert.equal(spec.containers.length, 1);
    const agent = spec.containers[0]!;
    const args = argv(agent);
    assert.deepEqual(args.slice(0, 2), ['sluice', 'daemon']);
    const socket = flag(args, '--socket') ?? helpDefault('daemon', '--socket');
    assert.equal(socket, DEFAULT_SOCKET, 'the agent listens where the shim on the node connects');
    const pinRoot = flag(args, '--pin-root') ?? helpDefault('daemon', '--pin-root');
    assert.equal(pinRoot, DEFAULTS.pinRoot, 'the agent pins where the plugin config looks');
    const used = [socket, pinRoot, DEFAULTS.stateDir, DEFAULT_DATA_DIR, NETNS_RUN_DIR];
    // every path the agent uses resolves to the same path on the host
    for (const path of used) assert.equal(hostPathOf(spec, agent, path), path, `${path} is the host's`);
    // and each mount is needed: the bpffs root (whose sluice/ directory the agent creates), the socket
    // and state directory, the IPAM data's parent (/var/lib/cni), the netns directory
    const needed = new Set([dirname(pinRoot), dirname(socket), DEFAULTS.stateDir, dirname(DEFAULT_DATA_DIR), NETNS_RUN_DIR]);
    assert.deepEqual(new Set(agent.volumeMounts.map((m) => m.mountPath)), needed);
    const propagation = Object.fromEntries(agent.volumeMounts.map((m) => [m.mountPath, m.mountPropagation]));
    assert.equal(propagation[dirname(pinRoot)], 'Bidirectional', 'pins made in the pod are visible on the node and survive it');
    assert.equal(propagation[NETNS_RUN_DIR], 'HostToContainer', 'netns bind mounts made later on the node are seen in the pod');
  });
});
