import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { expand } from '../../../src/kubelet/pods/env.js';
import { PodIPAllocator } from '../../../src/kubelet/pods/ipam.js';
import { RestartBackoff } from '../../../src/kubelet/pods/backoff.js';
import { goDuration } from '../../../src/kubelet/pods/util.js';
import { podPhase } from '../../../src/kubelet/pods/status.js';
import { decodeHealthCheckResponse, encodeHealthCheckRequest, grpcAction, httpAction, tcpAction } from '../../../src/kubelet/pods/probes.js';

test('$(VAR) expansion follows upstream', () => {
  const vars: Record<string, string> = { A: 'a', B: 'b' };
  const f = (n: string) => vars[n];
  assert.equal(expand('$(A)-$(B)', f), 'a-b');
  assert.equal(expand('$$(A)', f), '$(A)');
  assert.equal(expand('$(C)', f), '$(C)');
  assert.equal(expand('$A $', f), '$A $');
  assert.equal(expand('x$(A', f), 'x$(A');
  assert.equal(expand('$()', f), '$()');
  assert.equal(expand('$$$$', f), '$$');
});

test('pod IPs: .2 upward, never one still held, adopted IPs reserved', () => {
  const a = new PodIPAllocator('127.244.1.0/24');
  a.reserve('127.244.1.3');
  assert.equal(a.allocate(), '127.244.1.2');
  assert.equal(a.allocate(), '127.244.1.4');
  a.release('127.244.1.2');
  assert.equal(a.allocate(), '127.244.1.5', 'rotates instead of reusing at once');
  const small = new PodIPAllocator('10.0.0.0/30');
  assert.equal(small.allocate(), '10.0.0.2');
  assert.throws(() => small.allocate(), /no pod IP left/);
});

test('crash-loop back-off: immediate first restart, then 10s doubling to 300s, reset after 10 minutes', () => {
  const b = new RestartBackoff();
  const k = 'uid/c';
  let t = 1_000_000;
  assert.equal(b.remaining(k, t, t), 0);
  b.next(k, t);
  assert.equal(b.current(k), 10_000);
  t += 1000;
  assert.equal(b.remaining(k, t, t), 10_000);
  assert.equal(goDuration(b.current(k)), '10s');
  const seen: string[] = [];
  for (let i = 0; i < 7; i++) {
    t += b.current(k);
    b.next(k, t);
    seen.push(goDuration(b.current(k)));
  }
  assert.deepEqual(seen, ['20s', '40s', '1m20s', '2m40s', '5m0s', '5m0s', '5m0s']);
  t += 11 * 60 * 1000;
  assert.equal(b.remaining(k, t, t), 0);
  b.next(k, t);
  assert.equal(b.current(k), 10_000);
});

test('phase as upstream getPhase computes it', () => {
  const spec = (restartPolicy: string, extra = {}) => ({ restartPolicy, containers: [{ name: 'a' }], ...extra });
  const running = [{ name: 'a', state: { running: {} } }];
  const done = (code: number) => [{ name: 'a', state: { terminated: { exitCode: code } } }];
  assert.equal(podPhase(spec('Always'), [], []), 'Pending');
  assert.equal(podPhase(spec('Always'), [], running), 'Running');
  assert.equal(podPhase(spec('Never'), [], done(0)), 'Succeeded');
  assert.equal(podPhase(spec('Never'), [], done(1)), 'Failed');
  assert.equal(podPhase(spec('OnFailure'), [], done(1)), 'Running');
  assert.equal(podPhase(spec('OnFailure'), [], done(0)), 'Succeeded');
  assert.equal(podPhase(spec('Always'), [], done(0)), 'Running');
  const withInit = spec('Never', { initContainers: [{ name: 'i' }] });
  assert.equal(podPhase(withInit, [{ name: 'i', state: { running: {} } }], []), 'Pending');
  assert.equal(podPhase(withInit, [{ name: 'i', state: { terminated: { exitCode: 1 } } }], []), 'Failed');
  const crashLoop = [{ name: 'a', state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } }];
  assert.equal(podPhase(spec('Always'), [], crashLoop), 'Running');
});

test('grpc health protobuf frames', () => {
  assert.deepEqual([...encodeHealthCheckRequest('')], [0, 0, 0, 0, 0]);
  assert.deepEqual([...encodeHealthCheckRequest('ab')], [0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62]);
  assert.equal(decodeHealthCheckResponse(Buffer.from([0, 0, 0, 0, 2, 0x08, 1])), 1);
  assert.equal(decodeHealthCheckResponse(Buffer.from([0, 0, 0, 0, 2, 0x08, 2])), 2);
  assert.equal(decodeHealthCheckResponse(Buffer.from([0, 0, 0, 0, 0])), 0);
});

test('httpGet, tcpSocket and grpc probes against real local servers', async () => {
  const srv = http.createServer((req, res) => {
    if (req.url === '/ok') res.end('fine');
    else if (req.url === '/moved') {
      res.writeHead(302, { location: '/elsewhere' });
      res.end();
    } else if (req.url === '/hdr') res.end(req.headers['x-probe'] === 'yes' ? 'ok' : (res.statusCode = 400, 'no'));
    else {
      res.statusCode = 500;
      res.end('bad');
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  let serving = 1;
  const g = http2.createServer();
  g.on('stream', (stream, headers) => {
    assert.equal(headers[':path'], '/grpc.health.v1.Health/Check');
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, serving]));
    });
  });
  await new Promise<void>((r) => g.listen(0, '127.0.0.1', r));
  const gport = (g.address() as AddressInfo).port;
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  try {
    const c = { name: 'app', ports: [{ name: 'web', containerPort: port }] };
    assert.equal((await httpAction({ path: '/ok', port: 'web' }, '127.0.0.1', c, 1000)).ok, true);
    assert.equal((await httpAction({ path: '/moved', port }, '127.0.0.1', c, 1000)).ok, true);
    const bad = await httpAction({ path: '/bad', port }, '127.0.0.1', c, 1000);
    assert.deepEqual(bad, { ok: false, message: 'HTTP probe failed with statuscode: 500' });
    assert.equal((await httpAction({ path: '/hdr', port, httpHeaders: [{ name: 'X-Probe', value: 'yes' }] }, '127.0.0.1', c, 1000)).ok, true);
    assert.match((await httpAction({ path: '/', port: closedPort }, '127.0.0.1', c, 1000)).message, /connection refused/);
    assert.equal((await tcpAction('127.0.0.1', port, 1000)).ok, true);
    assert.equal((await tcpAction('127.0.0.1', closedPort, 1000)).ok, false);
    assert.equal((await grpcAction('127.0.0.1', gport, '', 2000)).ok, true);
    serving = 2;
    const ng = await grpcAction('127.0.0.1', gport, 'svc', 2000);
    assert.equal(ng.ok, false);
    assert.match(ng.message, /NOT_SERVING/);
    assert.equal((await grpcAction('127.0.0.1', closedPort, '', 2000)).ok, false);
  } finally {
    srv.close();
    g.close();
  }
});
