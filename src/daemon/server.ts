/**
 * The agent's socket server: a unix stream socket (mode 0600; its directory is created 0700 when it
 * does not exist), one request per connection, the protocol of protocol.ts.
 *
 * For every connection, in order:
 *   1. the peer's credentials (SO_PEERCRED): uid 0, or a uid given in `allowedUids`; anyone else is
 *      answered with a CNI error and the connection closed, before a byte of the request is read;
 *   2. the request frame, complete within `readTimeoutMs` and at most `maxRequestBytes`: garbage, a
 *      frame over the limit, a connection closed or half-closed before the frame is complete, or too
 *      slow a client is answered with a CNI error (when the peer can still read it) and closed;
 *   3. for a CNI call, {"accepted": true}, written before anything is done: a client that is gone by
 *      then has its call dropped, untouched;
 *   4. the call, queued behind earlier calls for the same CNI_CONTAINERID (GC waits for everything
 *      else), answered within `requestTimeoutMs` or with CNI error 11 (the call itself goes on, and
 *      a later call for the container still waits for it);
 *   5. the answer, then the connection is closed. A client that left in the meantime is logged.
 * Nothing a client sends or does (including disappearing at any point) can throw out of here.
 *
 * close() stops accepting, removes the socket file (when it is still ours), waits for every
 * connection already accepted to be answered, and resolves.
 */
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { CniOutput } from '../cni/dispatch.js';
import { CniCode, CniError } from '../cni/errors.js';
import { socketPeerCred, type PeerCred } from '../sys/peercred.js';
import { KeyedQueue, Gate } from './queue.js';
import {
  BadRequest, DEFAULT_MAX_REQUEST_BYTES, FrameReader, FrameTooLarge, cniErrorAnswer, encodeFrame, parseRequest, replyVersion,
  type AgentRequest, type CniAnswer, type OpAnswer,
} from './protocol.js';

export interface AgentHandlers {
  cni(env: Record<string, string>, stdin: Buffer, meta: { id: number; peer: PeerCred }): Promise<CniOutput>;
  endpoints(): Promise<unknown>;
  status(): Promise<unknown>;
}

export interface ServerOptions {
  socketPath: string;
  handlers: AgentHandlers;
  logger: Logger;
  /** Peers allowed besides uid 0. */
  allowedUids?: readonly number[];
  maxRequestBytes?: number;
  /** How long a client has to send its whole request. */
  readTimeoutMs?: number;
  /** How long a CNI call may run before the client is answered with error 11 (the call goes on). */
  requestTimeoutMs?: number;
  /** Told after every CNI call has finished (the agent's background work waits for quiet). */
  onCallDone?(command: string | undefined): void;
}

export const DEFAULT_READ_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

export interface ServerStats {
  connections: number;
  served: number;
  refused: number;
  badRequests: number;
  inFlight: number;
  timedOut: number;
  /** Answers that could not be delivered: the client had gone. */
  undelivered: number;
}

export class AgentServer {
  private server: Server | undefined;
  private socketIdentity: { dev: number; ino: number } | undefined;
  private readonly open = new Set<Socket>();
  private readonly busy = new Set<Promise<unknown>>();
  private readonly queue = new KeyedQueue();
  private readonly gate = new Gate();
  private readonly allowed: Set<number>;
  private readonly maxRequestBytes: number;
  private readonly readTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly log: Logger;
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private lastCallAt = 0;
  readonly stats: ServerStats = { connections: 0, served: 0, refused: 0, badRequests: 0, inFlight: 0, timedOut: 0, undelivered: 0 };

  constructor(private readonly options: ServerOptions) {
    this.allowed = new Set([0, ...(options.allowedUids ?? [])]);
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.readTimeoutMs = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.log = options.logger;
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  get listening(): boolean {
    return this.server?.listening === true;
  }

  /** Milliseconds since a CNI call last arrived or finished; 0 while one is running. */
  get quietMs(): number {
    return this.stats.inFlight > 0 ? 0 : Date.now() - this.lastCallAt;
  }

  /**
   * Runs `task` in `containerId`'s turn, as a CNI call for that container would run (after the calls
   * already queued for it, before later ones), and never during a GC.
   */
  ordered<T>(containerId: string, task: () => Promise<T>): Promise<T> {
    return this.gate.withShared(() => this.queue.run(containerId, task));
  }

  /** Creates the socket and starts accepting. Refuses when another agent answers on the path. */
  async listen(): Promise<void> {
    const path = this.options.socketPath;
    prepareDirectory(path, this.log);
    await removeStaleSocket(path);
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.onConnection(socket));
    server.on('error', (err) => this.log.error({ err }, 'socket server error'));
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    const st = statSync(path);
    this.socketIdentity = { dev: st.dev, ino: st.ino };
    this.server = server;
  }

