import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import type { KindSpec } from '../../../src/api/types.js';
import { coreV1Kinds } from '../../../src/api/core/v1/index.js';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const kind = (k: string) => coreV1Kinds.find((s) => s.kind === k)!;
const obj = (k: string, body: Record<string, unknown>, meta: Record<string, unknown> = {}): KObject => ({
  apiVersion: 'v1',
  kind: k,
  metadata: { name: 'x', namespace: 'default', creationTimestamp: '2024-06-01T11:00:00Z', ...meta },
  ...structuredClone(body),
});
const cells = (spec: KindSpec, o: KObject) => spec.table!.map((c) => c.cell(o, NOW));
const errs = (spec: KindSpec, o: KObject, old?: KObject) => spec.validate!(o, old).map(String);

test('registry metadata', () => {
  const short = Object.fromEntries(coreV1Kinds.map((k) => [k.kind, k.shortNames?.[0]]));
  assert.deepEqual(short, {
    Namespace: 'ns', Node: 'no', Pod: 'po', Service: 'svc', Endpoints: 'ep', ConfigMap: 'cm', Secret: undefined,
    ServiceAccount: 'sa', Event: 'ev', ResourceQuota: 'quota', LimitRange: 'limits', PersistentVolume: 'pv', PersistentVolumeClaim: 'pvc',
  });
  assert.deepEqual(coreV1Kinds.filter((k) => !k.namespaced).map((k) => k.kind), ['Namespace', 'Node', 'PersistentVolume']);
  for (const k of coreV1Kinds) assert.equal(k.table!.filter((c) => c.format === 'name').length, 1, k.kind);
});

test('namespace: defaults, name rule, table', () => {
  const ns = kind('Namespace');
  const o = obj('Namespace', {}, { namespace: undefined, name: 'team-a' });
  ns.defaults!(o);
  ns.prepareForCreate!(o);
  assert.equal((o.status as any).phase, 'Active');
  assert.deepEqual((o.spec as any).finalizers, ['kubernetes']);
  assert.equal(o.metadata.labels!['kubernetes.io/metadata.name'], 'team-a');
  assert.ok(ns.nameValidator!('a.b').length > 0);
  assert.deepEqual(cells(ns, o), ['team-a', 'Active', '60m']);
  assert.equal(ns.fieldSelectors!['status.phase'](o), 'Active');
});

