/**
 * The agent's wire protocol, spoken on its unix socket by the native shim (native/sluice-shim.c), the
 * CLI and the tests. One request per connection; every message in either direction is a frame:
 *
 *   uint32 length, big-endian | `length` bytes of UTF-8 JSON (one object)
 *
 * Requests (client -> agent), at most `maxRequestBytes` (default 4 MiB) of JSON:
 *   {"version": 1, "env": {"CNI_COMMAND": "ADD", ...}, "stdinBase64": "..."}     a CNI call ("op" "cni")
 *   {"version": 1, "env": {...}, "stdin": "..."}                                  the same, stdin as text
 *   {"version": 1, "op": "endpoints"} / {"version": 1, "op": "status"}           for `sluice endpoints|status`
 *
 * `env` is the caller's whole environment (the plugin would have seen all of it: a delegated IPAM
 * plugin is run with it); the shim sends stdin as base64, so its bytes reach the CNI layer unchanged
 * (a config that is not UTF-8 gets the same error as from the standalone plugin).
 *
 * Answers (agent -> client):
 *   {"accepted": true}                         a CNI call was read, checked and is about to run: from
 *                                              here on it may have changed the node (see the shim's rules)
 *   {"stdout": "...", "exitCode": 0|1}         the end of a CNI call: what the plugin prints, its status
 *   {"result": ...} / {"error": "..."}         the end of any other op
 *
 * A request the agent cannot take (garbage, too large, half-written, too slow, a refused peer) gets
 * the final CNI answer at once, a CNI error object with exit status 1, without "accepted": nothing
 * was done. The agent then closes the connection.
 */
import { CniCode, CniError } from '../cni/errors.js';
import { LATEST_VERSION, SUPPORTED_VERSIONS } from '../cni/types.js';

export const PROTOCOL_VERSION = 1;
export const DEFAULT_SOCKET = '/run/sluice/sluice.sock';
/** The environment variable the shim and the CLI read the socket path from. */
export const SOCKET_ENV = 'SLUICE_SOCKET';
export const HEADER_BYTES = 4;
export const DEFAULT_MAX_REQUEST_BYTES = 4 << 20;
/** What a client accepts from the agent (an answer carries one CNI result). */
export const MAX_ANSWER_BYTES = 64 << 20;

export type Op = 'cni' | 'endpoints' | 'status';
const OPS: readonly Op[] = ['cni', 'endpoints', 'status'];

export type AgentRequest =
  | { op: 'cni'; env: Record<string, string>; stdin: Buffer }
  | { op: 'endpoints' }
  | { op: 'status' };

export interface CniAnswer {
  stdout: string;
  exitCode: 0 | 1;
}

export type OpAnswer = { result: unknown } | { error: string };

// ---- frames -----------------------------------------------------------------------------------------

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, HEADER_BYTES);
  return frame;
}

export class FrameTooLarge extends Error {
  override readonly name = 'FrameTooLarge';
  constructor(
    readonly declared: number,
    readonly limit: number,
  ) {
    super(`a frame of ${declared} bytes is over the limit of ${limit}`);
  }
}

