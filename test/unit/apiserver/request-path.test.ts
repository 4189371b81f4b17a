// The request front: target splitting (a fast path for plain paths that must agree with WHATWG URL
// parsing), JSON bodies (nesting counted on the bytes), body reading, and the watch-fed caches
// that admission reads on every write.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { StatusError } from '../../../src/machinery/errors.js';
import { parseJson, readBody } from '../../../src/apiserver/codec.js';
import { requestInfo, splitTarget } from '../../../src/apiserver/request-info.js';
import { systemContext } from '../../../src/apiserver/context.js';
import { objectKey } from '../../../src/apiserver/keys.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApi } from '../../../src/controlplane/api.js';
import { bootstrap } from '../../../src/controlplane/bootstrap.js';
import { SqliteStore } from '../../../src/storage/sqlite.js';
import { MemoryStore } from '../../../src/storage/memory.js';
import type { KObject } from '../../../src/machinery/object.js';
import { startTestApi } from '../../support/in-memory-api.js';
import { rng } from '../storage/store-contract.js';

/** The reference: WHATWG URL parsing of an origin-form target (its path never names a host). */
const viaUrl = (target: string) => {
  const u = new URL(`https://skiff.invalid${target}`);
  return { pathname: u.pathname, query: [...u.searchParams] };
};

describe('splitTarget', () => {
  it('agrees with WHATWG URL parsing on every target, plain or not', () => {
    const fixed = [
      '/api/v1/namespaces/default/pods',
      '/apis/apps/v1/namespaces/kube-system/deployments/coredns?fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
      '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb%2Ctier+in+(a,b)&limit=500',
      '/api/v1/namespaces/../secrets',
      '/api/v1/./namespaces',
      '/api/v1/namespaces/a%2Fb/pods',
      '/api/v1/namespaces/default/pods/web#frag',
      '/api/v1/namespaces/default/pods/wéb',
      '/api//v1///namespaces/',
      '/api/v1/namespaces/default/pods/a b',
      '/api/v1/namespaces/default/pods/%2e%2e',
      '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:controller:job-controller',
      '/',
      '/?watch=1',
      '//api/v1/namespaces',
      '/\\\\evil/x',
    ];
    const rand = rng(7);
    const alphabet = "az09-._~:@!$&'()*+,;=/%?#. é\\\"<>";
    const random = Array.from({ length: 3000 }, () => {
      let s = '/';
      const n = Math.floor(rand() * 30);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
      return s;
    });
    for (const t of [...fixed, ...random]) {
      let want: ReturnType<typeof viaUrl> | 'invalid';
      try {
        want = viaUrl(t);
      } catch {
        want = 'invalid';
      }
      if (want === 'invalid') {
        assert.throws(() => splitTarget(t), (e: unknown) => e instanceof StatusError && e.code === 400, t);
        continue;
      }
      const got = splitTarget(t);
      assert.deepEqual({ pathname: got.pathname, query: [...got.query] }, want, t);
    }
  });

  it('feeds requestInfo the query (watch=true makes a list a watch)', () => {
    const { pathname, query } = splitTarget('/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=5');
    const info = requestInfo('GET', pathname, query);
    assert.equal(info.verb, 'watch');
    assert.equal(info.namespace, 'default');
    assert.equal(info.resource, 'configmaps');
    assert.equal(requestInfo('GET', '/api/v1/namespaces/default/configmaps/x', splitTarget('/').query).verb, 'get');
  });
});

