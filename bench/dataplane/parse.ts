// Reading what the tools print: iperf3's JSON, sockperf's text report, connrate's JSON line, the
// kernel's /proc/net/tcp and `nft -j`'s ruleset. Pure functions, no I/O.

export interface Iperf3Stream {
  /** The receiver's rate. */
  bitsPerSecond: number;
  bytes: number;
  retransmits: number;
}

/** `iperf3 --client ... --json`: the receiver's side of the summary; throws iperf3's own error. */
export function parseIperf3(json: string): Iperf3Stream {
  let report: any;
  try {
    report = JSON.parse(json);
  } catch {
    throw new Error(`iperf3 printed no JSON: ${json.trim().slice(0, 300) || '(nothing)'}`);
  }
  if (typeof report?.error === 'string') throw new Error(`iperf3: ${report.error}`);
  const received = report?.end?.sum_received;
  const bitsPerSecond = Number(received?.bits_per_second);
  if (!(bitsPerSecond > 0)) throw new Error('iperf3: no received rate in its report (end.sum_received.bits_per_second)');
  return { bitsPerSecond, bytes: Number(received.bytes ?? 0), retransmits: Number(report.end?.sum_sent?.retransmits ?? 0) };
}

export interface SockperfPingPong {
  /** True with --full-rtt (the figures are round trips); sockperf's default "latency" is half of one. */
  roundTrip: boolean;
  /** Microseconds, as sockperf prints them. */
  avg: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  /** Round trips completed in the measured interval (sockperf leaves its warm-up out). */
  messages: number;
  seconds: number;
  /** messages / seconds. */
  perSecond: number;
}

// sockperf colours some lines on any output (not only a terminal).
const ANSI = /\x1b\[[0-9;]*m/g;

function sockperfNumber(text: string, pattern: RegExp, what: string): number {
  const m = pattern.exec(text);
  if (!m) throw new Error(`sockperf: no ${what} in its output: ${text.trim().split('\n').slice(-3).join(' / ').slice(0, 300)}`);
  return Number(m[1]);
}

/** `sockperf ping-pong` output (stdout and stderr together). */
export function parseSockperf(output: string): SockperfPingPong {
  const text = output.replace(ANSI, '');
  const rtt = /avg-rtt=([\d.]+)/.exec(text);
  const num = (pattern: RegExp, what: string) => sockperfNumber(text, pattern, what);
  const avg = rtt ? Number(rtt[1]) : num(/avg-latency=([\d.]+)/, 'average');
  const seconds = num(/\[Valid Duration\] RunTime=([\d.]+) sec/, 'measured duration');
  const messages = num(/\[Valid Duration\][^\n]*ReceivedMessages=(\d+)/, 'received message count');
  if (!(seconds > 0) || !(messages > 0)) throw new Error(`sockperf: nothing measured (${messages} messages in ${seconds} s)`);
  return {
    roundTrip: rtt !== null,
    avg,
    p50: num(/percentile 50\.000 =\s*([\d.]+)/, '50th percentile'),
    p99: num(/percentile 99\.000 =\s*([\d.]+)/, '99th percentile'),
    min: num(/<MIN> observation =\s*([\d.]+)/, 'minimum'),
    max: num(/<MAX> observation =\s*([\d.]+)/, 'maximum'),
    messages,
    seconds,
    perSecond: messages / seconds,
  };
}

export interface ConnrateResult {
  connections: number;
  errors: number;
  seconds: number;
  perSecond: number;
}

/** The last line of `connrate client`: {"connections":N,"errors":E,"seconds":S}. */
export function parseConnrate(stdout: string): ConnrateResult {
  const line = stdout.trim().split('\n').pop() ?? '';
  let r: { connections?: unknown; errors?: unknown; seconds?: unknown };
  try {
    r = JSON.parse(line);
  } catch {
    throw new Error(`connrate printed no result: ${stdout.trim().slice(0, 300) || '(nothing)'}`);
  }
  const connections = Number(r.connections);
  const errors = Number(r.errors);
  const seconds = Number(r.seconds);
  if (!Number.isInteger(connections) || !Number.isInteger(errors) || !(seconds > 0)) throw new Error(`connrate: malformed result ${line}`);
  return { connections, errors, seconds, perSecond: connections / seconds };
}

/**
 * Whether /proc/<pid>/net/tcp lists a socket listening on ipv4:port. The kernel prints the address
 * as the 32-bit word in the machine's byte order (%08X), the port in host order.
 */
export function listensOn(procNetTcp: string, ipv4: string, port: number, endianness: 'LE' | 'BE'): boolean {
  const bytes = ipv4.split('.').map((b) => Number(b).toString(16).toUpperCase().padStart(2, '0'));
  if (bytes.length !== 4) throw new TypeError(`not an IPv4 address: ${ipv4}`);
  const address = (endianness === 'LE' ? bytes.reverse() : bytes).join('');
  const local = `${address}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return procNetTcp.split('\n').some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[1] === local && fields[3] === '0A'; // 0A: TCP_LISTEN
  });
}

/** Packets counted by the `counter` statements of each chain in `nft -j list table ...` output, keyed "family chain". */
export function chainCounters(nftJson: string): Record<string, number> {
  const doc = JSON.parse(nftJson) as { nftables?: Array<Record<string, any>> };
  const out: Record<string, number> = {};
  for (const item of doc.nftables ?? []) {
    const rule = item.rule as { family: string; chain: string; expr?: Array<Record<string, any>> } | undefined;
    if (!rule) continue;
    for (const expr of rule.expr ?? []) {
      if (expr.counter === undefined) continue;
      const key = `${rule.family} ${rule.chain}`;
      out[key] = (out[key] ?? 0) + Number(expr.counter.packets ?? 0);
    }
  }
  return out;
}
