// A two-instruction tc program ("return TC_ACT_OK") loaded straight through bpf(BPF_PROG_LOAD), for
// tests of the cls_bpf netlink verbs that must not depend on the eBPF object build.
import koffi from 'koffi';
import { SystemError } from '../../src/sys/errno.js';

const libc = koffi.load('libc.so.6');
const syscall = libc.func('long syscall(long nr, long cmd, void *attr, long size)');
const SYS_BPF = 321;
const BPF_PROG_LOAD = 5;
const BPF_PROG_TYPE_SCHED_CLS = 3;

export function loadPassProgram(name = 'sl_pass'): number {
  const insns = Buffer.alloc(16);
  insns.writeUInt8(0xb7, 0); // r0 = 0 (BPF_ALU64 | BPF_MOV | BPF_K)
  insns.writeUInt8(0x95, 8); // exit (BPF_JMP | BPF_EXIT)
  const license = Buffer.from('GPL\0');
  const attr = Buffer.alloc(128);
  attr.writeUInt32LE(BPF_PROG_TYPE_SCHED_CLS, 0);
  attr.writeUInt32LE(2, 4);
  attr.writeBigUInt64LE(koffi.address(insns), 8);
  attr.writeBigUInt64LE(koffi.address(license), 16);
  attr.write(name.slice(0, 15), 48);
  const fd = Number(syscall(SYS_BPF, BPF_PROG_LOAD, attr, attr.length));
  if (fd < 0) throw new SystemError(koffi.errno(), 'bpf(BPF_PROG_LOAD)');
  return fd;
}
