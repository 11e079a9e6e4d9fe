// A second opinion on the encoder: for each object kind, what sluice encodes is decoded by pyroute2
// (an independent Python implementation, Debian's python3-pyroute2) and must give the same values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttrSpace, ByKindType, NestType } from '../../src/netlink/attributes.js';
import { encodeMessage, type MessageKind, type RequestOf } from '../../src/netlink/message.js';
import { address, filter, link, neighbour, route, rule, NTF, NUD } from '../../src/netlink/rtnetlink/index.js';
import type { AttrType } from '../../src/netlink/types.js';
import { pyroute2Decode, uapiName, type PyKind, type PyValue } from '../support/pyroute2.js';

interface Comparison {
  diffs: string[];
  compared: string[];
  /** Where pyroute2 prints a number by its name: attribute -> number -> name. */
  names: Record<string, Record<number, string>>;
}

function scalar(v: unknown): v is string | number | bigint | boolean {
  return ['string', 'number', 'bigint', 'boolean'].includes(typeof v);
}

const normalise = (v: unknown) => (typeof v === 'bigint' ? Number(v) : v === true ? 1 : v);

/** Walks our value along our schema and pyroute2's decoding of the same bytes, attribute by attribute. */
function compareAttrs(sp: AttrSpace<unknown>, ours: Record<string, unknown>, theirs: Record<string, PyValue>, path: string, out: Comparison): void {
  for (const [key, value] of Object.entries(ours)) {
    const field = sp.byName.get(key)!;
    let type: AttrType<unknown> = field.attr;
    if ((type as ByKindType<unknown>).pick) type = (type as ByKindType<unknown>).pick(ours[(type as ByKindType<unknown>).key]);
    const name = uapiName(sp.prefix, key);
    const where = `${path}.${key} (${name})`;
    const their = theirs[name];
    if (their === undefined) {
      out.diffs.push(`${where}: pyroute2 did not find it`);
      continue;
    }
    const inner = (type as NestType<unknown>).inner;
    if (inner) {
      compareAttrs(inner, value as Record<string, unknown>, ((their as Record<string, PyValue>).attrs ?? {}) as Record<string, PyValue>, where, out);
    } else if (scalar(value)) {
      const expected = typeof value === 'number' ? (out.names[name]?.[value] ?? value) : normalise(value);
      if (expected !== their && !(value === true && their === null)) out.diffs.push(`${where}: sluice ${String(value)}, pyroute2 ${JSON.stringify(their)}`);
      else out.compared.push(name);
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)) {
      // A struct: compare its fields by their snake_case names.
      for (const [fk, fv] of Object.entries(value)) {
        const theirField = (their as Record<string, PyValue>)[fk.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()];
        if (theirField === undefined) continue;
        if (normalise(fv) !== theirField) out.diffs.push(`${where}.${fk}: sluice ${String(fv)}, pyroute2 ${JSON.stringify(theirField)}`);
        else out.compared.push(`${name}.${fk}`);
      }
    }
  }
}

function secondOpinion<M extends MessageKind<string, any, any>>(
  pyKind: PyKind, kind: M, request: RequestOf<M>, headerNames: Record<string, string>, mustCompare: string[],
  names: Comparison['names'] = {},
): Record<string, PyValue> {
  const bytes = encodeMessage(kind, request);
  const [decoded] = pyroute2Decode(pyKind, [bytes]);
  assert.ok(decoded);
  const out: Comparison = { diffs: [], compared: [], names };
  const header = (request as Record<string, unknown>)[kind.headerKey] as Record<string, unknown>;
  for (const [ours, theirs] of Object.entries(headerNames)) {
    if (normalise(header[ours] ?? 0) !== decoded.header[theirs]) out.diffs.push(`header ${ours}: sluice ${String(header[ours])}, pyroute2 ${JSON.stringify(decoded.header[theirs])}`);
  }
  compareAttrs(kind.attrs, request.attrs as Record<string, unknown>, decoded.attrs, kind.name, out);
  assert.deepEqual(out.diffs, []);
  for (const name of mustCompare) assert.ok(out.compared.includes(name), `${name} was compared (compared: ${out.compared.join(', ')})`);
  return decoded.attrs;
}

