import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { allKinds, fields, kind, problems } from './helpers.js';

test('review kinds are virtual and create-only', () => {
  for (const [g, k] of [
    ['authorization.k8s.io', 'SelfSubjectAccessReview'],
    ['authorization.k8s.io', 'SubjectAccessReview'],
    ['authorization.k8s.io', 'LocalSubjectAccessReview'],
    ['authorization.k8s.io', 'SelfSubjectRulesReview'],
    ['authentication.k8s.io', 'TokenReview'],
    ['authentication.k8s.io', 'SelfSubjectReview'],
  ]) {
    const s = kind(g, 'v1', k);
    assert.equal(s.virtual, true, k);
    assert.deepEqual(s.verbs, ['create'], k);
  }
  assert.equal(kind('authorization.k8s.io', 'v1', 'LocalSubjectAccessReview').namespaced, true);
});

test('access review specs', () => {
  const ssar = kind('authorization.k8s.io', 'v1', 'SelfSubjectAccessReview');
  assert.deepEqual(problems(ssar, { metadata: {}, spec: { resourceAttributes: { verb: 'create', resource: 'pods' } } }), []);
  assert.deepEqual(problems(ssar, { metadata: {}, spec: {} }), [
    'spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified',
  ]);
  const sar = kind('authorization.k8s.io', 'v1', 'SubjectAccessReview');
  assert.deepEqual(fields(sar, { metadata: {}, spec: { resourceAttributes: {}, nonResourceAttributes: { path: '/' } } }), ['spec.nonResourceAttributes', 'spec.user']);
  const lsar = kind('authorization.k8s.io', 'v1', 'LocalSubjectAccessReview');
  assert.deepEqual(problems(lsar, { metadata: { namespace: 'a' }, spec: { user: 'jane', resourceAttributes: { namespace: 'b' } } }), [
    'spec.resourceAttributes.namespace: Invalid value: "b": must match metadata.namespace',
  ]);
  const tr = kind('authentication.k8s.io', 'v1', 'TokenReview');
  assert.deepEqual(problems(tr, { metadata: {}, spec: {} }), ['spec.token: Required value']);
  assert.deepEqual(problems(tr, { metadata: {}, spec: { token: 'abc' } }), []);
});

const HOSTILE: unknown[] = [null, 0, -1, 1.5, 'x', '', true, [], [null, 1, 'a', {}], {}, { a: null }, { spec: 1 }, { matchLabels: 5, matchExpressions: [1, { operator: 'In' }] }];

/** Every top-level field and every spec field of each kind set to each hostile value. */
function* hostileObjects(): Generator<KObject> {
  const keys = ['spec', 'status', 'rules', 'subjects', 'roleRef', 'aggregationRule', 'provisioner', 'parameters', 'endpoints', 'ports', 'addressType', 'value', 'regarding', 'series', 'note', 'data', 'revision', 'eventTime', 'deprecatedSource'];
  const specKeys = ['selector', 'template', 'replicas', 'strategy', 'updateStrategy', 'jobTemplate', 'schedule', 'timeZone', 'metrics', 'behavior', 'scaleTargetRef', 'rules', 'tls', 'defaultBackend', 'podSelector', 'ingress', 'egress', 'versions', 'names', 'group', 'minAvailable', 'volumeClaimTemplates', 'persistentVolumeClaimRetentionPolicy', 'parameters', 'resourceAttributes', 'token', 'conversion', 'manualSelector', 'completions'];
  for (const v of HOSTILE) {
    yield { metadata: { name: 'x', namespace: 'default', uid: 'u', labels: v as any, annotations: v as any } };
    yield { metadata: v as any } as KObject;
    for (const k of keys) yield { metadata: { name: 'x', uid: 'u' }, [k]: structuredClone(v) };
    for (const k of specKeys) yield { metadata: { name: 'x', uid: 'u' }, spec: { [k]: structuredClone(v), template: { metadata: { labels: v }, spec: v } } };
  }
}

test('hostile input never throws from defaults, validation, conversion or table cells', () => {
  for (const spec of allKinds().filter((s) => s.group !== '')) {
    for (const raw of hostileObjects()) {
      const obj = structuredClone(raw);
      const where = `${spec.group}/${spec.version} ${spec.kind} ${JSON.stringify(raw)}`;
      assert.doesNotThrow(() => spec.defaults?.(obj), where);
      assert.doesNotThrow(() => spec.validate?.(obj), where);
      assert.doesNotThrow(() => spec.validate?.(obj, structuredClone(raw)), where);
      assert.doesNotThrow(() => spec.validateStatus?.(obj, structuredClone(raw)), where);
      assert.doesNotThrow(() => spec.storedAs && spec.storedAs.fromStorage(spec.storedAs.toStorage(obj)), where);
      for (const c of spec.table ?? []) assert.doesNotThrow(() => c.cell(obj, 0), `${where} column ${c.name}`);
    }
  }
});