describe('JSON bodies', () => {
  const nested = (levels: number, inner = '1') => '['.repeat(levels) + inner + ']'.repeat(levels);
  const tooDeep = (e: unknown) => e instanceof StatusError && e.code === 400 && /nested more than 200 levels/.test(e.message);

  it('accepts 201 levels (the root and 200 below it) and refuses 202 before parsing', () => {
    assert.ok(parseJson(Buffer.from(nested(201))));
    assert.throws(() => parseJson(Buffer.from(nested(202))), tooDeep);
    assert.throws(() => parseJson(Buffer.from(nested(5000))), tooDeep);
    // Unbalanced text deep enough is refused as too deep; shallow garbage is a decoding error.
    assert.throws(() => parseJson(Buffer.from('{'.repeat(300))), tooDeep);
    assert.throws(() => parseJson(Buffer.from('{"a":')), (e: unknown) => e instanceof StatusError && e.code === 400 && /error decoding JSON/.test(e.message));
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const s = JSON.stringify({ a: '['.repeat(500), b: '\\"{{{{{'.repeat(100), c: '"]]]"' });
    let v = parseJson(Buffer.from(nested(150, s)));
    for (let i = 0; i < 150; i++) v = (v as unknown[])[0];
    assert.deepEqual(v, JSON.parse(s));
    assert.ok(parseJson(Buffer.from(nested(199, s))));
    assert.throws(() => parseJson(Buffer.from(nested(201, s))), tooDeep);
  });
});

describe('readBody', () => {
  const request = (headers: Record<string, string> = {}) => Object.assign(new PassThrough(), { headers });

  it('joins the chunks of a body', async () => {
    const req = request();
    const p = readBody(req);
    req.write('{"a":');
    req.write('1}');
    req.end();
    assert.equal((await p).toString(), '{"a":1}');
  });

  it('answers 413 for a declared or an actual size over the limit', async () => {
    await assert.rejects(readBody(request({ 'content-length': '11' }), 10), (e: unknown) => e instanceof StatusError && e.code === 413);
    const req = request();
    const p = readBody(req, 10);
    req.write('x'.repeat(6));
    req.write('x'.repeat(6));
    await assert.rejects(p, (e: unknown) => e instanceof StatusError && e.code === 413);
  });

  it('answers 400 when the client goes away mid-body, and an empty body for an ended request', async () => {
    const req = request();
    const p = readBody(req);
    req.write('{"a":');
    req.destroy();
    await assert.rejects(p, (e: unknown) => e instanceof StatusError && e.code === 400);
    const done = request();
    done.end();
    done.resume();
    await new Promise((r) => done.on('end', r));
    assert.equal((await readBody(done)).length, 0);
  });
});

