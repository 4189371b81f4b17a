// What `bin/skiff` really runs: the CLI bundle, which spawns the server bundle (dist/bundle/), each
// through its V8 code cache, and the files both find from there (schemas, the Node preloads, image
// stand-ins). Every module and script a process loads is recorded (test/support/record-loads.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sourceHash } from '../../src/machinery/code-cache.js';
import { REPO, TestCluster, eventually } from './harness.js';

const RECORDER = fileURLToPath(new URL('../support/record-loads.js', import.meta.url));
const BUNDLE = path.join(REPO, 'dist', 'bundle');

let c: TestCluster;
let loadsDir: string;
let serverPid: number;

before(async () => {
  c = new TestCluster('bundle');
  loadsDir = path.join(c.home, 'loads');
  mkdirSync(loadsDir);
  Object.assign(c.env, { NODE_OPTIONS: `--import ${pathToFileURL(RECORDER).href}`, RECORD_LOADS_DIR: loadsDir });
  const r = await c.skiff(['create', 'cluster', '--name', 'bundle']);
  if (r.code !== 0) throw new Error(`create cluster failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  serverPid = Number(readFileSync(path.join(c.env.SKIFF_HOME!, 'clusters', 'bundle', 'pids', 'controlplane.pid'), 'utf8').trim());
});
after(async () => {
  await c?.destroy();
});

/** Files (absolute paths) the process `pid` loaded as modules or scripts, in order. */
function loaded(pid: number): string[] {
  return readFileSync(path.join(loadsDir, `${pid}.txt`), 'utf8').trim().split('\n').map((u) => fileURLToPath(u));
}

const inBundle = (f: string) => path.dirname(f) === BUNDLE;
/** Whether one of `files` (bundle files) carries the module `source` (esbuild marks each module with a path comment). */
const bundles = (files: string[], source: string) => files.filter(inBundle).some((f) => readFileSync(f, 'utf8').includes(`\n// ${source}\n`));
/** better-sqlite3 and the packages it requires. */
const SQLITE = ['better-sqlite3', 'bindings', 'file-uri-to-path'].map((p) => `${path.sep}node_modules${path.sep}${p}${path.sep}`);
/** The code cache loader, the one module of the tsc output the bundles' entries import. */
const LOADER = path.join(REPO, 'dist', 'src', 'machinery', 'code-cache.js');

describe('bundles', () => {
  it('the server is node dist/bundle/server.js serve --name N --home H', () => {
    const argv = readFileSync(`/proc/${serverPid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.deepEqual(argv.slice(1), [path.join(BUNDLE, 'server.js'), 'serve', '--name', 'bundle', '--home', c.env.SKIFF_HOME]);
  });

  it('the server runs its bundle through the code cache loader, and nothing else: no CLI, no packages', () => {
    const files = loaded(serverPid);
    assert.deepEqual(files.filter((f) => !SQLITE.some((p) => f.includes(p))), [path.join(BUNDLE, 'server.js'), LOADER, path.join(BUNDLE, 'server.cjs')]);
    assert.ok(bundles(files, 'dist/src/controlplane/run.js'));
    assert.ok(!bundles(files, 'node_modules/commander/lib/command.js'), 'commander is not loaded');
  });

  it('the server bundle has its code cache, bound to its source', async () => {
    // Written by the first server that ran this build, a moment after it served.
    const header = await eventually(async () => {
      const cache = readFileSync(path.join(BUNDLE, 'server.cjs.cache'));
      return cache.subarray(0, cache.indexOf(10)).toString();
    }, 'dist/bundle/server.cjs.cache', 5000);
    assert.equal(header, `skiff-code-cache ${sourceHash(readFileSync(path.join(BUNDLE, 'server.cjs')))} server`);
  });

  it('YAML, protobuf bodies and WebSocket streams load their libraries on first use', async () => {
    const yaml = await c.request('GET', '/api/v1/namespaces/default', { headers: { accept: 'application/yaml' } });
    assert.equal(yaml.status, 200);
    assert.match(yaml.body, /^kind: Namespace$/m);
    await c.k(['create', 'deployment', 'proto', '--image=busybox', '--replicas=0']); // kubectl 1.32: a protobuf body
    const files = loaded(serverPid);
    const fromPackage = (name: string) => files.some((f) => f.includes(`${path.sep}node_modules${path.sep}${name}${path.sep}`));
    assert.ok(fromPackage('yaml'), 'yaml loaded');
    assert.ok(fromPackage('protobufjs'), 'protobufjs loaded');
    assert.ok(!fromPackage('ws'));
    await c.k(['run', 'shell', '--image=busybox', '--', 'sleep', '3600']);
    await eventually(async () => JSON.parse(await c.k(['get', 'pod', 'shell', '-o', 'json'])).status.phase === 'Running', 'pod shell Running');
    assert.equal((await c.k(['exec', 'shell', '--', 'echo', 'hi'])).trim(), 'hi'); // kubectl 1.32 execs over a WebSocket
    assert.ok(loaded(serverPid).some((f) => f.includes(`${path.sep}node_modules${path.sep}ws${path.sep}`)), 'ws loaded');
  });

  it('the CLI (bin/skiff) runs its bundle through the code cache loader, not the control plane', () => {
    const cli = readdirSync(loadsDir).map((f) => Number(f.replace('.txt', ''))).filter((p) => p !== serverPid);
    assert.equal(cli.length, 1, 'one CLI process: create cluster');
    const files = loaded(cli[0]);
    assert.deepEqual(files, [path.join(REPO, 'bin', 'skiff'), path.join(BUNDLE, 'cli.js'), LOADER, path.join(BUNDLE, 'cli.cjs')]);
    assert.ok(bundles(files, 'node_modules/commander/lib/command.js'));
    assert.ok(!bundles(files, 'dist/src/controlplane/run.js'), 'not the control plane');
  });

  it('the bundled server finds the built-in schemas (definitions.json)', async () => {
    const r = await c.request('GET', '/openapi/v3/api/v1');
    assert.equal(r.status, 200);
    assert.ok(JSON.parse(r.body).components.schemas['io.k8s.api.core.v1.Pod']);
  });

  it('its pods get the Node preloads and the image stand-in servers', async () => {
    await c.k(['run', 'web', '--image=nginx', '--port=80']);
    const ip = await eventually(async () => {
      const pod = JSON.parse(await c.k(['get', 'pod', 'web', '-o', 'json']));
      return pod.status.conditions?.some((x: { type: string; status: string }) => x.type === 'Ready' && x.status === 'True') && (pod.status.podIP as string);
    }, 'pod web Ready', 30_000);
    // Ready means started (no readiness probe): the stand-in may still be binding its port.
    const body = await eventually(async () => {
      const res = await fetch(`http://${ip}:80/`);
      return res.status === 200 && (await res.text());
    }, `http://${ip}:80/ answering`);
    assert.match(body, /nginx/i);
    const env = await c.k(['exec', 'web', '--', 'printenv', 'NODE_OPTIONS']);
    for (const f of ['bind-pod-ip.cjs', 'resolve-cluster-names.cjs']) {
      assert.ok(env.includes(JSON.stringify(path.join(REPO, 'src', 'kubelet', 'runtime', 'preload', f))), env);
    }
  });
});
