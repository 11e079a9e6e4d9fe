// The map layouts are defined once (src/bpf/layout.ts). These tests fail when the committed C header
// or the compiled object disagrees with that definition, field by field.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultObjectPath } from '../../src/bpf/datapath.js';
import { renderLayoutHeader } from '../../src/bpf/layout-header.js';
import { maps, mapTypes, podEgressProgram, structs } from '../../src/bpf/layout.js';
import { BpfObject } from '../../src/bpf/libbpf.js';

const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

test('bpf/layout.h is what layout.ts renders (run npm run build:bpf after changing either)', () => {
  assert.equal(readFileSync(repo('bpf/layout.h'), 'utf8'), renderLayoutHeader());
});

test("the compiled object's BTF lays every struct out as layout.ts does", () => {
  const object = BpfObject.openFile(defaultObjectPath);
  try {
    const btf = object.btf();
    for (const s of structs) {
      const compiled = btf.struct(s.cName);
      assert.ok(compiled, `struct ${s.cName} is in the object's BTF`);
      assert.equal(compiled.size, s.size, `struct ${s.cName}: size`);
      assert.deepEqual(
        compiled.members,
        s.fields.map((f) => ({ name: f.cName, offset: f.offset, size: f.kind.size })),
        `struct ${s.cName}: members`,
      );
    }
  } finally {
    object.close();
  }
});

test("the compiled object's maps and program are the ones layout.ts names", () => {
  const object = BpfObject.openFile(defaultObjectPath);
  try {
    assert.deepEqual(object.programNames(), [podEgressProgram]);
    assert.deepEqual(object.mapNames().sort(), Object.values(maps).map((m) => m.name).sort());
    for (const m of Object.values(maps)) {
      const compiled = object.map(m.name);
      assert.deepEqual(
        { type: compiled.type, keySize: compiled.keySize, valueSize: compiled.valueSize, maxEntries: compiled.maxEntries },
        { type: mapTypes[m.type], keySize: m.key.size, valueSize: m.value.size, maxEntries: m.maxEntries },
        `map ${m.name}`,
      );
    }
  } finally {
    object.close();
  }
});
