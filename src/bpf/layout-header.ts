/**
 * Renders bpf/layout.h from layout.ts: the structs, flag constants and map definitions the C program
 * uses, with compile-time assertions of every size and offset the TypeScript side computed.
 */
import { deviceFlags, endpointFlags, maps, mapTypes, maxEndpoints, structs, type MapTypeName } from './layout.js';
import type { StructType } from './struct.js';

const mapTypeMacro: Record<MapTypeName, string> = { hash: 'BPF_MAP_TYPE_HASH', percpuArray: 'BPF_MAP_TYPE_PERCPU_ARRAY' };

const macro = (prefix: string, name: string): string => `${prefix}_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

function renderStruct(s: StructType<unknown>): string {
  const lines = [`struct ${s.cName} {`, ...s.fields.map((f) => `\t${f.kind.declare(f.cName)};`), '};'];
  lines.push(`_Static_assert(sizeof(struct ${s.cName}) == ${s.size}, "struct ${s.cName}: size");`);
  for (const f of s.fields) {
    lines.push(`_Static_assert(__builtin_offsetof(struct ${s.cName}, ${f.cName}) == ${f.offset}, "struct ${s.cName}: ${f.cName}");`);
  }
  return lines.join('\n');
}

function renderFlags(prefix: string, flags: Record<string, number>): string {
  return Object.entries(flags)
    .map(([name, bit]) => `#define ${macro(prefix, name)} ${bit}U`)
    .join('\n');
}

function renderMaps(): string {
  return Object.values(maps)
    .map((m) =>
      [
        'struct {',
        `\t__uint(type, ${mapTypeMacro[m.type]});`,
        `\t__uint(max_entries, ${m.maxEntries});`,
        `\t__type(key, ${m.key.declare('')});`,
        `\t__type(value, ${m.value.declare('')});`,
        '\t__uint(pinning, LIBBPF_PIN_BY_NAME);',
        `} ${m.name} SEC(".maps");`,
      ].join('\n'),
    )
    .join('\n\n');
}

export function renderLayoutHeader(): string {
  const typeChecks = Object.entries(mapTypes).map(([name, n]) => `_Static_assert(${mapTypeMacro[name as MapTypeName]} == ${n}, "map type ${name}");`);
  return `/* Generated from src/bpf/layout.ts by scripts/build-bpf.sh: do not edit. */
#ifndef SLUICE_LAYOUT_H
#define SLUICE_LAYOUT_H

#include <linux/bpf.h>
#include <linux/in6.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

${typeChecks.join('\n')}

#define SLUICE_MAX_ENDPOINTS ${maxEndpoints}U

${renderFlags('SLUICE_ENDPOINT_F', endpointFlags)}
${renderFlags('SLUICE_DEVICE_F', deviceFlags)}

${structs.map(renderStruct).join('\n\n')}

${renderMaps()}

#endif
`;
}
