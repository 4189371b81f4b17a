import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../../../src/api/registry.js';
import type { KindSpec } from '../../../src/api/types.js';
import {
  OPENAPI_V2_CONTENT_TYPE,
  openapiV2Protobuf,
  openapiV3Document,
  openapiV3DocumentJson,
  openapiV3Root,
} from '../../../src/api/openapi/documents.js';
import { registerCrdSchema, unregisterCrdSchema } from '../../../src/api/openapi/schemas.js';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, any> };
};

const deployment: KindSpec = {
  group: 'apps',
  version: 'v1',
  kind: 'Deployment',
  plural: 'deployments',
  singular: 'deployment',
  namespaced: true,
  subresources: { status: true, scale: { specReplicasPath: 'spec.replicas', statusReplicasPath: 'status.replicas' } },
};
const namespace: KindSpec = { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', singular: 'namespace', namespaced: false };
const review: KindSpec = {
  group: 'authorization.k8s.io',
  version: 'v1',
  kind: 'SelfSubjectAccessReview',
  plural: 'selfsubjectaccessreviews',
  singular: 'selfsubjectaccessreview',
  namespaced: false,
  verbs: ['create'],
  virtual: true,
};

function registry(...specs: KindSpec[]): Registry {
  const r = new Registry();
  for (const s of specs) r.add(s);
  return r;
}

test('root lists one entry per served group-version with a hash of its document', () => {
  const r = registry(deployment, namespace);
  const root = openapiV3Root(r) as { paths: Record<string, { serverRelativeURL: string }> };
  assert.deepEqual(Object.keys(root.paths).sort(), ['api/v1', 'apis/apps/v1']);
  const url = root.paths['apis/apps/v1'].serverRelativeURL;
  assert.match(url, /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]{128}$/);
  assert.equal(url.split('hash=')[1], openapiV3DocumentJson(r, 'apis/apps/v1')!.hash);
  // Stable across registries with the same content.
  assert.deepEqual(openapiV3Root(registry(deployment, namespace)), root);
});

test('group-version document: paths, operations, fieldValidation and patch content types', () => {
  const doc = openapiV3Document(registry(deployment, namespace), 'apis/apps/v1') as Doc;
  assert.equal(doc.openapi, '3.0.0');
  const base = '/apis/apps/v1/namespaces/{namespace}/deployments';
  assert.deepEqual(Object.keys(doc.paths).sort(), [
    '/apis/apps/v1/deployments',
    base,
    `${base}/{name}`,
    `${base}/{name}/scale`,
    `${base}/{name}/status`,
  ]);
  const patch = doc.paths[`${base}/{name}`].patch;
  assert.equal(patch['x-kubernetes-action'], 'patch');
  assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' });
  const names = patch.parameters.map((p: { name: string }) => p.name);
  for (const n of ['dryRun', 'fieldManager', 'fieldValidation', 'force']) assert.ok(names.includes(n), n);
  assert.deepEqual(Object.keys(patch.requestBody.content), [
    'application/json-patch+json',
    'application/merge-patch+json',
    'application/strategic-merge-patch+json',
    'application/apply-patch+yaml',
  ]);
  assert.ok(doc.paths[base].post.parameters.some((p: { name: string }) => p.name === 'fieldValidation'));
  assert.equal(doc.paths[base].get['x-kubernetes-action'], 'list');
  assert.equal(doc.paths[base].delete['x-kubernetes-action'], 'deletecollection');
  assert.equal(doc.paths[`${base}/{name}`].delete['x-kubernetes-action'], 'delete');
  assert.equal(doc.paths[`${base}/{name}`].put['x-kubernetes-action'], 'put');
  assert.deepEqual(doc.paths[`${base}/{name}/scale`].patch['x-kubernetes-group-version-kind'], { group: 'autoscaling', version: 'v1', kind: 'Scale' });
  assert.deepEqual(Object.keys(doc.paths[`${base}/{name}/status`]).sort(), ['get', 'parameters', 'patch', 'put']);
  assert.deepEqual(doc.paths[`${base}/{name}`].get.responses['200'].content['application/json'].schema, {
    $ref: '#/components/schemas/io.k8s.api.apps.v1.Deployment',
  });
});

