import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import dnsPacket, { type Answer, type SoaAnswer, type SrvAnswer } from 'dns-packet';
import { R, type ApiClient } from '../../../src/client/client.js';
import { ClusterDns } from '../../../src/dns/server.js';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { closedPort, datas, encodeQuery, query, rawQuery, service, slice, startFakeUpstream, waitFor, type FakeUpstream } from './helpers.js';

let t: TestApi;
let client: ApiClient;
let dns: ClusterDns;
let port: number;
let upstream: FakeUpstream;

const WEB_IP = '127.96.53.53';
const Z = 'cluster.local';

before(async () => {
  t = await startTestApi();
  client = t.client();
  await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
  const svcs = [
    service('web', { clusterIP: WEB_IP, selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] }),
    service('plain', { selector: { app: 'plain' }, ports: [{ port: 80 }] }),
    service('db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432 }] }),
    service('empty', { clusterIP: 'None', selector: { app: 'none' }, ports: [{ name: 'x', port: 1 }] }),
    service('many', { clusterIP: 'None', selector: { app: 'many' }, ports: [{ name: 'p', port: 1 }] }),
    service('ext', { type: 'ExternalName', externalName: 'www.example.com' }),
    service('alias', { type: 'ExternalName', externalName: `web.default.svc.${Z}` }),
    service('api', { selector: { app: 'api' }, ports: [{ name: 'grpc', port: 9090 }] }, 'other'),
  ];
  for (const s of svcs) await client.create(R.services, s.metadata.namespace, s);
  const slices = [
    slice('web-a', 'web', [{ ip: '127.244.1.2' }, { ip: '127.244.1.3', ready: false }], [{ name: 'http', port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }]),
    slice(
      'db-a',
      'db',
      [
        { ip: '127.244.2.10', hostname: 'db-0' },
        { ip: '127.244.2.11', hostname: 'db-1' },
        { ip: '127.244.2.12', hostname: 'db-2', ready: false },
        { ip: '127.244.2.13' },
      ],
      [{ name: 'pg', port: 5432 }],
    ),
    slice('many-a', 'many', Array.from({ length: 60 }, (_, i) => ({ ip: `127.244.3.${i + 1}` })), [{ name: 'p', port: 1 }]),
  ];
  for (const s of slices) await client.create(R.endpointslices, 'default', s);

  upstream = await startFakeUpstream(
    {
      'www.example.com': [{ name: 'www.example.com', type: 'A', ttl: 300, data: '192.0.2.53' }],
      'example.org': [{ name: 'example.org', type: 'A', ttl: 300, data: '192.0.2.80' }],
      'big.example.net': Array.from({ length: 50 }, (_, i) => ({ name: 'big.example.net', type: 'A', ttl: 60, data: `192.0.2.${i + 1}` }) as Answer),
      '2.0.0.127.in-addr.arpa': [{ name: '2.0.0.127.in-addr.arpa', type: 'PTR', ttl: 60, data: 'elsewhere.example' }],
    },
    { truncateOverUdp: ['big.example.net'] },
  );
  dns = new ClusterDns(client, { host: '127.0.0.1', port: 0, upstream: [`127.0.0.1:${upstream.port}`] });
  port = (await dns.start()).port;
});

after(async () => {
  await dns.stop();
  await upstream.close();
  await t.close();
});

