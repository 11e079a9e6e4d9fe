// podman (CNI backend, runc) around sluice, with everything of the test's own: a temporary directory
// holding the CNI bin dir `sluice install` fills, the network config dir, podman's storage (--root,
// --runroot, --tmpdir), a containers.conf (CONTAINERS_CONF), the sluice state and IPAM data, and a
// busybox image imported from a rootfs tar. podman runs in the machine's network namespace, so the
// network has its own pin root, subnet (10.213.N.0/24, one not routed here), bridge name, and cleanup()
// removes every container, network, image, pin root, directory and host link it made.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BUSYBOX = '/bin/busybox';
const REFERENCE_PLUGINS = '/usr/lib/cni';
/**
 * Explicit limits below the defaults: podman 4.3 asks runc for higher NOFILE/NPROC limits even with
 * `--ulimit host`, which fails without CAP_SYS_RESOURCE (containers running the tests may lack it).
 */
const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];

/** Why podman tests cannot run here, or undefined when they can. */
export function podmanMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const [what, path] of [['podman', '/usr/bin/podman'], ['runc', '/usr/sbin/runc'], ['busybox-static', BUSYBOX], ['containernetworking-plugins', `${REFERENCE_PLUGINS}/portmap`]] as const) {
    if (!existsSync(path) && !(what === 'runc' && existsSync('/usr/bin/runc'))) return `${what} is not installed (bash scripts/install-deps.sh ${what})`;
  }
  if (!existsSync('/sys/fs/bpf')) return 'no bpffs at /sys/fs/bpf';
  return undefined;
}

export interface Run { code: number | null; stdout: string; stderr: string }

export interface PodmanOptions {
  mode: 'ebpf' | 'bridge';
  /** Start `sluice daemon` on a socket of the test's own; without it the shim runs the standalone plugin. */
  agent: boolean;
}

/** A free TCP port on the host (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A host TCP server that answers every connection with `reply` and closes. */
export async function replyServer(host: string, reply: string): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => socket.end(reply));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return { port: (server.address() as { port: number }).port, server };
}

function freeSubnet(): number {
  const routes = spawnSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout;
  const addrs = spawnSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).stdout;
  for (let tries = 0; tries < 100; tries++) {
    const n = 1 + (randomBytes(1)[0]! % 250);
    const used = new RegExp(`\\b10\\.213\\.${n}\\.\\d+|\\b10\\.213\\.0\\.0/16|\\b10\\.0\\.0\\.0/8`);
    if (!used.test(routes) && !used.test(addrs)) return n;
  }
  throw new Error('no free 10.213.N.0/24 subnet');
}

export class PodmanEnv {
  readonly id = randomBytes(4).toString('hex');
  readonly dir = mkdtempSync('/tmp/sluice-e2e-');
  readonly binDir = join(this.dir, 'bin');
  readonly netDir = join(this.dir, 'net.d');
  readonly stateDir = join(this.dir, 'state');
  readonly ipamDir = join(this.dir, 'ipam');
  readonly socket = join(this.dir, 'agent.sock');
  readonly agentLog = join(this.dir, 'agent.log');
  readonly pinRoot = `/sys/fs/bpf/sluice-e2e-${this.id}`;
  readonly network = `sle2e-${this.id}`;
  readonly bridge = `sle2b${this.id}`;
  readonly image = `localhost/sluice-e2e-${this.id}:1`;
  readonly subnetIndex = freeSubnet();
  readonly subnet = `10.213.${this.subnetIndex}.0/24`;
  /** Host links seen on the containers' veths, removed at cleanup if still there. */
  readonly hostLinks = new Set<string>();
  readonly containerIds = new Set<string>();
  private agentChild: ChildProcess | undefined;
  private agentOutput = '';
  private names = 0;

  constructor(readonly options: PodmanOptions) {}

