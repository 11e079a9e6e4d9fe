// Feeds random and mutated messages to the decoder: it must return objects or raise DecodeError,
// never crash with another error, never hang, and whatever it returns must encode again.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DecodeError } from '../../src/netlink/errors.js';
import { decodeAll, encodeAny } from '../../src/netlink/message.js';
import { rtnetlink } from '../../src/netlink/rtnetlink/index.js';
import { loadFixture } from '../support/fixtures.js';

const fixtureDir = fileURLToPath(new URL('../../../test/fixtures/rtnetlink/', import.meta.url));
const corpus = readdirSync(fixtureDir).filter((f) => f.endsWith('.hex')).flatMap((f) => loadFixture(`rtnetlink/${f}`));
const iterations = Number(process.env.SLUICE_FUZZ_ITERATIONS ?? 20000);
const seed = Number(process.env.SLUICE_FUZZ_SEED ?? 0x5eed);

/** xorshift32: a deterministic stream so that a failure can be replayed with the printed seed. */
function rng(s: number) {
  let x = s >>> 0 || 1;
  const next = () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
  return { next, below: (n: number) => next() % n };
}

type Mutation = (b: Buffer, r: ReturnType<typeof rng>) => Buffer;
const mutations: Record<string, Mutation> = {
  flipBits(b, r) {
    const out = Buffer.from(b);
    for (let i = 1 + r.below(8); i > 0; i--) out[r.below(out.length)]! ^= 1 << r.below(8);
    return out;
  },
  truncate: (b, r) => Buffer.from(b.subarray(0, r.below(b.length))),
  /** Overwrites a 16-bit length at a 4-aligned offset: attribute headers live there. */
  corruptLength(b, r) {
    const out = Buffer.from(b);
    const at = r.below(Math.max(1, out.length >> 2)) << 2;
    if (at + 2 <= out.length) out.writeUInt16LE([0, 1, 3, 4, 5, 0xffff, r.below(0x10000)][r.below(7)]!, at);
    return out;
  },
  corruptMessageLength(b, r) {
    const out = Buffer.from(b);
    if (out.length >= 4) out.writeUInt32LE([0, 15, 16, out.length + 4, 0xffffffff, r.next()][r.below(6)]!, 0);
    return out;
  },
  insert(b, r) {
    const at = r.below(b.length + 1);
    const junk = Buffer.alloc(1 + r.below(16));
    for (let i = 0; i < junk.length; i++) junk[i] = r.below(256);
    return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
  },
  random(_b, r) {
    const out = Buffer.alloc(r.below(512));
    for (let i = 0; i < out.length; i++) out[i] = r.below(256);
    // Half the time give it a plausible header so the fuzzing reaches the attribute decoders.
    if (out.length >= 20 && r.below(2)) {
      out.writeUInt32LE(out.length, 0);
      out.writeUInt16LE([16, 20, 24, 28, 32, 36, 44, 2, 3][r.below(9)]!, 4);
    }
    return out;
  },
};

test('the corpus of captured kernel messages is not empty and decodes cleanly', () => {
  assert.ok(corpus.length > 20, `only ${corpus.length} fixture messages`);
  for (const m of corpus) assert.deepEqual(encodeAny(rtnetlink, decodeAll(rtnetlink, m)[0]!), m);
});

test(`decoding ${iterations} mutated messages gives objects or DecodeErrors only (seed ${seed})`, { timeout: 120_000 }, () => {
  const r = rng(seed);
  const names = Object.keys(mutations);
  const outcomes = { decoded: 0, rejected: 0 };
  for (let i = 0; i < iterations; i++) {
    const name = names[r.below(names.length)]!;
    const input = mutations[name]!(corpus[r.below(corpus.length)]!, r);
    let decoded;
    try {
      decoded = decodeAll(rtnetlink, input);
    } catch (e) {
      if (e instanceof DecodeError) {
        assert.ok(e.offset >= 0 && e.offset <= input.length, `offset ${e.offset} outside the ${input.length}-byte input`);
        outcomes.rejected++;
        continue;
      }
      assert.fail(`iteration ${i} (${name}) threw ${String(e)} on ${input.toString('hex')}`);
    }
    for (const m of decoded) {
      try {
        encodeAny(rtnetlink, m);
      } catch (e) {
        assert.fail(`iteration ${i} (${name}): a decoded message does not encode: ${String(e)} on ${input.toString('hex')}`);
      }
    }
    outcomes.decoded++;
  }
  // Both paths must have been exercised for the test to mean anything.
  assert.ok(outcomes.decoded > iterations / 20, JSON.stringify(outcomes));
  assert.ok(outcomes.rejected > iterations / 20, JSON.stringify(outcomes));
});
