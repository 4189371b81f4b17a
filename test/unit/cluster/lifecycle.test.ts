// End to end with real processes: the CLI verbs spawn a real background server (the fake control
// plane in fixtures/fake-serve.ts, which runs the real server lifecycle) and talk to it over TLS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runCli } from '../../../src/cli/main.js';
import { createClusterPki, loadPki, type ClusterPki } from '../../../src/cluster/pki.js';
import { spawnServer, stopServers } from '../../../src/cluster/processes.js';
import { clusterPaths, isOurProcess, listClusters, parseServeArgs, readClusterState, readPids, serveArgs } from '../../../src/cluster/state.js';

const FAKE = fileURLToPath(new URL('./fixtures/fake-serve.js', import.meta.url));
const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const BIN = fileURLToPath(new URL('../../../../bin/skiff', import.meta.url));

let root: string;
let home: string;
let kubeconfig: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'skiff-life-'));
  home = path.join(root, 'skiff-home');
  kubeconfig = path.join(root, 'kube', 'config');
  // HOME too, so nothing can fall back to the real ~/.kube or ~/.skiff.
  env = { PATH: process.env.PATH, HOME: root, SKIFF_HOME: home, KUBECONFIG: kubeconfig };
});

after(async () => {
  for (const name of await listClusters(home)) await stopServers(home, name);
  await rm(root, { recursive: true, force: true });
});

function sink() {
  let text = '';
  return { write: (s: string) => { text += s; }, get text() { return text; } };
}

async function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const stdout = sink();
  const stderr = sink();
  const code = await runCli(args, { env: { ...env, ...extraEnv }, stdout, stderr, serverEntry: FAKE });
  return { code, out: stdout.text, err: stderr.text };
}

function get(port: number, pki: ClusterPki, opts: { cert?: boolean; ca?: string } = {}): Promise<{ status: number; user?: string }> {
  return new Promise((resolve, reject) => {
    https.get({
      host: '127.0.0.1', port, path: '/readyz', agent: false, ca: opts.ca ?? pki.ca.cert,
      ...(opts.cert === false ? {} : { cert: pki.admin.cert, key: pki.admin.key }),
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, user: res.headers['x-user'] as string | undefined }));
    }).on('error', reject);
  });
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('the serve arguments round-trip; anything else is refused', () => {
  assert.deepEqual(parseServeArgs(serveArgs('a b', '/h o/me')), { name: 'a b', home: '/h o/me' });
  for (const bad of [[], ['serve'], ['serve', '--name', 'x'], ['serve', '--home', '/h', '--name', 'x'], [...serveArgs('x', '/h'), '--extra'], ['run', '--name', 'x', '--home', '/h']]) {
    assert.throws(() => parseServeArgs(bad), /usage: serve --name <cluster> --home <dir>/, bad.join(' '));
  }
});

