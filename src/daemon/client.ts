/**
 * A client of the agent's socket, in Node (the native shim is the C one): for the CLI (`sluice
 * endpoints|status|add|check|del`) and the tests. It follows the shim's rules on what an interrupted
 * exchange means (see native/sluice-shim.c):
 *   - no connection, or the connection lost before {"accepted": true}: the call was not run;
 *   - lost after it: the call may have run, wholly or in part.
 */
import { createConnection } from 'node:net';
import { DEFAULT_SOCKET, FrameReader, MAX_ANSWER_BYTES, PROTOCOL_VERSION, SOCKET_ENV, cniRequestFrame, encodeFrame, isCniAnswer, type CniAnswer } from './protocol.js';

export type Exchange =
  | { outcome: 'answered'; accepted: boolean; answer: unknown }
  /** connect() failed: errno name (ENOENT, ECONNREFUSED, EACCES, ...). */
  | { outcome: 'no-agent'; code: string }
  /** Connected, but the connection ended before an answer: `accepted` says whether the call may have run. */
  | { outcome: 'lost'; accepted: boolean; code?: string };

/** The agent's socket: $SLUICE_SOCKET, else the default. */
export function socketPathFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env[SOCKET_ENV] || DEFAULT_SOCKET;
}

/** Sends one frame and reads until the final answer or the end of the connection. */
export function exchange(socketPath: string, frame: Buffer): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    const reader = new FrameReader(MAX_ANSWER_BYTES);
    let connected = false;
    let accepted = false;
    let settled = false;
    let lastError: string | undefined;
    const done = (result: Exchange) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(result);
    };
    socket.on('connect', () => {
      connected = true;
      socket.write(frame, () => undefined);
    });
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch {
        done({ outcome: 'lost', accepted, code: 'EPROTO' });
        return;
      }
      for (const f of frames) {
        let message: unknown;
        try {
          message = JSON.parse(f.toString('utf8'));
        } catch {
          done({ outcome: 'lost', accepted, code: 'EPROTO' });
          return;
        }
        if ((message as { accepted?: unknown } | null)?.accepted === true && Object.keys(message as object).length === 1) {
          accepted = true;
          continue;
        }
        done({ outcome: 'answered', accepted, answer: message });
        return;
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      lastError = err.code ?? err.message;
      if (!connected) done({ outcome: 'no-agent', code: lastError });
    });
    socket.on('close', () => done(connected ? { outcome: 'lost', accepted, ...(lastError ? { code: lastError } : {}) } : { outcome: 'no-agent', code: lastError ?? 'ECONNREFUSED' }));
  });
}

/** A CNI call through the agent. */
export async function agentCni(socketPath: string, env: Readonly<Record<string, string | undefined>>, stdin: Uint8Array): Promise<{ outcome: 'answered'; answer: CniAnswer } | Exclude<Exchange, { outcome: 'answered' }>> {
  const result = await exchange(socketPath, cniRequestFrame(env, stdin));
  if (result.outcome !== 'answered') return result;
  if (!isCniAnswer(result.answer)) return { outcome: 'lost', accepted: result.accepted, code: 'EPROTO' };
  return { outcome: 'answered', answer: result.answer };
}

export class AgentUnavailable extends Error {
  override readonly name = 'AgentUnavailable';
  constructor(
    readonly socketPath: string,
    readonly code: string,
  ) {
    super(`no sluice agent at ${socketPath} (${code})`);
  }
}

/** `endpoints` or `status` from the agent; throws AgentUnavailable when none answers. */
export async function agentOp(socketPath: string, op: 'endpoints' | 'status'): Promise<unknown> {
  const result = await exchange(socketPath, encodeFrame({ version: PROTOCOL_VERSION, op }));
  if (result.outcome === 'no-agent') throw new AgentUnavailable(socketPath, result.code);
  if (result.outcome === 'lost') throw new AgentUnavailable(socketPath, result.code ?? 'connection closed');
  const answer = result.answer as { result?: unknown; error?: unknown; stdout?: unknown };
  if ('result' in answer) return answer.result;
  if (typeof answer.error === 'string') throw new Error(`the agent says: ${answer.error}`);
  // A refusal (a CNI error answer) or something unexpected.
  throw new Error(`the agent refused: ${typeof answer.stdout === 'string' ? answer.stdout : JSON.stringify(answer)}`);
}
