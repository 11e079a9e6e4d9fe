// The agent's socket server (src/daemon/server.ts) with stub handlers: how it answers good and bad
// clients, how it orders calls, and how it stops. Needs no root: the server serves this test's uid.
// Events are ordered with promises the tests resolve themselves; nothing asserts a duration.
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import type { CniOutput } from '../../src/cni/dispatch.js';
import { agentCni, agentOp, exchange } from '../../src/daemon/client.js';
import { cniRequestFrame, encodeFrame, FrameReader } from '../../src/daemon/protocol.js';
import { AgentServer, type AgentHandlers, type ServerOptions } from '../../src/daemon/server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-agent-unit-'));
  dirs.push(dir);
  return dir;
}

const quiet = pino({ level: 'silent' });

interface Call {
  env: Record<string, string>;
  stdin: string;
  release(out?: CniOutput): void;
  fail(err: Error): void;
}

/** Handlers whose CNI calls wait until the test releases them; `auto` answers at once. */
function stubHandlers(auto = false) {
  const calls: Call[] = [];
  const waiters: ((c: Call) => void)[] = [];
  const handlers: AgentHandlers = {
    cni: (env, stdin) => new Promise<CniOutput>((resolve, reject) => {
      const call: Call = {
        env, stdin: stdin.toString('utf8'),
        release: (out = { stdout: `done ${env.CNI_COMMAND} ${env.CNI_CONTAINERID ?? ''}`.trim(), exitCode: 0 }) => resolve(out),
        fail: reject,
      };
      calls.push(call);
      waiters.splice(0).forEach((w) => w(call));
      if (auto) call.release();
    }),
    endpoints: async () => [{ containerId: 'c1' }],
    status: async () => ({ ok: true }),
  };
  /** Resolves once `n` calls have started. */
  const started = async (n: number) => {
    while (calls.length < n) await new Promise<Call>((r) => waiters.push(r));
    return calls;
  };
  return { handlers, calls, started };
}

async function server(handlers: AgentHandlers, options: Partial<ServerOptions> = {}): Promise<AgentServer> {
  const s = new AgentServer({ socketPath: join(tempDir(), 'run', 'sluice.sock'), handlers, logger: quiet, allowedUids: [process.getuid!()], ...options });
  await s.listen();
  return s;
}

const cni = (command: string, containerId?: string) => ({ CNI_COMMAND: command, ...(containerId ? { CNI_CONTAINERID: containerId } : {}) });

/** Raw client: sends `bytes` (then half-closes, destroys, or keeps the connection, as asked) and collects every frame until the end. */
function raw(path: string, bytes: Buffer, then: 'end' | 'keep' | 'destroy' = 'keep'): Promise<{ frames: any[]; socket: Socket }> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const reader = new FrameReader(1 << 20);
    const frames: any[] = [];
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      socket.write(bytes, () => undefined);
      if (then === 'end') socket.end();
      if (then === 'destroy') socket.destroy();
    });
    socket.on('data', (d: Buffer) => frames.push(...reader.push(d).map((f) => JSON.parse(f.toString()))));
    socket.on('close', () => resolve({ frames, socket }));
  });
}

const stdoutOf = (frames: any[]) => JSON.parse(frames.at(-1).stdout);

