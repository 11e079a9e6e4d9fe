// Opening objects needs no privilege: these failures are found before anything reaches the kernel.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { defaultObjectPath } from '../../src/bpf/datapath.js';
import { BpfObject, BpfObjectError } from '../../src/bpf/libbpf.js';

function failure(work: () => unknown): BpfObjectError {
  try {
    work();
  } catch (err) {
    assert.ok(err instanceof BpfObjectError, String(err));
    return err;
  }
  assert.fail('no error');
}

test('a file that is not a BPF object: which object, and libbpf says why', () => {
  const err = failure(() => BpfObject.openBuffer(Buffer.from('this is not an ELF file'), 'garbage'));
  assert.equal(err.failure, 'open');
  assert.match(err.message, /^garbage: cannot open BPF object \(LIBBPF_ERRNO__FORMAT\): .*not a proper ELF object/);
});

test('a truncated object is refused too', () => {
  const bytes = readFileSync(defaultObjectPath);
  const err = failure(() => BpfObject.openBuffer(bytes.subarray(0, 200), 'truncated'));
  assert.equal(err.failure, 'open');
  assert.match(err.message, /^truncated: cannot open BPF object/);
});

test('a missing file names the path and the errno', () => {
  const err = failure(() => BpfObject.openFile('/nonexistent/sluice.bpf.o'));
  assert.equal(err.failure, 'open');
  assert.match(err.message, /\/nonexistent\/sluice\.bpf\.o: cannot open BPF object \(ENOENT\)/);
});

test('a missing map or program names what was asked and what there is', () => {
  const object = BpfObject.openFile(defaultObjectPath);
  try {
    const map = failure(() => object.map('endpoints_v5'));
    assert.equal(map.failure, 'missing-map');
    assert.match(map.message, /no map named 'endpoints_v5' \(it has: .*endpoints_v4.*\)/);
    const program = failure(() => object.program('pod_ingress'));
    assert.equal(program.failure, 'missing-program');
    assert.match(program.message, /no program named 'pod_ingress' \(it has: pod_egress\)/);
  } finally {
    object.close();
  }
});