test('components hold the kind and everything it references, transitively, with component refs', () => {
  const doc = openapiV3Document(registry(deployment), '/apis/apps/v1') as Doc;
  const s = doc.components.schemas;
  for (const name of [
    'io.k8s.api.apps.v1.Deployment',
    'io.k8s.api.apps.v1.DeploymentList',
    'io.k8s.api.apps.v1.DeploymentStrategy',
    'io.k8s.api.apps.v1.RollingUpdateDeployment',
    'io.k8s.api.core.v1.PodSpec',
    'io.k8s.api.core.v1.Container',
    'io.k8s.api.core.v1.Probe',
    'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
    'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
    'io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry',
    'io.k8s.apimachinery.pkg.apis.meta.v1.Status',
    'io.k8s.api.autoscaling.v1.Scale',
  ])
    assert.ok(s[name], name);
  assert.equal(s['io.k8s.api.apps.v1.StatefulSet'], undefined);
  for (const m of JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)) {
    assert.ok(m[1].startsWith('#/components/schemas/'), m[1]);
    assert.ok(s[m[1].slice('#/components/schemas/'.length)], m[1]);
  }
});

test('core and cluster-scoped kinds, verbs limit operations, unknown group-versions are undefined', () => {
  const r = registry(namespace, review);
  const core = openapiV3Document(r, 'api/v1') as Doc;
  assert.ok(core.paths['/api/v1/namespaces/{name}'].patch);
  assert.ok(core.paths['/api/v1/namespaces'].post);
  const authz = openapiV3Document(r, 'apis/authorization.k8s.io/v1') as Doc;
  assert.deepEqual(Object.keys(authz.paths), ['/apis/authorization.k8s.io/v1/selfsubjectaccessreviews']);
  assert.deepEqual(Object.keys(authz.paths['/apis/authorization.k8s.io/v1/selfsubjectaccessreviews']).sort(), ['parameters', 'post']);
  assert.equal(openapiV3Document(r, 'apis/apps/v1'), undefined);
  assert.equal(openapiV3Document(r, 'nonsense'), undefined);
});

test('CRD kinds: their schema is published, no strategic merge patch, caches follow changes', () => {
  const widget: KindSpec = { group: 'example.com', version: 'v1', kind: 'Widget', plural: 'widgets', singular: 'widget', namespaced: true };
  const r = registry(widget);
  const before = openapiV3DocumentJson(r, 'apis/example.com/v1')!.hash;
  registerCrdSchema('example.com', 'v1', 'Widget', { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } });
  try {
    const doc = openapiV3Document(r, 'apis/example.com/v1') as Doc;
    const patch = doc.paths['/apis/example.com/v1/namespaces/{namespace}/widgets/{name}'].patch;
    assert.ok(!('application/strategic-merge-patch+json' in patch.requestBody.content));
    assert.ok('application/merge-patch+json' in patch.requestBody.content);
    assert.equal(doc.components.schemas['com.example.v1.Widget'].properties.spec.properties.size.type, 'integer');
    assert.ok(doc.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']);
    assert.notEqual(openapiV3DocumentJson(r, 'apis/example.com/v1')!.hash, before);
    // Registry changes invalidate too.
    r.add({ ...widget, kind: 'Gadget', plural: 'gadgets', singular: 'gadget' });
    assert.ok((openapiV3Document(r, 'apis/example.com/v1') as Doc).paths['/apis/example.com/v1/namespaces/{namespace}/gadgets']);
  } finally {
    unregisterCrdSchema('example.com', 'v1', 'Widget');
  }
});

test('v2 is an empty protobuf document with the Go-parsable content type', () => {
  assert.equal(openapiV2Protobuf().length, 0);
  assert.equal(OPENAPI_V2_CONTENT_TYPE, 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
});
