// What `npm run build` leaves in dist/bundle/ (scripts/bundle.mjs), checked on the build itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAscii } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceHash } from '../../../src/machinery/code-cache.js';

const BUNDLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bundle');

test('two bundles, each with its entry, flat in dist/bundle/', () => {
  const files = readdirSync(BUNDLE, { withFileTypes: true });
  assert.ok(files.every((f) => f.isFile()), 'no subdirectories: install.ts finds the root from a bundle one level down');
  const code = files.map((f) => f.name).filter((n) => !n.endsWith('.map') && !n.endsWith('.cache') && !n.endsWith('.tmp')).sort();
  assert.deepEqual(code, ['cli.cjs', 'cli.js', 'server.cjs', 'server.js']);
});

test("each entry loads its bundle with the bundle's own hash", () => {
  for (const name of ['cli', 'server']) {
    const entry = readFileSync(path.join(BUNDLE, `${name}.js`), 'utf8');
    const hash = sourceHash(readFileSync(path.join(BUNDLE, `${name}.cjs`)));
    assert.match(entry, new RegExp(`loadBundle\\(new URL\\('\\./${name}\\.cjs', import\\.meta\\.url\\), '${hash}'\\)`));
  }
});

test('the server entry runs the bundled server, which takes exactly the serve arguments', () => {
  const r = spawnSync(process.execPath, [path.join(BUNDLE, 'server.js'), 'serve', '--name', 'x'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^Error: usage: serve --name <cluster> --home <dir> \(got: serve --name x\)\n\s+at parseServeArgs \(\S+\/dist\/bundle\/server\.cjs:/);
});

test('the bundles are pure ASCII (V8 then keeps their source at one byte a character)', () => {
  for (const name of ['cli.cjs', 'server.cjs']) assert.ok(isAscii(readFileSync(path.join(BUNDLE, name))), name);
});

test('the bundles leave out what loads lazily from node_modules', () => {
  const server = readFileSync(path.join(BUNDLE, 'server.cjs'), 'utf8');
  const cli = readFileSync(path.join(BUNDLE, 'cli.cjs'), 'utf8');
  for (const pkg of ['yaml', 'ws', 'protobufjs', 'commander']) assert.doesNotMatch(server, new RegExp(`\\n// node_modules/${pkg}/`), pkg);
  for (const pkg of ['ws', 'protobufjs', 'better-sqlite3']) assert.doesNotMatch(cli, new RegExp(`\\n// node_modules/${pkg}/`), pkg);
  assert.match(cli, /\n\/\/ node_modules\/yaml\//, 'the CLI bundles yaml: every create writes a kubeconfig');
});
