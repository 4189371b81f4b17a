import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { decodeProtobufObject, decodeProtobufEnvelope, isProtobufEnvelope, supportedProtobufKinds } from '../../../src/apiserver/protobuf/decode.js';
import { StatusError } from '../../../src/machinery/errors.js';
import { envelope, type PbField } from './encode.js';

const meta = (name: string, extra: PbField[] = []): PbField => [1, 'msg', [[1, 'str', name], [2, 'str', ''], [3, 'str', ''], [7, 'varint', 0], [8, 'msg', []], ...extra]];

function badRequest(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StatusError, `expected StatusError, got ${String(e)}`);
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    assert.match(e.message, re);
    return true;
  });
}

describe('recorded kubectl 1.32/1.33 bodies (offline)', () => {
  const fixtures = JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/protobuf/kubectl-bodies.json'), 'utf8')) as Array<{ minor: number; args: string[]; body: string; expected: unknown }>;
  test('the fixture covers every imperative kind', () => {
    const kinds = new Set(fixtures.map((f) => (f.expected as { kind: string }).kind));
    for (const k of ['Deployment', 'ConfigMap', 'Secret', 'Namespace', 'Service', 'Job', 'CronJob', 'ResourceQuota', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding', 'PodDisruptionBudget', 'Ingress', 'PriorityClass', 'ServiceAccount', 'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SelfSubjectReview', 'TokenRequest', 'HorizontalPodAutoscaler']) {
      assert.ok(kinds.has(k), `fixture lacks ${k}`);
    }
  });
  for (const f of fixtures) {
    test(`1.${f.minor} ${f.args.join(' ')}`, () => {
      assert.deepEqual(decodeProtobufObject(Buffer.from(f.body, 'base64')), f.expected);
    });
  }
});

describe('Go pointer vs value semantics', () => {
  const deployment = (spec: PbField[]) => envelope('apps/v1', 'Deployment', [meta('d'), [2, 'msg', spec], [3, 'msg', [[1, 'varint', 0], [2, 'varint', 0]]]]);

  test('pointer replicas=0 survives; zero value fields and empty structs are dropped', () => {
    const obj = decodeProtobufObject(deployment([[1, 'varint', 0], [4, 'msg', []], [5, 'varint', 0], [7, 'varint', false]]));
    assert.deepEqual(obj, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { replicas: 0 } });
  });

  test('absent pointer stays absent; non-zero values are kept', () => {
    const obj = decodeProtobufObject(deployment([[5, 'varint', 7], [7, 'varint', true], [6, 'varint', 3]]));
    assert.deepEqual(obj.spec, { minReadySeconds: 7, paused: true, revisionHistoryLimit: 3 });
  });

  test('fields without omitempty are emitted even when zero or missing', () => {
    const ssar = decodeProtobufObject(envelope('authorization.k8s.io/v1', 'SelfSubjectAccessReview', [[1, 'msg', []], [2, 'msg', []], [3, 'msg', []]]));
    assert.deepEqual(ssar, { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: {}, status: { allowed: false } });
    const pc = decodeProtobufObject(envelope('scheduling.k8s.io/v1', 'PriorityClass', [meta('p'), [2, 'varint', 0], [3, 'varint', false], [4, 'str', '']]));
    assert.deepEqual(pc, { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'p' }, value: 0 });
  });

  test('a pointer struct sent empty is kept (emptyDir: {}), inline structs merge into the parent', () => {
    const pod = decodeProtobufObject(envelope('v1', 'Pod', [meta('p'), [2, 'msg', [
      [1, 'msg', [[1, 'str', 'scratch'], [2, 'msg', [[2, 'msg', [[1, 'str', '']]]]]]],
      [1, 'msg', [[1, 'str', 'cfg'], [2, 'msg', [[19, 'msg', [[1, 'msg', [[1, 'str', 'cm']]], [3, 'varint', 420]]]]]]],
      [2, 'msg', [[1, 'str', 'c'], [2, 'str', 'img'], [8, 'msg', []], [10, 'msg', [[1, 'msg', [[2, 'msg', [[1, 'str', '/healthz'], [2, 'msg', [[1, 'varint', 1], [2, 'varint', 0], [3, 'str', 'http']]]]]]], [2, 'varint', 5]]]]],
    ]]]));
    assert.deepEqual(pod.spec, {
      volumes: [{ name: 'scratch', emptyDir: {} }, { name: 'cfg', configMap: { name: 'cm', defaultMode: 420 } }],
      containers: [{ name: 'c', image: 'img', livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 5 } }],
    });
  });
});

