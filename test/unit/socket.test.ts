import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { space } from '../../src/netlink/attributes.js';
import { DecodeError, DumpInterruptedError, EncodeError, NetlinkError } from '../../src/netlink/errors.js';
import { encodeAny, encodeDone, encodeError, encodeMessage, Family, messageKind, NLM_F, NLMSG, type AnyMessage } from '../../src/netlink/message.js';
import { asksEcho, describeRequest, dispatch, Exchange, nextSeq, rawOf, stampRequest, type Datagram, type Receiver } from '../../src/netlink/exchange.js';
import { readBufferSizeFor } from '../../src/netlink/socket.js';
import { cstring, s32, struct, u32 } from '../../src/netlink/types.js';

// A tiny family of our own: an 8-byte header struct and two attributes.
const thing = messageKind({
  name: 'thing',
  headerKey: 'hdr',
  header: struct('thinghdr', { id: u32, value: s32 }),
  attrs: space('THING', { 1: ['label', cstring], 2: ['size', u32] }),
  types: { 100: 'THING_NEW', 101: 'THING_GET' },
});
const family = new Family('test', [thing]);

const PORT = 4242;
const KERNEL = { pid: 0, groups: 0 };

function thingMsg(seq: number, flags: number, label: string, pid = PORT): Buffer {
  return encodeMessage(thing, { header: { type: 100, flags, seq, pid }, hdr: { id: seq, value: -1 }, attrs: { label, size: 7 } });
}
function ack(seq: number, error = 0, ext: { message?: string; offset?: number } = {}, pid = PORT): Buffer {
  const flags = NLM_F.CAPPED | (ext.message !== undefined || ext.offset !== undefined ? NLM_F.ACK_TLVS : 0);
  return encodeError({
    header: { type: NLMSG.ERROR, flags, seq, pid },
    error,
    request: { len: 24, type: 100, flags: NLM_F.REQUEST | NLM_F.ACK, seq, pid: 0 },
    ack: ext,
  });
}
function done(seq: number, status = 0, flags: number = NLM_F.MULTI, pid = PORT, message?: string): Buffer {
  return encodeDone({ header: { type: NLMSG.DONE, flags: flags | (message ? NLM_F.ACK_TLVS : 0), seq, pid }, status, ack: message ? { message } : {} });
}
const datagram = (parts: Buffer[], sender = KERNEL): Datagram => ({ data: Buffer.concat(parts), ...sender });

/** A receiver with one exchange in progress, recording what dispatch() did. */
function receiver(exchange: Exchange | undefined, listening = false) {
  const seen = { completed: [] as Exchange[], notifications: [] as AnyMessage[], failures: [] as Error[] };
  const r: Receiver = {
    port: PORT,
    family,
    listening,
    exchangeFor: (seq) => (seq === exchange?.seq ? exchange : undefined),
    completed: (e) => seen.completed.push(e),
    notification: (m) => seen.notifications.push(m),
    notificationFailed: (e) => seen.failures.push(e),
  };
  return { r, seen };
}

describe('read buffer sizing', () => {
  test('keeps the buffer when the datagram fits', () => {
    assert.equal(readBufferSizeFor(32768, 100), 32768);
    assert.equal(readBufferSizeFor(32768, 32768), 32768);
  });
  test('grows to the next power of two that holds the datagram', () => {
    assert.equal(readBufferSizeFor(32768, 32769), 65536);
    assert.equal(readBufferSizeFor(32768, 200_000), 262144);
    assert.equal(readBufferSizeFor(64, 65), 4096);
    assert.equal(readBufferSizeFor(64, 5000), 8192);
  });
});

