// Failures that need the kernel: each error says which step failed and why.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Datapath, defaultObjectPath } from '../../src/bpf/datapath.js';
import { maps } from '../../src/bpf/layout.js';
import { BpfObject, BpfObjectError } from '../../src/bpf/libbpf.js';
import { BpfMap, MapLayoutMismatch } from '../../src/bpf/maps.js';
import { PinPaths, removePinRoot } from '../../src/bpf/pins.js';
import { objGet } from '../../src/bpf/syscall.js';
import { SystemError } from '../../src/sys/errno.js';
import { bpfTest, pinRootPrefix } from '../support/bpf.js';

const rejected = fileURLToPath(new URL('../../../test/fixtures/bpf/unbounded_read.bpf.o', import.meta.url));

async function withPinRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = `${pinRootPrefix}errors-${Math.random().toString(16).slice(2, 10)}`;
  try {
    await fn(root);
  } finally {
    removePinRoot(new PinPaths(root));
  }
}

bpfTest('a verifier rejection names the program and quotes the verifier', 30_000, async () => {
  const object = BpfObject.openFile(rejected);
  try {
    object.load();
    assert.fail('loaded');
  } catch (err) {
    assert.ok(err instanceof BpfObjectError, String(err));
    assert.equal(err.failure, 'verifier');
    assert.match(err.message, /unbounded_read\.bpf\.o: the verifier rejected program 'unbounded_read' \(EACCES\): invalid access to packet/);
    assert.match(err.verifierLog ?? '', /R1 offset is outside of the packet/);
  } finally {
    object.close();
  }
});

bpfTest('a data path from an object the verifier rejects fails and pins no program', 30_000, async () => {
  await withPinRoot(async (root) => {
    await assert.rejects(Datapath.open({ pinRoot: root, objectPath: rejected }), (err: unknown) => {
      assert.ok(err instanceof BpfObjectError);
      assert.equal(err.failure, 'verifier');
      return true;
    });
    assert.equal(existsSync(`${root}/programs/pod_egress`), false);
  });
});

bpfTest('bpf() failures name the command, the object and the errno', 30_000, async () => {
  assert.throws(() => objGet('/sys/fs/bpf/sluice-nonexistent/x'), (err: unknown) => {
    assert.ok(err instanceof SystemError);
    assert.equal(err.message, 'bpf(BPF_OBJ_GET /sys/fs/bpf/sluice-nonexistent/x): ENOENT');
    return true;
  });
});

bpfTest('a pinned map that does not match its layout is refused, not misread', 30_000, async () => {
  await withPinRoot(async (root) => {
    const dp = await Datapath.open({ pinRoot: root, objectPath: defaultObjectPath });
    dp.close();
    const fd = objGet(`${root}/maps/${maps.endpointsV4.name}`);
    assert.throws(() => new BpfMap(maps.devices, fd), (err: unknown) => {
      assert.ok(err instanceof MapLayoutMismatch);
      assert.match(err.message, /^map devices \(id \d+\) does not match its layout: valueSize 24, expected 16; maxEntries 16384, expected 4096$/);
      return true;
    });
  });
});