describe('special types', () => {
  test('Time: RFC3339 in UTC, whole seconds; the empty message (zero time) is omitted', () => {
    const obj = decodeProtobufObject(envelope('v1', 'ConfigMap', [[1, 'msg', [[1, 'str', 'c'], [8, 'msg', [[1, 'varint', 1700000000], [2, 'varint', 123456789]]], [9, 'msg', []]]]]));
    assert.deepEqual(obj.metadata, { name: 'c', creationTimestamp: '2023-11-14T22:13:20Z' });
    const epoch = decodeProtobufObject(envelope('v1', 'ConfigMap', [[1, 'msg', [[8, 'msg', [[1, 'varint', 0]]]]]]));
    assert.equal(epoch.metadata.creationTimestamp, '1970-01-01T00:00:00Z');
  });

  test('IntOrString and Quantity', () => {
    const pdb = decodeProtobufObject(envelope('policy/v1', 'PodDisruptionBudget', [meta('p'), [2, 'msg', [[1, 'msg', [[1, 'varint', 0], [2, 'varint', 0], [3, 'str', '']]], [3, 'msg', [[1, 'varint', 1], [3, 'str', '25%']]]]]]));
    assert.deepEqual(pdb.spec, { minAvailable: 0, maxUnavailable: '25%' });
    const rq = decodeProtobufObject(envelope('v1', 'ResourceQuota', [meta('q'), [2, 'msg', [[1, 'msg', [[1, 'str', 'cpu'], [2, 'msg', [[1, 'str', '500m']]]]], [1, 'msg', [[1, 'str', 'pods'], [2, 'msg', []]]]]]]));
    assert.deepEqual(rq.spec, { hard: { cpu: '500m', pods: '0' } });
  });

  test('bytes map values are base64, like encoding/json', () => {
    const s = decodeProtobufObject(envelope('v1', 'Secret', [meta('s'), [2, 'msg', [[1, 'str', 'k'], [2, 'bytes', Buffer.from([0, 255, 1])]]], [3, 'str', 'Opaque']]));
    assert.deepEqual(s, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { k: 'AP8B' }, type: 'Opaque' });
  });

  test('RawExtension and FieldsV1 carry JSON; ExtraValue is a list', () => {
    const cr = decodeProtobufObject(envelope('apps/v1', 'ControllerRevision', [meta('r', [[17, 'msg', [[1, 'str', 'kubectl'], [7, 'msg', [[1, 'bytes', Buffer.from('{"f:spec":{}}')]]]]]]), [2, 'msg', [[1, 'bytes', Buffer.from('{"spec":{"x":1}}')]]], [3, 'varint', 2]]));
    assert.deepEqual(cr, { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'r', managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }] }, data: { spec: { x: 1 } }, revision: 2 });
    const ssr = decodeProtobufObject(envelope('authentication.k8s.io/v1', 'SelfSubjectReview', [[1, 'msg', []], [2, 'msg', [[1, 'msg', [[1, 'str', 'me'], [4, 'msg', [[1, 'str', 'scopes'], [2, 'msg', [[1, 'str', 'a'], [1, 'str', 'b']]]]]]]]]]));
    assert.deepEqual(ssr.status, { userInfo: { username: 'me', extra: { scopes: ['a', 'b'] } } });
  });
});

