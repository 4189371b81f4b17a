// src/machinery/code-cache.ts: how the bundles run with a V8 code cache, and why a cache can never
// run code other than the bundle's own. Every load is a process of its own, as in use (within one
// process V8 would answer a second compile of the same source from memory, cache or not).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sourceHash } from '../../../src/machinery/code-cache.js';

const LOADER = new URL('../../../src/machinery/code-cache.js', import.meta.url).href;

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-code-cache-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function bundle(name: string, word: string): string {
  const file = path.join(dir, name, 'b.cjs');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(path.join(path.dirname(file), 'dep.cjs'), 'module.exports = 42;\n');
  // A module's shape as esbuild writes it: module.exports replaced, require of a sibling file.
  writeFileSync(file, `const dep = require('./dep.cjs');\nfunction say() { return '${word}'; }\nmodule.exports = { say, dep, file: __filename, dir: __dirname, self: this === exports };\n`);
  return file;
}

interface Load {
  cache: string;
  tag?: string;
  said: string;
  exports: { dep: number; file: string; dir: string; self: boolean };
}

/** Load `file` in a new process (optionally saving the cache with `save` as its tag). */
function load(file: string, opts: { hash?: string; save?: string } = {}): Load {
  const script = `const { loadBundle } = await import(${JSON.stringify(LOADER)});
const b = loadBundle(${JSON.stringify(file)}, ${JSON.stringify(opts.hash)});
const said = b.exports.say();
${opts.save ? `b.saveCache(${JSON.stringify(opts.save)});` : ''}
const { say, ...exports } = b.exports;
console.log(JSON.stringify({ cache: b.cache, tag: b.cacheTag, said, exports }));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as Load;
}

const header = (file: string) => {
  const raw = readFileSync(`${file}.cache`);
  return raw.subarray(0, raw.indexOf(10)).toString();
};

test('no cache: the bundle runs as a CommonJS module; the cache saved then is used by the next process', () => {
  const file = bundle('fresh', 'one');
  const first = load(file, { save: 'create-cluster' });
  assert.deepEqual(first, { cache: 'missing', said: 'one', exports: { dep: 42, file, dir: path.dirname(file), self: true } });
  assert.equal(header(file), `skiff-code-cache ${sourceHash(readFileSync(file))} create-cluster`);
  const second = load(file, { hash: sourceHash(readFileSync(file)) });
  assert.deepEqual(second, { ...first, cache: 'used', tag: 'create-cluster' });
  assert.deepEqual(readdirSync(path.dirname(file)).sort(), ['b.cjs', 'b.cjs.cache', 'dep.cjs'], 'no temporary file left');
});

test('a cache for other source is stale even when the length is the same (V8 checks only the length)', () => {
  const file = bundle('changed', 'old');
  assert.equal(load(file, { save: 't' }).said, 'old'); // say() compiled, so it is in the cache
  bundle('changed', 'new');
  assert.deepEqual(load(file, { save: 't' }), { cache: 'stale', said: 'new', exports: { dep: 42, file, dir: path.dirname(file), self: true } });
  assert.equal(load(file).cache, 'used');
});

test('a cache V8 refuses is reported rejected, the bundle still runs, and saving replaces it', () => {
  const file = bundle('corrupt', 'fine');
  load(file, { save: 't' });
  const raw = readFileSync(`${file}.cache`);
  const nl = raw.indexOf(10);
  writeFileSync(`${file}.cache`, Buffer.concat([raw.subarray(0, nl + 1), Buffer.alloc(raw.length - nl - 1, 0x5a)]));
  const rejected = load(file, { save: 't' });
  assert.equal(rejected.cache, 'rejected');
  assert.equal(rejected.said, 'fine');
  assert.equal(load(file).cache, 'used');
});

test('a bundle with non-ASCII text is read as UTF-8 (the build escapes it, but the loader does not rely on that)', () => {
  const file = bundle('utf8', 'µs → ✓');
  assert.equal(load(file, { save: 't' }).said, 'µs → ✓');
  assert.deepEqual(load(file), { cache: 'used', tag: 't', said: 'µs → ✓', exports: { dep: 42, file, dir: path.dirname(file), self: true } });
});

test('a cache that cannot be written is no error, and leaves nothing behind', () => {
  const file = bundle('readonly', 'x');
  mkdirSync(`${file}.cache`); // the rename onto it fails
  assert.equal(load(file, { save: 't' }).cache, 'missing');
  assert.deepEqual(readdirSync(path.dirname(file)).sort(), ['b.cjs', 'b.cjs.cache', 'dep.cjs']);
  assert.throws(() => load(file, { save: 'two words' }), /white space/);
});