describe('sequence numbers and stamping', () => {
  test('nextSeq counts up and skips 0 on wrap-around', () => {
    assert.equal(nextSeq(0), 1);
    assert.equal(nextSeq(41), 42);
    assert.equal(nextSeq(0xffffffff), 1);
  });
  test('stampRequest sets seq and adds flags on a copy', () => {
    const req = encodeMessage(thing, { header: { type: 101, flags: NLM_F.DUMP }, hdr: { id: 1 } });
    const before = Buffer.from(req);
    const out = stampRequest(req, 77, NLM_F.REQUEST | NLM_F.ACK);
    assert.deepEqual(req, before, 'the caller\'s buffer is untouched');
    assert.equal(out.readUInt32LE(8), 77);
    assert.equal(out.readUInt16LE(6), NLM_F.DUMP | NLM_F.REQUEST | NLM_F.ACK);
    assert.deepEqual(out.subarray(16), req.subarray(16));
  });
  test('stampRequest refuses anything but exactly one message', () => {
    const req = encodeMessage(thing, { header: { type: 101 } });
    assert.throws(() => stampRequest(Buffer.concat([req, req]), 1, 0), EncodeError);
    assert.throws(() => stampRequest(req.subarray(0, 10), 1, 0), EncodeError);
    assert.throws(() => stampRequest(req.subarray(0, req.length - 4), 1, 0), EncodeError);
  });
  test('describeRequest names the message type', () => {
    assert.equal(describeRequest(family, encodeMessage(thing, { header: { type: 100 } })), 'THING_NEW');
    assert.equal(describeRequest(family, encodeMessage(thing, { header: { type: 999 } })), 'type 999');
  });
});

describe('a request (NLM_F_ACK)', () => {
  test('with NLM_F_ECHO, the echo (sent with the group\'s bit set) is its reply; without, the same datagram is a notification', () => {
    const echoed = thingMsg(6, 0, 'e');
    const withEcho = new Exchange(family, 'request', 6, 'THING_NEW e', asksEcho(stampRequest(encodeMessage(thing, { header: { type: 100 } }), 6, NLM_F.REQUEST | NLM_F.ACK | NLM_F.ECHO)));
    assert.equal(withEcho.echo, true);
    const { r, seen } = receiver(withEcho, true);
    assert.equal(dispatch(datagram([echoed], { pid: 0, groups: 1 }), r), 0);
    dispatch(datagram([ack(6)]), r);
    assert.deepEqual(withEcho.result().map((m) => (m as unknown as { attrs: { label: string } }).attrs.label), ['e']);
    assert.deepEqual(seen.notifications, []);

    const plain = new Exchange(family, 'request', 6, 'THING_NEW e');
    assert.equal(plain.echo, false);
    const other = receiver(plain, true);
    dispatch(datagram([echoed], { pid: 0, groups: 1 }), other.r);
    dispatch(datagram([ack(6)]), other.r);
    assert.deepEqual(plain.result(), []);
    assert.equal(other.seen.notifications.length, 1, 'a listening socket gets its own change as a notification');
    // Not listening, a group datagram that is no echo is ignored.
    assert.equal(dispatch(datagram([echoed], { pid: 0, groups: 1 }), receiver(new Exchange(family, 'request', 6, 'x')).r), 1);
  });
  test('ends at its ACK and returns the messages before it, with their raw bytes', () => {
    const ex = new Exchange(family, 'request', 5, 'THING_GET a');
    const { r, seen } = receiver(ex);
    const reply = thingMsg(5, 0, 'a');
    assert.equal(dispatch(datagram([reply]), r), 0);
    assert.equal(ex.finished, false);
    dispatch(datagram([ack(5)]), r);
    assert.equal(ex.finished, true);
    assert.deepEqual(seen.completed, [ex]);
    const [m] = ex.result();
    assert.equal(m?.kind, 'thing');
    assert.deepEqual((m as unknown as { attrs: object }).attrs, { label: 'a', size: 7 });
    assert.deepEqual(rawOf(m!), reply);
    assert.deepEqual(encodeAny(family, m!), rawOf(m!));
  });

  test('an error ACK becomes a NetlinkError with errno name, the kernel\'s message, offset and what was asked', () => {
    const ex = new Exchange(family, 'request', 9, 'THING_NEW sl0');
    dispatch(datagram([ack(9, -22, { message: 'mtu less than device minimum', offset: 40 })]), receiver(ex).r);
    assert.equal(ex.finished, true);
    assert.throws(() => ex.result(), (e: unknown) => {
      assert.ok(e instanceof NetlinkError);
      assert.equal(e.code, 'EINVAL');
      assert.equal(e.errno, 22);
      assert.equal(e.request, 'THING_NEW sl0');
      assert.equal(e.ack.message, 'mtu less than device minimum');
      assert.equal(e.ack.offset, 40);
      assert.match(e.message, /THING_NEW sl0: EINVAL: mtu less than device minimum/);
      return true;
    });
  });

  test('a DONE before the ACK (a multipart answer) does not end it', () => {
    const ex = new Exchange(family, 'request', 3, 'THING_GET');
    const { r } = receiver(ex);
    dispatch(datagram([thingMsg(3, NLM_F.MULTI, 'x'), done(3)]), r);
    assert.equal(ex.finished, false);
    dispatch(datagram([ack(3)]), r);
    assert.equal(ex.result().length, 1);
  });
});

