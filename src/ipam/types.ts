/**
 * The IPAM contract shared by the delegated path (an IPAM plugin executed from CNI_PATH) and sluice's
 * built-in allocator. Shapes follow the CNI 1.1.0 result: addresses are CIDR strings ("10.1.0.5/24").
 */

export interface IpamAddress {
  /** The address with the prefix length of its subnet, e.g. "10.22.0.5/16" or "fd00::5/64". */
  address: string;
  gateway?: string;
  /** The index into the result's interfaces[] (IPAM plugins leave it out; the main plugin sets it). */
  interface?: number;
}

export interface IpamRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface IpamDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface IpamResult {
  ips: IpamAddress[];
  routes: IpamRoute[];
  dns?: IpamDns;
}

/** One attachment: what CNI identifies a lease by. */
export interface Attachment {
  containerID: string;
  ifname: string;
}

/** What an IPAM call receives: the network, the attachment, the runtime's extras. */
export interface IpamRequest extends Attachment {
  /** The network name (the config's `name`): the host-local store's folder. */
  network: string;
  /** The `ipam` object of the network config, as given. */
  config: Record<string, unknown>;
  /** The whole network config (delegation passes it on stdin to the IPAM plugin). */
  netConf: Record<string, unknown>;
  /** Addresses asked for through CNI_ARGS IP=, args.cni.ips or the ips capability. */
  requestedIPs: string[];
  netns?: string;
  /** CNI_ARGS as given (delegation passes it through). */
  args?: string;
}

export interface IpamGcRequest {
  network: string;
  config: Record<string, unknown>;
  netConf: Record<string, unknown>;
  /** Every attachment the runtime still knows; every other lease may be released. */
  validAttachments: Attachment[];
}

export interface IpamStatus {
  ok: boolean;
  /** Why not, e.g. "range 10.22.0.0/30 exhausted". */
  reason?: string;
}

export interface Ipam {
  add(req: IpamRequest): Promise<IpamResult>;
  /** Releases the attachment's addresses; succeeds when there is nothing to release. */
  del(req: IpamRequest): Promise<void>;
  /** Throws a CniError naming what differs when the attachment's lease is not as `expected` says. */
  check(req: IpamRequest, expected: IpamResult): Promise<void>;
  gc(req: IpamGcRequest): Promise<void>;
  status(req: Omit<IpamGcRequest, 'validAttachments'>): Promise<IpamStatus>;
}
