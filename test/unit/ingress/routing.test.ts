// The routing table alone: host and path matching, precedence, defaults, conflicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { buildRouteTable, normalizeHost, route } from '../../../src/ingress/routing.js';
import { ChunkedScanner, resolveDotSegments } from '../../../src/ingress/http1.js';

function ing(name: string, spec: Record<string, unknown>, created = '2024-01-01T00:00:00Z', ns = 'default'): KObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: ns, creationTimestamp: created }, spec } as KObject;
}
const be = (name: string, port: number | string = 80) => ({ service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } });
const p = (path: string, pathType: string, name: string) => ({ path, pathType, backend: be(name) });
function to(table: ReturnType<typeof buildRouteTable>, host: string, path: string): string | undefined {
  const b = route(table, host, path).backend;
  return b?.kind === 'service' ? b.name : b?.kind;
}

test('Prefix matches element-wise and ignores a trailing slash; Exact matches exactly', () => {
  const t = buildRouteTable([ing('a', { rules: [{ http: { paths: [p('/foo', 'Prefix', 'foo'), p('/bar/', 'Prefix', 'bar'), p('/x', 'Exact', 'x'), p('/', 'Prefix', 'root')] } }] })]);
  assert.equal(to(t, 'h', '/foo'), 'foo');
  assert.equal(to(t, 'h', '/foo/'), 'foo');
  assert.equal(to(t, 'h', '/foo/bar'), 'foo');
  assert.equal(to(t, 'h', '/foobar'), 'root');
  assert.equal(to(t, 'h', '/bar'), 'bar');
  assert.equal(to(t, 'h', '/bar/baz'), 'bar');
  assert.equal(to(t, 'h', '/x'), 'x');
  assert.equal(to(t, 'h', '/x/'), 'root');
  assert.equal(to(t, 'h', '/'), 'root');
});

test('longest path wins; Exact beats Prefix at equal length; ImplementationSpecific acts as Prefix', () => {
  const t = buildRouteTable([ing('a', { rules: [{ http: { paths: [p('/a', 'Prefix', 'pre'), p('/a', 'Exact', 'exact'), p('/a/b', 'ImplementationSpecific', 'impl'), p('/a/b/c', 'Prefix', 'abc')] } }] })]);
  assert.equal(to(t, 'h', '/a'), 'exact');
  assert.equal(to(t, 'h', '/a/'), 'pre');
  assert.equal(to(t, 'h', '/a/b/x'), 'impl');
  assert.equal(to(t, 'h', '/a/b/c/d'), 'abc');
});

test('hosts: exact before wildcard before catch-all; a wildcard matches exactly one label', () => {
  const t = buildRouteTable([
    ing('a', {
      rules: [
        { host: 'foo.bar.com', http: { paths: [p('/', 'Prefix', 'exact-host')] } },
        { host: '*.bar.com', http: { paths: [p('/', 'Prefix', 'wild')] } },
        { http: { paths: [p('/', 'Prefix', 'any')] } },
      ],
    }),
  ]);
  assert.equal(to(t, 'foo.bar.com', '/'), 'exact-host');
  assert.equal(to(t, 'baz.bar.com', '/'), 'wild');
  assert.equal(to(t, 'bar.com', '/'), 'any');
  assert.equal(to(t, 'a.baz.bar.com', '/'), 'any');
  assert.equal(normalizeHost('Foo.Bar.COM:8080'), 'foo.bar.com');
  assert.equal(normalizeHost('[::1]:80'), '::1');
});

test('default backends: per host from the Ingress, then cluster-wide, else none (404)', () => {
  const t = buildRouteTable([
    ing('a', { defaultBackend: be('a-def'), rules: [{ host: 'a.com', http: { paths: [p('/x', 'Exact', 'ax')] } }] }, '2024-01-01T00:00:00Z'),
    ing('b', { rules: [{ host: 'b.com', http: { paths: [p('/x', 'Exact', 'bx')] } }] }, '2024-01-02T00:00:00Z'),
  ]);
  assert.equal(to(t, 'a.com', '/y'), 'a-def');
  assert.equal(to(t, 'b.com', '/y'), 'a-def'); // the cluster-wide default
  assert.equal(to(buildRouteTable([ing('b', { rules: [{ host: 'b.com', http: { paths: [p('/x', 'Exact', 'bx')] } }] })]), 'b.com', '/y'), undefined);
});

test('merging Ingresses: the oldest wins a conflict, and the conflict is reported', () => {
  const t = buildRouteTable([
    ing('young', { rules: [{ http: { paths: [p('/', 'Prefix', 'young'), p('/only-young', 'Prefix', 'oy')] } }] }, '2024-02-01T00:00:00Z'),
    ing('old', { rules: [{ http: { paths: [p('/', 'Prefix', 'old')] } }] }, '2024-01-01T00:00:00Z'),
  ]);
  assert.equal(to(t, 'h', '/'), 'old');
  assert.equal(to(t, 'h', '/only-young/1'), 'oy');
  assert.equal(t.conflicts.length, 1);
  assert.match(t.conflicts[0], /default\/young.*default\/old/);
});

test('resource backends and named ports are carried through', () => {
  const t = buildRouteTable([
    ing('a', {
      rules: [{ http: { paths: [{ path: '/r', pathType: 'Prefix', backend: { resource: { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'b' } } }, { path: '/n', pathType: 'Prefix', backend: be('named', 'http') }] } }],
    }),
  ]);
  assert.equal(to(t, 'h', '/r'), 'resource');
  const b = route(t, 'h', '/n').backend;
  assert.ok(b?.kind === 'service' && b.port === 'http');
});

test('dot segments are resolved for matching; chunked framing is found without changing bytes', () => {
  assert.equal(resolveDotSegments('/public/../admin'), '/admin');
  assert.equal(resolveDotSegments('/a/./b/'), '/a/b/');
  assert.equal(resolveDotSegments('/a/b'), '/a/b');
  const body = Buffer.from('4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\nNEXT');
  for (const split of [1, 3, 7, 20, body.length]) {
    const s = new ChunkedScanner();
    let taken = 0;
    for (let i = 0; i < body.length && !s.done; i += split) {
      const piece = body.subarray(i, Math.min(body.length, i + split));
      const n = s.scan(piece, 0);
      assert.ok(n >= 0);
      taken += n;
    }
    assert.ok(s.done);
    assert.equal(taken, body.length - 4);
  }
  const bad = new ChunkedScanner();
  assert.equal(bad.scan(Buffer.from('zz\r\n'), 0), -1);
});
