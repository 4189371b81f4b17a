// Fuzzing: real kubectl bodies, bit-flipped / truncated / spliced, plus random bytes. Every input
// must either decode to plain JSON or be rejected with a 400 StatusError — never another exception
// or a hang. Deterministic (seeded PRNG), so a failure is reproducible.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeProtobufObject } from '../../../src/apiserver/protobuf/decode.js';
import { StatusError } from '../../../src/machinery/errors.js';

function prng(seed: number): () => number {
  // mulberry32
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seeds = (JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/protobuf/kubectl-bodies.json'), 'utf8')) as Array<{ body: string }>).map((f) => Buffer.from(f.body, 'base64'));
const MAGIC = Buffer.from('k8s\0', 'latin1');

function mutate(rand: () => number, base: Buffer): Buffer {
  const int = (n: number) => Math.floor(rand() * n);
  const b = Buffer.from(base);
  switch (int(7)) {
    case 0: // flip a few bits
      for (let i = 0, n = 1 + int(8); i < n; i++) b[int(b.length)] ^= 1 << int(8);
      return b;
    case 1: // truncate
      return b.subarray(0, int(b.length));
    case 2: // overwrite a byte with a varint-continuation or extreme value
      b[4 + int(b.length - 4)] = [0xff, 0x80, 0x00, 0x7f][int(4)];
      return b;
    case 3: { // delete a range
      const at = 4 + int(b.length - 4);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(16))]);
    }
    case 4: { // splice in bytes from another body
      const other = seeds[int(seeds.length)];
      const at = 4 + int(b.length - 4);
      const from = int(other.length);
      return Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + int(64)), b.subarray(at)]);
    }
    case 5: // random bytes after the magic
      return Buffer.concat([MAGIC, Buffer.from(Array.from({ length: int(256) }, () => int(256)))]);
    default: // random bytes, magic or not
      return Buffer.from(Array.from({ length: int(64) }, () => int(256)));
  }
}

test('mutated and random bodies decode or fail with a 400', { timeout: 120_000 }, () => {
  assert.ok(seeds.length > 20, 'fixture seeds missing');
  const rand = prng(0x5eed);
  let decoded = 0;
  let rejected = 0;
  for (let i = 0; i < 30_000; i++) {
    const input = mutate(rand, seeds[i % seeds.length]);
    try {
      const obj = decodeProtobufObject(input);
      // Whatever decodes must be plain JSON (no Buffers, undefined, NaN) with the KObject basics.
      assert.deepEqual(JSON.parse(JSON.stringify(obj)), obj, `non-JSON result for ${input.toString('hex')}`);
      assert.equal(typeof obj.kind, 'string');
      assert.equal(typeof obj.metadata, 'object');
      decoded++;
    } catch (e) {
      if (!(e instanceof StatusError) || e.code !== 400) assert.fail(`input ${input.toString('hex')} threw ${String(e)}`);
      rejected++;
    }
  }
  // Both outcomes must actually be exercised, or the mutations are too weak / too strong.
  assert.ok(decoded > 1000, `only ${decoded} mutated bodies decoded`);
  assert.ok(rejected > 1000, `only ${rejected} mutated bodies were rejected`);
});
