// Hostile and malformed requests get a Kubernetes Status with the right code — never a 500,
// a crash or a hang — and the server keeps serving afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './harness.js';

let c: TestCluster;

before(async () => {
  c = await TestCluster.create('badinput');
});
after(async () => {
  await c?.destroy();
});

const CM = '/api/v1/namespaces/default/configmaps';

async function expectStatus(method: string, url: string, opts: Parameters<TestCluster['request']>[2], code: number, reason?: string | RegExp) {
  const r = await c.request(method, url, opts);
  assert.equal(r.status, code, `${method} ${url}: ${r.body.slice(0, 300)}`);
  const s = JSON.parse(r.body);
  assert.equal(s.kind, 'Status');
  assert.equal(s.code, code);
  if (reason) assert.match(s.reason, reason instanceof RegExp ? reason : new RegExp(`^${reason}$`));
  return s;
}

describe('bad input', () => {
  it('refuses requests without credentials, except health and version', async () => {
    await expectStatus('GET', '/api/v1/namespaces', { anonymous: true }, 401, 'Unauthorized');
    for (const p of ['/healthz', '/livez', '/readyz', '/version']) assert.equal((await c.request('GET', p, { anonymous: true })).status, 200, p);
    await expectStatus('GET', '/api/v1/namespaces', { anonymous: true, headers: { authorization: 'Bearer nope' } }, 401);
  });

  it('answers malformed JSON and YAML with 400', async () => {
    await expectStatus('POST', CM, { body: '{"apiVersion": "v1", "kind": ' }, 400, 'BadRequest');
    await expectStatus('POST', CM, { body: 'kind: [unclosed', headers: { 'content-type': 'application/yaml' } }, 400, 'BadRequest');
    await expectStatus('POST', CM, { body: '[1,2,3]' }, 400, 'BadRequest');
    await expectStatus('POST', CM, { body: '"just a string"' }, 400, 'BadRequest');
    await expectStatus('POST', CM, { body: '' }, 400, 'BadRequest');
    await expectStatus('POST', CM, { body: '['.repeat(100000) + ']'.repeat(100000) }, 400, 'BadRequest');
  });

  it('answers a wrong kind or apiVersion for the URL with 400', async () => {
    const s = await expectStatus('POST', CM, { body: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } }) }, 400);
    assert.match(s.message, /kind/);
    await expectStatus('POST', CM, { body: JSON.stringify({ apiVersion: 'apps/v1', kind: 'ConfigMap', metadata: { name: 'x' } }) }, 400);
  });

  it('answers bodies over 3 MiB with 413', async () => {
    const big = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { a: 'x'.repeat(3 * 1024 * 1024 + 10) } });
    await expectStatus('POST', CM, { body: big }, 413, 'RequestEntityTooLarge');
  });

  it('answers bad names with 422 naming the field', async () => {
    for (const name of ['UPPER', 'has_underscore', 'a'.repeat(254), '-lead', 'dots..dots']) {
      const s = await expectStatus('POST', CM, { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } }) }, 422, 'Invalid');
      assert.equal(s.details.causes[0].field, 'metadata.name');
    }
    await expectStatus('POST', CM, { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} }) }, 422, 'Invalid');
    await expectStatus('GET', '/api/v1/namespaces/default/configmaps/..%2F..%2Fetc', {}, 404, 'NotFound');
  });

  it('answers invalid selectors and unsupported fields with 400', async () => {
    await expectStatus('GET', `${CM}?labelSelector=${encodeURIComponent('a in (b')}`, {}, 400, 'BadRequest');
    await expectStatus('GET', `${CM}?labelSelector=${encodeURIComponent('-bad=x')}`, {}, 400, 'BadRequest');
    await expectStatus('GET', `${CM}?fieldSelector=${encodeURIComponent('spec.x=1')}`, {}, 400, 'BadRequest');
    await expectStatus('GET', `${CM}?limit=-1`, {}, 400, 'BadRequest');
    await expectStatus('GET', `${CM}?continue=garbage`, {}, 400, 'BadRequest');
  });

  it('rejects unknown fields under fieldValidation=Strict and warns under Warn', async () => {
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'strict' }, datta: {} });
    const s = await expectStatus('POST', `${CM}?fieldValidation=Strict`, { body }, 400, 'BadRequest');
    assert.match(s.message, /unknown field "datta"/);
    const r = await c.request('POST', `${CM}?fieldValidation=Warn`, { body });
    assert.equal(r.status, 201);
    // Upstream quotes the text Go-style inside the header: 299 - "unknown field \"datta\"".
    assert.match(String(r.headers.warning), /^299 - "unknown field \\"datta\\""$/);
    assert.equal(JSON.parse(r.body).datta, undefined, 'unknown fields are dropped');
  });

  it('answers wrong content types with 415 and unknown resources with 404', async () => {
    await expectStatus('POST', CM, { body: '<xml/>', headers: { 'content-type': 'application/xml' } }, 415, 'UnsupportedMediaType');
    await expectStatus('PATCH', `${CM}/x`, { body: '{}', headers: { 'content-type': 'application/json' } }, 415, 'UnsupportedMediaType');
    await expectStatus('GET', '/api/v1/namespaces/default/nothings', {}, 404, 'NotFound');
    await expectStatus('GET', '/apis/nope.example.com/v1/things', {}, 404, 'NotFound');
    await expectStatus('GET', `${CM}/missing`, {}, 404, 'NotFound');
    await expectStatus('GET', CM, { headers: { accept: 'application/vnd.kubernetes.protobuf' } }, 406, 'NotAcceptable');
  });

  it('survives thousands of random request bodies without a 500 or a hang', async () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const pieces = ['{', '}', '[', ']', '"', ':', ',', 'null', 'true', '1e999', '-0', '"metadata"', '"name"', '"apiVersion"', '"v1"', '"kind"', '"ConfigMap"', '"data"', '"\\u0000"', ' ', '\n', '"$patch"', '"delete"', '"spec"', '{"a":', 'k8s\u0000'];
    const types = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json', 'application/apply-patch+yaml'];
    let seen = 0;
    const N = 2000;
    for (let i = 0; i < N; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          let body = '';
          const n = Math.floor(rand() * 30);
          for (let j = 0; j < n; j++) body += pieces[Math.floor(rand() * pieces.length)];
          if (rand() < 0.3) body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `f${Math.floor(rand() * 1e6)}` }, data: rand() < 0.5 ? { a: 1 } : [body] });
          const ct = types[Math.floor(rand() * types.length)];
          const method = ct.includes('patch') ? 'PATCH' : rand() < 0.5 ? 'POST' : 'PUT';
          const url = method === 'POST' ? CM : `${CM}/kube-root-ca.crt`;
          const r = await c.request(method, url, { body, headers: { 'content-type': ct } });
          assert.ok(r.status < 500, `${method} ${ct} ${JSON.stringify(body)} → ${r.status} ${r.body.slice(0, 200)}`);
          seen++;
        }),
      );
    }
    assert.equal(seen, N);
    assert.equal((await c.request('GET', '/readyz')).status, 200);
  });
});