test('links: ifinfomsg, IFLA attributes, and the vxlan kind data', () => {
  secondOpinion('link', link, {
    header: { type: 16 },
    ifinfo: { index: 3, flags: 1, change: 1 },
    attrs: {
      ifname: 'v0', mtu: 1400, address: '02:00:00:00:00:01', txqlen: 500, master: 7, group: 2,
      linkinfo: { kind: 'vxlan', data: { id: 42, port: 4789, group: '10.0.0.9', local: '10.0.0.1', ttl: 5, learning: 0, link: 2 } },
    },
  }, { index: 'index', flags: 'flags', change: 'change' },
  ['IFLA_IFNAME', 'IFLA_MTU', 'IFLA_ADDRESS', 'IFLA_MASTER', 'IFLA_INFO_KIND', 'IFLA_VXLAN_ID', 'IFLA_VXLAN_PORT', 'IFLA_VXLAN_GROUP', 'IFLA_VXLAN_LOCAL']);
});

test('links: bridge, macvlan and vlan kind data', () => {
  secondOpinion('link', link, {
    header: { type: 16 }, ifinfo: {},
    attrs: { ifname: 'br0', linkinfo: { kind: 'bridge', data: { stpState: 1, forwardDelay: 1500, helloTime: 200, vlanFiltering: 1, priority: 4096 } } },
  }, {}, ['IFLA_BR_STP_STATE', 'IFLA_BR_FORWARD_DELAY', 'IFLA_BR_VLAN_FILTERING', 'IFLA_BR_PRIORITY']);
  secondOpinion('link', link, {
    header: { type: 16 }, ifinfo: {},
    attrs: { ifname: 'mv0', link: 2, linkinfo: { kind: 'macvlan', data: { mode: 4 } } },
  }, {}, ['IFLA_LINK', 'IFLA_MACVLAN_MODE'], { IFLA_MACVLAN_MODE: { 4: 'bridge' } });
  secondOpinion('link', link, {
    header: { type: 16 }, ifinfo: {},
    attrs: { ifname: 'eth0.7', link: 2, linkinfo: { kind: 'vlan', data: { id: 7, protocol: 0x8100 } } },
  }, {}, ['IFLA_VLAN_ID', 'IFLA_VLAN_PROTOCOL']);
});

test('links: a veth whose peer is created in another namespace', () => {
  const attrs = secondOpinion('link', link, {
    header: { type: 16 }, ifinfo: {},
    attrs: { ifname: 'h0', linkinfo: { kind: 'veth', data: { peer: { ifinfo: { flags: 1 }, attrs: { ifname: 'eth0', netNsFd: 9, mtu: 1450 } } } } },
  }, {}, ['IFLA_IFNAME', 'IFLA_INFO_KIND']);
  // pyroute2 decodes VETH_INFO_PEER as an ifinfmsg of its own.
  const data = ((attrs.IFLA_LINKINFO as Record<string, any>).attrs.IFLA_INFO_DATA as Record<string, any>).attrs;
  const peer = data.VETH_INFO_PEER;
  assert.equal(peer.attrs.IFLA_IFNAME, 'eth0');
  assert.equal(peer.attrs.IFLA_NET_NS_FD, 9);
  assert.equal(peer.attrs.IFLA_MTU, 1450);
  assert.equal(peer.flags, 1);
});

test('addresses', () => {
  secondOpinion('address', address, {
    header: { type: 20 },
    ifaddr: { family: 2, prefixlen: 24, scope: 0, index: 4 },
    attrs: { address: '10.1.2.3', local: '10.1.2.3', label: 'eth0:web', broadcast: '10.1.2.255', flags: 0x80 },
  }, { family: 'family', prefixlen: 'prefixlen', index: 'index', scope: 'scope' }, ['IFA_ADDRESS', 'IFA_LOCAL', 'IFA_LABEL', 'IFA_BROADCAST', 'IFA_FLAGS']);
  secondOpinion('address', address, {
    header: { type: 20 }, ifaddr: { family: 10, prefixlen: 64, index: 4 }, attrs: { address: 'fd00:1::5' },
  }, { family: 'family', prefixlen: 'prefixlen' }, ['IFA_ADDRESS']);
});