test('create, TLS with client certs, stop, start, delete — with another context preserved throughout', async (t) => {
  await mkdir(path.dirname(kubeconfig), { recursive: true });
  await writeFile(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: { server: "https://other:6443" }\n'
    + 'contexts:\n- name: other\n  context: { cluster: other, user: other }\nusers:\n- name: other\n  user: { token: t }\ncurrent-context: other\n');

  const created = await cli(['create', 'cluster', '--name', 'life', '--wait', '30s']);
  assert.equal(created.code, 0, created.err);
  // Not a TTY: no spinner, just the final line of each step.
  assert.ok(created.out.startsWith([
    'Creating cluster "life" ...',
    ' ✓ Preparing certificates 🔐',
    ' ✓ Starting control-plane 🕹️',
    ' ✓ Waiting ≤ 30s for control-plane = Ready ⏳',
  ].join('\n') + '\n'), created.out);
  assert.match(created.out, /^ • Ready after \d+(ms|(\.\d)?s) 💚$/m);
  assert.match(created.out, /Set kubectl context to "skiff-life"\n/);
  assert.match(created.out, /kubectl cluster-info --context skiff-life\n/);

  const kc = parse(await readFile(kubeconfig, 'utf8'));
  assert.equal(kc['current-context'], 'skiff-life');
  assert.deepEqual(kc.contexts.map((c: { name: string }) => c.name), ['other', 'skiff-life']);
  assert.deepEqual(kc.users[0], { name: 'other', user: { token: 't' } });

  const state = await readClusterState(home, 'life');
  assert.equal(state.host, '127.0.0.1');
  assert.ok(state.port > 0);
  assert.equal(kc.clusters[1].cluster.server, `https://127.0.0.1:${state.port}`);
  const pki = await loadPki(clusterPaths(home, 'life').pki);
  assert.equal(Buffer.from(kc.users[1].user['client-certificate-data'], 'base64').toString(), pki.admin.cert);

  const [{ pid }] = await readPids(home, 'life');
  assert.ok(isOurProcess(pid, 'life', home));
  assert.equal(isOurProcess(pid, 'other-cluster', home), false);
  assert.equal(isOurProcess(process.pid, 'life', home), false, 'a live process that is not our server must never count as ours');

  await t.test('the API answers over TLS to the admin client cert and refuses a client without one', async () => {
    assert.deepEqual(await get(state.port, pki), { status: 200, user: 'kubernetes-admin' });
    assert.equal((await get(state.port, pki, { cert: false })).status, 401);
    // The serving cert verifies only against the cluster's CA.
    const foreign = await createClusterPki({ name: 'x', sans: [] });
    await assert.rejects(get(state.port, pki, { ca: foreign.ca.cert }), /self[- ]signed|unable to verify|certificate/i);
  });

  await t.test('real kubectl accepts the kubeconfig, CA and EC client key', { skip: !hasKubectl() && 'kubectl not installed' }, async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile('kubectl', ['get', '--raw', '/readyz', '--context', 'skiff-life', '--kubeconfig', kubeconfig], (err, stdout, stderr) => {
        if (err) reject(new Error(stderr || String(err)));
        else resolve(stdout);
      });
    });
    assert.equal(out.trim(), 'ok');
  });

  const again = await cli(['create', 'cluster', '--name', 'life']);
  assert.equal(again.code, 1);
  assert.match(again.err, /^ERROR: cluster "life" already exists/);
  assert.ok(isOurProcess(pid, 'life', home), 'a refused create must not touch the running cluster');

  assert.equal((await cli(['get', 'clusters'])).out, 'life\n');
  const printed = parse((await cli(['get', 'kubeconfig', '--name', 'life'])).out);
  assert.equal(printed.clusters[0].cluster.server, `https://127.0.0.1:${state.port}`);

  const stopped = await cli(['stop', 'cluster', '--name', 'life']);
  assert.equal(stopped.code, 0, stopped.err);
  assert.match(stopped.out, / ✓ Stopping control-plane 🛑/);
  assert.equal(isOurProcess(pid, 'life', home), false);
  assert.deepEqual(await readPids(home, 'life'), []);
  assert.ok(await connectRefused(state.port));
  assert.match(await readFile(clusterPaths(home, 'life').log, 'utf8'), /received SIGTERM, shutting down\n.*stopped\n/);
  assert.equal((await cli(['stop', 'cluster', '--name', 'life'])).out, 'Cluster "life" is not running.\n');

  const started = await cli(['start', 'cluster', '--name', 'life', '--wait', '30s']);
  assert.equal(started.code, 0, started.err);
  assert.deepEqual(await get(state.port, pki), { status: 200, user: 'kubernetes-admin' });
  const [{ pid: pid2 }] = await readPids(home, 'life');
  assert.notEqual(pid2, pid);
  assert.equal((await cli(['start', 'cluster', '--name', 'life'])).out, 'Cluster "life" is already running.\n');

  const deleted = await cli(['delete', 'cluster', '--name', 'life']);
  assert.equal(deleted.code, 0, deleted.err);
  assert.equal(isOurProcess(pid2, 'life', home), false);
  assert.equal(existsSync(clusterPaths(home, 'life').dir), false);
  const kc2 = parse(await readFile(kubeconfig, 'utf8'));
  assert.deepEqual(kc2.contexts.map((c: { name: string }) => c.name), ['other']);
  assert.deepEqual(kc2.clusters.map((c: { name: string }) => c.name), ['other']);
  assert.equal(kc2['current-context'], '');
  const none = await cli(['get', 'clusters']);
  assert.equal(none.out, '');
  assert.equal(none.err, 'No skiff clusters found.\n');
});

function hasKubectl(): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => existsSync(path.join(d, 'kubectl')));
}