/**
 * Reassembles frames from a byte stream. push() returns every frame completed by the chunk; a header
 * announcing more than `maxBytes` (or nothing at all) throws FrameTooLarge before any of it is buffered.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected: number | undefined;

  constructor(readonly maxBytes: number) {}

  /** Bytes received that do not make a whole frame yet. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.expected === undefined) {
        if (this.buffered < HEADER_BYTES) break;
        const length = this.take(HEADER_BYTES).readUInt32BE(0);
        if (length === 0 || length > this.maxBytes) throw new FrameTooLarge(length, this.maxBytes);
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      frames.push(this.take(this.expected));
      this.expected = undefined;
    }
    return frames;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}

// ---- requests ---------------------------------------------------------------------------------------

/** A request the agent will not run: answered with a CNI error, nothing done. */
export class BadRequest extends Error {
  override readonly name = 'BadRequest';
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details = '',
  ) {
    super(details ? `${msg}: ${details}` : msg);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Strict UTF-8 (a decoder used without `stream` keeps no state between calls). */
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseRequest(frame: Buffer): AgentRequest {
  let text: string;
  try {
    text = utf8.decode(frame);
  } catch {
    throw new BadRequest(CniCode.DecodingFailure, 'bad request to the sluice agent', 'it is not UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BadRequest(CniCode.DecodingFailure, 'bad request to the sluice agent', `not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequest(CniCode.DecodingFailure, 'bad request to the sluice agent', 'expected a JSON object');
  }
  const req = value as Record<string, unknown>;
  if (req.version !== PROTOCOL_VERSION) {
    throw new BadRequest(CniCode.IncompatibleVersion, 'bad request to the sluice agent', `protocol version ${JSON.stringify(req.version)}, this agent speaks ${PROTOCOL_VERSION}`);
  }
  const op = req.op ?? 'cni';
  if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) {
    throw new BadRequest(CniCode.DecodingFailure, 'bad request to the sluice agent', `unknown op ${JSON.stringify(op)}`);
  }
  if (op !== 'cni') return { op: op as 'endpoints' | 'status' };

  const env = req.env;
  if (typeof env !== 'object' || env === null || Array.isArray(env)) throw new BadRequest(CniCode.DecodingFailure, 'bad request to the sluice agent', '"env" must be an object of strings');
  const checked: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(env)) {
    if (typeof v !== 'string') throw new BadRequest(CniCode.DecodingFailure, 'bad request to the sluice agent', `"env.${k}" is not a string`);
    checked[k] = v;
  }
  let stdin: Buffer;
  if (typeof req.stdinBase64 === 'string') {
    if (req.stdinBase64.length % 4 !== 0 || !BASE64.test(req.stdinBase64)) throw new BadRequest(CniCode.DecodingFailure, 'bad request to the sluice agent', '"stdinBase64" is not base64');
    stdin = Buffer.from(req.stdinBase64, 'base64');
  } else if (typeof req.stdin === 'string') {
    stdin = Buffer.from(req.stdin, 'utf8');
  } else if (req.stdin === undefined && req.stdinBase64 === undefined) {
    stdin = Buffer.alloc(0);
  } else {
    throw new BadRequest(CniCode.DecodingFailure, 'bad request to the sluice agent', '"stdin" must be a string, or "stdinBase64" base64');
  }
  return { op: 'cni', env: { ...checked }, stdin };
}

/** A CNI call as a request frame (what the shim sends). */
export function cniRequestFrame(env: Readonly<Record<string, string | undefined>>, stdin: Uint8Array): Buffer {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return encodeFrame({ version: PROTOCOL_VERSION, env: clean, stdinBase64: Buffer.from(stdin).toString('base64') });
}

// ---- answers ----------------------------------------------------------------------------------------

/** The cniVersion an error about this stdin should carry: the config's when it names one sluice speaks. */
export function replyVersion(stdin: Uint8Array | undefined): string {
  if (!stdin?.length) return LATEST_VERSION;
  try {
    const version = (JSON.parse(Buffer.from(stdin).toString('utf8')) as { cniVersion?: unknown } | null)?.cniVersion;
    if (typeof version === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(version)) return version;
  } catch {
    // not JSON: the latest version
  }
  return LATEST_VERSION;
}

/** The final answer carrying a CNI error, as the plugin would print it. */
export function cniErrorAnswer(error: CniError | BadRequest, cniVersion: string = LATEST_VERSION): CniAnswer {
  const e = error instanceof CniError ? error : new CniError(error.code, error.msg, error.details);
  return { stdout: JSON.stringify(e.toJSON(cniVersion)), exitCode: 1 };
}

export function isCniAnswer(value: unknown): value is CniAnswer {
  const v = value as Partial<CniAnswer> | null;
  return typeof v === 'object' && v !== null && typeof v.stdout === 'string' && (v.exitCode === 0 || v.exitCode === 1);
}