describe('admission caches', () => {
  it('falls back to storage for a namespace the cache has not seen yet', async () => {
    // SQLite commits (and publishes watch events) at the end of the turn: a namespace written in
    // this turn is in storage but not yet in the cache when the ConfigMap's admission runs.
    const dir = mkdtempSync(join(tmpdir(), 'skiff-admission-cache-'));
    const store = SqliteStore.open(join(dir, 'state.db'));
    const api = createApi(store, { serviceSubnet: '127.96.0.0/12' });
    await bootstrap(api.resources, { apiServerHost: '127.0.0.1', apiServerPort: 6443, kubernetesServiceIP: '127.96.0.1' });
    try {
      const r = api.resources;
      const ctx = systemContext('test');
      const ns = r.spec('', 'v1', 'namespaces');
      const cms = r.spec('', 'v1', 'configmaps');
      const cache = await r.cached(ns);
      const written = store.create(objectKey(ns, undefined, 'fresh'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fresh' } });
      const made = r.create(cms, 'fresh', { metadata: { name: 'c' } }, ctx);
      assert.equal(cache.get(undefined, 'fresh'), undefined, 'the cache trails the uncommitted write');
      await written;
      assert.equal((await made).metadata.namespace, 'fresh');
      await assert.rejects(r.create(cms, 'missing', { metadata: { name: 'c' } }, ctx), (e: unknown) => e instanceof StatusError && e.code === 404);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follows creates, updates and deletes of the cached kind', async () => {
    const t = await startTestApi();
    try {
      const r = t.api.resources;
      const ctx = systemContext('test');
      const quotas = r.spec('', 'v1', 'resourcequotas');
      const cache = await r.cached(quotas);
      await r.create(quotas, 'default', { metadata: { name: 'q' }, spec: { hard: { pods: '1' } } }, ctx);
      await new Promise((res) => setImmediate(res));
      assert.deepEqual(cache.get('default', 'q')?.spec, { hard: { pods: '1' } });
      const q = await r.get(quotas, 'default', 'q');
      await r.update(quotas, 'default', 'q', { ...q, spec: { hard: { pods: '2' } } }, ctx);
      await new Promise((res) => setImmediate(res));
      assert.deepEqual(cache.list('default').map((o) => o.spec), [{ hard: { pods: '2' } }]);
      await r.delete(quotas, 'default', 'q', {}, ctx);
      await new Promise((res) => setImmediate(res));
      assert.deepEqual(cache.list('default'), []);
      assert.equal(await r.cached(quotas), cache, 'one cache per resource');
    } finally {
      await t.close();
    }
  });
});

describe('answers reuse the JSON storage wrote or read', () => {
  it('creates, gets, lists and watches answer what a fresh encoding would, converted versions included', async () => {
    const store = new MemoryStore();
    const token = 'test-admin-token';
    const api = createApi(store, { serviceSubnet: '127.96.0.0/12', tokens: new Map([[token, { name: 'admin', groups: ['system:masters'] }]]) });
    await bootstrap(api.resources, { apiServerHost: '127.0.0.1', apiServerPort: 6443, kubernetesServiceIP: '127.96.0.1' });
    api.setReady(true);
    const server = http.createServer(api.handler.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      // Whatever produced the text, it must be exactly the canonical encoding of what it says.
      assert.equal(text, JSON.stringify(JSON.parse(text)), `${method} ${path}`);
      return { status: r.status, body: JSON.parse(text) };
    };
    const watchLines: string[] = [];
    const watch = await fetch(`${base}/api/v1/namespaces/default/configmaps?watch=true`, { headers: { authorization: `Bearer ${token}` } });
    const reader = (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of watch.body!) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          watchLines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
        if (watchLines.some((l) => l.includes('"name":"b"'))) return;
      }
    })();
    try {
      const created = await call('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'a', labels: { x: '1' } }, data: { k: 'v' } });
      assert.equal(created.status, 201);
      const got = await call('GET', '/api/v1/namespaces/default/configmaps/a');
      assert.deepEqual(got.body, created.body);
      await call('PUT', '/api/v1/namespaces/default/configmaps/a', { ...got.body, data: { k: 'w' } });
      await call('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'b' } });
      const list = await call('GET', '/api/v1/namespaces/default/configmaps');
      assert.equal(list.body.kind, 'ConfigMapList');
      const a = list.body.items.find((o: KObject) => o.metadata.name === 'a');
      assert.deepEqual(a, (await call('GET', '/api/v1/namespaces/default/configmaps/a')).body);
      assert.deepEqual(a.data, { k: 'w' });
      await reader;
      const events = watchLines.map((l) => JSON.parse(l) as { type: string; object: KObject });
      assert.deepEqual(events.filter((e) => e.object.metadata.name === 'a').map((e) => [e.type, e.object.data]), [['ADDED', { k: 'v' }], ['MODIFIED', { k: 'w' }]]);

      // autoscaling/v1 is stored as v2: every answer is the converted object, not the stored text.
      const hpa = { metadata: { name: 'h' }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' }, maxReplicas: 3, targetCPUUtilizationPercentage: 50 } };
      const made = await call('POST', '/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers', hpa);
      assert.equal(made.status, 201);
      assert.equal(made.body.apiVersion, 'autoscaling/v1');
      assert.equal(made.body.spec.targetCPUUtilizationPercentage, 50);
      const v1 = await call('GET', '/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/h');
      assert.equal(v1.body.apiVersion, 'autoscaling/v1');
      const v2 = await call('GET', '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers');
      assert.equal(v2.body.items[0].apiVersion, 'autoscaling/v2');
      assert.equal(v2.body.items[0].spec.metrics[0].resource.target.averageUtilization, 50);
    } finally {
      await watch.body?.cancel().catch(() => {});
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await store.close();
    }
  });
});
