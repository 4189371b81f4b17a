import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { SchemaNode } from '../../../src/machinery/schema.js';
import { buildDefinitions } from '../../../src/api/openapi/build-definitions.js';
import { builtinDefinitions, definitionFor, getDefinition, registerCrdSchema, resolveRef, unregisterCrdSchema } from '../../../src/api/openapi/schemas.js';

const defs = builtinDefinitions();
const ref = (name: string) => `#/components/schemas/${name}`;
const prop = (def: string, field: string): SchemaNode => defs[def].properties![field];

test('the build step wrote definitions.json next to the runtime, and it equals a fresh build', () => {
  const written = JSON.parse(readFileSync(new URL('../../../src/api/openapi/definitions.json', import.meta.url), 'utf8'));
  assert.deepEqual(written, buildDefinitions());
});

test('Deployment carries its GVK and references its spec', () => {
  const dep = defs['io.k8s.api.apps.v1.Deployment'];
  assert.deepEqual(dep['x-kubernetes-group-version-kind'], [{ group: 'apps', version: 'v1', kind: 'Deployment' }]);
  assert.equal(prop('io.k8s.api.apps.v1.Deployment', 'spec').$ref, ref('io.k8s.api.apps.v1.DeploymentSpec'));
  assert.equal(prop('io.k8s.api.apps.v1.Deployment', 'metadata').$ref, ref('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'));
  assert.match(dep.description!, /^Deployment enables declarative updates/);
});

test('DeploymentSpec.strategy refers to DeploymentStrategy (retainKeys) whose fields are described', () => {
  const strategy = prop('io.k8s.api.apps.v1.DeploymentSpec', 'strategy');
  assert.equal(strategy['x-kubernetes-patch-strategy'], 'retainKeys');
  assert.equal(strategy.allOf?.[0].$ref, ref('io.k8s.api.apps.v1.DeploymentStrategy'));
  const target = resolveRef(strategy);
  assert.equal(target.description, 'DeploymentStrategy describes how to replace existing pods with new ones.');
  assert.equal(target.properties!.type.type, 'string');
  // JSDoc escapes are undone.
  assert.match(target.properties!.type.description!, /Can be "Recreate" or "RollingUpdate"/);
  assert.deepEqual(defs['io.k8s.api.apps.v1.DeploymentSpec'].required, ['selector', 'template']);
  assert.deepEqual(prop('io.k8s.api.apps.v1.DeploymentSpec', 'replicas').type, 'integer');
  assert.deepEqual(prop('io.k8s.api.apps.v1.DeploymentSpec', 'replicas').format, 'int32');
});