test('with a nodes endpoint, create waits for every configured node to be Ready', async () => {
  const config = path.join(root, 'two.yaml');
  await writeFile(config, 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n');
  const r = await cli(['create', 'cluster', '--name', 'nodes', '--config', config, '--wait', '30s'], { FAKE_NODES: 'ready' });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, / • Ready after/);
  // No Node objects at all once the API is ready: the control plane runs no node agents.
  const bare = await cli(['create', 'cluster', '--name', 'bare', '--config', config, '--wait', '5m'], { FAKE_NODES: 'empty' });
  assert.equal(bare.code, 0, bare.err);
  assert.equal((await cli(['delete', 'clusters', '--all'])).out, 'Deleted clusters: ["bare" "nodes"]\n');
});

test('a cluster that never gets Ready fails within --wait: log tail shown, process stopped, state removed', async () => {
  const r = await cli(['create', 'cluster', '--name', 'never', '--wait', '5s'], { FAKE_NODES: 'never' });
  assert.equal(r.code, 1);
  assert.match(r.out, / ✗ Waiting ≤ 5s for control-plane = Ready ⏳/);
  assert.match(r.err, /fake control plane listening/);
  assert.match(r.err, /ERROR: nodes did not become Ready in time \(not Ready: never-control-plane\)\n$/);
  assert.equal(existsSync(clusterPaths(home, 'never').dir), false);
  assert.deepEqual(await listClusters(home), []);
});

test('a server that dies on start fails fast with its log tail; nothing is left behind', async () => {
  const r = await cli(['create', 'cluster', '--name', 'crash', '--wait', '5m'], { FAKE_CRASH: '1' });
  assert.equal(r.code, 1);
  assert.match(r.out, / ✗ Starting control-plane 🕹️/);
  assert.match(r.err, /Error: fake control plane failed to start/);
  assert.match(r.err, /ERROR: the control plane exited \(exit code 1\)\n$/);
  assert.equal(existsSync(clusterPaths(home, 'crash').dir), false);
});

test('stop escalates to SIGKILL when the server does not exit after SIGTERM', async () => {
  const r = await cli(['create', 'cluster', '--name', 'hang', '--wait', '0'], { FAKE_HANG: '1' });
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /Waiting/, '--wait 0 skips the node wait');
  const [{ pid }] = await readPids(home, 'hang');
  assert.equal(await stopServers(home, 'hang', 200), 1);
  assert.equal(isOurProcess(pid, 'hang', home), false);
  assert.deepEqual(await readPids(home, 'hang'), []);
  assert.match(await readFile(clusterPaths(home, 'hang').log, 'utf8'), /received SIGTERM, shutting down\n$/);
  assert.equal((await cli(['delete', 'cluster', '--name', 'hang'])).code, 0);
});

test('a busy API port is refused before anything starts; --retain keeps the state for inspection', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const config = path.join(root, 'busy.yaml');
    await writeFile(config, `kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking: { apiServerPort: ${port} }\n`);
    const r = await cli(['create', 'cluster', '--name', 'busy', '--config', config, '--retain']);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`ERROR: port ${port} on 127.0.0.1 is already in use\\n$`));
    assert.ok(existsSync(clusterPaths(home, 'busy').stateFile));
    assert.deepEqual(await readPids(home, 'busy'), []);
    assert.equal((await cli(['delete', 'cluster', '--name', 'busy'])).code, 0);
  } finally {
    blocker.close();
  }
});

test('the server loads, then waits for the launcher to start it, and reports when it serves', async () => {
  assert.equal((await cli(['create', 'cluster', '--name', 'held', '--wait', '0'])).code, 0);
  assert.equal((await cli(['stop', 'cluster', '--name', 'held'])).code, 0);
  const state = await readClusterState(home, 'held');
  const pki = await loadPki(clusterPaths(home, 'held').pki);
  const log = () => readFile(clusterPaths(home, 'held').log, 'utf8');
  const before = (await log()).length;
  const server = await spawnServer({ entry: FAKE, name: 'held', home, env });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(isOurProcess(server.pid, 'held', home));
    assert.doesNotMatch((await log()).slice(before), /starting control plane/, 'nothing starts before start()');
    assert.ok(await connectRefused(state.port));
    server.start();
    await server.ready(Date.now() + 20_000);
    assert.match((await log()).slice(before), /starting control plane[^]*control plane started\n/);
    assert.deepEqual(await get(state.port, pki), { status: 200, user: 'kubernetes-admin' });
  } finally {
    await stopServers(home, 'held');
  }
  assert.equal((await cli(['delete', 'cluster', '--name', 'held'])).code, 0);
});

