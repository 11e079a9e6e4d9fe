/**
 * A separate process running one built-in IPAM operation, for the concurrency and crash tests:
 *   node dist/test/support/ipam-child.js '<json>'
 * with json = { op: "add" | "del" | "status" | "gc", req, validAttachments?, barrier? }. With barrier,
 * the child loads everything, writes "ready" on stderr and waits for a line on stdin, so many children
 * can be let go at the same moment. Prints one JSON line: { ok: true, result } or { ok: false, code, msg }.
 * With agent, the IPAM is the agent's (remembering its stores, committing after the answer), and
 * `warmup` (an ADD) runs first, so the job starts from the memory it left.
 */
import { once } from 'node:events';
import { builtinIpam } from '../../src/ipam/host-local/index.js';
import type { Attachment, IpamRequest } from '../../src/ipam/types.js';

interface ChildJob {
  op: 'add' | 'del' | 'status' | 'gc';
  req: IpamRequest;
  validAttachments?: Attachment[];
  barrier?: boolean;
  agent?: boolean;
  warmup?: IpamRequest;
}

const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob;
const ipam = builtinIpam({ lockTimeoutMs: 60_000, ...(job.agent ? { remember: true, commitAfterResult: true } : {}) });
if (job.warmup) await ipam.add(job.warmup);
if (job.barrier) {
  process.stderr.write('ready\n');
  await once(process.stdin, 'data');
  process.stdin.destroy();
}
try {
  let result: unknown;
  if (job.op === 'add') result = await ipam.add(job.req);
  else if (job.op === 'del') result = await ipam.del(job.req);
  else if (job.op === 'status') result = await ipam.status(job.req);
  else result = await ipam.gc({ ...job.req, validAttachments: job.validAttachments ?? [] });
  process.stdout.write(`${JSON.stringify({ ok: true, result: result ?? null })}\n`);
} catch (err) {
  const e = err as { code?: unknown; msg?: unknown; message?: string };
  process.stdout.write(`${JSON.stringify({ ok: false, code: e.code, msg: e.msg ?? e.message })}\n`);
}
