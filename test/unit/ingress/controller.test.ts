// The Ingress controller end to end over real loopback sockets: an in-memory API, backends on
// 127.10.0.x, Services/EndpointSlices/Ingresses/IngressClasses/Secrets created through the client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import WebSocket from 'ws';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import type { ApiClient } from '../../../src/client/client.js';
import { R } from '../../../src/client/client.js';
import type { KObject } from '../../../src/machinery/object.js';
import { IngressBindError, IngressController, INGRESSES } from '../../../src/ingress/index.js';
import { createCa, issueServingCert } from '../../../src/cluster/pki.js';
import {
  createDefaultClass, createIngress, createService, ensureNamespace, eventually, exposeBackends, request, sliceObject, startBackend, type Backend,
} from './helpers.js';

const ADDRESS = '127.10.0.1';

describe('ingress controller', () => {
  let api: TestApi;
  let c: ApiClient;
  let ctl: IngressController;
  let httpPort = 0;
  let httpsPort = 0;
  const backends: Backend[] = [];
  const backend = async (name: string, ip: string, handler?: Parameters<typeof startBackend>[2]) => {
    const b = await startBackend(name, ip, handler);
    backends.push(b);
    return b;
  };
  const get = (path: string, host = 'example.test', headers: Record<string, string> = {}) => request(httpPort, path, { host, headers });

  before(async () => {
    api = await startTestApi();
    c = api.client('ingress-test');
    await createDefaultClass(c);
    ctl = new IngressController(c, { address: ADDRESS, httpPort: 0, httpsPort: 0 });
    ({ httpPort, httpsPort } = await ctl.start());
  });

  after(async () => {
    ctl.stop();
    for (const b of backends) await b.close();
    await api.close();
  });

  test("the seed's sigma and lambda Ingresses route by path prefix (no class: the default class serves them)", async () => {
    await ensureNamespace(c, 'sigma');
    const ws = await backend('ws', '127.10.0.2');
    const tc8 = await backend('tc8', '127.10.0.3');
    const tc9 = await backend('tc9', '127.10.0.4');
    await exposeBackends(c, 'sigma', 'ws-service', [ws]);
    await exposeBackends(c, 'sigma', 'tc8-service', [tc8]);
    await exposeBackends(c, 'sigma', 'tc9-service', [tc9]);
    const svc = (name: string) => ({ service: { name, port: { number: 80 } } });
    await createIngress(c, {
      metadata: { name: 'sigma-gw-ingress', namespace: 'sigma' },
      spec: {
        rules: [{ http: { paths: [
          { path: '/', pathType: 'Prefix', backend: svc('ws-service') },
          { path: '/tomcat8', pathType: 'Prefix', backend: svc('tc8-service') },
          { path: '/tomcat9', pathType: 'Prefix', backend: svc('tc9-service') },
          { path: '/tomcat10', pathType: 'Prefix', backend: svc('tc10-service') },
        ] } }],
      },
    });
    await eventually(async () => (await get('/tomcat8/index.jsp')).json?.backend === 'tc8', 'sigma routes');
    assert.equal((await get('/')).json?.backend, 'ws');
    assert.equal((await get('/tomcat9')).json?.backend, 'tc9');
    assert.equal((await get('/tomcat8x')).json?.backend, 'ws'); // element-wise prefix
    const r = await get('/tomcat8/a?b=c');
    assert.equal(r.json?.url, '/tomcat8/a?b=c'); // forwarded unchanged, no rewrite
    const missing = await get('/tomcat10/');
    assert.equal(missing.status, 503);
    assert.match(missing.body, /tc10-service not found/);
    // Status: the address it serves on (non-standard ports listed).
    const ing = await eventually(async () => {
      const o = await c.get(INGRESSES, 'sigma', 'sigma-gw-ingress');
      return (o.status as { loadBalancer?: { ingress?: { ip: string }[] } })?.loadBalancer?.ingress?.[0]?.ip === ADDRESS ? o : undefined;
    }, 'status address');
    assert.deepEqual((ing.status as Record<string, unknown>).loadBalancer, {
      ingress: [{ ip: ADDRESS, ports: [{ port: httpPort, protocol: 'TCP' }, { port: httpsPort, protocol: 'TCP' }] }],
    });
    await c.delete(INGRESSES, 'sigma', 'sigma-gw-ingress');

    // lambda: trailing-slash prefixes, a named target port
    await ensureNamespace(c, 'lambda');
    const ui = await backend('lambda-ws', '127.10.0.5');
    const cart = await backend('cart', '127.10.0.6');
    await exposeBackends(c, 'lambda', 'ws-service', [ui]);
    await exposeBackends(c, 'lambda', 'cart-service', [cart], { portName: 'http' });
    await createIngress(c, {
      metadata: { name: 'lambda-gw-ingress', namespace: 'lambda' },
      spec: {
        rules: [{ http: { paths: [
          { path: '/', pathType: 'Prefix', backend: svc('ws-service') },
          { path: '/api/v1/cart/', pathType: 'Prefix', backend: { service: { name: 'cart-service', port: { name: 'http' } } } },
        ] } }],
      },
    });
    await eventually(async () => (await get('/api/v1/cart/items')).json?.backend === 'cart', 'lambda routes');
    assert.equal((await get('/api/v1/cart')).json?.backend, 'cart');
    assert.equal((await get('/api/v1/carts')).json?.backend, 'lambda-ws');
    assert.equal((await get('/index.html')).json?.backend, 'lambda-ws');
    await c.delete(INGRESSES, 'lambda', 'lambda-gw-ingress');
    await eventually(async () => (await get('/')).status === 404, 'lambda removed');
  });

  test('hosts, wildcards, Exact vs Prefix, default backend, resource backend, 404', async () => {
    await ensureNamespace(c, 'hosts');
    const a = await backend('a', '127.10.0.10');
    const wild = await backend('wild', '127.10.0.11');
    const exact = await backend('exact', '127.10.0.12');
    const def = await backend('def', '127.10.0.13');
    await exposeBackends(c, 'hosts', 'a', [a]);
    await exposeBackends(c, 'hosts', 'wild', [wild]);
    await exposeBackends(c, 'hosts', 'exact', [exact]);
    await exposeBackends(c, 'hosts', 'def', [def]);
    const svc = (name: string) => ({ service: { name, port: { number: 80 } } });
    await createIngress(c, {
      metadata: { name: 'hosts', namespace: 'hosts' },
      spec: {
        ingressClassName: 'skiff',
        rules: [
          { host: 'a.example.com', http: { paths: [
            { path: '/app', pathType: 'Prefix', backend: svc('a') },
            { path: '/app', pathType: 'Exact', backend: svc('exact') },
            { path: '/store', pathType: 'Prefix', backend: { resource: { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'static' } } },
          ] } },
          { host: '*.wild.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: svc('wild') }] } },
        ],
      },
    });
    await createIngress(c, { metadata: { name: 'default', namespace: 'hosts' }, spec: { defaultBackend: svc('def') } });
    await eventually(async () => (await get('/app', 'a.example.com')).json?.backend === 'exact', 'host routes');
    assert.equal((await get('/app/x', 'a.example.com')).json?.backend, 'a');
    assert.equal((await get('/app/', 'A.Example.com:80')).json?.backend, 'a');
    assert.equal((await get('/x', 'one.wild.com')).json?.backend, 'wild');
    assert.equal((await get('/x', 'two.one.wild.com')).json?.backend, 'def'); // one label only
    assert.equal((await get('/x', 'wild.com')).json?.backend, 'def');
    assert.equal((await get('/other', 'a.example.com')).json?.backend, 'def');
    const res = await get('/store/x', 'a.example.com');
    assert.equal(res.status, 503);
    assert.match(res.body, /resource backends are not served/);
    await c.delete(INGRESSES, 'hosts', 'default');
    await eventually(async () => (await get('/other', 'a.example.com')).status === 404, 'global 404');
    assert.match((await get('/other', 'a.example.com')).body, /no Ingress rule matches/);
  });

  test('X-Forwarded-* and X-Real-IP reach the backend; hop-by-hop headers do not; keep-alive both ways', async () => {
    await ensureNamespace(c, 'fwd');
    const b = await backend('fwd', '127.10.0.20');
    await exposeBackends(c, 'fwd', 'fwd', [b]);
    await createIngress(c, { metadata: { name: 'fwd', namespace: 'fwd' }, spec: { rules: [{ host: 'fwd.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'fwd', port: { number: 80 } } } }] } }] } });
    await eventually(async () => (await get('/', 'fwd.test')).json?.backend === 'fwd', 'fwd route');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(httpPort, '/h', { host: 'fwd.test', agent, headers: { 'x-forwarded-for': '10.1.2.3', 'keep-alive': 'timeout=5', 'x-custom': 'yes', 'proxy-authorization': 'secret' } });
    const h = first.json!.headers;
    assert.equal(h['x-forwarded-for'], '10.1.2.3, 127.0.0.1');
    assert.equal(h['x-real-ip'], '127.0.0.1');
    assert.equal(h['x-forwarded-host'], 'fwd.test');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-port'], String(httpPort));
    assert.equal(h.host, 'fwd.test');
    assert.equal(h['x-custom'], 'yes');
    assert.equal(h['keep-alive'], undefined);
    assert.equal(h['proxy-authorization'], undefined);
    assert.equal(first.headers['keep-alive'], undefined); // the backend's own is not passed on
    // Three requests on one client connection; the backend sees one pooled connection.
    const ports = new Set<number>();
    b.server.on('request', (req) => ports.add(req.socket.remotePort!));
    let reused = 0;
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: ADDRESS, port: httpPort, path: '/k', headers: { host: 'fwd.test' }, agent }, (res) => {
          if (req.reusedSocket) reused++;
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
    }
    agent.destroy();
    assert.equal(reused, 3);
    assert.equal(ports.size, 1);
    // A POST body arrives intact (Content-Length and chunked).
    const echo = await request(httpPort, '/echo', { host: 'fwd.test', method: 'POST', body: 'x'.repeat(100_000) });
    assert.equal(echo.body.length, 100_000);
  });

  test('round robin across ready endpoints; endpoint changes apply at once; 503 without endpoints; 502 on a dead backend', async () => {
    await ensureNamespace(c, 'rr');
    const one = await backend('one', '127.10.0.30');
    const two = await backend('two', '127.10.0.31');
    await createService(c, 'rr', 'web', [{ port: 80, targetPort: 'http' }]);
    await c.create(R.endpointslices, 'rr', sliceObject('rr', 'web', 'web-1', [{ port: one.port }], [{ ip: one.ip }]));
    await c.create(R.endpointslices, 'rr', sliceObject('rr', 'web', 'web-2', [{ port: two.port }], [{ ip: two.ip }]));
    await createIngress(c, { metadata: { name: 'rr', namespace: 'rr' }, spec: { rules: [{ host: 'rr.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } });
    await eventually(async () => (await get('/', 'rr.test')).status === 200, 'rr route');
    const counts = new Map<string, number>();
    for (let i = 0; i < 10; i++) {
      const name = (await get('/', 'rr.test')).json!.backend;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), { one: 5, two: 5 });
    // "two" becomes unready: no new request goes there.
    const s2 = await c.get(R.endpointslices, 'rr', 'web-2');
    (s2.endpoints as { conditions: { ready: boolean } }[])[0].conditions.ready = false;
    await c.update(R.endpointslices, 'rr', s2);
    await eventually(async () => {
      for (let i = 0; i < 4; i++) if ((await get('/', 'rr.test')).json?.backend !== 'one') return false;
      return true;
    }, 'unready endpoint dropped');
    // No endpoints at all: 503.
    await c.delete(R.endpointslices, 'rr', 'web-1');
    await c.delete(R.endpointslices, 'rr', 'web-2');
    const r = await eventually(async () => {
      const x = await get('/', 'rr.test');
      return x.status === 503 ? x : undefined;
    }, '503');
    assert.match(r.body, /no ready endpoints/);
    // An endpoint nobody listens on: 502.
    const dead = net.createServer();
    await new Promise<void>((res) => dead.listen(0, '127.10.0.32', res));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise((res) => dead.close(res));
    await c.create(R.endpointslices, 'rr', sliceObject('rr', 'web', 'web-3', [{ port: deadPort }], [{ ip: '127.10.0.32' }]));
    const bad = await eventually(async () => {
      const x = await get('/', 'rr.test');
      return x.status === 502 ? x : undefined;
    }, '502');
    assert.match(bad.body, /ECONNREFUSED|failed/);
  });

  test('class filtering: an Ingress of another class is ignored and gets no status', async () => {
    await ensureNamespace(c, 'cls');
    const b = await backend('cls', '127.10.0.40');
    await exposeBackends(c, 'cls', 'cls', [b]);
    const rule = (host: string) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'cls', port: { number: 80 } } } }] } });
    await createIngress(c, { metadata: { name: 'other', namespace: 'cls' }, spec: { ingressClassName: 'nginx', rules: [rule('other.test')] } });
    await createIngress(c, { metadata: { name: 'mine', namespace: 'cls' }, spec: { ingressClassName: 'skiff', rules: [rule('mine.test')] } });
    await eventually(async () => (await get('/', 'mine.test')).status === 200, 'own class served');
    assert.equal((await get('/', 'other.test')).status, 404);
    await eventually(async () => (await c.get(INGRESSES, 'cls', 'mine')).status !== undefined, 'status written');
    const other = await c.get(INGRESSES, 'cls', 'other');
    assert.equal(JSON.stringify((other.status as Record<string, unknown> | undefined)?.loadBalancer?.valueOf() ?? {}), '{}');
    // Another controller's class named as the default does not make class-less Ingresses ours.
    const api2 = await startTestApi();
    try {
      const c2 = api2.client('t2');
      await createDefaultClass(c2, 'nginx', 'k8s.io/ingress-nginx');
      const ctl2 = new IngressController(c2, { address: '127.10.0.41', httpPort: 0, httpsPort: 0 });
      assert.equal(ctl2.serves({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'x', namespace: 'default' }, spec: {} } as KObject), false);
    } finally {
      await api2.close();
    }
  });

  test('TLS: SNI picks the certificate of each host, a default certificate otherwise; HTTP/2 over TLS', async () => {
    await ensureNamespace(c, 'tls');
    const b = await backend('secure', '127.10.0.50');
    await exposeBackends(c, 'tls', 'secure', [b]);
    const ca = await createCa('test-ca');
    const secret = async (name: string, host: string) => {
      const pair = await issueServingCert({ ca }, host, [host]);
      await c.create(R.secrets, 'tls', {
        apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'tls' }, type: 'kubernetes.io/tls',
        data: { 'tls.crt': Buffer.from(pair.cert).toString('base64'), 'tls.key': Buffer.from(pair.key).toString('base64') },
      } as KObject);
    };
    await secret('one-tls', 'one.secure.test');
    await secret('two-tls', 'two.secure.test');
    const rule = (host: string) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'secure', port: { number: 80 } } } }] } });
    await createIngress(c, {
      metadata: { name: 'secure', namespace: 'tls' },
      spec: { tls: [{ hosts: ['one.secure.test'], secretName: 'one-tls' }, { hosts: ['two.secure.test'], secretName: 'two-tls' }], rules: [rule('one.secure.test'), rule('two.secure.test')] },
    });
    const peer = (servername: string, alpn = ['http/1.1']) =>
      new Promise<{ cn: string; alpn: string | false }>((resolve, reject) => {
        const s = tls.connect({ host: ADDRESS, port: httpsPort, servername, rejectUnauthorized: false, ALPNProtocols: alpn }, () => {
          const cert = new X509Certificate(s.getPeerX509Certificate()!.raw);
          resolve({ cn: cert.subject, alpn: s.alpnProtocol ?? false });
          s.destroy();
        });
        s.on('error', reject);
      });
    await eventually(async () => (await peer('two.secure.test')).cn.includes('two.secure.test'), 'SNI certificate');
    assert.match((await peer('one.secure.test')).cn, /one\.secure\.test/);
    assert.match((await peer('unknown.test')).cn, /Fake Certificate/);
    assert.equal((await peer('one.secure.test', ['h2', 'http/1.1'])).alpn, 'h2');
    // HTTPS/1.1 request, verified against the test CA.
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        { host: ADDRESS, port: httpsPort, path: '/x', headers: { host: 'one.secure.test' }, servername: 'one.secure.test', ca: ca.cert, agent: false },
        (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(reply.status, 200);
    assert.equal(JSON.parse(reply.body).headers['x-forwarded-proto'], 'https');
    // HTTP/2.
    const session = http2.connect(`https://${ADDRESS}:${httpsPort}`, { ca: ca.cert, servername: 'one.secure.test' });
    try {
      const h2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const st = session.request({ ':path': '/over-h2', ':method': 'GET', ':authority': `one.secure.test:${httpsPort}` });
        let status = 0;
        let body = '';
        st.on('response', (h) => (status = Number(h[':status'])));
        st.on('data', (d) => (body += d));
        st.on('end', () => resolve({ status, body }));
        st.on('error', reject);
        st.end();
      });
      assert.equal(h2.status, 200);
      const j = JSON.parse(h2.body);
      assert.equal(j.backend, 'secure');
      assert.equal(j.url, '/over-h2');
      assert.equal(j.headers['x-forwarded-proto'], 'https');
      assert.equal(j.headers.host, `one.secure.test:${httpsPort}`);
    } finally {
      session.close();
    }
  });

  test('WebSocket upgrades pass through (HTTP and HTTPS)', async () => {
    await ensureNamespace(c, 'ws');
    const b = await backend('wsb', '127.10.0.60');
    await exposeBackends(c, 'ws', 'wsb', [b]);
    await createIngress(c, { metadata: { name: 'ws', namespace: 'ws' }, spec: { rules: [{ host: 'ws.test', http: { paths: [{ path: '/socket', pathType: 'Prefix', backend: { service: { name: 'wsb', port: { number: 80 } } } }] } }] } });
    await eventually(async () => (await get('/socket', 'ws.test')).status === 200, 'ws route');
    for (const url of [`ws://${ADDRESS}:${httpPort}/socket`, `wss://${ADDRESS}:${httpsPort}/socket`]) {
      const sock = new WebSocket(url, { headers: { host: 'ws.test' }, rejectUnauthorized: false });
      const got: string[] = [];
      await new Promise<void>((resolve, reject) => {
        sock.on('open', () => {
          sock.send('hello');
          sock.send('again');
        });
        sock.on('message', (m) => {
          got.push(m.toString());
          if (got.length === 2) resolve();
        });
        sock.on('error', reject);
      });
      assert.deepEqual(got, ['wsb:hello', 'wsb:again']);
      await new Promise<void>((resolve) => {
        sock.on('close', () => resolve());
        sock.close();
      });
    }
  });

  test('request and response bodies stream through without buffering', async () => {
    await ensureNamespace(c, 'stream');
    const CHUNK = Buffer.alloc(64 * 1024, 'z');
    const TOTAL_CHUNKS = 256; // 16 MiB
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    let sawFirstUpload: () => void = () => {};
    const firstUpload = new Promise<void>((r) => (sawFirstUpload = r));
    const b = await backend('stream', '127.10.0.70', (req, res) => {
      if (req.url === '/download') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(CHUNK);
        // The rest only after the client has seen the first chunk: proves nothing is buffered.
        void released.then(async () => {
          for (let i = 1; i < TOTAL_CHUNKS; i++) if (!res.write(CHUNK)) await new Promise((r) => res.once('drain', r));
          res.end();
        });
        return true;
      }
      if (req.url === '/upload') {
        let n = 0;
        req.on('data', (d: Buffer) => {
          if (n === 0) sawFirstUpload();
          n += d.length;
        });
        req.on('end', () => res.end(String(n)));
        return true;
      }
      return false;
    });
    await exposeBackends(c, 'stream', 'stream', [b]);
    await createIngress(c, { metadata: { name: 'stream', namespace: 'stream' }, spec: { rules: [{ host: 'stream.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'stream', port: { number: 80 } } } }] } }] } });
    await eventually(async () => (await get('/x', 'stream.test')).status === 200, 'stream route');
    const total = await new Promise<number>((resolve, reject) => {
      http.get({ host: ADDRESS, port: httpPort, path: '/download', headers: { host: 'stream.test' }, agent: false }, (res) => {
        let n = 0;
        res.on('data', (d: Buffer) => {
          if (n === 0) release();
          n += d.length;
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      }).on('error', reject);
    });
    assert.equal(total, CHUNK.length * TOTAL_CHUNKS);
    // Upload: the backend sees the first piece while the client has not finished sending.
    const uploaded = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: ADDRESS, port: httpPort, method: 'POST', path: '/upload', headers: { host: 'stream.test' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.write(CHUNK);
      void firstUpload.then(() => {
        for (let i = 0; i < 15; i++) req.write(CHUNK);
        req.end();
      });
    });
    assert.equal(uploaded, String(CHUNK.length * 16));
  });

  test('a port that cannot be bound fails with IngressBindError', async () => {
    const other = new IngressController(c, { address: ADDRESS, httpPort, httpsPort: 0 });
    await assert.rejects(other.start(), (e: unknown) => e instanceof IngressBindError && e.code === 'EADDRINUSE' && /127\.10\.0\.1/.test(e.message));
  });
});
