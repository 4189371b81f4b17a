import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { T0, cells, defaulted, fields, kind, meta, problems } from './helpers.js';

const RBAC = 'rbac.authorization.k8s.io';

test('RBAC: rule shapes, subject kinds, defaults and roleRef immutability', () => {
  const role = kind(RBAC, 'v1', 'Role');
  assert.deepEqual(problems(role, { metadata: meta('r'), rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }] }), []);
  assert.deepEqual(problems(role, { metadata: meta('r'), rules: [{ verbs: [], nonResourceURLs: ['/healthz'] }] }), [
    'rules[0].verbs: Required value: verbs must contain at least one value',
    'rules[0].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs',
  ]);
  const cr = kind(RBAC, 'v1', 'ClusterRole');
  assert.deepEqual(fields(cr, { metadata: meta('c'), aggregationRule: { clusterRoleSelectors: [] } }), ['aggregationRule.clusterRoleSelectors']);
  assert.deepEqual(cells(cr, { metadata: meta('c') }, T0), { Name: 'c', 'Created At': '2024-01-01T00:00:00Z' });

  const rb = kind(RBAC, 'v1', 'RoleBinding');
  const b = defaulted(rb, {
    metadata: meta('b'),
    roleRef: { kind: 'ClusterRole', name: 'view' },
    subjects: [{ kind: 'User', name: 'jane' }, { kind: 'ServiceAccount', name: 'default', namespace: 'ci' }, { kind: 'Group', name: 'devs' }],
  });
  assert.equal((b.roleRef as any).apiGroup, RBAC);
  assert.equal((b.subjects as any)[0].apiGroup, RBAC);
  assert.equal((b.subjects as any)[1].apiGroup, '');
  assert.deepEqual(problems(rb, b), []);
  assert.deepEqual(cells(rb, b, T0, true), { Name: 'b', Role: 'ClusterRole/view', Age: '0s', Users: 'jane', Groups: 'devs', ServiceAccounts: 'ci:default' });
  const moved = { ...b, roleRef: { ...(b.roleRef as object), name: 'edit' } };
  assert.deepEqual(problems(rb, moved, b), ['roleRef: Invalid value: {"kind":"ClusterRole","name":"edit","apiGroup":"rbac.authorization.k8s.io"}: cannot change roleRef']);
  const crb = kind(RBAC, 'v1', 'ClusterRoleBinding');
  assert.deepEqual(fields(crb, defaulted(crb, { metadata: meta('x'), roleRef: { kind: 'Role', name: 'r' }, subjects: [{ kind: 'ServiceAccount', name: 'sa' }, { kind: 'Robot', name: 'r2' }] })), [
    'roleRef.kind',
    'subjects[0].namespace',
    'subjects[1].kind',
  ]);
});

test('StorageClass: defaults, frozen provisioner/parameters, default marker in the name cell', () => {
  const sc = kind('storage.k8s.io', 'v1', 'StorageClass');
  const s = defaulted(sc, { metadata: meta('standard', { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }), provisioner: 'rancher.io/local-path' });
  assert.equal(s.reclaimPolicy, 'Delete');
  assert.equal(s.volumeBindingMode, 'Immediate');
  assert.deepEqual(problems(sc, s), []);
  assert.deepEqual(cells(sc, s, T0), {
    Name: 'standard (default)',
    Provisioner: 'rancher.io/local-path',
    ReclaimPolicy: 'Delete',
    VolumeBindingMode: 'Immediate',
    AllowVolumeExpansion: false,
    Age: '0s',
  });
  assert.deepEqual(problems(sc, { ...s, provisioner: 'other.io/x', parameters: { a: 'b' } }, s), [
    'parameters: Forbidden: updates to parameters are forbidden.',
    'provisioner: Forbidden: updates to provisioner are forbidden.',
  ]);
  assert.deepEqual(fields(sc, { metadata: meta('x'), reclaimPolicy: 'Recycle' }), ['provisioner', 'reclaimPolicy']);
});

test('Ingress: hosts, wildcards, path types and backends', () => {
  const ing = kind('networking.k8s.io', 'v1', 'Ingress');
  const backend = { service: { name: 'web', port: { number: 80 } } };
  const good: KObject = {
    metadata: meta('web'),
    spec: {
      ingressClassName: 'nginx',
      tls: [{ hosts: ['a.example.com'] }],
      rules: [
        { host: '*.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend }] } },
        { host: 'b.example.com', http: { paths: [{ path: '/api', pathType: 'Exact', backend: { service: { name: 'api', port: { name: 'http' } } } }] } },
      ],
    },
    status: { loadBalancer: { ingress: [{ ip: '127.0.0.1' }] } },
  };
  assert.deepEqual(problems(ing, good), []);
  assert.deepEqual(cells(ing, good, T0), { Name: 'web', Class: 'nginx', Hosts: '*.example.com,b.example.com', Address: '127.0.0.1', Ports: '80, 443', Age: '0s' });
  const bad: KObject = {
    metadata: meta('bad'),
    spec: {
      rules: [
        { host: 'foo.*.com', http: { paths: [{ path: 'relative', backend }] } },
        { host: '10.0.0.1', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: {} } } }] } },
        { http: { paths: [{ path: '/', pathType: 'Prefix', backend: { ...backend, resource: { kind: 'Bucket', name: 'b' } } }] } },
      ],
    },
  };
  assert.deepEqual(fields(ing, bad), [
    'spec.rules[0].host',
    'spec.rules[0].http.paths[0].pathType',
    'spec.rules[1].host',
    'spec.rules[1].http.paths[0].backend.service.port',
    'spec.rules[2].http.paths[0].backend',
  ]);
  assert.deepEqual(problems(ing, { metadata: meta('e'), spec: {} }), ['spec: Invalid value: {}: either `defaultBackend` or `rules` must be specified']);
  assert.equal(cells(ing, { metadata: meta('n'), spec: { defaultBackend: backend } }, T0).Hosts, '*');
});

