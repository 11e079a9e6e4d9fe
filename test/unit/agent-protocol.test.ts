// The agent's wire protocol (src/daemon/protocol.ts): framing, request checks, answers. Pure: no sockets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BadRequest, FrameReader, FrameTooLarge, cniErrorAnswer, cniRequestFrame, encodeFrame, isCniAnswer, parseRequest, replyVersion,
} from '../../src/daemon/protocol.js';
import { CniError } from '../../src/cni/errors.js';

const body = (frame: Buffer) => frame.subarray(4);

describe('frames', () => {
  test('a frame is a big-endian length and the JSON', () => {
    const frame = encodeFrame({ a: 'é' });
    assert.equal(frame.readUInt32BE(0), Buffer.byteLength('{"a":"é"}'));
    assert.equal(body(frame).toString('utf8'), '{"a":"é"}');
  });

  test('the reader reassembles frames from any split, and several from one chunk', () => {
    const frames = [encodeFrame({ n: 1 }), encodeFrame({ n: 2, s: 'x'.repeat(1000) }), encodeFrame({ n: 3 })];
    const stream = Buffer.concat(frames);
    for (const size of [1, 2, 3, 5, 7, 64, stream.length]) {
      const reader = new FrameReader(1 << 20);
      const got: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) got.push(...reader.push(stream.subarray(i, i + size)));
      assert.deepEqual(got.map((f) => JSON.parse(f.toString()).n), [1, 2, 3], `chunks of ${size}`);
      assert.equal(reader.pending, 0);
    }
  });

  test('a header over the limit, or announcing nothing, is refused before anything is buffered', () => {
    const reader = new FrameReader(100);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(101);
    assert.throws(() => reader.push(header), (err: unknown) => err instanceof FrameTooLarge && err.declared === 101 && err.limit === 100);
    assert.throws(() => new FrameReader(100).push(Buffer.alloc(4)), (err: unknown) => err instanceof FrameTooLarge && err.declared === 0);
    // Exactly the limit is fine.
    const ok = new FrameReader(11);
    assert.equal(ok.push(encodeFrame({ a: 12345 })).length, 1);
  });
});

describe('requests', () => {
  const bad = (frame: Buffer, code: number, pattern: RegExp) =>
    assert.throws(() => parseRequest(body(frame)), (err: unknown) => err instanceof BadRequest && err.code === code && pattern.test(err.message), pattern.source);

  test('a CNI call: env and stdin as base64 (bytes kept exactly) or as text', () => {
    const stdin = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]); // not UTF-8: the CNI layer must see it as it is
    const req = parseRequest(body(cniRequestFrame({ CNI_COMMAND: 'ADD', EMPTY: '', GONE: undefined }, stdin)));
    assert.equal(req.op, 'cni');
    if (req.op !== 'cni') return;
    assert.deepEqual(req.env, { CNI_COMMAND: 'ADD', EMPTY: '' });
    assert.deepEqual(req.stdin, stdin);
    const text = parseRequest(Buffer.from(JSON.stringify({ version: 1, env: {}, stdin: '{"x":"é"}' })));
    assert.equal(text.op === 'cni' && text.stdin.toString('utf8'), '{"x":"é"}');
    const none = parseRequest(Buffer.from(JSON.stringify({ version: 1, env: {} })));
    assert.equal(none.op === 'cni' && none.stdin.length, 0);
  });

  test('other ops', () => {
    assert.deepEqual(parseRequest(body(encodeFrame({ version: 1, op: 'endpoints' }))), { op: 'endpoints' });
    assert.deepEqual(parseRequest(body(encodeFrame({ version: 1, op: 'status' }))), { op: 'status' });
  });

  test('garbage of every kind is a BadRequest with a CNI code, never anything else', () => {
    bad(Buffer.from([0, 0, 0, 0, 0x7b, 0xff, 0xfe, 0x7d]), 6, /not UTF-8/);
    bad(Buffer.from('\0\0\0\0{"version":1,'), 6, /not JSON/);
    bad(encodeFrame([1, 2]), 6, /JSON object/);
    bad(encodeFrame(null), 6, /JSON object/);
    bad(encodeFrame({ env: {} }), 1, /protocol version/);
    bad(encodeFrame({ version: 2, env: {} }), 1, /protocol version/);
    bad(encodeFrame({ version: 1, op: 'reboot' }), 6, /unknown op/);
    bad(encodeFrame({ version: 1, env: [] }), 6, /"env" must be an object/);
    bad(encodeFrame({ version: 1, env: { A: 1 } }), 6, /"env.A" is not a string/);
    bad(encodeFrame({ version: 1, env: {}, stdinBase64: 'not base64!' }), 6, /not base64/);
    bad(encodeFrame({ version: 1, env: {}, stdinBase64: 'abc' }), 6, /not base64/);
    bad(encodeFrame({ version: 1, env: {}, stdin: 5 }), 6, /"stdin" must be a string/);
  });

  test('an env key named __proto__ is an ordinary variable', () => {
    const req = parseRequest(Buffer.from('{"version":1,"env":{"__proto__":"x","CNI_COMMAND":"VERSION"}}'));
    assert.equal(req.op === 'cni' && Object.getPrototypeOf(req.env), Object.prototype);
    assert.equal(req.op === 'cni' && req.env.CNI_COMMAND, 'VERSION');
  });
});

describe('answers', () => {
  test('a CNI error answer is what the plugin prints, in the config\'s version', () => {
    const answer = cniErrorAnswer(new CniError(11, 'busy', 'later'), '0.4.0');
    assert.deepEqual(answer, { stdout: '{"cniVersion":"0.4.0","code":11,"msg":"busy","details":"later"}', exitCode: 1 });
    assert.ok(isCniAnswer(answer));
    assert.deepEqual(JSON.parse(cniErrorAnswer(new BadRequest(6, 'bad')).stdout), { cniVersion: '1.1.0', code: 6, msg: 'bad' });
    assert.equal(isCniAnswer({ stdout: '', exitCode: 2 }), false);
    assert.equal(isCniAnswer({ accepted: true }), false);
  });

  test('the reply version: the config\'s when sluice speaks it, else the latest', () => {
    assert.equal(replyVersion(Buffer.from('{"cniVersion":"0.3.1"}')), '0.3.1');
    assert.equal(replyVersion(Buffer.from('{"cniVersion":"9.9.9"}')), '1.1.0');
    assert.equal(replyVersion(Buffer.from('garbage')), '1.1.0');
    assert.equal(replyVersion(undefined), '1.1.0');
  });
});