describe('a dump', () => {
  test('collects every part across datagrams until NLMSG_DONE', () => {
    const ex = new Exchange(family, 'dump', 11, 'THING_GET');
    const { r, seen } = receiver(ex);
    dispatch(datagram([thingMsg(11, NLM_F.MULTI, 'a'), thingMsg(11, NLM_F.MULTI, 'b')]), r);
    dispatch(datagram([thingMsg(11, NLM_F.MULTI, 'c')]), r);
    assert.equal(ex.finished, false);
    dispatch(datagram([thingMsg(11, NLM_F.MULTI, 'd'), done(11)]), r);
    assert.equal(seen.completed.length, 1);
    assert.deepEqual(ex.result().map((m) => (m as unknown as { attrs: { label: string } }).attrs.label), ['a', 'b', 'c', 'd']);
  });

  test('NLM_F_DUMP_INTR on any part raises DumpInterruptedError, once the dump is drained', () => {
    const ex = new Exchange(family, 'dump', 12, 'THING_GET');
    const { r } = receiver(ex);
    dispatch(datagram([thingMsg(12, NLM_F.MULTI, 'a'), thingMsg(12, NLM_F.MULTI | NLM_F.DUMP_INTR, 'b')]), r);
    assert.equal(ex.finished, false, 'keeps reading to NLMSG_DONE so the kernel\'s dump state is drained');
    dispatch(datagram([thingMsg(12, NLM_F.MULTI, 'c'), done(12)]), r);
    assert.throws(() => ex.result(), DumpInterruptedError);
  });

  test('NLM_F_DUMP_INTR on the DONE alone also counts', () => {
    const ex = new Exchange(family, 'dump', 13, 'THING_GET');
    dispatch(datagram([thingMsg(13, NLM_F.MULTI, 'a'), done(13, 0, NLM_F.MULTI | NLM_F.DUMP_INTR)]), receiver(ex).r);
    assert.throws(() => ex.result(), DumpInterruptedError);
  });

  test('a negative status in NLMSG_DONE is a NetlinkError', () => {
    const ex = new Exchange(family, 'dump', 14, 'THING_GET all');
    dispatch(datagram([thingMsg(14, NLM_F.MULTI, 'a'), done(14, -105, NLM_F.MULTI, PORT, 'too much')]), receiver(ex).r);
    assert.throws(() => ex.result(), (e: unknown) => e instanceof NetlinkError && e.code === 'ENOBUFS' && e.ack.message === 'too much' && e.request === 'THING_GET all');
  });

  test('an NLMSG_ERROR instead of parts (a refused dump request) ends it with a NetlinkError', () => {
    const ex = new Exchange(family, 'dump', 15, 'THING_GET');
    dispatch(datagram([ack(15, -22, { message: 'Invalid header for dump request' })]), receiver(ex).r);
    assert.equal(ex.finished, true);
    assert.throws(() => ex.result(), /EINVAL: Invalid header for dump request/);
  });

  test('a part that fails to decode fails the dump, after its DONE', () => {
    const ex = new Exchange(family, 'dump', 16, 'THING_GET');
    const { r } = receiver(ex);
    const short = Buffer.alloc(20); // a THING_NEW whose 8-byte header is cut to 4
    short.writeUInt32LE(20, 0);
    short.writeUInt16LE(100, 4);
    short.writeUInt16LE(NLM_F.MULTI, 6);
    short.writeUInt32LE(16, 8);
    short.writeUInt32LE(PORT, 12);
    dispatch(datagram([short, thingMsg(16, NLM_F.MULTI, 'b')]), r);
    assert.equal(ex.finished, false);
    dispatch(datagram([done(16)]), r);
    assert.throws(() => ex.result(), DecodeError);
  });

  test('a single reply without NLM_F_MULTI ends it', () => {
    const ex = new Exchange(family, 'dump', 17, 'THING_GET');
    dispatch(datagram([thingMsg(17, 0, 'only')]), receiver(ex).r);
    assert.equal(ex.finished, true);
    assert.equal(ex.result().length, 1);
  });
});

