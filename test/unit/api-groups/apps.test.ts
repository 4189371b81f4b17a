import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { T0, cells, container, defaulted, fields, kind, meta, problems } from './helpers.js';

const deploy = kind('apps', 'v1', 'Deployment');
const rs = kind('apps', 'v1', 'ReplicaSet');
const sts = kind('apps', 'v1', 'StatefulSet');
const ds = kind('apps', 'v1', 'DaemonSet');
const cr = kind('apps', 'v1', 'ControllerRevision');

const web = (spec: Record<string, unknown> = {}): KObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: meta('web'),
  spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [container] } }, ...spec },
});

test('Deployment defaults: replicas, rolling update 25%/25%, history, deadline, pod template', () => {
  const d = defaulted(deploy, web());
  const spec = d.spec as any;
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  assert.equal(spec.revisionHistoryLimit, 10);
  assert.equal(spec.progressDeadlineSeconds, 600);
  assert.equal(spec.template.spec.restartPolicy, 'Always');
  assert.deepEqual(problems(deploy, d), []);
  assert.equal(deploy.subresources?.scale?.specReplicasPath, 'spec.replicas');
  assert.deepEqual(deploy.shortNames, ['deploy']);
  assert.deepEqual(deploy.categories, ['all']);
});

test('Deployment Recreate gets no rollingUpdate block', () => {
  const d = defaulted(deploy, web({ strategy: { type: 'Recreate' } }));
  assert.deepEqual((d.spec as any).strategy, { type: 'Recreate' });
});

test('Deployment validation names the failing fields', () => {
  const noSel = defaulted(deploy, web({ selector: undefined }));
  assert.deepEqual(problems(deploy, noSel), ['spec.selector: Required value']);
  const mismatch = defaulted(deploy, web({ selector: { matchLabels: { app: 'other' } } }));
  assert.deepEqual(problems(deploy, mismatch), ['spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`']);
  const zero = defaulted(deploy, web({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '0%' } } }));
  assert.deepEqual(problems(deploy, zero), ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0']);
  const bad = defaulted(deploy, web({ replicas: -1, strategy: { type: 'Blue', rollingUpdate: { maxSurge: '5' } }, minReadySeconds: 700 }));
  assert.deepEqual(fields(deploy, bad).sort(), ['spec.progressDeadlineSeconds', 'spec.replicas', 'spec.strategy.type'].sort());
  const never = defaulted(deploy, web());
  (never.spec as any).template.spec.restartPolicy = 'Never';
  assert.deepEqual(problems(deploy, never), ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']);
  const recreate = defaulted(deploy, web({ strategy: { type: 'Recreate', rollingUpdate: {} } }));
  assert.deepEqual(fields(deploy, recreate), ['spec.strategy.rollingUpdate']);
});

test('Deployment selector is immutable; replicas are not', () => {
  const old = defaulted(deploy, web());
  const scaled = structuredClone(old);
  (scaled.spec as any).replicas = 5;
  assert.deepEqual(problems(deploy, scaled, old), []);
  const moved = structuredClone(old);
  (moved.spec as any).selector = { matchLabels: { app: 'web', tier: 'x' } };
  (moved.spec as any).template.metadata.labels.tier = 'x';
  assert.deepEqual(fields(deploy, moved, old), ['spec.selector']);
  assert.match(problems(deploy, moved, old)[0], /field is immutable/);
});

test('Deployment table: READY UP-TO-DATE AVAILABLE AGE, wide CONTAINERS IMAGES SELECTOR', () => {
  const d = defaulted(deploy, web({ replicas: 3 }));
  d.status = { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 };
  assert.deepEqual(cells(deploy, d, T0 + 5 * 60_000, true), {
    Name: 'web',
    Ready: '2/3',
    'Up-to-date': 3,
    Available: 2,
    Age: '5m',
    Containers: 'app',
    Images: 'nginx:1.25',
    Selector: 'app=web',
  });
  assert.deepEqual(deploy.table!.filter((c) => c.priority === 1).map((c) => c.name), ['Containers', 'Images', 'Selector']);
});

