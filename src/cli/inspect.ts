/**
 * `sluice endpoints` and `sluice status`: asked of the agent when one listens; read from the state
 * directory and bpffs otherwise (the same functions the agent uses: src/daemon/inventory.ts).
 */
import { AgentUnavailable, agentOp } from '../daemon/client.js';
import { listEndpoints, pinnedObjects, type EndpointView, type PinnedObjects } from '../daemon/inventory.js';
import type { AgentStatus } from '../daemon/agent.js';

interface Common {
  json?: boolean;
  socket: string;
  pinRoot: string;
}

/** Text columns padded to one width; numbers right-aligned. */
export function table(headers: string[], rows: string[][], numeric: boolean[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export async function endpointsCommand(options: Common & { stateDir: string }): Promise<number> {
  let endpoints: EndpointView[];
  let source: string;
  try {
    endpoints = (await agentOp(options.socket, 'endpoints')) as EndpointView[];
    source = `agent at ${options.socket}`;
  } catch (err) {
    if (!(err instanceof AgentUnavailable)) {
      process.stderr.write(`sluice endpoints: ${(err as Error).message}\n`);
      return 1;
    }
    endpoints = listEndpoints([{ stateDir: options.stateDir, pinRoot: options.pinRoot }]);
    source = `${options.stateDir} (no agent)`;
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(endpoints, null, 2)}\n`);
    return 0;
  }
  if (!endpoints.length) {
    process.stdout.write(`no endpoints (${source})\n`);
    return 0;
  }
  const n = (x: number | undefined) => (x === undefined ? '-' : String(x));
  const rows = endpoints.map((e) => [
    e.containerId, e.ifname, e.addresses.join(','), e.mac ?? '-', e.hostVeth,
    n(e.counters?.egress.packets), n(e.counters?.egress.bytes), n(e.counters?.ingress.packets), n(e.counters?.ingress.bytes),
  ]);
  process.stdout.write(table(['CONTAINER', 'IFNAME', 'ADDRESSES', 'MAC', 'HOST VETH', 'TX PKTS', 'TX BYTES', 'RX PKTS', 'RX BYTES'], rows, [false, false, false, false, false, true, true, true, true]));
  return 0;
}

export async function statusCommand(options: Common): Promise<number> {
  let agent: AgentStatus | undefined;
  let agentProblem: string | undefined;
  try {
    agent = (await agentOp(options.socket, 'status')) as AgentStatus;
  } catch (err) {
    agentProblem = err instanceof AgentUnavailable ? err.code : (err as Error).message;
  }
  const roots = new Set([options.pinRoot, ...(agent?.datapaths.map((d) => d.pinRoot) ?? [])]);
  const datapaths: PinnedObjects[] = agent?.datapaths.some((d) => d.pinRoot === options.pinRoot) ? agent.datapaths : [...roots].map((r) => pinnedObjects(r));
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ agent: agent ?? null, ...(agentProblem ? { agentProblem } : {}), socket: options.socket, datapaths }, null, 2)}\n`);
    return 0;
  }
  const out: string[] = [];
  if (agent) {
    const r = agent.requests;
    out.push(`agent     listening on ${agent.socket} (pid ${agent.pid}, sluice ${agent.version}, up ${agent.uptimeSeconds} s): ${r.served} calls served, ${r.inFlight} under way, ${r.refused} peers refused, ${r.badRequests} bad requests`);
    if (agent.preload?.error) out.push(`          the start-up load of the data path failed: ${agent.preload.error}`);
    const deferred = agent.deferredAttach;
    if (deferred) {
      out.push(`          TCX links attached after ADD answered, once quiet: ${deferred.attached} so far, ${deferred.pending} waiting at the last look` +
        (deferred.failed ? `, ${deferred.failed} failed (last: ${deferred.lastError ?? 'unknown'})` : ''));
    } else {
      out.push('          TCX links attached before ADD answers (--no-defer-attach or --cls-bpf)');
    }
  } else {
    out.push(`agent     not listening on ${options.socket} (${agentProblem}): the shim runs the standalone plugin`);
  }
  for (const d of datapaths) {
    if (!d.program && !d.maps.length && !d.links.length) {
      out.push(`datapath  nothing loaded under ${d.pinRoot}`);
      continue;
    }
    out.push(`datapath  ${d.pinRoot}: ${d.program ? `program ${d.program.name} (id ${d.program.id}, tag ${d.program.tag})` : 'no program pinned'}`);
    if (d.maps.length) out.push(`maps      ${d.maps.map((m) => `${m.name} (id ${m.id}, ${m.entries} entries)`).join(', ')}`);
    const live = d.links.filter((l) => l.ifindex !== 0);
    out.push(`links     ${live.length} TCX link${live.length === 1 ? '' : 's'} attached${live.length ? `: ${live.map((l) => `${l.pin} (link ${l.id}, ifindex ${l.ifindex ?? '?'})`).join(', ')}` : ''}`);
    const stale = d.links.length - live.length;
    if (stale) out.push(`          ${stale} pinned link${stale === 1 ? '' : 's'} whose device is gone`);
    for (const p of d.problems) out.push(`problem   ${p}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
