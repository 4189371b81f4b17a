// ClusterZone without sockets: IPv6 records and reverse names, CNAME chains, slice relabelling.
import { test } from 'node:test';
import type { Answer } from 'dns-packet';
import assert from 'node:assert/strict';
import { canonicalIP, ClusterZone, reverseToIP, RCODE } from '../../../src/dns/zone.js';
import { service, slice } from './helpers.js';

const data = (a: Answer[]) => a.map((x) => ('data' in x ? x.data : undefined));

test('address helpers: canonical IPv6, reverse names', () => {
  assert.equal(canonicalIP('fd00::1'), 'fd00:0000:0000:0000:0000:0000:0000:0001');
  assert.equal(canonicalIP('::ffff:127.0.0.1'), '0000:0000:0000:0000:0000:ffff:7f00:0001');
  assert.equal(canonicalIP('nope'), undefined);
  assert.equal(reverseToIP('4.3.2.1.in-addr.arpa'), '1.2.3.4');
  assert.equal(reverseToIP('3.2.1.in-addr.arpa'), undefined);
  assert.equal(reverseToIP('999.3.2.1.in-addr.arpa'), undefined);
  const v6 = '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa';
  assert.equal(canonicalIP(reverseToIP(v6)!), canonicalIP('fd00::1'));
});

test('IPv6 services: AAAA, ip6.arpa PTR, IPv6 pod records', () => {
  const z = new ClusterZone('cluster.local');
  z.setService(service('v6', { clusterIP: 'fd00::a', clusterIPs: ['fd00::a'], ipFamilies: ['IPv6'], ports: [{ port: 80 }] }));
  assert.deepEqual(data(z.resolve('v6.default.svc.cluster.local', 'AAAA')!.answers), ['fd00::a']);
  assert.equal(z.resolve('v6.default.svc.cluster.local', 'A')!.answers.length, 0);
  const rev = `${[...canonicalIP('fd00::a')!.replace(/:/g, '')].reverse().join('.')}.ip6.arpa`;
  assert.deepEqual(data(z.resolve(rev, 'PTR')!.answers), ['v6.default.svc.cluster.local']);
  assert.deepEqual(data(z.resolve('fd00--7.default.pod.cluster.local', 'AAAA')!.answers), ['fd00::7']);
  assert.equal(z.resolve('1.0.0.10.in-addr.arpa', 'PTR'), undefined, 'unknown reverse names are not ours');
  assert.equal(z.resolve('example.com', 'A'), undefined);
});

test('ExternalName loops stop at the CNAME; other zones and custom domains', () => {
  const z = new ClusterZone('corp.example.');
  z.setService(service('a', { type: 'ExternalName', externalName: 'b.default.svc.corp.example' }));
  z.setService(service('b', { type: 'ExternalName', externalName: 'a.default.svc.corp.example.' }));
  const r = z.resolve('a.default.svc.corp.example', 'A')!;
  assert.equal(r.rcode, RCODE.NOERROR);
  assert.ok(r.answers.length >= 2 && r.answers.every((x) => x.type === 'CNAME'));
  assert.equal(z.resolve('a.default.svc.cluster.local', 'A'), undefined, 'cluster.local is not this zone');
  assert.equal(z.resolve('a.default.svc.corp.example', 'TXT')!.chase, undefined, 'only address questions are chased upstream');
});

test('a slice whose service-name label changes moves to the other Service', () => {
  const z = new ClusterZone();
  z.setService(service('one', { clusterIP: 'None', ports: [{ port: 1 }] }));
  z.setService(service('two', { clusterIP: 'None', ports: [{ port: 1 }] }));
  const s = slice('s', 'one', [{ ip: '127.244.0.5' }], [{ port: 1 }]);
  z.setSlice(s);
  assert.deepEqual(data(z.resolve('one.default.svc.cluster.local', 'A')!.answers), ['127.244.0.5']);
  z.setSlice({ ...s, metadata: { ...s.metadata, labels: { 'kubernetes.io/service-name': 'two' } } });
  assert.equal(z.resolve('one.default.svc.cluster.local', 'A')!.rcode, RCODE.NXDOMAIN);
  assert.deepEqual(data(z.resolve('two.default.svc.cluster.local', 'A')!.answers), ['127.244.0.5']);
  z.deleteSlice(s);
  assert.equal(z.resolve('two.default.svc.cluster.local', 'A')!.rcode, RCODE.NXDOMAIN);
  z.deleteService(service('two', {}));
  z.deleteService(service('one', {}));
  assert.equal(z.resolve('default.svc.cluster.local', 'A')!.rcode, RCODE.NXDOMAIN, 'a namespace without Services');
});
