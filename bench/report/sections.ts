// The parts of the benchmark, in the order the report shows them and `npm run bench` runs them: where
// each part's figures are (bench/results/), how its section is made from them, and how to run it.
// Adding a part is one entry here (and the import of its section).
import type { ReportSection } from '../lib/report-types.js';
import { section as codec } from './codec.js';
import { section as controlPlane } from './control-plane.js';
import { section as dataplane } from './dataplane.js';
import { section as ipam } from './ipam.js';
import { section as routeDump } from './route-dump.js';

export interface PartRun {
  /** The part's program, relative to dist/bench/ (e.g. "codec.js"). */
  entry: string;
  /** Arguments for a quick run (`npm run bench -- --quick`): fewer runs, smaller sizes. */
  quick?: string[];
  /** Whether it needs root (it creates network namespaces); without root it is skipped. */
  root?: boolean;
  /** Debian packages it needs (installed by scripts/install-deps.sh when missing). */
  packages?: string[];
}

export interface Part {
  /** The name `--only` takes. */
  part: string;
  /** Its JSON under bench/results/ (bench/lib/report.ts writeResults). */
  resultsFile: string;
  section: (raw: unknown) => ReportSection;
  run: PartRun;
}

export const PARTS: readonly Part[] = [
  { part: 'codec', resultsFile: 'codec.json', section: codec, run: { entry: 'codec.js', quick: ['--runs', '7', '--sample-ms', '20'], root: true, packages: ['iproute2'] } },
  { part: 'route-dump', resultsFile: 'route-dump.json', section: routeDump, run: { entry: 'route-dump.js', quick: ['--runs', '5', '--routes', '2000'], root: true, packages: ['iproute2'] } },
  { part: 'ipam', resultsFile: 'ipam.json', section: ipam, run: { entry: 'ipam.js', quick: ['100'], packages: ['containernetworking-plugins'] } },
  { part: 'control-plane', resultsFile: 'cni-latency.json', section: controlPlane, run: { entry: 'cni-latency.js', quick: ['--pods', '20', '--growth', '60'], root: true, packages: ['containernetworking-plugins'] } },
  { part: 'dataplane', resultsFile: 'dataplane.json', section: dataplane, run: { entry: 'dataplane.js', quick: ['--quick'], root: true, packages: ['containernetworking-plugins', 'iperf3', 'sockperf'] } },
];
