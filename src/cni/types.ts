/**
 * CNI data shapes: the plugin configuration sluice receives, and the results it reads and writes.
 *
 * Internally every result is held in the 1.x shape (`CniResult`, no version); version.ts converts it to
 * the wire shape of the request's cniVersion and parses any version back into it.
 */
import type { Attachment, IpamDns, IpamRoute } from '../ipam/types.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';

/** The spec versions sluice speaks, oldest first (the order VERSION lists them in). */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = '1.1.0';

// ---- results, 1.x shape -----------------------------------------------------------------------

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  /** The netns path for an interface inside the container; absent for a host interface. */
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface CniIpConfig {
  /** CIDR with the host's own address, e.g. "10.1.0.5/16". */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export type CniRoute = IpamRoute;
export type CniDns = IpamDns;

/** A result in the 1.x shape, without its version. Every list is present (maybe empty) once parsed. */
export interface CniResult {
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns?: CniDns;
}

// ---- results, wire shapes of the versions before 1.0.0 --------------------------------------------

export interface CniInterface04 {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniIpConfig04 {
  version: '4' | '6';
  interface?: number;
  address: string;
  gateway?: string;
}

// ---- CNI_ARGS ---------------------------------------------------------------------------------

export interface CniArgs {
  /** Addresses asked for with `IP=` (comma-separated addresses, each with or without a prefix). */
  ips: string[];
  /** `MAC=`: the pod interface's MAC address. */
  mac?: string;
  /** `IgnoreUnknown=1|true`: keys sluice does not know are then accepted and ignored. */
  ignoreUnknown: boolean;
  /** Kubernetes' pod identity, passed by CRI runtimes. */
  k8sPodNamespace?: string;
  k8sPodName?: string;
  k8sPodInfraContainerId?: string;
  k8sPodUid?: string;
  /** Every pair as given, known or not. */
  pairs: Record<string, string>;
}

// ---- runtimeConfig (capabilities, CONVENTIONS.md) ----------------------------------------------

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP?: string;
}

export interface BandwidthLimits {
  /** Bits per second and bits, as the bandwidth capability defines them. */
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** One range of the `ipRanges` capability (host-local's `ranges` entries). */
export interface IpRange {
  subnet: string;
  rangeStart?: string;
  rangeEnd?: string;
  gateway?: string;
}

/** The `dns` capability (Kubernetes' names: servers, searches, options). */
export interface RuntimeDns {
  servers?: string[];
  searches?: string[];
  options?: string[];
  domain?: string;
}

export interface RuntimeConfig {
  ips?: string[];
  mac?: string;
  dns?: RuntimeDns;
  bandwidth?: BandwidthLimits;
  portMappings?: PortMapping[];
  /** Outer list: one allocation each; inner list: the pool of ranges for that allocation. */
  ipRanges?: IpRange[][];
  infinibandGUID?: string;
  deviceID?: string;
  aliases?: string[];
  cgroupPath?: string;
  /** Capabilities sluice has no use for, kept as given. */
  other: Record<string, unknown>;
}

// ---- sluice's own fields -------------------------------------------------------------------------

export type DataPathMode = 'ebpf' | 'bridge';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface VlanTrunkEntry {
  minID?: number;
  maxID?: number;
  id?: number;
}

/** The reference bridge plugin's fields, accepted in mode `bridge` with its defaults. */
export interface BridgeSettings {
  bridge: string;
  isGateway: boolean;
  isDefaultGateway: boolean;
  forceAddress: boolean;
  ipMasqBackend?: 'iptables' | 'nftables';
  hairpinMode: boolean;
  promiscMode: boolean;
  vlan: number;
  /** The VLAN IDs of `vlanTrunk`, expanded, sorted and unique. */
  vlanTrunk: number[];
  preserveDefaultVlan: boolean;
  enabledad: boolean;
  macspoofchk: boolean;
  disableContainerInterface: boolean;
  portIsolation: boolean;
}

export interface SluiceSettings {
  mode: DataPathMode;
  /** The pod interface's MTU; undefined means the uplink's. */
  mtu?: number;
  /** The pods' gateway addresses in mode `ebpf` (link-local, answered by the host veth). */
  gateway: { ipv4: string; ipv6: string };
  ipMasq: boolean;
  /** Destinations never masqueraded (network prefixes); absent: none but multicast. */
  ipMasqExclude?: string[];
  /** The inet nf_tables table of the masquerade rules; absent: "sluice". */
  ipMasqTable?: string;
  logFile?: string;
  logLevel: LogLevel;
  pinRoot: string;
  stateDir: string;
  hostVethPrefix: string;
  /** Present exactly when mode is `bridge`. */
  bridge?: BridgeSettings;
}

// ---- the plugin configuration --------------------------------------------------------------------

export interface IpamConfig extends Record<string, unknown> {
  type: string;
}

export interface PluginConfig {
  cniVersion: CniVersion;
  name: string;
  type: string;
  capabilities: Record<string, boolean>;
  ipam?: IpamConfig;
  dns?: CniDns;
  /** `args.cni.ips` / `args.cni.mac`; other `args` are metadata sluice ignores. */
  args: { ips?: string[]; mac?: string };
  runtimeConfig: RuntimeConfig;
  /** The previous plugin's result, read from any version into the 1.x shape. */
  prevResult?: CniResult;
  /** GC only: `cni.dev/valid-attachments`, together with its older name `cni.dev/attachments`. */
  validAttachments?: Attachment[];
  sluice: SluiceSettings;
  /** The configuration object exactly as received (delegated plugins get it unchanged). */
  raw: Record<string, unknown>;
}