describe('wire-format details', () => {
  test('unknown fields are skipped; repeated message fields merge; packed scalars decode', () => {
    // supplementalGroups (int64) packed: varints 1, 2, 128.
    const obj = decodeProtobufObject(envelope('v1', 'Pod', [
      [99, 'str', 'future field'],
      [1, 'msg', [[1, 'str', 'p']]],
      [1, 'msg', [[3, 'str', 'ns'], [50, 'varint', 1]]],
      [2, 'msg', [[14, 'msg', [[4, 'bytes', Buffer.from([1, 2, 0x80, 0x01])]]]]],
    ]));
    assert.deepEqual(obj, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec: { securityContext: { supplementalGroups: [1, 2, 128] } } });
  });

  test('DeleteOptions under any group version, Eviction with deleteOptions', () => {
    const d = decodeProtobufObject(envelope('apps/v1', 'DeleteOptions', [[1, 'varint', 0], [4, 'str', 'Foreground'], [5, 'str', 'All']]));
    assert.deepEqual(d, { apiVersion: 'apps/v1', kind: 'DeleteOptions', metadata: {}, gracePeriodSeconds: 0, propagationPolicy: 'Foreground', dryRun: ['All'] });
    const ev = decodeProtobufObject(envelope('policy/v1', 'Eviction', [meta('p', [[3, 'str', 'default']]), [2, 'msg', []]]));
    assert.deepEqual(ev, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'p', namespace: 'default' }, deleteOptions: {} });
  });

  test('envelope helpers', () => {
    const body = envelope('v1', 'Namespace', [meta('n')]);
    assert.ok(isProtobufEnvelope(body));
    assert.ok(!isProtobufEnvelope(Buffer.from('{"kind":"Namespace"}')));
    const env = decodeProtobufEnvelope(body);
    assert.equal(env.apiVersion, 'v1');
    assert.equal(env.kind, 'Namespace');
  });

  test('every kind kubectl 1.32+ creates imperatively is supported', () => {
    const have = new Set(supportedProtobufKinds().map((k) => `${k.apiVersion} ${k.kind}`));
    for (const k of [
      'apps/v1 Deployment', 'apps/v1 ReplicaSet', 'v1 Pod', 'v1 Service', 'v1 ConfigMap', 'v1 Secret', 'v1 Namespace', 'v1 ServiceAccount',
      'batch/v1 Job', 'batch/v1 CronJob', 'v1 ResourceQuota', 'rbac.authorization.k8s.io/v1 Role', 'rbac.authorization.k8s.io/v1 ClusterRole',
      'rbac.authorization.k8s.io/v1 RoleBinding', 'rbac.authorization.k8s.io/v1 ClusterRoleBinding', 'policy/v1 PodDisruptionBudget', 'policy/v1 Eviction',
      'networking.k8s.io/v1 Ingress', 'scheduling.k8s.io/v1 PriorityClass', 'autoscaling/v1 HorizontalPodAutoscaler', 'autoscaling/v2 HorizontalPodAutoscaler',
      'authorization.k8s.io/v1 SelfSubjectAccessReview', 'authorization.k8s.io/v1 SelfSubjectRulesReview', 'authentication.k8s.io/v1 SelfSubjectReview',
      'authentication.k8s.io/v1 TokenRequest', 'certificates.k8s.io/v1 CertificateSigningRequest', '* DeleteOptions',
    ]) assert.ok(have.has(k), `missing ${k}`);
  });
});

describe('bad input is a 400, never a crash', () => {
  const ok = envelope('v1', 'Namespace', [meta('n')]);
  test('missing magic', () => badRequest(() => decodeProtobufObject(Buffer.from('{"kind":"Namespace"}')), /magic/));
  test('unknown kind / version', () => {
    badRequest(() => decodeProtobufObject(envelope('v1', 'Widget', [])), /no kind "Widget" is registered for version "v1"/);
    badRequest(() => decodeProtobufObject(envelope('apps/v2', 'Deployment', [])), /no kind "Deployment"/);
  });
  test('missing kind', () => badRequest(() => decodeProtobufObject(envelope('v1', '', [])), /no kind/));
  test('truncated body', () => {
    for (let n = 5; n < ok.length; n++) {
      try {
        decodeProtobufObject(ok.subarray(0, n));
      } catch (e) {
        assert.ok(e instanceof StatusError && e.code === 400, `cut at ${n}: ${String(e)}`);
      }
    }
    badRequest(() => decodeProtobufObject(ok.subarray(0, ok.length - 1)), /invalid protobuf/);
  });
  test('wrong wire type', () => badRequest(() => decodeProtobufObject(envelope('v1', 'Namespace', [[1, 'varint', 5]])), /wrong wire type 0 for field core.Namespace.metadata/));
  test('malformed quantity', () => badRequest(() => decodeProtobufObject(envelope('v1', 'ResourceQuota', [[2, 'msg', [[1, 'msg', [[1, 'str', 'cpu'], [2, 'msg', [[1, 'str', 'lots']]]]]]]])), /quantities must match/));
  test('RawExtension that is not JSON', () => badRequest(() => decodeProtobufObject(envelope('apps/v1', 'ControllerRevision', [[2, 'msg', [[1, 'bytes', Buffer.from([1, 2, 3])]]]])), /RawExtension does not hold JSON/));
  test('timestamp out of range', () => badRequest(() => decodeProtobufObject(envelope('v1', 'Namespace', [[1, 'msg', [[8, 'msg', [[1, 'varint', 1e15]]]]]])), /timestamp out of range/));
  test('content encoding is not supported', () => badRequest(() => decodeProtobufObject(envelope('v1', 'Namespace', [], [[3, 'str', 'gzip']])), /contentEncoding/));
  test('field number 0 and bad wire types', () => {
    badRequest(() => decodeProtobufObject(envelope('v1', 'Namespace', Buffer.from([0x02, 0x00]))), /field number 0/);
    badRequest(() => decodeProtobufObject(envelope('v1', 'Namespace', Buffer.from([0x0f]))), /invalid protobuf body/);
  });
  test('a field running past its enclosing message (but not past the buffer)', () => {
    // metadata is 2 bytes long, yet its name claims 5: the string would swallow the next field.
    badRequest(() => decodeProtobufObject(envelope('v1', 'Namespace', Buffer.from([0x0a, 0x02, 0x0a, 0x05, 0x1a, 0x03, 0x0a, 0x01, 0x41]))), /past the end/);
  });
});