test('a server whose launcher goes away before starting it exits by itself', async () => {
  assert.equal((await cli(['create', 'cluster', '--name', 'orphan', '--wait', '0'])).code, 0);
  assert.equal((await cli(['stop', 'cluster', '--name', 'orphan'])).code, 0);
  // A launcher process that spawns the server and exits without start().
  const script = `const { spawnServer } = await import(${JSON.stringify(new URL('../../../src/cluster/processes.js', import.meta.url).href)});
const s = await spawnServer({ entry: ${JSON.stringify(FAKE)}, name: 'orphan', home: ${JSON.stringify(home)}, env: process.env });
console.log(s.pid);`;
  const pid = await new Promise<number>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { env }, (e, out) => (e ? reject(e) : resolve(Number(out.trim()))));
  });
  assert.ok(pid > 0);
  for (let i = 0; i < 200 && isOurProcess(pid, 'orphan', home); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(isOurProcess(pid, 'orphan', home), false, 'the server exited');
  assert.match(await readFile(clusterPaths(home, 'orphan').log, 'utf8'), /the launcher exited before the cluster was ready to start/);
  assert.doesNotMatch(await readFile(clusterPaths(home, 'orphan').log, 'utf8'), /starting control plane.*\n.*starting control plane/s);
  assert.equal((await cli(['delete', 'cluster', '--name', 'orphan'])).code, 0);
});

test('create waits for the server to report ready, not merely for /readyz to answer', async () => {
  const r = await cli(['create', 'cluster', '--name', 'silent', '--wait', '3s'], { FAKE_SILENT: '1' });
  assert.equal(r.code, 1);
  assert.match(r.out, / ✗ Starting control-plane 🕹️/);
  assert.match(r.err, /fake control plane listening/, 'it was serving /readyz');
  assert.match(r.err, /ERROR: the API server did not become ready in time \(the control plane has not reported ready\)\n$/);
  assert.equal(existsSync(clusterPaths(home, 'silent').dir), false);
});

test('the CLI as a real process: create returns (the server lives on detached), delete cleans up', async () => {
  // A separate node process running the real CLI code with the fake server entry.
  const script = `const { runCli } = await import(${JSON.stringify(new URL(`file://${MAIN}`).href)});
process.exitCode = await runCli(process.argv.slice(1), { serverEntry: ${JSON.stringify(FAKE)} });`;
  const run = (args: string[]) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, out, err }));
  });
  const created = await run(['create', 'cluster', '--name', 'proc', '--wait', '20s']);
  assert.equal(created.code, 0, created.err);
  const [{ pid }] = await readPids(home, 'proc');
  assert.ok(alive(pid) && isOurProcess(pid, 'proc', home), 'the server outlives the CLI that created it');
  const deleted = await run(['delete', 'cluster', '--name', 'proc']);
  assert.equal(deleted.code, 0, deleted.err);
  assert.equal(isOurProcess(pid, 'proc', home), false);
});

test('bin/skiff: bad input gives one ERROR line and exit code 1, never a stack trace', async () => {
  const bad = path.join(root, 'bad.yaml');
  await writeFile(bad, 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: master\n');
  const run = (args: string[]) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    execFile(BIN, args, { env }, (e, out, err) => resolve({ code: e ? (e as { code?: number }).code ?? null : 0, out, err }));
  });
  for (const [args, re] of [
    [['create', 'cluster', '--config', bad], /^ERROR: .*bad\.yaml: nodes\[0\]\.role: "master" is not one of control-plane, worker\n$/],
    [['create', 'cluster', '--config', path.join(root, 'missing.yaml')], /^ERROR: cannot read config .*missing\.yaml: ENOENT\n$/],
    [['stop', 'cluster', '--name', 'ghost'], /^ERROR: unknown cluster "ghost"/],
    [['delete', 'cluster', '--name', 'ghost'], /^ERROR: unknown cluster "ghost"/],
    [['get', 'kubeconfig', '--name', '../etc'], /^ERROR: invalid cluster name "..\/etc"/],
    [['create', 'cluster', '--wait', 'soon'], /^ERROR: --wait: invalid duration "soon"/],
  ] as [string[], RegExp][]) {
    const r = await run(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.err, re);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  }
  const v = await run(['version']);
  assert.equal(v.code, 0);
  // The CLI bundle finds package.json (src/machinery/install.ts from inside dist/bundle/).
  const pkg = JSON.parse(await readFile(new URL('../../../../package.json', import.meta.url), 'utf8'));
  assert.equal(v.out, `skiff v${pkg.version} node ${process.version} ${os.platform()}/${os.arch()}\n`);
  assert.deepEqual(await listClusters(home), []);
});
