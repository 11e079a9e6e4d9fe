/**
 * Mode `bridge`: the reference bridge plugin's config fields, with its defaults and its checks, so a
 * bridge config works unchanged with `"type": "sluice", "mode": "bridge"`.
 */
import { Fields, checkedInteger, invalidField, preview } from './fields.js';
import type { BridgeSettings } from './types.js';
import { interfaceNameProblem } from './values.js';

/** The fields only mode `bridge` accepts (`mtu` and `ipMasq` are common to both modes). */
export const BRIDGE_FIELDS: ReadonlySet<string> = new Set([
  'bridge',
  'isGateway',
  'isDefaultGateway',
  'forceAddress',
  'ipMasqBackend',
  'hairpinMode',
  'promiscMode',
  'vlan',
  'vlanTrunk',
  'preserveDefaultVlan',
  'enabledad',
  'macspoofchk',
  'disableContainerInterface',
  'portIsolation',
]);

const VLAN_MAX = 4094;

export function parseBridgeSettings(fields: Fields, hasIpam: boolean): BridgeSettings {
  const flag = (key: string): boolean => fields.boolean(key) ?? false;
  const settings: BridgeSettings = {
    bridge: fields.string('bridge', (v) => {
      const problem = interfaceNameProblem(v);
      return problem && `is not a valid interface name: it ${problem}`;
    }) ?? 'cni0',
    isGateway: flag('isGateway'),
    isDefaultGateway: flag('isDefaultGateway'),
    forceAddress: flag('forceAddress'),
    hairpinMode: flag('hairpinMode'),
    promiscMode: flag('promiscMode'),
    vlan: fields.integer('vlan', 0, VLAN_MAX) ?? 0,
    vlanTrunk: parseVlanTrunk(fields),
    preserveDefaultVlan: flag('preserveDefaultVlan'),
    enabledad: flag('enabledad'),
    macspoofchk: flag('macspoofchk'),
    disableContainerInterface: flag('disableContainerInterface'),
    portIsolation: flag('portIsolation'),
  };
  // The reference plugin turns the bridge into the default gateway only if it is a gateway at all.
  if (settings.isDefaultGateway) settings.isGateway = true;
  const backend = fields.string('ipMasqBackend');
  if (backend !== undefined) {
    if (backend !== 'iptables' && backend !== 'nftables') throw invalidField('ipMasqBackend', `must be "iptables" or "nftables", not ${preview(backend)}`);
    settings.ipMasqBackend = backend;
  }
  if (settings.hairpinMode && settings.promiscMode) throw invalidField('hairpinMode', 'cannot be true together with "promiscMode"');
  if (settings.disableContainerInterface && hasIpam) throw invalidField('disableContainerInterface', 'cannot be true when "ipam" is set');
  return settings;
}

/** `vlanTrunk: [{minID, maxID} | {id}]`, expanded into the sorted list of VLAN IDs. */
function parseVlanTrunk(fields: Fields): number[] {
  const entries = fields.list('vlanTrunk');
  if (!entries) return [];
  const ids = new Set<number>();
  entries.forEach((raw, i) => {
    const entry = Fields.of(raw, `vlanTrunk[${i}]`);
    const min = entry.has('minID') ? checkedInteger(entry.obj.minID, entry.path('minID'), 1, VLAN_MAX) : undefined;
    const max = entry.has('maxID') ? checkedInteger(entry.obj.maxID, entry.path('maxID'), 1, VLAN_MAX) : undefined;
    if ((min === undefined) !== (max === undefined)) {
      throw invalidField(entry.path(min === undefined ? 'minID' : 'maxID'), 'is missing: minID and maxID go together');
    }
    if (min !== undefined && max !== undefined) {
      if (max < min) throw invalidField(entry.path('minID'), `(${min}) is greater than maxID (${max})`);
      for (let id = min; id <= max; id++) ids.add(id);
    }
    if (entry.has('id')) ids.add(checkedInteger(entry.obj.id, entry.path('id'), 1, VLAN_MAX));
  });
  return [...ids].sort((a, b) => a - b);
}