for (const tcp of [false, true]) {
  const via = tcp ? 'TCP' : 'UDP';

  test(`A for a ClusterIP service, authoritative, TTL 5, case-insensitive (${via})`, async () => {
    const r = await query(port, `WeB.Default.svc.${Z}`, 'A', { tcp });
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.flag_aa, true);
    assert.equal(r.flag_qr, true);
    assert.deepEqual(datas(r), [WEB_IP]);
    assert.equal(r.answers![0].name, `WeB.Default.svc.${Z}`, 'the name is echoed as asked');
    assert.equal((r.answers![0] as { ttl: number }).ttl, 5);
    const plain = await query(port, `plain.default.svc.${Z}.`, 'A', { tcp });
    assert.equal(datas(plain).length, 1);
    assert.ok(datas(plain)[0].startsWith('127.'), 'an allocated ClusterIP from the service range');
  });

  test(`NODATA for AAAA of an IPv4 service, with the SOA (${via})`, async () => {
    const r = await query(port, `web.default.svc.${Z}`, 'AAAA', { tcp });
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.answers!.length, 0);
    assert.equal(r.authorities![0].type, 'SOA');
    assert.equal(r.authorities![0].name, Z);
  });

  test(`NXDOMAIN with SOA for names in the cluster domain that do not exist (${via})`, async () => {
    for (const name of [`nope.default.svc.${Z}`, `web.nons.svc.${Z}`, `web.default.svc.${Z}.default.svc.${Z}`, `x.y.${Z}`, `a.b.web.default.svc.${Z}`, `empty.default.svc.${Z}`]) {
      const r = await query(port, name, 'A', { tcp });
      assert.equal(r.rcode, 'NXDOMAIN', name);
      assert.equal(r.flag_aa, true);
      const soa = r.authorities![0] as SoaAnswer;
      assert.equal(soa.type, 'SOA', name);
      assert.equal(soa.data.mname, `ns.dns.${Z}`);
      assert.equal(soa.data.minimum, 5);
    }
    // Empty non-terminals exist: NODATA, not NXDOMAIN.
    for (const name of [`svc.${Z}`, `default.svc.${Z}`, Z]) assert.equal((await query(port, name, 'A', { tcp })).rcode, 'NOERROR', name);
  });

  test(`headless: A records of ready endpoints only; hostnames and dashed IPs (${via})`, async () => {
    const r = await query(port, `db.default.svc.${Z}`, 'A', { tcp });
    assert.deepEqual(datas(r), ['127.244.2.10', '127.244.2.11', '127.244.2.13']);
    assert.deepEqual(datas(await query(port, `db-1.db.default.svc.${Z}`, 'A', { tcp })), ['127.244.2.11']);
    assert.deepEqual(datas(await query(port, `127-244-2-13.db.default.svc.${Z}`, 'A', { tcp })), ['127.244.2.13']);
    assert.equal((await query(port, `db-2.db.default.svc.${Z}`, 'A', { tcp })).rcode, 'NXDOMAIN', 'a not-ready endpoint has no record');
  });

  test(`SRV for a ClusterIP service and a headless one (${via})`, async () => {
    const r = await query(port, `_http._tcp.web.default.svc.${Z}`, 'SRV', { tcp });
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(
      r.answers!.map((a) => (a as SrvAnswer).data),
      [{ priority: 0, weight: 100, port: 80, target: `web.default.svc.${Z}` }],
    );
    assert.deepEqual(
      r.additionals!.filter((a) => a.type === 'A').map((a) => [a.name, (a as { data: string }).data]),
      [[`web.default.svc.${Z}`, WEB_IP]],
    );
    const udp = await query(port, `_dns._udp.web.default.svc.${Z}`, 'SRV', { tcp });
    assert.equal((udp.answers![0] as SrvAnswer).data.port, 53);
    const h = await query(port, `_pg._tcp.db.default.svc.${Z}`, 'SRV', { tcp });
    assert.deepEqual(
      h.answers!.map((a) => `${(a as SrvAnswer).data.port} ${(a as SrvAnswer).data.target} ${(a as SrvAnswer).data.weight}`).sort(),
      [`5432 127-244-2-13.db.default.svc.${Z} 33`, `5432 db-0.db.default.svc.${Z} 33`, `5432 db-1.db.default.svc.${Z} 33`],
    );
    assert.deepEqual(h.additionals!.filter((a) => a.type === 'A').map((a) => (a as { data: string }).data).sort(), ['127.244.2.10', '127.244.2.11', '127.244.2.13']);
    assert.equal((await query(port, `_http._udp.web.default.svc.${Z}`, 'SRV', { tcp })).rcode, 'NXDOMAIN', 'wrong protocol');
    assert.equal((await query(port, `_nope._tcp.web.default.svc.${Z}`, 'SRV', { tcp })).rcode, 'NXDOMAIN');
    assert.equal((await query(port, `_grpc._tcp.api.other.svc.${Z}`, 'SRV', { tcp })).answers!.length, 1);
    assert.equal((await query(port, `_tcp.web.default.svc.${Z}`, 'SRV', { tcp })).rcode, 'NOERROR', '_tcp.<svc> is an empty non-terminal');
  });

  test(`ExternalName: CNAME, chased in the cluster and upstream (${via})`, async () => {
    const c = await query(port, `ext.default.svc.${Z}`, 'CNAME', { tcp });
    assert.deepEqual(c.answers!.map((a) => [a.type, (a as { data: string }).data]), [['CNAME', 'www.example.com']]);
    const a = await query(port, `ext.default.svc.${Z}`, 'A', { tcp });
    assert.deepEqual(a.answers!.map((x) => [x.type, x.name, (x as { data: string }).data]), [
      ['CNAME', `ext.default.svc.${Z}`, 'www.example.com'],
      ['A', 'www.example.com', '192.0.2.53'],
    ]);
    const inCluster = await query(port, `alias.default.svc.${Z}`, 'A', { tcp });
    assert.deepEqual(inCluster.answers!.map((x) => [x.type, (x as { data: string }).data]), [
      ['CNAME', `web.default.svc.${Z}`],
      ['A', WEB_IP],
    ]);
  });

  test(`PTR for cluster IPs and endpoint IPs; other reverse names forwarded (${via})`, async () => {
    const rev = (ip: string) => `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
    assert.deepEqual(datas(await query(port, rev(WEB_IP), 'PTR', { tcp })), [`web.default.svc.${Z}`]);
    assert.deepEqual(datas(await query(port, rev('127.244.2.10'), 'PTR', { tcp })), [`db-0.db.default.svc.${Z}`]);
    assert.deepEqual(datas(await query(port, rev('127.244.1.2'), 'PTR', { tcp })), [`127-244-1-2.web.default.svc.${Z}`]);
    const fwd = await query(port, rev('127.0.0.2'), 'PTR', { tcp });
    assert.deepEqual(datas(fwd), ['elsewhere.example']);
    assert.equal(fwd.flag_aa, false);
  });

  test(`pod records and the schema version (${via})`, async () => {
    assert.deepEqual(datas(await query(port, `127-244-9-7.default.pod.${Z}`, 'A', { tcp })), ['127.244.9.7']);
    assert.equal((await query(port, `127-244-9-7.default.pod.${Z}`, 'AAAA', { tcp })).answers!.length, 0);
    assert.equal((await query(port, `300-1-1-1.default.pod.${Z}`, 'A', { tcp })).rcode, 'NXDOMAIN');
    const v = await query(port, `dns-version.${Z}`, 'TXT', { tcp });
    assert.deepEqual(v.answers!.map((a) => String((a as { data: Buffer[] }).data[0])), ['1.1.0']);
    const soa = await query(port, Z, 'SOA', { tcp });
    assert.equal(soa.answers![0].type, 'SOA');
  });

  test(`names outside the cluster are forwarded upstream (${via})`, async () => {
    const r = await query(port, 'example.org', 'A', { tcp });
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.flag_aa, false);
    assert.deepEqual(datas(r), ['192.0.2.80']);
    assert.ok(upstream.seen.includes(`${tcp ? 'tcp' : 'udp'} example.org A`));
    assert.equal((await query(port, 'missing.example.org', 'A', { tcp })).rcode, 'NXDOMAIN');
  });
}

test('UDP upstream replies that are truncated are retried over TCP', async () => {
  const r = await query(port, 'big.example.net', 'A', { edns: 4096 });
  assert.equal(r.flag_tc, false);
  assert.equal(datas(r).length, 50);
  assert.ok(upstream.seen.includes('udp big.example.net A') && upstream.seen.includes('tcp big.example.net A'));
  // Without EDNS the 512-byte limit applies: the client is told to retry over TCP.
  const small = await query(port, 'big.example.net', 'A');
  assert.equal(small.flag_tc, true);
  assert.equal((small.answers ?? []).length, 0);
});

test('large cluster answers: truncated over plain UDP, whole with EDNS0 or TCP', async () => {
  const plain = await query(port, `many.default.svc.${Z}`, 'A');
  assert.equal(plain.flag_tc, true);
  const edns = await query(port, `many.default.svc.${Z}`, 'A', { edns: 4096 });
  assert.equal(edns.flag_tc, false);
  assert.equal(datas(edns).length, 60);
  const opt = edns.additionals!.find((a) => a.type === 'OPT');
  assert.ok(opt, 'EDNS0 queries get an OPT record back');
  assert.equal(datas(await query(port, `many.default.svc.${Z}`, 'A', { tcp: true })).length, 60);
  // An EDNS version we do not speak: BADVERS (extended rcode 1 → 16).
  const msg = encodeQuery(`web.default.svc.${Z}`, 'A', { edns: 1232 });
  const bad = dnsPacket.decode(Buffer.from(msg)) as dnsPacket.DecodedPacket;
  (bad.additionals![0] as { ednsVersion: number }).ednsVersion = 1;
  const reply = dnsPacket.decode(await rawQuery(port, dnsPacket.encode({ ...bad, type: 'query' }))) as dnsPacket.DecodedPacket;
  assert.equal((reply.additionals!.find((a) => a.type === 'OPT') as { extendedRcode: number }).extendedRcode, 1);
});

test('SERVFAIL when every upstream fails', async () => {
  const dead = await closedPort();
  const lonely = new ClusterDns(client, { host: '127.0.0.1', port: 0, upstream: [`127.0.0.1:${dead}`], upstreamTimeoutMs: 500 });
  const p = (await lonely.start()).port;
  try {
    assert.equal((await query(p, 'example.org', 'A')).rcode, 'SERVFAIL');
    assert.equal((await query(p, 'example.org', 'A', { tcp: true })).rcode, 'SERVFAIL');
    assert.equal((await query(p, `web.default.svc.${Z}`, 'A')).rcode, 'NOERROR', 'cluster names need no upstream');
  } finally {
    await lonely.stop();
  }
});

test('answers follow EndpointSlice and Service changes at once', async () => {
  const before = await query(port, `web.default.svc.${Z}`, 'A');
  assert.deepEqual(datas(before), [WEB_IP]);
  await client.create(R.services, 'default', service('late', { clusterIP: 'None', selector: { app: 'late' }, ports: [{ name: 'p', port: 1 }] }));
  await waitFor(async () => (await query(port, `late.default.svc.${Z}`, 'A')).rcode === 'NXDOMAIN', 'the new headless service (no endpoints yet)');
  await client.create(R.endpointslices, 'default', slice('late-a', 'late', [{ ip: '127.244.4.1' }, { ip: '127.244.4.2', ready: false }], [{ name: 'p', port: 1 }]));
  await waitFor(async () => datas(await query(port, `late.default.svc.${Z}`, 'A')).join() === '127.244.4.1', 'the ready endpoint');
  const cur = await client.get(R.endpointslices, 'default', 'late-a');
  const eps = cur.endpoints as { conditions: { ready: boolean } }[];
  eps[0].conditions.ready = false;
  eps[1].conditions.ready = true;
  await client.update(R.endpointslices, 'default', cur);
  await waitFor(async () => datas(await query(port, `late.default.svc.${Z}`, 'A')).join() === '127.244.4.2', 'readiness flipped');
  await client.delete(R.endpointslices, 'default', 'late-a');
  await waitFor(async () => (await query(port, `late.default.svc.${Z}`, 'A')).rcode === 'NXDOMAIN', 'slice deleted');
  await client.delete(R.services, 'default', 'late');
  await waitFor(async () => (await query(port, `_p._tcp.late.default.svc.${Z}`, 'SRV')).rcode === 'NXDOMAIN', 'service deleted');
});

test('malformed packets are dropped without harm; the server answers after thousands', async () => {
  const sock = dgram.createSocket('udp4');
  let replies = 0;
  sock.on('message', () => replies++);
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const valid = encodeQuery(`web.default.svc.${Z}`, 'A');
  const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, port, '127.0.0.1', () => r()));
  for (let i = 0; i < 4000; i++) {
    let b: Buffer;
    if (i % 2 === 0) b = randomBytes(Math.floor(Math.random() * 300));
    else {
      // A valid query with a few bytes flipped: exercises the decoder past the header.
      b = Buffer.from(valid);
      for (let k = 0; k < 1 + (i % 5); k++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
      b[2] &= 0x7f; // keep QR clear so it reads as a query
    }
    await send(b);
  }
  // Garbage over TCP: bogus lengths, random frames, a frame cut short.
  for (let i = 0; i < 50; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => {
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.on('connect', () => {
        const body = randomBytes(1 + Math.floor(Math.random() * 100));
        const len = Buffer.alloc(2);
        len.writeUInt16BE(i % 3 === 0 ? body.length + 10 : body.length);
        s.end(Buffer.concat([len, body]));
        setTimeout(() => s.destroy(), 50);
      });
    });
  }
  sock.close();
  for (const tcp of [false, true]) assert.deepEqual(datas(await query(port, `web.default.svc.${Z}`, 'A', { tcp })), [WEB_IP]);
  assert.ok(replies < 4000, 'junk is not answered one for one');
});

test('queries it cannot serve get a clean error, responses are never answered', async () => {
  const notify = dnsPacket.decode(encodeQuery(`web.default.svc.${Z}`, 'A'));
  const iquery = dnsPacket.encode({ ...notify, type: 'query', flags: (notify.flags! & ~0x7800) | (4 << 11) }); // opcode NOTIFY
  assert.equal((dnsPacket.decode(await rawQuery(port, iquery)) as unknown as { rcode: string }).rcode, 'NOTIMP');
  const two = dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'a', type: 'A' }, { name: 'b', type: 'A' }] });
  assert.equal((dnsPacket.decode(await rawQuery(port, two)) as unknown as { rcode: string }).rcode, 'FORMERR');
  // A response sent to the server is dropped: the first reply on this socket is the one to the query after it.
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const first = new Promise<Buffer>((r) => sock.once('message', (m) => r(m)));
  sock.send(dnsPacket.encode({ type: 'response', id: 9, questions: [{ name: `web.default.svc.${Z}`, type: 'A' }] }), port, '127.0.0.1');
  sock.send(encodeQuery(`web.default.svc.${Z}`, 'A', {}, 10), port, '127.0.0.1');
  assert.equal(dnsPacket.decode(await first).id, 10);
  sock.close();
});