describe('AgentServer', () => {
  test('a call: "accepted", then the answer; other ops', async () => {
    const { handlers, calls } = stubHandlers(true);
    const s = await server(handlers);
    try {
      const { frames } = await raw(s.socketPath, cniRequestFrame({ ...cni('ADD', 'c1'), OTHER: 'x' }, Buffer.from('{"cniVersion":"1.0.0"}')));
      assert.deepEqual(frames, [{ accepted: true }, { stdout: 'done ADD c1', exitCode: 0 }]);
      assert.deepEqual(calls[0]!.env, { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', OTHER: 'x' });
      assert.equal(calls[0]!.stdin, '{"cniVersion":"1.0.0"}');
      assert.deepEqual(await agentOp(s.socketPath, 'endpoints'), [{ containerId: 'c1' }]);
      assert.deepEqual(await agentOp(s.socketPath, 'status'), { ok: true });
    } finally {
      await s.close();
    }
  });

  test('the socket is 0600 in a directory created 0700; a stale socket is replaced, a live one or a plain file refused', async () => {
    const { handlers } = stubHandlers(true);
    const s = await server(handlers);
    try {
      assert.equal(statSync(s.socketPath).mode & 0o777, 0o600);
      assert.equal(statSync(join(s.socketPath, '..')).mode & 0o777, 0o700);
      const second = new AgentServer({ socketPath: s.socketPath, handlers, logger: quiet });
      await assert.rejects(second.listen(), /another agent is listening/);
      assert.equal((await agentCni(s.socketPath, cni('VERSION'), Buffer.alloc(0))).outcome, 'answered', 'the first one still serves');
    } finally {
      await s.close();
    }
    assert.equal(existsSync(s.socketPath), false, 'close() removes its socket');

    const dir = tempDir();
    const file = join(dir, 'plain');
    writeFileSync(file, '');
    await assert.rejects(new AgentServer({ socketPath: file, handlers, logger: quiet }).listen(), /not a socket/);

    // A socket left by an agent that died (SIGKILL): nobody answers on it, so it is replaced.
    const stalePath = join(dir, 'stale.sock');
    const { spawnSync } = await import('node:child_process');
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.ok(statSync(stalePath).isSocket());
    const replacing = new AgentServer({ socketPath: stalePath, handlers, logger: quiet, allowedUids: [process.getuid!()] });
    await replacing.listen();
    try {
      assert.equal((await agentCni(stalePath, cni('VERSION'), Buffer.alloc(0))).outcome, 'answered');
    } finally {
      await replacing.close();
    }
  });

  test('garbage, a frame over the limit, a half-written request and a silent client get a CNI error; the server keeps serving', async () => {
    const { handlers, calls } = stubHandlers(true);
    const s = await server(handlers, { maxRequestBytes: 64 * 1024, readTimeoutMs: 200 });
    try {
      const garbage = await raw(s.socketPath, Buffer.from('\0\0\0\x0cnot json at all'));
      assert.equal(garbage.frames.length, 1, 'no "accepted": nothing was run');
      assert.equal(stdoutOf(garbage.frames).code, 6);
      assert.equal(garbage.frames[0].exitCode, 1);

      const random = await raw(s.socketPath, Buffer.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3]));
      assert.match(stdoutOf(random.frames).msg, /too large/);

      // A client that really sends 1 MiB: answered and cut off, whatever it still tries to write.
      const huge = cniRequestFrame(cni('ADD', 'big'), Buffer.alloc(1 << 20, 0x20));
      const big = await raw(s.socketPath, huge);
      assert.equal(big.frames.length, 1);
      assert.match(stdoutOf(big.frames).msg, /too large/);
      assert.match(stdoutOf(big.frames).details, /at most 65536/);

      const frame = cniRequestFrame(cni('ADD', 'half'), Buffer.from('{}'));
      const half = await raw(s.socketPath, frame.subarray(0, frame.length - 3), 'end');
      assert.match(stdoutOf(half.frames).msg, /incomplete request/);

      const headerOnly = await raw(s.socketPath, frame.subarray(0, 2), 'end');
      assert.match(stdoutOf(headerOnly.frames).msg, /incomplete request/);

      const silent = await raw(s.socketPath, Buffer.alloc(0));
      assert.equal(stdoutOf(silent.frames).code, 5);
      assert.match(stdoutOf(silent.frames).msg, /not received in time/);

      const badShape = await raw(s.socketPath, encodeFrame({ version: 1, env: { CNI_COMMAND: 5 } }));
      assert.match(stdoutOf(badShape.frames).details, /not a string/);

      assert.equal(calls.length, 0, 'no bad request reached the handler');
      assert.equal(s.stats.badRequests, 7);
      const good = await agentCni(s.socketPath, cni('ADD', 'after'), Buffer.from('{}'));
      assert.deepEqual(good, { outcome: 'answered', answer: { stdout: 'done ADD after', exitCode: 0 } });
    } finally {
      await s.close();
    }
  });

  test('clients that disconnect mid-request, or mid-call, do not disturb anything', async () => {
    const { handlers, started } = stubHandlers();
    const s = await server(handlers);
    try {
      const frame = cniRequestFrame(cni('ADD', 'c1'), Buffer.from('{}'));
      await raw(s.socketPath, frame.subarray(0, 10), 'destroy');

      // Gone after "accepted": the call still runs to its end; its answer is lost and counted.
      const socket = createConnection(s.socketPath);
      socket.on('error', () => undefined);
      const accepted = new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.write(frame);
      await accepted;
      socket.destroy();
      const [call] = await started(1);
      call!.release();
      const next = agentCni(s.socketPath, cni('DEL', 'c1'), Buffer.from('{}'));
      const [, del] = await started(2);
      assert.equal(del!.env.CNI_COMMAND, 'DEL');
      del!.release();
      assert.equal((await next).outcome, 'answered');
      while (s.stats.undelivered === 0) await new Promise((r) => setImmediate(r));
      assert.equal(s.stats.undelivered, 1);
    } finally {
      await s.close();
    }
  });

  test('calls for one container are serialised; other containers run meanwhile; GC runs alone', async () => {
    const { handlers, calls, started } = stubHandlers();
    const s = await server(handlers);
    try {
      const first = agentCni(s.socketPath, cni('ADD', 'c1'), Buffer.from('{}'));
      await started(1);
      const second = agentCni(s.socketPath, cni('DEL', 'c1'), Buffer.from('{}'));
      const other = agentCni(s.socketPath, cni('ADD', 'c2'), Buffer.from('{}'));
      await started(2);
      // Both are accepted by now; only c2's ADD runs beside c1's.
      while (s.stats.inFlight < 3) await new Promise((r) => setImmediate(r));
      assert.deepEqual(calls.map((c) => `${c.env.CNI_COMMAND} ${c.env.CNI_CONTAINERID}`), ['ADD c1', 'ADD c2']);
      const gc = agentCni(s.socketPath, cni('GC'), Buffer.from('{}'));
      calls[1]!.release();
      assert.deepEqual(await other, { outcome: 'answered', answer: { stdout: 'done ADD c2', exitCode: 0 } });
      await new Promise((r) => setImmediate(r));
      assert.equal(calls.length, 2, 'GC waits for c1, and the DEL of c1 waits for its ADD');
      calls[0]!.release();
      await first;
      const [, , third] = await started(3);
      assert.equal(`${third!.env.CNI_COMMAND} ${third!.env.CNI_CONTAINERID ?? ''}`.trim(), 'DEL c1', 'the DEL for c1 came before the GC');
      third!.release();
      const [, , , fourth] = await started(4);
      assert.equal(fourth!.env.CNI_COMMAND, 'GC');
      fourth!.release();
      assert.equal((await second).outcome, 'answered');
      assert.equal((await gc).outcome, 'answered');
    } finally {
      await s.close();
    }
  });

  test('a call over the time limit is answered "try again later"; the next call for the container still waits for it', async () => {
    const { handlers, started } = stubHandlers();
    const s = await server(handlers, { requestTimeoutMs: 50 });
    try {
      const slow = await Promise.all([agentCni(s.socketPath, cni('ADD', 'c1'), Buffer.from('{"cniVersion":"0.4.0"}')), started(1)]);
      assert.equal(slow[0].outcome, 'answered');
      const answer = slow[0].outcome === 'answered' ? JSON.parse(slow[0].answer.stdout) : undefined;
      assert.deepEqual({ code: answer.code, cniVersion: answer.cniVersion }, { code: 11, cniVersion: '0.4.0' });
      const next = agentCni(s.socketPath, cni('DEL', 'c1'), Buffer.from('{}'));
      while (s.stats.inFlight < 2) await new Promise((r) => setImmediate(r));
      const [first] = slow[1];
      assert.equal(slow[1].length, 1, 'the DEL has not started: the ADD still runs');
      first!.release();
      const [, del] = await started(2);
      del!.release();
      assert.equal((await next).outcome, 'answered');
    } finally {
      await s.close();
    }
  });

  test('close() stops accepting at once and waits for the calls under way, which are answered', async () => {
    const { handlers, started } = stubHandlers();
    const s = await server(handlers);
    const running = agentCni(s.socketPath, cni('ADD', 'c1'), Buffer.from('{}'));
    const [call] = await started(1);
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(existsSync(s.socketPath), false, 'the socket is gone: new calls go elsewhere');
    assert.deepEqual(await exchange(s.socketPath, cniRequestFrame(cni('VERSION'), Buffer.alloc(0))), { outcome: 'no-agent', code: 'ENOENT' });
    assert.equal(closed, false, 'still waiting for the ADD');
    call!.release();
    assert.deepEqual(await running, { outcome: 'answered', answer: { stdout: 'done ADD c1', exitCode: 0 } });
    await closing;
  });

  test('a handler that throws is a CNI error 999, and the server goes on', async () => {
    const { handlers, started } = stubHandlers();
    const s = await server(handlers);
    try {
      const failing = agentCni(s.socketPath, cni('ADD', 'c1'), Buffer.from('{}'));
      const [call] = await started(1);
      call!.fail(new Error('bug'));
      const out = await failing;
      assert.equal(out.outcome, 'answered');
      if (out.outcome === 'answered') assert.deepEqual({ ...JSON.parse(out.answer.stdout), cniVersion: undefined }, { cniVersion: undefined, code: 999, msg: 'sluice agent failed', details: 'bug' });
    } finally {
      await s.close();
    }
  });
});