test('ReplicaSet defaults, validation and table', () => {
  const r = defaulted(rs, { ...web(), kind: 'ReplicaSet' });
  assert.equal((r.spec as any).replicas, 1);
  assert.equal((r.spec as any).strategy, undefined);
  assert.deepEqual(problems(rs, r), []);
  r.status = { replicas: 1, readyReplicas: 0 };
  assert.deepEqual(cells(rs, r, T0), { Name: 'web', Desired: 1, Current: 1, Ready: 0, Age: '0s' });
  const empty = defaulted(rs, { ...web({ selector: {} }), kind: 'ReplicaSet' });
  assert.deepEqual(problems(rs, empty), ['spec.selector: Invalid value: {}: empty selector is invalid for deployment']);
});

test('StatefulSet defaults and forbidden spec updates', () => {
  const s = defaulted(sts, {
    ...web({
      serviceName: 'web',
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    }),
    kind: 'StatefulSet',
  });
  const spec = s.spec as any;
  assert.equal(spec.podManagementPolicy, 'OrderedReady');
  assert.deepEqual(spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
  assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
  assert.equal(spec.volumeClaimTemplates[0].spec.volumeMode, 'Filesystem');
  assert.equal(spec.volumeClaimTemplates[0].status.phase, 'Pending');
  assert.deepEqual(problems(sts, s), []);
  const scaled = structuredClone(s);
  (scaled.spec as any).replicas = 3;
  (scaled.spec as any).updateStrategy.rollingUpdate.partition = 1;
  assert.deepEqual(problems(sts, scaled, s), []);
  const renamed = structuredClone(s);
  (renamed.spec as any).serviceName = 'other';
  assert.deepEqual(problems(sts, renamed, s), [
    "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
  ]);
  const bad = structuredClone(s);
  (bad.spec as any).podManagementPolicy = 'Sometimes';
  (bad.spec as any).volumeClaimTemplates[0].spec.accessModes = [];
  assert.deepEqual(fields(sts, bad), ['spec.podManagementPolicy', 'spec.volumeClaimTemplates[0].spec.accessModes']);
  s.status = { readyReplicas: 1 };
  assert.deepEqual(cells(sts, s, T0, true), { Name: 'web', Ready: '1/1', Age: '0s', Containers: 'app', Images: 'nginx:1.25' });
});

test('DaemonSet defaults maxUnavailable 1 / maxSurge 0 and prints node selector', () => {
  const d = defaulted(ds, { ...web(), kind: 'DaemonSet' });
  assert.deepEqual((d.spec as any).updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  assert.equal((d.spec as any).revisionHistoryLimit, 10);
  assert.deepEqual(problems(ds, d), []);
  (d.spec as any).template.spec.nodeSelector = { 'kubernetes.io/os': 'linux' };
  d.status = { desiredNumberScheduled: 2, currentNumberScheduled: 2, numberReady: 1, updatedNumberScheduled: 2, numberAvailable: 1 };
  assert.deepEqual(cells(ds, d, T0), {
    Name: 'web',
    Desired: 2,
    Current: 2,
    Ready: 1,
    'Up-to-date': 2,
    Available: 1,
    'Node Selector': 'kubernetes.io/os=linux',
    Age: '0s',
  });
  const zero = structuredClone(d);
  (zero.spec as any).updateStrategy.rollingUpdate = { maxUnavailable: 0, maxSurge: 0 };
  assert.deepEqual(fields(ds, zero), ['spec.updateStrategy.rollingUpdate.maxUnavailable']);
});

test('ControllerRevision prints its controller and keeps data immutable', () => {
  const c: KObject = {
    metadata: meta('web-abc', { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u', controller: true }] }),
    data: { spec: {} },
    revision: 2,
  };
  assert.deepEqual(cells(cr, c, T0), { Name: 'web-abc', Controller: 'statefulset.apps/web', Revision: 2, Age: '0s' });
  assert.deepEqual(fields(cr, { ...c, data: { spec: { x: 1 } } }, c), ['data']);
  assert.deepEqual(fields(cr, { ...c, revision: -1 }), ['revision']);
});