  /** Stops accepting and resolves once every accepted connection has been answered. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const server = this.server;
      if (server) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        this.removeSocketFile();
        await closed;
      }
      while (this.busy.size) await Promise.allSettled([...this.busy]);
    })();
    return this.closing;
  }

  /** The socket file is removed only while it is the one this server bound (a new agent may have replaced it). */
  private removeSocketFile(): void {
    if (!this.socketIdentity) return;
    try {
      const st = lstatSync(this.options.socketPath);
      if (st.dev === this.socketIdentity.dev && st.ino === this.socketIdentity.ino) unlinkSync(this.options.socketPath);
    } catch {
      // gone already
    }
  }

  // ---- one connection ---------------------------------------------------------------------------

  private onConnection(socket: Socket): void {
    this.stats.connections++;
    this.open.add(socket);
    const id = this.nextId++;
    const log = this.log.child({ conn: id });
    const work = this.serveConnection(socket, id, log).catch((err: unknown) => {
      // A bug, not a client: keep serving, but say so.
      log.error({ err }, 'connection handling failed');
      socket.destroy();
    });
    this.busy.add(work);
    void work.finally(() => {
      this.busy.delete(work);
      this.open.delete(socket);
    });
  }

  private async serveConnection(socket: Socket, id: number, log: Logger): Promise<void> {
    socket.on('error', (err) => log.debug({ err: err.message }, 'client connection error'));
    let peer: PeerCred | undefined;
    try {
      peer = socketPeerCred(socket);
    } catch (err) {
      log.warn({ err }, 'cannot read the peer credentials');
    }
    if (!peer || !this.allowed.has(peer.uid)) {
      this.stats.refused++;
      log.warn({ peer }, 'refused a client that is not allowed');
      const who = peer ? `uid ${peer.uid} (pid ${peer.pid})` : 'a client whose credentials cannot be read';
      await this.finish(socket, cniErrorAnswer(new CniError(CniCode.Internal, 'permission denied by the sluice agent', `${who} may not use it: only uid ${[...this.allowed].join(', ')}`)));
      return;
    }

    const outcome = await this.readRequest(socket);
    if (outcome.kind === 'gone') {
      log.debug({ peer, received: outcome.received }, 'client left before sending a whole request');
      socket.destroy();
      return;
    }
    if (outcome.kind === 'bad') {
      this.stats.badRequests++;
      log.warn({ peer, reason: outcome.error.message }, 'bad request');
      await this.finish(socket, cniErrorAnswer(outcome.error));
      return;
    }
    let request: AgentRequest;
    try {
      request = parseRequest(outcome.frame);
    } catch (err) {
      this.stats.badRequests++;
      const error = err instanceof BadRequest ? err : new BadRequest(CniCode.DecodingFailure, 'bad request to the sluice agent', String(err));
      log.warn({ peer, reason: error.message }, 'bad request');
      await this.finish(socket, cniErrorAnswer(error));
      return;
    }
    switch (request.op) {
      case 'endpoints':
      case 'status': {
        let answer: OpAnswer;
        try {
          answer = { result: await (request.op === 'endpoints' ? this.options.handlers.endpoints() : this.options.handlers.status()) };
        } catch (err) {
          answer = { error: err instanceof Error ? err.message : String(err) };
        }
        await this.finish(socket, answer);
        return;
      }
      case 'cni':
        await this.serveCni(socket, request, peer, log);
    }
  }