test('node: status, roles and wide columns', () => {
  const no = kind('Node');
  const n = obj('Node', {
    spec: { unschedulable: true },
    status: {
      conditions: [{ type: 'Ready', status: 'True' }],
      addresses: [{ type: 'InternalIP', address: '192.168.1.10' }],
      nodeInfo: { kubeletVersion: 'v1.32.0', osImage: 'Skiff', kernelVersion: '6.1', containerRuntimeVersion: 'skiff://1' },
    },
  }, { labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/etcd': '' } });
  assert.deepEqual(cells(no, n), ['x', 'Ready,SchedulingDisabled', 'control-plane,etcd', '60m', 'v1.32.0', '192.168.1.10', '<none>', 'Skiff', '6.1', 'skiff://1']);
  const bare = obj('Node', { status: { conditions: [{ type: 'Ready', status: 'False' }] } });
  assert.deepEqual(cells(no, bare).slice(1, 3), ['NotReady', '<none>']);
  assert.equal(no.fieldSelectors!['spec.unschedulable'](n), 'true');
  assert.deepEqual(errs(no, obj('Node', { spec: { taints: [{ key: 'k', effect: 'Sometimes' }] } })), [
    'spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"',
  ]);
});

test('endpoints cell truncates after three', () => {
  const ep = kind('Endpoints');
  const o = obj('Endpoints', {
    subsets: [{ addresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((ip) => ({ ip })), ports: [{ port: 80 }] }],
  });
  ep.defaults!(o);
  assert.deepEqual(cells(ep, o), ['x', '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...', '60m']);
  assert.equal(cells(ep, obj('Endpoints', {}))[1], '<none>');
  assert.deepEqual(errs(ep, o), []);
  assert.deepEqual(errs(ep, obj('Endpoints', { subsets: [{ addresses: [{ ip: 'nope' }] }] })), [
    'subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ]);
});

test('configmap: keys, size, immutability', () => {
  const cm = kind('ConfigMap');
  const o = obj('ConfigMap', { data: { 'a.txt': 'hi', 'bad/key': 'x' }, binaryData: { 'a.txt': 'aGk=' } });
  const e = errs(cm, o);
  assert.ok(e.some((x) => x.startsWith('data[bad/key]: Invalid value: "bad/key": a valid config key must consist of alphanumeric characters')), e.join('\n'));
  assert.ok(e.includes('binaryData: Invalid value: "a.txt": duplicate of key present in data'));
  assert.ok(errs(cm, obj('ConfigMap', { data: { big: 'x'.repeat(1024 * 1024) } })).some((x) => x.includes('Too long')));
  const frozen = obj('ConfigMap', { data: { a: '1' }, immutable: true });
  assert.deepEqual(errs(cm, obj('ConfigMap', { data: { a: '2' }, immutable: true }), frozen), ['data: Forbidden: field is immutable when `immutable` is set']);
  assert.deepEqual(cells(cm, o), ['x', 3, '60m']);
});

test('secret: defaults, base64, typed keys, immutable type', () => {
  const sec = kind('Secret');
  const o = obj('Secret', { stringData: { user: 'admin' } });
  sec.defaults!(o);
  assert.equal(o.type, 'Opaque');
  assert.deepEqual(o.data, { user: 'YWRtaW4=' });
  assert.equal(o.stringData, undefined);
  assert.deepEqual(errs(sec, o), []);
  assert.deepEqual(cells(sec, o), ['x', 'Opaque', 1, '60m']);
  assert.equal(sec.fieldSelectors!.type(o), 'Opaque');
  assert.deepEqual(errs(sec, obj('Secret', { type: 'Opaque', data: { a: 'not base64!' } })), [
    'data[a]: Invalid value: "<value omitted>": must be valid base64 data',
  ]);
  assert.deepEqual(errs(sec, obj('Secret', { type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==' } })), ['data[tls.key]: Required value']);
  const dcj = obj('Secret', { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from('{oops').toString('base64') } });
  assert.equal(errs(sec, dcj).length, 1);
  assert.deepEqual(errs(sec, obj('Secret', { type: 'kubernetes.io/tls-other' }), obj('Secret', { type: 'Opaque' })), [
    'type: Invalid value: "kubernetes.io/tls-other": field is immutable',
  ]);
});

test('service account and event tables', () => {
  assert.deepEqual(cells(kind('ServiceAccount'), obj('ServiceAccount', { secrets: [{ name: 'a' }] })), ['x', 1, '60m']);
  const ev = kind('Event');
  const e = obj('Event', {
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', fieldPath: 'spec.containers{web}' },
    reason: 'Pulled',
    message: ' pulled image \n',
    type: 'Normal',
    source: { component: 'kubelet', host: 'node1' },
    firstTimestamp: '2024-06-01T11:00:00Z',
    lastTimestamp: '2024-06-01T11:59:30Z',
    count: 3,
  }, { name: 'web-1.17a' });
  assert.deepEqual(cells(ev, e), ['30s', 'Normal', 'Pulled', 'pod/web-1', 'spec.containers{web}', 'kubelet, node1', 'pulled image', '60m', 3, 'web-1.17a']);
  assert.equal(ev.fieldSelectors!['involvedObject.name'](e), 'web-1');
  assert.equal(ev.fieldSelectors!.source(e), 'kubelet');
  assert.deepEqual(errs(ev, obj('Event', { involvedObject: { namespace: 'other' } })), ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']);
});

test('resource quota and limit range', () => {
  const rq = kind('ResourceQuota');
  const q = obj('ResourceQuota', {
    spec: { hard: { pods: '2', 'requests.cpu': '1', 'limits.memory': '1Gi', 'count/deployments.apps': '3' } },
    status: { hard: { pods: '2', 'requests.cpu': '1000m', 'limits.memory': '1Gi' }, used: { pods: '1', 'requests.cpu': '500m' } },
  });
  assert.deepEqual(errs(rq, q), []);
  assert.deepEqual(cells(rq, q), ['x', '60m', 'pods: 1/2, requests.cpu: 500m/1', 'limits.memory: 0/1Gi']);
  assert.ok(errs(rq, obj('ResourceQuota', { spec: { hard: { widgets: '1' } } }))[0].includes('must be a standard resource type or fully qualified'));

  const lr = kind('LimitRange');
  const l = obj('LimitRange', { spec: { limits: [{ type: 'Container', max: { cpu: '2' }, min: { memory: '64Mi' } }] } });
  lr.defaults!(l);
  assert.deepEqual((l.spec as any).limits[0].default, { cpu: '2' });
  assert.deepEqual((l.spec as any).limits[0].defaultRequest, { cpu: '2', memory: '64Mi' });
  assert.deepEqual(errs(lr, l), []);
  assert.deepEqual(errs(lr, obj('LimitRange', { spec: { limits: [{ type: 'Container', min: { cpu: '2' }, max: { cpu: '1' } }] } })), [
    'spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1',
  ]);
  assert.deepEqual(cells(lr, l), ['x', '2024-06-01T11:00:00Z']);
});

test('persistent volumes and claims', () => {
  const pv = kind('PersistentVolume');
  const v = obj('PersistentVolume', {
    spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany', 'ReadWriteOnce'], hostPath: { path: '/data' }, storageClassName: 'standard', claimRef: { namespace: 'default', name: 'c' } },
  }, { namespace: undefined });
  pv.defaults!(v);
  assert.deepEqual(errs(pv, v), []);
  v.status = { phase: 'Bound' };
  assert.deepEqual(cells(pv, v), ['x', '1Gi', 'RWO,RWX', 'Retain', 'Bound', 'default/c', 'standard', '<unset>', '', '60m', 'Filesystem']);
  assert.deepEqual(errs(pv, obj('PersistentVolume', { spec: {} })), ['spec.accessModes: Required value', 'spec.capacity: Required value', 'spec: Required value: must specify a volume type']);
  const moved = structuredClone(v);
  (moved.spec as any).hostPath.path = '/other';
  assert.deepEqual(errs(pv, moved, v), ['spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation']);

  const pvc = kind('PersistentVolumeClaim');
  const c = obj('PersistentVolumeClaim', { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
  pvc.defaults!(c);
  assert.deepEqual(errs(pvc, c), []);
  assert.deepEqual(cells(pvc, c), ['x', 'Pending', '', '', '', '', '<unset>', '60m', 'Filesystem']);
  assert.deepEqual(errs(pvc, obj('PersistentVolumeClaim', { spec: { accessModes: ['ReadWriteOnce'] } })), ['spec.resources[storage]: Required value']);
  const bound = structuredClone(c);
  (bound.spec as any).volumeName = 'pv1';
  bound.status = { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] };
  assert.deepEqual(errs(pvc, bound, c), []); // binding sets volumeName once
  assert.deepEqual(cells(pvc, bound).slice(1, 5), ['Bound', 'pv1', '1Gi', 'RWO']);
  const grown = structuredClone(bound);
  (grown.spec as any).resources.requests.storage = '2Gi';
  assert.deepEqual(errs(pvc, grown, bound), []);
  const shrunk = structuredClone(bound);
  (shrunk.spec as any).resources.requests.storage = '512Mi';
  assert.deepEqual(errs(pvc, shrunk, bound), ['spec.resources.requests.storage: Forbidden: field can not be less than previous value']);
  const retargeted = structuredClone(bound);
  (retargeted.spec as any).accessModes = ['ReadWriteMany'];
  assert.match(errs(pvc, retargeted, bound)[0], /^spec: Forbidden: spec is immutable after creation/);
});

test('hostile input never throws', () => {
  const junk: unknown[] = [null, 'str', 42, true, [], [1, 'a', null], { a: null }, { containers: 'x' }, { ports: {} }];
  const fields = ['spec', 'status', 'data', 'binaryData', 'stringData', 'subsets', 'involvedObject', 'secrets', 'type', 'immutable', 'count', 'series', 'eventTime'];
  const nested = (j: unknown) => ({
    containers: [j, { name: j, image: j, ports: j, env: j, resources: j, livenessProbe: j, volumeMounts: j }],
    initContainers: j, volumes: [j, { name: 'v', secret: j }], tolerations: j, ports: [j, { port: j, nodePort: j, targetPort: j }],
    selector: j, clusterIPs: j, capacity: j, accessModes: j, resources: { requests: j }, hard: j, limits: [j, { type: 'Container', max: j }],
    taints: j, unschedulable: j, externalIPs: j, sessionAffinityConfig: j, readinessGates: j,
  });
  for (const spec of coreV1Kinds) {
    for (const j of junk) {
      for (const f of fields) {
        for (const value of [j, nested(j)]) {
          const o = obj(spec.kind, { [f]: structuredClone(value) }, { labels: j as any, deletionTimestamp: j as any, creationTimestamp: j as any });
          const old = obj(spec.kind, { [f]: structuredClone(nested(j)), immutable: true });
          assert.doesNotThrow(() => {
            spec.defaults?.(o);
            spec.prepareForCreate?.(structuredClone(o));
            spec.validate?.(o);
            spec.validate?.(o, old);
            spec.validateStatus?.(o, old);
            for (const c of spec.table ?? []) c.cell(o, NOW);
            for (const fs of Object.values(spec.fieldSelectors ?? {})) fs(o);
          }, `${spec.kind} ${f}=${JSON.stringify(value)}`);
        }
      }
    }
  }
});