describe('dispatch: matching replies by sender, port and seq', () => {
  test('ignores datagrams that do not come from the kernel', () => {
    const ex = new Exchange(family, 'request', 20, 'THING_NEW');
    const { r } = receiver(ex, true);
    assert.equal(dispatch(datagram([ack(20, -1)], { pid: 999, groups: 0 }), r), 1);
    assert.equal(ex.finished, false);
  });

  test('ignores replies for another port or an unknown (stale) seq', () => {
    const ex = new Exchange(family, 'request', 21, 'THING_NEW');
    const { r, seen } = receiver(ex);
    assert.equal(dispatch(datagram([ack(21, -1, {}, PORT + 1), ack(19, -1), thingMsg(18, NLM_F.MULTI, 'old')]), r), 3);
    assert.equal(ex.finished, false);
    assert.equal(seen.notifications.length, 0);
    dispatch(datagram([ack(21)]), r);
    assert.deepEqual(ex.result(), []);
  });

  test('ignores messages for an exchange that already finished', () => {
    const ex = new Exchange(family, 'request', 22, 'THING_NEW');
    const { r } = receiver(ex);
    dispatch(datagram([ack(22)]), r);
    assert.equal(dispatch(datagram([ack(22, -1)]), r), 1);
    assert.deepEqual(ex.result(), []);
  });

  test('a multicast datagram is a notification, even with our port and seq (our own change echoed to the group)', () => {
    const ex = new Exchange(family, 'request', 23, 'THING_NEW');
    const { r, seen } = receiver(ex, true);
    const note = thingMsg(23, 0, 'new');
    assert.equal(dispatch(datagram([note], { pid: 0, groups: 1 }), r), 0);
    assert.equal(ex.finished, false);
    assert.equal(seen.notifications.length, 1);
    assert.deepEqual(rawOf(seen.notifications[0]!), note);
  });

  test('notifications are dropped when the socket joined no group', () => {
    const { r, seen } = receiver(undefined, false);
    assert.equal(dispatch(datagram([thingMsg(0, 0, 'n')], { pid: 0, groups: 1 }), r), 1);
    assert.equal(seen.notifications.length, 0);
  });

  test('a notification that cannot be decoded is reported, not thrown', () => {
    const { r, seen } = receiver(undefined, true);
    const bad = Buffer.alloc(16);
    bad.writeUInt32LE(16, 0);
    bad.writeUInt16LE(100, 4);
    dispatch(datagram([bad, thingMsg(0, 0, 'fine', 0)], { pid: 0, groups: 1 }), r);
    assert.equal(seen.failures.length, 1);
    assert.ok(seen.failures[0] instanceof DecodeError);
    assert.equal(seen.notifications.length, 1);
  });

  test('broken framing throws a DecodeError naming the offset', () => {
    const ex = new Exchange(family, 'request', 24, 'THING_NEW');
    const data = Buffer.concat([ack(24), Buffer.from([1, 2, 3])]);
    assert.throws(() => dispatch({ data, pid: 0, groups: 0 }, receiver(ex).r), (e: unknown) => e instanceof DecodeError && e.offset === ack(24).length);
  });
});