  private async serveCni(socket: Socket, request: Extract<AgentRequest, { op: 'cni' }>, peer: PeerCred, log: Logger): Promise<void> {
    const { env, stdin } = request;
    const command = env.CNI_COMMAND;
    const containerId = env.CNI_CONTAINERID;
    if (!(await this.write(socket, { accepted: true }))) {
      this.stats.undelivered++;
      log.info({ command, containerId }, 'client left before its call was accepted: not run');
      socket.destroy();
      return;
    }
    const id = this.nextId++;
    log.debug({ req: id, command, containerId, peer }, 'call accepted');
    this.stats.inFlight++;
    this.lastCallAt = Date.now();
    const call = (): Promise<CniOutput> => this.options.handlers.cni(env, stdin, { id, peer });
    const ordered = (): Promise<CniOutput> => (containerId && command !== 'GC' ? this.queue.run(containerId, call) : call());
    const running = command === 'GC' ? this.gate.withExclusive(call) : this.gate.withShared(ordered);
    const started = process.hrtime.bigint();
    const settled = running.finally(() => {
      this.stats.inFlight--;
      this.stats.served++;
      this.lastCallAt = Date.now();
      this.options.onCallDone?.(command);
    });
    void settled.then(
      (out) => log.info({ req: id, command, containerId, exitCode: out.exitCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'call done'),
      () => undefined,
    );
    this.busy.add(settled);
    void settled.then(
      () => this.busy.delete(settled),
      () => this.busy.delete(settled),
    );

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CniAnswer>((resolve) => {
      timer = setTimeout(() => {
        this.stats.timedOut++;
        log.warn({ command, containerId, ms: this.requestTimeoutMs }, 'call still running: answered "try again later"');
        resolve(cniErrorAnswer(new CniError(CniCode.TryAgainLater, `the sluice agent did not finish ${command} within ${this.requestTimeoutMs / 1000} s`, 'it is still running: try again later'), replyVersion(stdin)));
      }, this.requestTimeoutMs);
    });
    let answer: CniAnswer;
    try {
      answer = await Promise.race([settled.then((out): CniAnswer => ({ stdout: out.stdout, exitCode: out.exitCode })), timeout]);
    } catch (err) {
      answer = cniErrorAnswer(new CniError(CniCode.Internal, 'sluice agent failed', err instanceof Error ? err.message : String(err)), replyVersion(stdin));
    } finally {
      clearTimeout(timer);
    }
    if (!(await this.finish(socket, answer))) {
      this.stats.undelivered++;
      log.warn({ command, containerId, exitCode: answer.exitCode }, 'the client left before its answer: the call was done, the answer lost');
    }
  }

  // ---- reading and writing ----------------------------------------------------------------------

  private readRequest(socket: Socket): Promise<{ kind: 'frame'; frame: Buffer } | { kind: 'bad'; error: BadRequest } | { kind: 'gone'; received: number }> {
    return new Promise((resolve) => {
      const reader = new FrameReader(this.maxRequestBytes);
      let received = 0;
      let settled = false;
      const done = (value: Parameters<typeof resolve>[0]) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onClose);
        socket.pause();
        resolve(value);
      };
      const onData = (chunk: Buffer) => {
        received += chunk.length;
        try {
          const frames = reader.push(chunk);
          if (frames.length) done({ kind: 'frame', frame: frames[0]! });
        } catch (err) {
          const declared = err instanceof FrameTooLarge ? err.declared : 0;
          const why = declared === 0 ? 'an empty request' : `${declared} bytes, the agent takes at most ${this.maxRequestBytes}`;
          done({ kind: 'bad', error: new BadRequest(CniCode.DecodingFailure, 'request too large for the sluice agent', why) });
        }
      };
      const onEnd = () => done({ kind: 'bad', error: new BadRequest(CniCode.DecodingFailure, 'incomplete request to the sluice agent', `the client stopped sending after ${received} bytes`) });
      const onClose = () => done({ kind: 'gone', received });
      const timer = setTimeout(
        () => done({ kind: 'bad', error: new BadRequest(CniCode.IoFailure, 'request to the sluice agent not received in time', `${received} bytes in ${this.readTimeoutMs / 1000} s`) }),
        this.readTimeoutMs,
      );
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('close', onClose);
    });
  }

  /** Writes one frame; resolves false when the client can no longer be written to. */
  private write(socket: Socket, message: unknown): Promise<boolean> {
    if (socket.destroyed || !socket.writable) return Promise.resolve(false);
    return new Promise((resolve) => {
      try {
        socket.write(encodeFrame(message), (err) => resolve(!err));
      } catch {
        resolve(false);
      }
    });
  }

  /** Writes the final frame and closes the connection; resolves whether the frame reached the client. */
  private async finish(socket: Socket, message: unknown): Promise<boolean> {
    const delivered = await this.write(socket, message);
    socket.end();
    socket.destroy();
    return delivered;
  }
}

/** The socket's directory: created 0700 when missing; an existing one is left as it is, with a warning when others may write to it. */
function prepareDirectory(path: string, log: Logger): void {
  const dir = dirname(path);
  let st;
  try {
    st = statSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    return;
  }
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) log.warn({ dir, mode: (st.mode & 0o7777).toString(8) }, 'the socket directory is writable by others');
}

/** A socket file nobody answers on is removed; one an agent answers on, or a file that is no socket, is refused. */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`another agent is listening on ${path}`);
  unlinkSync(path);
}