test('IngressClass and NetworkPolicy', () => {
  const ic = kind('networking.k8s.io', 'v1', 'IngressClass');
  const c = defaulted(ic, { metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx', parameters: { kind: 'Cfg', apiGroup: 'x.io', name: 'p' } } });
  assert.equal((c.spec as any).parameters.scope, 'Cluster');
  assert.deepEqual(cells(ic, c, T0), { Name: 'nginx', Controller: 'k8s.io/ingress-nginx', Parameters: 'Cfg.x.io/p', Age: '<unknown>' });
  assert.deepEqual(fields(ic, { ...c, spec: { ...(c.spec as object), controller: 'other/x' } }, c), ['spec.controller']);
  const np = kind('networking.k8s.io', 'v1', 'NetworkPolicy');
  const p = defaulted(np, { metadata: meta('deny'), spec: { podSelector: {}, ingress: [{ ports: [{ port: 80 }], from: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] } });
  assert.deepEqual((p.spec as any).policyTypes, ['Ingress']);
  assert.equal((p.spec as any).ingress[0].ports[0].protocol, 'TCP');
  assert.deepEqual(problems(np, p), []);
  assert.deepEqual(cells(np, p, T0), { Name: 'deny', 'Pod-Selector': '<none>', Age: '0s' });
  const bad = { metadata: meta('b'), spec: { podSelector: {}, egress: [{ to: [{}, { ipBlock: { cidr: 'nope' }, podSelector: {} }] }] } };
  assert.deepEqual(fields(np, bad), ['spec.egress[0].to[0]', 'spec.egress[0].to[1]', 'spec.egress[0].to[1].ipBlock.cidr']);
});

test('PodDisruptionBudget: one of minAvailable/maxUnavailable, table cells', () => {
  const pdb = kind('policy', 'v1', 'PodDisruptionBudget');
  const p: KObject = { metadata: meta('web'), spec: { minAvailable: '50%', selector: { matchLabels: { app: 'web' } } }, status: { disruptionsAllowed: 1 } };
  assert.deepEqual(problems(pdb, p), []);
  assert.deepEqual(cells(pdb, p, T0), { Name: 'web', 'Min Available': '50%', 'Max Unavailable': 'N/A', 'Allowed Disruptions': 1, Age: '0s' });
  assert.deepEqual(fields(pdb, { metadata: meta('x'), spec: { minAvailable: 1, maxUnavailable: '150%' } }), ['spec', 'spec.maxUnavailable']);
  assert.deepEqual(fields(pdb, { metadata: meta('x'), spec: { minAvailable: 'lots' } }), ['spec.minAvailable']);
  assert.deepEqual(pdb.subresources, { status: true });
});

test('PriorityClass: value immutable, system prefix reserved, preemption default', () => {
  const pc = kind('scheduling.k8s.io', 'v1', 'PriorityClass');
  const c = defaulted(pc, { metadata: { name: 'high' }, value: 1000, globalDefault: false });
  assert.equal(c.preemptionPolicy, 'PreemptLowerPriority');
  assert.deepEqual(problems(pc, c), []);
  assert.deepEqual(problems(pc, { ...c, value: 2000 }, c), ['value: Forbidden: may not be changed in an update.']);
  assert.deepEqual(fields(pc, { metadata: { name: 'system-mine' }, value: 5 }), ['metadata.name']);
  assert.deepEqual(fields(pc, { metadata: { name: 'huge' }, value: 2_000_000_000 }), ['value']);
  assert.deepEqual(cells(pc, c, T0), { Name: 'high', Value: 1000, 'Global-Default': false, Age: '<unknown>', PreemptionPolicy: 'PreemptLowerPriority' });
});

test('EndpointSlice: addressType required and immutable, ports/endpoints cells', () => {
  const es = kind('discovery.k8s.io', 'v1', 'EndpointSlice');
  const s = defaulted(es, {
    metadata: meta('web-abc'),
    addressType: 'IPv4',
    endpoints: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((a) => ({ addresses: [a] })),
    ports: [{ port: 80 }],
  });
  assert.deepEqual((s.ports as any)[0], { port: 80, name: '', protocol: 'TCP' });
  assert.deepEqual(problems(es, s), []);
  assert.deepEqual(cells(es, s, T0), { Name: 'web-abc', AddressType: 'IPv4', Ports: '80', Endpoints: '10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...', Age: '0s' });
  assert.deepEqual(fields(es, { ...s, addressType: 'IPv6' }, s), ['endpoints[0].addresses[0]', 'endpoints[1].addresses[0]', 'endpoints[2].addresses[0]', 'endpoints[3].addresses[0]', 'addressType']);
  assert.deepEqual(problems(es, { metadata: meta('x') }), ['addressType: Required value']);
  assert.equal(cells(es, { metadata: meta('x'), addressType: 'IPv4' }, T0).Endpoints, '<unset>');
});

test('Lease: holder column and duration checks', () => {
  const lease = kind('coordination.k8s.io', 'v1', 'Lease');
  const l = { metadata: meta('node1'), spec: { holderIdentity: 'node1', leaseDurationSeconds: 40 } };
  assert.deepEqual(problems(lease, l), []);
  assert.deepEqual(cells(lease, l, T0), { Name: 'node1', Holder: 'node1', Age: '0s' });
  assert.deepEqual(fields(lease, { metadata: meta('x'), spec: { leaseDurationSeconds: 0, holderIdentity: 5 } }), ['spec.leaseDurationSeconds', 'spec.holderIdentity']);
});
