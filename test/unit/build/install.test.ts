// src/machinery/install.ts from the tsc output (how the unit tests and dist/src/** run): every
// file the code looks up through it exists where it says. The bundled side is covered by
// bundle.test.ts and the end-to-end tests (bin/skiff runs the bundles).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED, ROOT, compiledFile, serverEntry, sourceFile } from '../../../src/machinery/install.js';
import { DEFINITIONS_FILE } from '../../../src/api/openapi/schemas.js';
import { resolveImage } from '../../../src/kubelet/runtime/images.js';
import { defaultPreloads } from '../../../src/kubelet/runtime/process/runtime.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

test('from the tsc output: not bundled, ROOT is the repository, compiled files are under dist/src', () => {
  assert.equal(BUNDLED, false);
  assert.equal(ROOT, REPO);
  assert.equal(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).name, 'skiff');
  assert.equal(compiledFile('machinery/install.js'), fileURLToPath(new URL('../../../src/machinery/install.js', import.meta.url)));
  assert.equal(sourceFile('machinery/install.ts'), path.join(REPO, 'src', 'machinery', 'install.ts'));
  assert.ok(existsSync(sourceFile('machinery/install.ts')));
});

test('the server entry is the dedicated control-plane entry, not the CLI', () => {
  assert.equal(serverEntry(), compiledFile('controlplane/main.js'));
  assert.ok(existsSync(serverEntry()));
  // It takes exactly the serve arguments, and says so (on stderr, the cluster log) otherwise.
  const r = spawnSync(process.execPath, [serverEntry(), 'serve', '--name', 'x'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /usage: serve --name <cluster> --home <dir> \(got: serve --name x\)/);
});

test('assets resolve: built-in schemas, the image stand-in server, the Node preloads', () => {
  assert.ok(existsSync(compiledFile(DEFINITIONS_FILE)), 'npm run build writes definitions.json');
  const nginx = resolveImage('nginx');
  assert.ok(nginx);
  const script = nginx.command.find((a) => a.endsWith('.js'));
  assert.equal(script, compiledFile('kubelet/runtime/process/images/server.js'));
  assert.ok(existsSync(script!));
  const preloads = defaultPreloads();
  assert.deepEqual(preloads, ['bind-pod-ip.cjs', 'resolve-cluster-names.cjs'].map((f) => sourceFile(`kubelet/runtime/preload/${f}`)));
  for (const p of preloads) assert.ok(existsSync(p), p);
});
