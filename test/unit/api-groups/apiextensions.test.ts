import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { T0, cells, defaulted, fields, kind, problems } from './helpers.js';

const crd = kind('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition');

const widgets = (): KObject => ({
  metadata: { name: 'widgets.example.com', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', kind: 'Widget', shortNames: ['wd'] },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', properties: { size: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } }, port: { 'x-kubernetes-int-or-string': true } } },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
        subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } },
      },
    ],
  },
});

test('CRD defaults names and conversion; status records the storage version', () => {
  const c = defaulted(crd, widgets());
  assert.equal((c.spec as any).names.singular, 'widget');
  assert.equal((c.spec as any).names.listKind, 'WidgetList');
  assert.deepEqual((c.spec as any).conversion, { strategy: 'None' });
  assert.deepEqual(problems(crd, c), []);
  crd.prepareForCreate!(c);
  assert.deepEqual(c.status, { storedVersions: ['v1'] });
  assert.deepEqual(crd.shortNames, ['crd', 'crds']);
  assert.deepEqual(cells(crd, c, T0), { Name: 'widgets.example.com', 'Created At': '2024-01-01T00:00:00Z' });
});

test('CRD validation: name, group, names, scope, versions, schemas, scale paths', () => {
  const c = defaulted(crd, widgets());
  const spec = c.spec as any;
  spec.group = 'example';
  spec.scope = 'Global';
  spec.names.listKind = 'Widget';
  spec.versions[0].storage = false;
  spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size = {};
  spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.tags = { type: 'array' };
  spec.versions[0].subresources.scale.statusReplicasPath = '.spec.replicas';
  assert.deepEqual(problems(crd, c), [
    'spec.group: Invalid value: "example": should be a domain with at least one dot',
    'spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same',
    'metadata.name: Invalid value: "widgets.example.com": must be spec.names.plural+"."+spec.group',
    'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
    'spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].type: Required value: must not be empty for specified object fields',
    'spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[tags].items: Required value: must be specified',
    'spec.versions[0].subresources.scale.statusReplicasPath: Invalid value: ".spec.replicas": should be a json path under .status',
    'spec.versions: Invalid value: [{"name":"v1","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object","properties":{"size":{},"tags":{"type":"array"},"port":{"x-kubernetes-int-or-string":true}}},"status":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}},"subresources":{"status":{},"scale":{"specReplicasPath":".spec.replicas","statusReplicasPath":".spec.replicas"}}}]: must have exactly one version marked as storage version',
  ]);
  const noSchema = defaulted(crd, widgets());
  delete (noSchema.spec as any).versions[0].schema;
  assert.deepEqual(fields(crd, noSchema), ['spec.versions[0].schema.openAPIV3Schema']);
  const noVersions = defaulted(crd, widgets());
  (noVersions.spec as any).versions = [];
  assert.deepEqual(fields(crd, noVersions), ['spec.versions', 'spec.versions']);
});

test('CRD scope and group are immutable', () => {
  const old = defaulted(crd, widgets());
  const next = structuredClone(old);
  (next.spec as any).scope = 'Cluster';
  assert.deepEqual(problems(crd, next, old), ['spec.scope: Invalid value: "Cluster": field is immutable']);
  const served = structuredClone(old);
  (served.spec as any).versions.push({ ...(old.spec as any).versions[0], name: 'v2', storage: false });
  assert.deepEqual(problems(crd, served, old), []);
});
