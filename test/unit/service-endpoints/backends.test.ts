import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import {
  addressesFromSlices,
  backendsByPort,
  backendsFromEndpoints,
  backendsFromSlices,
  endpointConditions,
  podBackends,
  resolveTargetPort,
  usableBackends,
} from '../../../src/controllers/service-backends.js';
import { desiredSliceGroups, planEndpointSlices } from '../../../src/controllers/endpointslice.js';

function svc(spec: Record<string, unknown>, name = 'web'): KObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: 'svc-uid', creationTimestamp: '2024-01-01T00:00:00Z' }, spec };
}

function pod(name: string, ip: string, o: { ready?: boolean; ports?: unknown[]; terminating?: boolean; phase?: string; labels?: Record<string, string>; spec?: Record<string, unknown> } = {}): KObject {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: o.labels ?? { app: 'web' }, ...(o.terminating ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
    spec: { nodeName: 'n1', containers: [{ name: 'c', ports: o.ports ?? [] }], ...(o.spec ?? {}) },
    status: { phase: o.phase ?? 'Running', podIP: ip, podIPs: ip ? [{ ip }] : [], conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

test('named target ports resolve per pod and protocol; numeric ones as is', () => {
  const p = pod('a', '10.0.0.1', { ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 5353 }, { name: 'http', containerPort: 8080 }] });
  assert.equal(resolveTargetPort(p, { targetPort: 'http', protocol: 'TCP' }), 8080);
  assert.equal(resolveTargetPort(p, { targetPort: 'dns', protocol: 'UDP' }), 53);
  assert.equal(resolveTargetPort(p, { targetPort: 'dns', protocol: 'TCP' }), undefined);
  assert.equal(resolveTargetPort(p, { targetPort: 9000, protocol: 'TCP' }), 9000);
  const sidecar = pod('b', '10.0.0.2', { spec: { initContainers: [{ name: 'proxy', restartPolicy: 'Always', ports: [{ name: 'proxy', containerPort: 15001 }] }] } });
  assert.equal(resolveTargetPort(sidecar, { targetPort: 'proxy', protocol: 'TCP' }), 15001);
});

test('conditions as upstream: ready, serving, terminating; publishNotReadyAddresses', () => {
  const s = svc({ selector: { app: 'web' }, ports: [{ port: 80 }] });
  assert.deepEqual(endpointConditions(pod('a', '1.1.1.1'), s), { ready: true, serving: true, terminating: false });
  assert.deepEqual(endpointConditions(pod('a', '1.1.1.1', { ready: false }), s), { ready: false, serving: false, terminating: false });
  assert.deepEqual(endpointConditions(pod('a', '1.1.1.1', { terminating: true }), s), { ready: false, serving: true, terminating: true });
  const pub = svc({ selector: { app: 'web' }, ports: [{ port: 80 }], publishNotReadyAddresses: true });
  assert.deepEqual(endpointConditions(pod('a', '1.1.1.1', { ready: false, terminating: true }), pub), { ready: true, serving: true, terminating: true });
});

test('which pods back a service', () => {
  const s = svc({ selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] });
  const pods = [
    pod('b', '10.0.0.10', { ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('a', '10.0.0.9', { ports: [{ name: 'http', containerPort: 9090 }], ready: false }),
    pod('noip', ''),
    pod('done', '10.0.0.3', { phase: 'Succeeded' }),
    pod('other', '10.0.0.4', { labels: { app: 'db' } }),
    pod('gone', '10.0.0.5', { terminating: true, ports: [{ name: 'http', containerPort: 8080 }] }),
  ];
  assert.deepEqual(podBackends(s, pods).map((b) => b.targetRef.name), ['gone', 'a', 'b']);
  assert.deepEqual(podBackends(s, pods, { includeTerminating: false }).map((b) => b.targetRef.name), ['a', 'b']);
  const http = backendsByPort(s, pods).get('http')!;
  assert.deepEqual(http.map((b) => `${b.ip}:${b.port}:${b.ready}`), ['10.0.0.5:8080:false', '10.0.0.9:9090:false', '10.0.0.10:8080:true']);
  assert.deepEqual(usableBackends(http).map((b) => b.ip), ['10.0.0.10']);
  assert.deepEqual(podBackends(svc({ ports: [{ port: 80 }] }), pods), []); // no selector
  assert.deepEqual(podBackends(svc({ type: 'ExternalName', externalName: 'x.example', selector: { app: 'web' } }), pods), []);
  const headless = svc({ clusterIP: 'None', selector: { app: 'web' } }, 'db');
  const sts = pod('db-0', '10.0.0.7', { spec: { hostname: 'db-0', subdomain: 'db' } });
  assert.equal(podBackends(headless, [sts])[0].hostname, 'db-0');
  assert.equal(podBackends(s, [sts])[0].hostname, undefined);
});

test('readers: slices and Endpoints to backends', () => {
  const slice = (name: string, endpoints: unknown[], ports: unknown[]): KObject => ({ metadata: { name, namespace: 'default' }, addressType: 'IPv4', endpoints, ports });
  const slices = [
    slice('web-b', [{ addresses: ['10.0.0.2'], conditions: { ready: true }, nodeName: 'n2', zone: 'z' }], [{ name: 'http', port: 8080, protocol: 'TCP' }]),
    slice('web-a', [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'], conditions: { ready: false } }, { addresses: ['10.0.0.3'], conditions: { ready: false, serving: true, terminating: true } }], [{ name: 'http', port: 8080, protocol: 'TCP' }]),
    { ...slice('fqdn', [{ addresses: ['example.com'] }], [{ name: 'http', port: 80 }]), addressType: 'FQDN' },
  ];
  const http = backendsFromSlices(slices).get('http')!;
  // nil conditions read as ready; a duplicate keeps its first listing (slices in name order).
  assert.deepEqual(http.map((b) => `${b.ip}:${b.port}:${b.ready}:${b.serving}:${b.terminating}`), ['10.0.0.1:8080:true:true:false', '10.0.0.2:8080:false:false:false', '10.0.0.3:8080:false:true:true']);
  assert.deepEqual(usableBackends(http).map((b) => b.ip), ['10.0.0.1']);
  assert.deepEqual(usableBackends(http.filter((b) => b.ip !== '10.0.0.1')).map((b) => b.ip), ['10.0.0.3']); // terminating fallback
  assert.deepEqual(addressesFromSlices(slices).map((a) => a.ip), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  const ep: KObject = {
    metadata: { name: 'manual' },
    subsets: [{ addresses: [{ ip: '10.1.0.1' }], notReadyAddresses: [{ ip: '10.1.0.2' }], ports: [{ name: 'a', port: 80, protocol: 'TCP' }] }],
  };
  assert.deepEqual(backendsFromEndpoints(ep).get('a')!.map((b) => `${b.ip}:${b.ready}`), ['10.1.0.1:true', '10.1.0.2:false']);
});

test('slice planning: fill slices being written, then the fullest that fits, then new ones', () => {
  const s = svc({ selector: { app: 'web' }, ports: [{ port: 80 }] });
  const pods = Array.from({ length: 5 }, (_, i) => pod(`p${i}`, `10.0.0.${i + 1}`));
  const first = planEndpointSlices(s, [], desiredSliceGroups(s, podBackends(s, pods)), 2);
  assert.deepEqual(first.create.map((x) => (x.endpoints as unknown[]).length), [2, 2, 1]);
  assert.equal(first.update.length + first.delete.length, 0);
  const existing = first.create.map((x, i) => ({ ...x, metadata: { ...x.metadata, name: `web-${i}`, resourceVersion: '1' } }));
  // Same state: nothing to do.
  const same = planEndpointSlices(s, existing, desiredSliceGroups(s, podBackends(s, pods)), 2);
  assert.deepEqual([same.create.length, same.update.length, same.delete.length], [0, 0, 0]);
  // p0 unready: its slice is updated in place, nothing else.
  const changed = pods.map((p, i) => (i === 0 ? pod('p0', '10.0.0.1', { ready: false }) : p));
  const upd = planEndpointSlices(s, existing, desiredSliceGroups(s, podBackends(s, changed)), 2);
  assert.deepEqual(upd.update.map((x) => x.metadata.name), ['web-0']);
  assert.equal(upd.create.length + upd.delete.length, 0);
  // A new pod goes into the slice with room, not a new one.
  const more = [...pods, pod('p5', '10.0.0.6')];
  const add = planEndpointSlices(s, existing, desiredSliceGroups(s, podBackends(s, more)), 2);
  assert.deepEqual(add.update.map((x) => x.metadata.name), ['web-2']);
  assert.equal(add.create.length, 0);
  // Slices of a previous Service with the same name are replaced.
  const foreign = { ...existing[0], metadata: { ...existing[0].metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'old', controller: true }] } };
  const repl = planEndpointSlices(s, [foreign], desiredSliceGroups(s, podBackends(s, pods.slice(0, 1))), 2);
  assert.deepEqual([repl.create.length, repl.delete.map((x) => x.metadata.name)], [1, ['web-0']]);
});
