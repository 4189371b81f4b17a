import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { serviceKind, prepareServiceUpdate, servicePortsCell, serviceExternalIPCell } from '../../../src/api/core/v1/service.js';
import { ClusterIPAllocator, NodePortAllocator, AllocationError } from '../../../src/api/core/v1/service-allocator.js';

const NOW = Date.parse('2024-06-01T12:00:00Z');

function svc(spec: unknown, extra: Partial<KObject> = {}): KObject {
  const s: KObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-06-01T11:58:00Z' }, spec: structuredClone(spec), ...extra };
  serviceKind.defaults!(s);
  return s;
}
const errs = (o: KObject, old?: KObject) => serviceKind.validate!(o, old).map(String);

test('minimal service defaults', () => {
  const s = svc({ selector: { app: 'web' }, ports: [{ port: 80 }] });
  assert.deepEqual(s.spec, {
    selector: { app: 'web' },
    ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
    type: 'ClusterIP',
    sessionAffinity: 'None',
    ipFamilyPolicy: 'SingleStack',
    ipFamilies: ['IPv4'],
    internalTrafficPolicy: 'Cluster',
  });
  assert.deepEqual(errs(s), []);
  const np = svc({ type: 'NodePort', ports: [{ port: 80, targetPort: 'http' }] });
  assert.equal((np.spec as any).externalTrafficPolicy, 'Cluster');
  assert.equal((np.spec as any).ports[0].targetPort, 'http');
  const en = svc({ type: 'ExternalName', externalName: 'db.example.com.' });
  assert.equal((en.spec as any).ipFamilies, undefined);
  assert.deepEqual(errs(en), []);
  assert.deepEqual(serviceKind.nameValidator!('1abc').length > 0, true);
});

test('service validation errors', () => {
  assert.deepEqual(errs(svc({})), ['spec.ports: Required value']);
  assert.deepEqual(errs(svc({ clusterIP: 'None' })), []);
  assert.deepEqual(errs(svc({ type: 'ExternalName' })), ['spec.externalName: Required value']);
  assert.deepEqual(errs(svc({ type: 'Fancy', ports: [{ port: 80 }] })), [
    'spec.type: Unsupported value: "Fancy": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
  ]);
  const e = errs(svc({ ports: [{ port: 80 }, { port: 0, name: 'b', nodePort: 30001 }, { port: 80, name: 'b' }] }));
  assert.ok(e.includes('spec.ports[0].name: Required value'), e.join('\n'));
  assert.ok(e.includes('spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive'));
  assert.ok(e.includes("spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"));
  assert.ok(e.includes('spec.ports[2].name: Duplicate value: "b"'));
  assert.ok(e.some((x) => x.startsWith('spec.ports[2]: Duplicate value')));
  assert.deepEqual(errs(svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] })), [
    'spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767',
  ]);
  assert.deepEqual(errs(svc({ clusterIP: '10.0.0.300', ports: [{ port: 80 }] })), [
    'spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ]);
});

test('cluster IP may not change; omitted values are carried over', () => {
  const old = svc({ clusterIP: '10.96.0.10', ports: [{ port: 80, name: 'http' }], type: 'NodePort' });
  (old.spec as any).ports[0].nodePort = 30080;
  const changed = structuredClone(old);
  (changed.spec as any).clusterIP = '10.96.0.11';
  (changed.spec as any).clusterIPs = ['10.96.0.11'];
  assert.deepEqual(errs(changed, old), ['spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set']);

  // `kubectl apply` of the original manifest: no clusterIP, no nodePort.
  const applied: KObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort', ports: [{ port: 81, name: 'http' }] } };
  prepareServiceUpdate(applied, old);
  serviceKind.defaults!(applied);
  assert.equal((applied.spec as any).clusterIP, '10.96.0.10');
  assert.equal((applied.spec as any).ports[0].nodePort, 30080);
  assert.deepEqual(errs(applied, old), []);

  // Switching to ExternalName releases the IP and is allowed.
  const toExt = structuredClone(old);
  (toExt.spec as any).type = 'ExternalName';
  (toExt.spec as any).externalName = 'example.com';
  prepareServiceUpdate(toExt, old);
  assert.deepEqual(errs(toExt, old), []);
  assert.equal((toExt.spec as any).clusterIP, undefined);
  assert.equal((toExt.spec as any).ports[0].nodePort, undefined);
});

test('service table cells', () => {
  const cols = serviceKind.table!.map((c) => c.name);
  assert.deepEqual(cols, ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector']);
  const s = svc({ type: 'NodePort', clusterIP: '10.96.0.5', selector: { tier: 'fe', app: 'web' }, ports: [{ name: 'a', port: 80, nodePort: 30080 }, { name: 'b', port: 53, protocol: 'UDP' }] });
  assert.deepEqual(
    serviceKind.table!.map((c) => c.cell(s, NOW)),
    ['web', 'NodePort', '10.96.0.5', '<none>', '80:30080/TCP,53/UDP', '2m', 'app=web,tier=fe'],
  );
  const lb = svc({ type: 'LoadBalancer', ports: [{ port: 443 }] });
  assert.equal(serviceExternalIPCell(lb), '<pending>');
  lb.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } };
  assert.equal(serviceExternalIPCell(lb), '1.2.3.4');
  const headless = svc({ clusterIP: 'None' });
  assert.equal(serviceKind.table![2].cell(headless, NOW), 'None');
  assert.equal(servicePortsCell(headless), '<none>');
  const ext = svc({ type: 'ExternalName', externalName: 'db.example.com' });
  assert.equal(serviceExternalIPCell(ext), 'db.example.com');
  assert.equal(serviceKind.table![2].cell(ext, NOW), '<none>');
});

test('ClusterIPAllocator reserves the first address and honours the range', () => {
  const a = new ClusterIPAllocator('10.96.0.0/29'); // usable .1-.6, .1 reserved
  assert.equal(a.kubernetesServiceIP, '10.96.0.1');
  a.allocateSpecific('10.96.0.1');
  const got = [a.allocate(), a.allocate(), a.allocate(), a.allocate(), a.allocate()];
  assert.deepEqual(got, ['10.96.0.2', '10.96.0.3', '10.96.0.4', '10.96.0.5', '10.96.0.6']);
  assert.throws(() => a.allocate(), (e: unknown) => e instanceof AllocationError && e.reason === 'full');
  assert.throws(() => a.allocateSpecific('10.96.0.3'), /provided IP is already allocated/);
  assert.throws(() => a.allocateSpecific('10.96.0.7'), /not in the valid range/); // broadcast
  assert.throws(() => a.allocateSpecific('10.96.0.0'), /not in the valid range/); // network
  a.release('10.96.0.4');
  assert.equal(a.allocate(), '10.96.0.4');
  assert.throws(() => new ClusterIPAllocator('nonsense'), AllocationError);
});

test('NodePortAllocator', () => {
  const n = new NodePortAllocator(30000, 30002);
  n.allocateSpecific(30001);
  assert.equal(n.allocate(), 30000);
  assert.equal(n.allocate(), 30002);
  assert.throws(() => n.allocate(), /range is full/);
  assert.throws(() => n.allocateSpecific(30001), /provided port is already allocated/);
  assert.throws(() => n.allocateSpecific(80), /The range of valid ports is 30000-30002/);
  n.release(30001);
  assert.equal(n.allocate(), 30001);
});
