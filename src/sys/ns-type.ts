/** The type of an open nsfs file, from the kernel (ioctl NS_GET_NSTYPE, Linux 4.11+): the agent's probe for ns-check.ts. */
import * as libc from './libc.js';

/** The CLONE_NEW* flag NS_GET_NSTYPE answers with, by namespace type. */
const TYPES: Record<number, string> = {
  [libc.CLONE_NEWNET]: 'net', 0x00020000: 'mnt', 0x04000000: 'uts', 0x08000000: 'ipc', 0x10000000: 'user', 0x20000000: 'pid', 0x02000000: 'cgroup', 0x00000080: 'time',
};

/** 'net', 'mnt', ... or undefined where the kernel cannot say (ns-check then reads mountinfo). */
export function namespaceTypeOf(fd: number): string | undefined {
  try {
    return TYPES[libc.ioctlNoArg(fd, libc.NS_GET_NSTYPE, 'NS_GET_NSTYPE')];
  } catch {
    return undefined;
  }
}
