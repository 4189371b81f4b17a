// The resolve-cluster-names preload in a real child Node.js process: ordinary http.get/fetch/dns.lookup
// calls reach a Service by its FQDN and by short names through the pod's search path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { R } from '../../../src/client/client.js';
import { ClusterDns } from '../../../src/dns/server.js';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { service, slice, startFakeUpstream, type FakeUpstream } from './helpers.js';

const PRELOAD = fileURLToPath(new URL('../../../../src/kubelet/runtime/preload/resolve-cluster-names.cjs', import.meta.url));
// The Service's ClusterIP is a loopback address this test really listens on (no proxy needed).
const WEB_IP = '127.96.53.54';
const OTHER_WEB_IP = '127.96.53.55';

let t: TestApi;
let dns: ClusterDns;
let dnsPort: number;
let upstream: FakeUpstream;
let web: http.Server;
let webPort: number;

before(async () => {
  t = await startTestApi();
  const client = t.client();
  await client.create(R.services, 'default', service('web', { clusterIP: WEB_IP, selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] }));
  await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
  await client.create(R.services, 'other', service('web', { clusterIP: OTHER_WEB_IP, ports: [{ port: 80 }] }, 'other'));
  await client.create(R.services, 'default', service('db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432 }] }));
  await client.create(R.endpointslices, 'default', slice('db-a', 'db', [{ ip: '127.244.7.1' }, { ip: '127.244.7.2' }, { ip: '127.244.7.3', ready: false }], [{ name: 'pg', port: 5432 }]));
  // Nothing here should reach an upstream; if something does, it stays on loopback and is visible.
  upstream = await startFakeUpstream({});
  dns = new ClusterDns(client, { host: '127.0.0.1', port: 0, upstream: [`127.0.0.1:${upstream.port}`] });
  dnsPort = (await dns.start()).port;
  web = http.createServer((req, res) => res.end(`web saw ${req.headers.host}`));
  await new Promise<void>((r) => web.listen(0, WEB_IP, () => r()));
  webPort = (web.address() as AddressInfo).port;
});

after(async () => {
  web.closeAllConnections();
  await new Promise<void>((r) => web.close(() => r()));
  await dns.stop();
  await upstream.close();
  await t.close();
});

function runChild(script: string, env: Record<string, string>): Promise<string> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  delete childEnv.NODE_OPTIONS;
  delete childEnv.NODE_TEST_CONTEXT;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--require', PRELOAD, '-e', script], { env: childEnv, timeout: 20_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`child failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const POD_ENV = () => ({
  SKIFF_DNS_SERVER: `127.0.0.1:${dnsPort}`,
  SKIFF_DNS_SEARCH: 'default.svc.cluster.local svc.cluster.local cluster.local',
  SKIFF_DNS_NDOTS: '5',
});

test('a Node.js program reaches a Service by FQDN and short names without code changes', async () => {
  const script = `
    const http = require('node:http');
    const dns = require('node:dns');
    const get = (u) => new Promise((res, rej) => http.get(u, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => res(b)); }).on('error', rej));
    (async () => {
      const out = {};
      out.fqdn = await get('http://web.default.svc.cluster.local:${webPort}/');
      out.fqdnDot = await get('http://web.default.svc.cluster.local.:${webPort}/');
      out.short = await get('http://web:${webPort}/');
      out.withNs = await get('http://web.default:${webPort}/');
      out.fetch = await (await fetch('http://web.default.svc:${webPort}/')).text();
      out.cb = await new Promise((r) => dns.lookup('web', (e, a, f) => r([e && e.code, a, f])));
      out.family4 = await new Promise((r) => dns.lookup('web', 4, (e, a, f) => r([a, f])));
      out.family6 = await new Promise((r) => dns.lookup('web', { family: 6 }, (e, a) => r(e ? e.code : a)));
      out.mapped = await new Promise((r) => dns.lookup('web', { family: 6, hints: dns.V4MAPPED }, (e, a, f) => r([a, f])));
      out.all = (await dns.promises.lookup('db', { all: true })).map((x) => x.address).sort();
      out.one = await dns.promises.lookup('web');
      out.missing = await dns.promises.lookup('nope.default.svc.cluster.local').catch((e) => e.code);
      out.missingCb = await new Promise((r) => dns.lookup('nope.default.svc.cluster.local', (e) => r(e && e.code)));
      out.localhost = (await dns.promises.lookup('localhost', { family: 4 })).address;
      out.ip = (await dns.promises.lookup('127.0.0.9')).address;
      out.resolve4 = await dns.promises.resolve4('web.default.svc.cluster.local');
      console.log(JSON.stringify(out));
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const out = JSON.parse(await runChild(script, POD_ENV()));
  assert.equal(out.fqdn, `web saw web.default.svc.cluster.local:${webPort}`);
  assert.equal(out.fqdnDot, `web saw web.default.svc.cluster.local.:${webPort}`);
  assert.equal(out.short, `web saw web:${webPort}`);
  assert.equal(out.withNs, `web saw web.default:${webPort}`);
  assert.equal(out.fetch, `web saw web.default.svc:${webPort}`);
  assert.deepEqual(out.cb, [null, WEB_IP, 4]);
  assert.deepEqual(out.family4, [WEB_IP, 4]);
  assert.equal(out.family6, 'ENOTFOUND');
  assert.deepEqual(out.mapped, [`::ffff:${WEB_IP}`, 6]);
  assert.deepEqual(out.all, ['127.244.7.1', '127.244.7.2'], 'a headless service: its ready endpoints');
  assert.deepEqual(out.one, { address: WEB_IP, family: 4 });
  assert.equal(out.missing, 'ENOTFOUND');
  assert.equal(out.missingCb, 'ENOTFOUND');
  assert.equal(out.localhost, '127.0.0.1');
  assert.equal(out.ip, '127.0.0.9');
  assert.deepEqual(out.resolve4, [WEB_IP], 'dns.resolve*() asks the cluster DNS server');
  assert.deepEqual(upstream.seen, [], 'cluster names never left the cluster DNS server');
});

test('the search path follows the pod namespace, and ESM importers see the patched lookup', async () => {
  // From a pod in namespace "other", "web" is other's web and "web.default" is default's.
  const script = `
    import('node:dns').then(async ({ lookup, promises }) => {
      const short = await new Promise((r) => lookup('web', (e, a) => r(e ? e.code : a)));
      const qualified = (await promises.lookup('web.default')).address;
      console.log(JSON.stringify({ short, qualified }));
    }).catch((e) => { console.error(e); process.exit(1); });
  `;
  const out = JSON.parse(await runChild(script, { ...POD_ENV(), SKIFF_DNS_SEARCH: 'other.svc.cluster.local svc.cluster.local cluster.local' }));
  assert.deepEqual(out, { short: OTHER_WEB_IP, qualified: WEB_IP });
});

test('without cluster DNS settings the preload changes nothing', async () => {
  const out = await runChild(`console.log(String(require('node:dns').lookup.__skiffClusterNames))`, {});
  assert.equal(out.trim(), 'undefined');
  const patched = await runChild(`console.log(String(require('node:dns').lookup.__skiffClusterNames))`, POD_ENV());
  assert.equal(patched.trim(), 'true');
});