test('list extensions: containers by name, ports by containerPort+protocol, service ports, conditions', () => {
  const containers = prop('io.k8s.api.core.v1.PodSpec', 'containers');
  assert.equal(containers.type, 'array');
  assert.equal(containers.items!.$ref, ref('io.k8s.api.core.v1.Container'));
  assert.equal(containers['x-kubernetes-patch-merge-key'], 'name');
  assert.equal(containers['x-kubernetes-patch-strategy'], 'merge');
  assert.equal(containers['x-kubernetes-list-type'], 'map');
  assert.deepEqual(containers['x-kubernetes-list-map-keys'], ['name']);
  assert.deepEqual(prop('io.k8s.api.core.v1.Container', 'ports')['x-kubernetes-list-map-keys'], ['containerPort', 'protocol']);
  assert.equal(prop('io.k8s.api.core.v1.Container', 'ports')['x-kubernetes-patch-merge-key'], 'containerPort');
  assert.deepEqual(prop('io.k8s.api.core.v1.ServiceSpec', 'ports')['x-kubernetes-list-map-keys'], ['port', 'protocol']);
  assert.equal(prop('io.k8s.api.core.v1.PodSpec', 'volumes')['x-kubernetes-patch-strategy'], 'merge,retainKeys');
  assert.equal(prop('io.k8s.api.apps.v1.DeploymentStatus', 'conditions')['x-kubernetes-patch-merge-key'], 'type');
  assert.equal(prop('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'finalizers')['x-kubernetes-list-type'], 'set');
  assert.equal(prop('io.k8s.api.core.v1.Container', 'command')['x-kubernetes-list-type'], 'atomic');
  assert.equal(prop('io.k8s.api.policy.v1.PodDisruptionBudgetSpec', 'selector')['x-kubernetes-patch-strategy'], 'replace');
});

test('special types: Time, IntOrString, Quantity, RawExtension, byte strings, maps', () => {
  // Described fields wrap their $ref in allOf (siblings of a $ref are ignored in OpenAPI 3.0).
  const created = prop('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'creationTimestamp');
  assert.equal(created.allOf?.[0].$ref, ref('io.k8s.apimachinery.pkg.apis.meta.v1.Time'));
  assert.match(created.description!, /^CreationTimestamp is a timestamp/);
  assert.equal(defs['io.k8s.apimachinery.pkg.apis.meta.v1.Time'].format, 'date-time');
  assert.equal(resolveRef(prop('io.k8s.api.apps.v1.RollingUpdateDeployment', 'maxSurge')), defs['io.k8s.apimachinery.pkg.util.intstr.IntOrString']);
  assert.equal(defs['io.k8s.apimachinery.pkg.util.intstr.IntOrString']['x-kubernetes-int-or-string'], true);
  const limits = prop('io.k8s.api.core.v1.ResourceRequirements', 'limits');
  assert.equal(limits.type, 'object');
  assert.equal((limits.additionalProperties as SchemaNode).$ref, ref('io.k8s.apimachinery.pkg.api.resource.Quantity'));
  assert.equal(defs['io.k8s.apimachinery.pkg.api.resource.Quantity']['x-kubernetes-int-or-string'], true);
  assert.equal(resolveRef(prop('io.k8s.api.apps.v1.ControllerRevision', 'data')), defs['io.k8s.apimachinery.pkg.runtime.RawExtension']);
  assert.deepEqual(prop('io.k8s.api.core.v1.Secret', 'data').additionalProperties, { type: 'string', format: 'byte' });
  assert.deepEqual(prop('io.k8s.api.core.v1.ConfigMap', 'data').additionalProperties, { type: 'string' });
  assert.equal(prop('io.k8s.api.coordination.v1.LeaseSpec', 'renewTime').allOf?.[0].$ref, ref('io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime'));
});

test('client-node names map to upstream definition names across groups', () => {
  for (const name of [
    'io.k8s.api.core.v1.Event',
    'io.k8s.api.events.v1.Event',
    'io.k8s.api.discovery.v1.EndpointPort',
    'io.k8s.api.core.v1.EndpointPort',
    'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler',
    'io.k8s.api.autoscaling.v1.Scale',
    'io.k8s.api.storage.v1.TokenRequest',
    'io.k8s.api.authentication.v1.TokenRequest',
    'io.k8s.api.rbac.v1.Subject',
    'io.k8s.api.core.v1.PodTemplateSpec',
    'io.k8s.api.core.v1.TopologySelectorTerm',
    'io.k8s.api.policy.v1.Eviction',
    'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps',
    'io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService',
  ])
    assert.ok(defs[name], name);
  assert.deepEqual(definitionFor('', 'v1', 'Event')?.name, 'io.k8s.api.core.v1.Event');
  assert.deepEqual(definitionFor('events.k8s.io', 'v1', 'Event')?.name, 'io.k8s.api.events.v1.Event');
  assert.deepEqual(definitionFor('autoscaling', 'v2', 'HorizontalPodAutoscaler')?.name, 'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler');
  assert.deepEqual(definitionFor('', 'v1', 'PodList')?.name, 'io.k8s.api.core.v1.PodList');
  assert.equal(definitionFor('apps', 'v1', 'Nope'), undefined);
  // Every $ref points at an existing definition.
  const dangling: string[] = [];
  const walk = (n: SchemaNode) => {
    if (n.$ref && !defs[n.$ref.slice('#/components/schemas/'.length)]) dangling.push(n.$ref);
    for (const s of [...(n.allOf ?? []), ...(n.oneOf ?? []), ...Object.values(n.properties ?? {})]) walk(s);
    if (n.items) walk(n.items);
    if (n.additionalProperties && typeof n.additionalProperties === 'object') walk(n.additionalProperties);
  };
  Object.values(defs).forEach(walk);
  assert.deepEqual(dangling, []);
});

test('CRD schemas are published under the reversed group name with GVK, and can be removed', () => {
  registerCrdSchema('example.com', 'v1', 'Widget', { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } });
  const d = definitionFor('example.com', 'v1', 'Widget');
  assert.equal(d?.name, 'com.example.v1.Widget');
  assert.deepEqual(d!.schema['x-kubernetes-group-version-kind'], [{ group: 'example.com', version: 'v1', kind: 'Widget' }]);
  assert.equal(resolveRef(d!.schema.properties!.metadata).properties!.name.type, 'string');
  assert.equal(definitionFor('example.com', 'v1', 'WidgetList')?.name, 'com.example.v1.WidgetList');
  unregisterCrdSchema('example.com', 'v1', 'Widget');
  assert.equal(definitionFor('example.com', 'v1', 'Widget'), undefined);
  assert.equal(getDefinition('com.example.v1.WidgetList'), undefined);
  // Malformed input publishes a free-form kind instead of throwing.
  const root = registerCrdSchema('example.com', 'v1', 'Odd', 'not a schema');
  assert.equal(root['x-kubernetes-preserve-unknown-fields'], true);
  unregisterCrdSchema('example.com', 'v1', 'Odd');
});

test('resolveRef follows refs and allOf wrappers, and never loops on unknown names', () => {
  assert.deepEqual(resolveRef({ $ref: ref('does.not.Exist') }), {});
  const node = { type: 'string' as const };
  assert.equal(resolveRef(node), node);
});
