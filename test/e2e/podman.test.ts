// sluice under a real runtime: podman 4.3 with its CNI backend and runc, the shim installed by
// `sluice install` into a CNI bin dir of the test's own, a conflist chaining portmap, tuning and
// bandwidth after sluice. For each mode (ebpf, bridge) and each plugin path (the agent, standalone):
// containers reach each other by IP and TCP, reach the host, a published port reaches a container,
// the chained plugins did their part, a container survives `podman restart`, and `podman rm` leaves
// no host link, lease, state record, firewall rule or cached result behind.
// podman shares the machine's network namespace: see test/support/podman.ts for what keeps it apart.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { PodmanEnv, freePort, podmanMissing, replyServer } from '../support/podman.js';

const skip = podmanMissing();

/** The host's source address toward a container (the address a container reaches the host on). */
function hostAddressToward(ip: string): string {
  const out = spawnSync('ip', ['-4', '-o', 'route', 'get', ip], { encoding: 'utf8' }).stdout;
  const m = / src (\d+\.\d+\.\d+\.\d+)/.exec(out);
  assert.ok(m, `no source address toward ${ip}: ${out}`);
  return m[1]!;
}

/** Connects from the host with busybox nc, returns what the server said. */
function hostNc(host: string, port: number): string {
  const out = spawnSync('busybox', ['nc', '-w', '3', host, String(port)], { encoding: 'utf8', input: '', timeout: 10_000 });
  return (out.stdout ?? '').trim();
}

// podman runs containers in the machine's own namespace, so sluice's ADD turns the machine's forwarding
// on there, as on any node: put back what the machine had once the suite is over.
const FORWARDING = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding'];
const forwardingBefore = FORWARDING.map((f) => readFileSync(f, 'utf8'));
after(() => FORWARDING.forEach((f, i) => writeFileSync(f, forwardingBefore[i]!)));

// The same for the machine's nf_tables: portmap's iptables chains (the nat tables iptables-nft makes),
// the agent's spoof guard table. Every table the suite made goes when it is over.
const nftTables = (): string[] =>
  spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('table '));
const tablesBefore = new Set(nftTables());
after(() => {
  for (const table of nftTables()) {
    if (tablesBefore.has(table)) continue;
    const deleted = spawnSync('nft', ['delete', ...table.split(' ')], { encoding: 'utf8' });
    assert.equal(deleted.status, 0, `nft delete ${table}: ${deleted.stderr}`);
  }
});

for (const mode of ['ebpf', 'bridge'] as const) {
  for (const agent of [false, true]) {
    describe(`podman, mode ${mode}, ${agent ? 'through the agent' : 'standalone plugin'}`, { skip, timeout: 300_000 }, () => {
      const env = new PodmanEnv({ mode, agent });
      const a = env.uniqueName('a');
      const b = env.uniqueName('b');
      let ipA = '';
      let ipB = '';
      let hostPort = 0;
      let idB = '';

      before(async () => {
        await env.setup();
        hostPort = await freePort();
        env.run(a, ['sleep', '3600'], ['--hostname', 'alpha']);
        idB = env.run(b, ['nc', '-ll', '-p', '7000', '-e', 'hostname'], ['--hostname', 'bravo', '-p', `127.0.0.1:${hostPort}:7000`]);
        ipA = env.ip(a);
        ipB = env.ip(b);
      });
      after(() => env.cleanup());

      test('the containers got addresses from the network, through the expected plugin path', () => {
        for (const ip of [ipA, ipB]) assert.ok(ip.startsWith(`10.213.${env.subnetIndex}.`), ip);
        assert.notEqual(ipA, ipB);
        assert.equal(env.leases().length, 2);
        assert.equal(env.agentServed(idB), agent, agent ? 'the agent served the ADD' : 'no agent was involved');
      });

      test('containers reach each other by IP (ping) and TCP (nc)', () => {
        const ping = env.exec(a, `ping -c 1 -W 3 ${ipB}`);
        assert.equal(ping.code, 0, ping.stdout + ping.stderr);
        const tcp = env.exec(a, `nc -w 3 ${ipB} 7000 </dev/null`);
        assert.equal(tcp.stdout.trim(), 'bravo', tcp.stderr);
      });

      test('the host reaches a container, and a container reaches the host', async () => {
        assert.equal(hostNc(ipB, 7000), 'bravo');
        const hostIp = hostAddressToward(ipA);
        const { port, server } = await replyServer(hostIp, 'host-says-hi');
        try {
          const out = await env.execAsync(a, `nc -w 3 ${hostIp} ${port} </dev/null`);
          assert.equal(out.stdout.trim(), 'host-says-hi', out.stderr);
        } finally {
          await new Promise((resolve) => server.close(resolve));
        }
      });

      test('portmap: the published port reaches the container from the host', () => {
        assert.equal(hostNc('127.0.0.1', hostPort), 'bravo');
      });

      test('tuning and bandwidth ran on sluice\'s result', () => {
        const sysctl = env.exec(a, 'cat /proc/sys/net/ipv4/conf/eth0/log_martians');
        assert.equal(sysctl.stdout.trim(), '1', 'tuning set the sysctl in the container');
        const qdisc = spawnSync('tc', ['qdisc', 'show', 'dev', env.hostLink(b)], { encoding: 'utf8' }).stdout;
        assert.match(qdisc, /\btbf\b/, 'bandwidth shaped the host veth');
      });

      test('a container survives podman restart', () => {
        const before = env.hostLink(b);
        env.podman(['restart', '-t', '0', b]);
        ipB = env.ip(b);
        env.refreshHostLinks(b);
        assert.equal(env.exec(a, `nc -w 3 ${ipB} 7000 </dev/null`).stdout.trim(), 'bravo');
        assert.equal(hostNc('127.0.0.1', hostPort), 'bravo');
        const now = env.hostLink(b);
        if (now !== before) assert.equal(env.linkExists(before), false, `the old host link ${before} is gone`);
        assert.equal(env.leases().length, 2, 'the restart released the old lease');
      });

      test('podman rm leaves nothing behind', () => {
        const links = [env.hostLink(a), env.hostLink(b), ...env.hostLinks];
        env.podman(['rm', '-f', '-t', '0', a, b], 120_000);
        for (const link of links) assert.equal(env.linkExists(link), false, `host link ${link} is gone`);
        assert.deepEqual(env.leases(), [], 'no lease');
        assert.deepEqual(env.stateFiles(), [], 'no state record');
        assert.deepEqual(env.hostTraces(), [], 'no firewall rule, cached result or other trace');
      });
    });
  }
}
