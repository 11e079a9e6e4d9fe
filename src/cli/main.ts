#!/usr/bin/env node
/**
 * The `sluice` executable. With CNI_COMMAND in the environment it is the CNI plugin (plugin.ts, which
 * the launcher the shim falls back to runs bundled); otherwise the command line. Each command's module
 * is imported only when that command runs, so neither the plugin nor `--help` pays for the others.
 */
import { readFileSync } from 'node:fs';

if (process.env.CNI_COMMAND !== undefined) {
  // The plugin's own entry point (bundled for the launcher, see plugin.ts); here unbundled.
  await import('./plugin.js');
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
  const { Command, InvalidArgumentError, Option } = await import('commander');
  const { SUPPORTED_VERSIONS } = await import('../cni/types.js');
  const DEFAULT_SOCKET = '/run/sluice/sluice.sock';
  const DEFAULT_PIN_ROOT = '/sys/fs/bpf/sluice';
  const DEFAULT_STATE_DIR = '/run/sluice';
  const socketDefault = process.env.SLUICE_SOCKET || DEFAULT_SOCKET;

  const integer = (what: string, min: number) => (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${what} must be an integer >= ${min}`);
    return n;
  };
  const uids = (value: string, previous: number[] = []): number[] => [...previous, integer('a uid', 0)(value)];
  const repeat = (value: string, previous: string[] = []): string[] => [...previous, value];
  /** Sets the exit status a command's function returns. */
  const exitWith = async (code: Promise<number>) => {
    process.exitCode = await code;
  };

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

  program
    .command('daemon')
    .description('run the node agent: serve CNI calls from the shim on a unix socket, the data path loaded and warm')
    .option('--socket <path>', 'the socket to listen on (mode 0600; its directory is created 0700)', socketDefault)
    .option('--pin-root <dir>', 'bpffs directory to load and pin the eBPF objects in at start-up', DEFAULT_PIN_ROOT)
    .option('--state-dir <dir>', 'state directory listed by `sluice endpoints` (configs may name others)', DEFAULT_STATE_DIR)
    .option('--allow-uid <uid>', 'also serve this uid besides root (repeatable)', uids)
    .option('--max-request-bytes <n>', 'largest request accepted', integer('--max-request-bytes', 1024), 4 << 20)
    .option('--read-timeout <ms>', 'time a client has to send its whole request', integer('--read-timeout', 1), 10_000)
    .option('--request-timeout <ms>', 'time after which a running call is answered with "try again later" (CNI error 11)', integer('--request-timeout', 1), 120_000)
    .option('--workers <n>', 'worker threads running the calls, so that several wait on the kernel at once, and the built-in IPAM\'s allocations for a call on the main thread (0: everything on the main thread)', integer('--workers', 0), 4)
    .option('--no-preload', 'do not load the eBPF objects at start-up (the first ADD does)')
    .option('--cls-bpf', 'attach with clsact + cls_bpf instead of TCX links')
    .option('--no-defer-attach', 'attach each pod\'s TCX link before answering ADD (default: answer first, with the pod in the spoof guard, and attach once the agent is quiet)')
    .option('--promote-quiet <ms>', 'quiet time before deferred TCX links are attached', integer('--promote-quiet', 0), 200)
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'))
    .option('--log-file <file>', 'append the log (JSON lines) to this file; without it the log goes to stdout: readable lines on a terminal, JSON otherwise')
    .addHelpText('after', '\nSIGTERM or SIGINT stops it gracefully: no new calls, the ones under way finished. Pods keep their\ntraffic while no agent runs; the shim then runs calls with the standalone plugin.')
    .action(async (options) => {
      const { daemonCommand } = await import('./daemon.js');
      const code = await daemonCommand(options, packageVersion());
      process.exit(code);
    });

  program
    .command('install')
    .description('put the shim and the standalone plugin into the CNI bin directory, and a conflist into the CNI config directory')
    .option('--bin-dir <dir>', 'CNI bin directory', '/opt/cni/bin')
    .option('--conf-dir <dir>', 'CNI config directory', '/etc/cni/net.d')
    .option('--subnet <cidr>', 'pod subnet of the default conflist (repeatable: one IPv4, one IPv6)', repeat)
    .option('--network <name>', 'network name of the default conflist', 'sluice')
    .option('--no-conflist', 'do not write a conflist')
    .option('--force', 'replace an existing sluice conflist')
    .addHelpText('after', '\nInstalled: <bin-dir>/sluice (the native shim; the standalone plugin itself when no shim was built),\n<bin-dir>/sluice-plugin (runs this package\'s plugin with this node), <conf-dir>/10-sluice.conflist.')
    .action(async (options) => exitWith((await import('./install.js')).installCommand(options)));

  program
    .command('uninstall')
    .description('remove what `sluice install` put into the CNI bin and config directories (with --purge, the data path too)')
    .option('--bin-dir <dir>', 'CNI bin directory', '/opt/cni/bin')
    .option('--conf-dir <dir>', 'CNI config directory', '/etc/cni/net.d')
    .option('--purge', "also detach and unpin the eBPF program, maps and links, and delete sluice's nf_tables masquerade and spoof guard tables")
    .option('--pin-root <dir>', 'bpffs directory of the pins (with --purge)', '/sys/fs/bpf/sluice')
    .option('--masq-table <name>', 'the inet table of the masquerade rules (with --purge)', 'sluice')
    .option('--guard-table <name>', 'the inet table of the spoof guard (with --purge)', 'sluice_guard')
    .action(async (options) => exitWith((await import('./install.js')).uninstallCommand(options)));

  program
    .command('endpoints')
    .description("list the pods: container, interface, addresses, MAC, host veth, and the eBPF counters' packets and bytes")
    .option('--json', 'print JSON')
    .option('--socket <path>', 'ask the agent listening here', socketDefault)
    .option('--state-dir <dir>', 'without an agent: read the attachments recorded here', DEFAULT_STATE_DIR)
    .option('--pin-root <dir>', 'without an agent: read the counters pinned here', DEFAULT_PIN_ROOT)
    .addHelpText('after', '\nTX is what the pod sent, RX what the eBPF program delivered to it (pod-to-pod on this node).')
    .action(async (options) => exitWith((await import('./inspect.js')).endpointsCommand(options)));

  program
    .command('status')
    .description('say what is loaded (program, maps), attached (TCX links) and listening (the agent)')
    .option('--json', 'print JSON')
    .option('--socket <path>', 'the agent\'s socket', socketDefault)
    .option('--pin-root <dir>', 'bpffs directory of the eBPF objects', DEFAULT_PIN_ROOT)
    .action(async (options) => exitWith((await import('./inspect.js')).statusCommand(options)));

  for (const verb of ['add', 'check', 'del'] as const) {
    const command = program
      .command(verb)
      .description(`run one CNI ${verb.toUpperCase()} by hand, without CNI_* variables (through the agent when one listens)`)
      .option('--netns <path>', `the pod's network namespace${verb === 'del' ? '' : ' (required)'}`)
      .requiredOption('--container-id <id>', 'the container ID')
      .option('--ifname <name>', 'the interface in the pod', 'eth0')
      .option('--config <file>', 'the network config or conflist (default: stdin)')
      .option('--args <args>', 'CNI_ARGS, e.g. "IP=10.1.0.5;MAC=02:00:00:00:00:01"')
      .option('--cni-path <dirs>', 'CNI_PATH: where delegated IPAM plugins are', '/opt/cni/bin:/usr/lib/cni')
      .option('--socket <path>', 'the agent\'s socket', socketDefault)
      .option('--standalone', 'run the plugin in a process of its own even when an agent listens');
    if (verb !== 'add') command.option('--prev-result <file>', "the ADD's result, as prevResult of the config");
    command.addHelpText('after', `\nPrints what the plugin prints (the result or the error object) and exits with its status.${verb === 'add' ? '\nExample: sluice add --netns /run/netns/pod1 --container-id pod1 --config /etc/cni/net.d/10-sluice.conflist' : ''}`);
    command.action(async (options) => exitWith((await import('./verb.js')).verbCommand(verb, options)));
  }

  program
    .command('gc')
    .description('release the IP leases of containers that no longer run (the built-in IPAM\'s store)')
    .argument('[container-ids...]', 'the containers that still run')
    .option('--live-containers <file>', 'read the running containers\' IDs from this file, one per line ("-": stdin)')
    .option('--network <name>', 'the network whose leases to collect', 'sluice')
    .option('--data-dir <dir>', 'the IPAM data directory', '/var/lib/cni/networks')
    .option('--dry-run', 'say what would be released, release nothing')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nThe running containers must be given: IDs, a file, or both. An empty file releases every lease of the network.')
    .action(async (ids: string[], options) => exitWith((await import('./gc.js')).gcCommand(ids, options)));

  await program.parseAsync(argv);
}
