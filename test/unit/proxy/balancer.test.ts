// Selection semantics of each algorithm and of ClientIP affinity (no sockets).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer, hash32 } from '../../../src/proxy/balancer.js';
import { buildServicePorts, parseAlgorithm } from '../../../src/proxy/model.js';
import type { Endpoint } from '../../../src/proxy/model.js';

const A: Endpoint = { ip: '127.1.0.2', port: 80 };
const B: Endpoint = { ip: '127.1.0.3', port: 80 };
const C: Endpoint = { ip: '127.1.0.4', port: 80 };
const ctx = (clientIP = '127.0.0.1', destIP = '127.96.0.10') => ({ clientIP, destIP });
const name = (e?: Endpoint) => (e === A ? 'A' : e === B ? 'B' : e === C ? 'C' : e ? `${e.ip}` : 'none');

describe('Balancer', () => {
  it('rr takes backends in turn', () => {
    const b = new Balancer('rr');
    b.setEndpoints([A, B, C]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => name(b.pick(ctx()))), ['A', 'B', 'C', 'A', 'B', 'C']);
  });

  it('returns nothing without backends', () => {
    for (const alg of ['rr', 'lc', 'dh', 'sh', 'sed', 'nq'] as const) assert.equal(new Balancer(alg).pick(ctx()), undefined);
  });

  it('lc picks the backend with the fewest active connections, spreading ties', () => {
    const b = new Balancer('lc');
    b.setEndpoints([A, B, C]);
    b.acquire(A);
    b.acquire(A);
    b.acquire(B);
    assert.equal(name(b.pick(ctx())), 'C');
    b.acquire(C);
    assert.equal(name(b.pick(ctx())), 'B'); // B and C have 1; the turn moved past C
    b.release(A);
    b.release(A);
    assert.equal(name(b.pick(ctx())), 'A');
  });

  it('sed minimises (active + 1) / weight; nq prefers an idle backend', () => {
    const heavy: Endpoint = { ...B, weight: 3 };
    const sed = new Balancer('sed');
    sed.setEndpoints([A, heavy]);
    sed.acquire(A);
    sed.acquire(heavy);
    sed.acquire(heavy);
    // A: (1+1)/1 = 2, B: (2+1)/3 = 1 → B even with more connections.
    assert.equal(sed.pick(ctx())?.ip, B.ip);

    const nq = new Balancer('nq');
    const light: Endpoint = { ...A, weight: 1 };
    const big: Endpoint = { ...B, weight: 10 };
    nq.setEndpoints([big, light]);
    nq.acquire(big);
    // sed would choose big ((1+1)/10 < (0+1)/1); nq sends to the idle one.
    assert.equal(nq.pick(ctx())?.ip, A.ip);
    nq.acquire(light);
    assert.equal(nq.pick(ctx())?.ip, B.ip); // nobody idle: as sed
  });

  it('sh keeps a client on one backend and spreads clients; dh keys on the destination', () => {
    const sh = new Balancer('sh');
    sh.setEndpoints([A, B, C]);
    const clients = Array.from({ length: 30 }, (_, i) => `127.0.${i}.1`);
    for (const c of clients) {
      const first = sh.pick(ctx(c));
      for (let i = 0; i < 3; i++) assert.equal(sh.pick(ctx(c)), first);
    }
    assert.equal(new Set(clients.map((c) => sh.pick(ctx(c)))).size, 3);
    const dh = new Balancer('dh');
    dh.setEndpoints([A, B, C]);
    const one = dh.pick(ctx('127.0.0.1', '127.96.0.10'));
    for (const c of clients) assert.equal(dh.pick(ctx(c, '127.96.0.10')), one);
    assert.equal(one, [A, B, C][hash32('127.96.0.10') % 3]);
  });

  it('ClientIP affinity sticks until the timeout, and moves when the backend leaves', () => {
    const b = new Balancer('rr', 10);
    b.setEndpoints([A, B]);
    const t0 = 1_000_000;
    const first = b.pick({ ...ctx('127.0.0.5'), now: t0 });
    for (let i = 1; i < 5; i++) assert.equal(b.pick({ ...ctx('127.0.0.5'), now: t0 + i * 1000 }), first);
    // Another client is balanced normally.
    assert.notEqual(b.pick({ ...ctx('127.0.0.6'), now: t0 }), first);
    // Expired (10 s after the last use): chosen afresh by rr.
    const later = b.pick({ ...ctx('127.0.0.5'), now: t0 + 4000 + 10_001 });
    assert.ok(later);
    // The pinned backend leaves: the client goes to one that is left.
    const pinned = b.pick({ ...ctx('127.0.0.7'), now: t0 });
    b.setEndpoints([A, B].filter((e) => e !== pinned));
    assert.notEqual(b.pick({ ...ctx('127.0.0.7'), now: t0 + 1 }), pinned);
  });
});

describe('service ports from API objects', () => {
  it('reads the algorithm annotation, affinity default and usable endpoints', () => {
    assert.equal(parseAlgorithm(undefined), 'rr');
    assert.equal(parseAlgorithm('SH'), 'sh');
    assert.equal(parseAlgorithm('maglev'), undefined);
    const svc = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'ns', annotations: { 'skiff.dev/lb-algorithm': 'bogus' } },
      spec: { type: 'NodePort', clusterIP: '127.96.0.9', sessionAffinity: 'ClientIP', ports: [{ name: 'web', port: 80, targetPort: 'http', nodePort: 30001 }] },
    };
    const bad: string[] = [];
    const backends = new Map([
      [
        'web',
        [
          { ip: '127.1.0.2', port: 8080, protocol: 'TCP', ready: true, serving: true, terminating: false },
          { ip: '127.1.0.3', port: 8080, protocol: 'TCP', ready: false, serving: false, terminating: false },
        ],
      ],
    ]);
    const [sp] = buildServicePorts(svc, backends, (v) => bad.push(v));
    assert.deepEqual(bad, ['bogus']);
    assert.equal(sp.algorithm, 'rr');
    assert.equal(sp.affinityTimeoutS, 10_800);
    assert.equal(sp.nodePort, 30001);
    assert.deepEqual(sp.endpoints, [{ ip: '127.1.0.2', port: 8080 }]);
    assert.equal(sp.key, 'ns/s:web/TCP');
  });
});