  get globals(): string[] {
    return ['--root', join(this.dir, 'root'), '--runroot', join(this.dir, 'runroot'), '--tmpdir', join(this.dir, 'tmp'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--runtime', 'runc'];
  }

  get env(): NodeJS.ProcessEnv {
    // Standalone: a socket path where nothing listens, so the shim never reaches a machine-wide agent.
    return { ...process.env, CONTAINERS_CONF: join(this.dir, 'containers.conf'), SLUICE_SOCKET: this.socket };
  }

  /** Installs sluice, writes the configs, imports the image, starts the agent if asked. */
  async setup(): Promise<void> {
    for (const d of [this.netDir, this.stateDir, this.ipamDir, join(this.dir, 'tmp')]) mkdirSync(d, { recursive: true });
    const install = spawnSync(process.execPath, [MAIN, 'install', '--bin-dir', this.binDir, '--no-conflist'], { encoding: 'utf8' });
    if (install.status !== 0) throw new Error(`sluice install failed: ${install.stderr}`);
    writeFileSync(join(this.dir, 'containers.conf'), [
      '[network]',
      'network_backend = "cni"',
      `cni_plugin_dirs = [${JSON.stringify(this.binDir)}, ${JSON.stringify(REFERENCE_PLUGINS)}]`,
      `network_config_dir = ${JSON.stringify(this.netDir)}`,
      `default_network = ${JSON.stringify(this.network)}`,
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = ${JSON.stringify(join(this.dir, 'events.log'))}`,
      '',
    ].join('\n'));
    const sluice: Record<string, unknown> = {
      type: 'sluice', mode: this.options.mode, pinRoot: this.pinRoot, stateDir: this.stateDir,
      logFile: join(this.dir, 'plugin.log'), logLevel: 'info',
      ipam: { type: 'sluice', ranges: [[{ subnet: this.subnet }]], dataDir: this.ipamDir },
    };
    if (this.options.mode === 'bridge') Object.assign(sluice, { bridge: this.bridge, isGateway: true });
    const conflist = {
      cniVersion: '1.0.0',
      name: this.network,
      plugins: [
        sluice,
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.log_martians': '1' } },
        // ingress only: shaping the egress needs an ifb device on the host
        { type: 'bandwidth', ingressRate: 1_000_000_000, ingressBurst: 10_000_000 },
      ],
    };
    writeFileSync(join(this.netDir, `${this.network}.conflist`), `${JSON.stringify(conflist, null, 2)}\n`);

    const rootfs = join(this.dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    for (const d of ['proc', 'sys', 'dev', 'etc', 'tmp']) mkdirSync(join(rootfs, d));
    copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    for (const applet of ['sh', 'nc', 'ip', 'ping', 'sleep', 'cat', 'hostname']) symlinkSync('busybox', join(rootfs, 'bin', applet));
    const tar = join(this.dir, 'rootfs.tar');
    const made = spawnSync('tar', ['-C', rootfs, '-cf', tar, '.'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`tar: ${made.stderr}`);
    this.podman(['import', tar, this.image]);

    if (this.options.agent) await this.startAgent();
  }

  private async startAgent(): Promise<void> {
    const child = spawn(process.execPath, [MAIN, 'daemon', '--socket', this.socket, '--pin-root', this.pinRoot, '--state-dir', this.stateDir, '--log-file', this.agentLog], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.agentChild = child;
    child.stdout!.on('data', (d: Buffer) => (this.agentOutput += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.agentOutput += d.toString()));
    for (let i = 0; i < 500 && !existsSync(this.socket); i++) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!existsSync(this.socket)) throw new Error(`the agent did not start:\n${this.agentOutput}`);
  }

  /** Whether the agent served a call for this container (its log names the container ID). */
  agentServed(containerId: string): boolean {
    return existsSync(this.agentLog) && readFileSync(this.agentLog, 'utf8').includes(containerId);
  }

  podmanRun(args: string[], timeout = 60_000): Run {
    const out = spawnSync('podman', [...this.globals, ...args], { encoding: 'utf8', env: this.env, timeout });
    return { code: out.status, stdout: out.stdout ?? '', stderr: `${out.stderr ?? ''}${out.error ? String(out.error) : ''}` };
  }

  podman(args: string[], timeout?: number): string {
    const out = this.podmanRun(args, timeout);
    if (out.code !== 0) throw new Error(`podman ${args.join(' ')} failed (${out.code}):\n${out.stderr}${this.logs()}`);
    return out.stdout.trim();
  }

  /** What the plugin and the agent logged (for failure messages). */
  logs(): string {
    const tail = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-15).join('\n') : '');
    return `\n--- plugin.log\n${tail(join(this.dir, 'plugin.log'))}\n--- agent.log\n${tail(this.agentLog)}${this.agentOutput}`;
  }

  uniqueName(what: string): string {
    return `${this.network}-${what}-${++this.names}`;
  }

  /** Starts a detached container on the sluice network; returns its name and ID. */
  run(name: string, command: string[], extra: string[] = []): string {
    const id = this.podman(['run', '-d', '--name', name, '--network', this.network, ...ULIMITS, ...extra, this.image, ...command]);
    this.containerIds.add(id);
    this.noteHostLink(name);
    return id;
  }

  ip(name: string): string {
    const ip = this.podman(['inspect', '-f', `{{(index .NetworkSettings.Networks "${this.network}").IPAddress}}`, name]);
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new Error(`no IPv4 address for ${name}: ${JSON.stringify(ip)}`);
    return ip;
  }

  exec(name: string, script: string, timeout = 20_000): Run {
    return this.podmanRun(['exec', name, 'sh', '-c', script], timeout);
  }

  /** exec without blocking this process's event loop (when the other end is a server in this process). */
  execAsync(name: string, script: string, timeout = 20_000): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn('podman', [...this.globals, 'exec', name, 'sh', '-c', script], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** The host end of a container's eth0 (its peer's ifindex, looked up on the host). */
  hostLink(name: string): string {
    const iflink = this.podman(['exec', name, 'cat', '/sys/class/net/eth0/iflink']);
    const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
    const line = links.split('\n').find((l) => l.startsWith(`${iflink}: `));
    const m = line && /^\d+: ([^:@]+)[@:]/.exec(line);
    if (!m) throw new Error(`no host link with ifindex ${iflink}`);
    return m[1]!;
  }

  private noteHostLink(name: string): void {
    try {
      this.hostLinks.add(this.hostLink(name));
    } catch {
      // not running (yet): the caller's checks will say why
    }
  }

  refreshHostLinks(name: string): void {
    this.noteHostLink(name);
  }

  linkExists(name: string): boolean {
    return spawnSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' }).status === 0;
  }

  /** The leases the IPAM holds in this network (files named by an address). */
  leases(): string[] {
    const dir = join(this.ipamDir, this.network);
    return existsSync(dir) ? readdirSync(dir).filter((f) => /^[0-9.]+$|:/.test(f)) : [];
  }

  /**
   * Files under the state directory (endpoint records and the like), but for mode bridge's per-bridge
   * lock files: the bridge outlives its containers, as the reference bridge plugin's does.
   */
  stateFiles(): string[] {
    const walk = (d: string): string[] => (existsSync(d) ? readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)])) : []);
    return walk(this.stateDir).filter((f) => !/\/bridge\/locks\/[^/]+\.lock$/.test(f));
  }

  /** Lines of the host's firewall (iptables-save), cached CNI results and netns names that mention this test's containers or subnet. */
  hostTraces(): string[] {
    const needles = [...this.containerIds, `10.213.${this.subnetIndex}.`, this.network];
    const found: string[] = [];
    for (const cmd of ['iptables-save', 'ip6tables-save']) {
      const out = spawnSync(cmd, [], { encoding: 'utf8' });
      for (const line of (out.stdout ?? '').split('\n')) if (needles.some((n) => line.includes(n) || line.includes(n.slice(0, 12)))) found.push(`${cmd}: ${line}`);
    }
    const results = '/var/lib/cni/results';
    if (existsSync(results)) for (const f of readdirSync(results)) if (needles.some((n) => f.includes(n))) found.push(`${results}/${f}`);
    return found;
  }

  async cleanup(): Promise<void> {
    const errors: string[] = [];
    const attempt = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    if (existsSync(join(this.dir, 'containers.conf'))) {
      attempt('rm containers', () => void this.podmanRun(['rm', '-a', '-f', '-t', '0'], 120_000));
      attempt('rm network', () => void this.podmanRun(['network', 'rm', '-f', this.network]));
      attempt('rm images', () => void this.podmanRun(['rmi', '-a', '-f']));
    }
    if (this.agentChild && this.agentChild.exitCode === null) {
      const child = this.agentChild;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    for (const link of [...this.hostLinks, ...(this.options.mode === 'bridge' ? [this.bridge] : [])]) {
      if (this.linkExists(link)) attempt(`ip link del ${link}`, () => void spawnSync('ip', ['link', 'del', 'dev', link]));
    }
    // anything podman left mounted under our directory (shm, overlay) goes before the directory
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(`${this.dir}/`));
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    attempt('rm pin root', () => rmSync(this.pinRoot, { recursive: true, force: true }));
    attempt('rm dir', () => rmSync(this.dir, { recursive: true, force: true }));
    if (errors.length) throw new Error(`cleanup: ${errors.join('; ')}`);
  }
}