test('routes, with metrics and multipath', () => {
  const attrs = secondOpinion('route', route, {
    header: { type: 24 },
    rtm: { family: 2, dstLen: 16, table: 254, protocol: 3, scope: 0, type: 1 },
    attrs: {
      dst: '10.1.0.0', gateway: '10.0.0.1', oif: 2, priority: 10, table: 254, prefsrc: '10.0.0.5', metrics: { mtu: 1400, advmss: 1360 },
      multipath: [{ flags: 4, hops: 2, ifindex: 2, attrs: { gateway: '10.0.0.2' } }, { flags: 0, hops: 0, ifindex: 3, attrs: { gateway: '10.0.0.3' } }],
    },
  }, { family: 'family', dstLen: 'dst_len', table: 'table', protocol: 'proto', type: 'type' },
  ['RTA_DST', 'RTA_GATEWAY', 'RTA_OIF', 'RTA_PRIORITY', 'RTA_PREFSRC', 'RTAX_MTU', 'RTAX_ADVMSS']);
  const hops = attrs.RTA_MULTIPATH as Array<Record<string, any>>;
  assert.deepEqual(hops.map((h) => [h.flags, h.hops, h.oif, h.attrs.RTA_GATEWAY]), [[4, 2, 2, '10.0.0.2'], [0, 0, 3, '10.0.0.3']]);
  secondOpinion('route', route, {
    header: { type: 24 }, rtm: { family: 10, dstLen: 64, table: 254, type: 1 }, attrs: { dst: 'fd00:40::', oif: 5, gateway: 'fe80::1' },
  }, { family: 'family', dstLen: 'dst_len' }, ['RTA_DST', 'RTA_OIF', 'RTA_GATEWAY']);
});

test('neighbours and bridge FDB entries', () => {
  secondOpinion('neighbour', neighbour, {
    header: { type: 28 }, ndm: { family: 2, ifindex: 3, state: NUD.PERMANENT, flags: 0 }, attrs: { dst: '169.254.1.1', lladdr: '02:00:00:00:00:09' },
  }, { family: 'family', ifindex: 'ifindex', state: 'state' }, ['NDA_DST', 'NDA_LLADDR']);
  secondOpinion('neighbour', neighbour, {
    header: { type: 28 }, ndm: { family: 7, ifindex: 5, state: NUD.PERMANENT, flags: NTF.SELF },
    attrs: { lladdr: '00:00:00:00:00:00', dst: '10.50.0.2', vni: 100, port: 4789 },
  }, { family: 'family', ifindex: 'ifindex', state: 'state', flags: 'flags' }, ['NDA_LLADDR', 'NDA_DST', 'NDA_VNI', 'NDA_PORT']);
});

test('rules', () => {
  secondOpinion('rule', rule, {
    header: { type: 32 },
    rule: { family: 2, srcLen: 16, table: 100, action: 1 },
    attrs: { priority: 1000, table: 100, fwmark: 0x10, fwmask: 0xff, src: '10.60.0.0', iifname: 'eth0' },
  }, { family: 'family', srcLen: 'src_len', table: 'table', action: 'action' }, ['FRA_PRIORITY', 'FRA_TABLE', 'FRA_FWMARK', 'FRA_FWMASK', 'FRA_SRC', 'FRA_IIFNAME']);
});

test('tc: a direct-action cls_bpf filter', () => {
  secondOpinion('tc', filter, {
    header: { type: 44 },
    tcm: { ifindex: 4, handle: 1, parent: 0xfffffff2, info: (1 << 16) | 0x0300 },
    attrs: { kind: 'bpf', options: { fd: 7, name: 'pod_egress', flags: 1 } },
  }, { ifindex: 'index', handle: 'handle', parent: 'parent', info: 'info' }, ['TCA_KIND', 'TCA_BPF_FD', 'TCA_BPF_NAME', 'TCA_BPF_FLAGS']);
});
