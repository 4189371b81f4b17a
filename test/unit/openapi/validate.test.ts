import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SchemaNode } from '../../../src/machinery/schema.js';
import { StatusError } from '../../../src/machinery/errors.js';
import { definitionFor, registerCrdSchema, unregisterCrdSchema } from '../../../src/api/openapi/schemas.js';
import { applyDefaults, decodeError, dropUnknownFields, pruneUnknown, typeErrors, unknownFields, validateCustom } from '../../../src/api/openapi/validate.js';

const schemaOf = (g: string, v: string, k: string): SchemaNode => definitionFor(g, v, k)!.schema;
const deploymentSchema = schemaOf('apps', 'v1', 'Deployment');

function deployment(): any {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' }, annotations: { a: 'b' }, finalizers: ['x/y'] },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'nginx',
              image: 'nginx:1.27',
              ports: [{ containerPort: 80, protocol: 'TCP' }],
              env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
              resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: 0.5 } },
              readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 5 },
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
          volumes: [{ name: 'data', emptyDir: { sizeLimit: '1Gi' } }],
          nodeSelector: { disk: 'ssd' },
          tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
    },
    status: { replicas: 3, conditions: [{ type: 'Available', status: 'True', lastUpdateTime: '2024-01-01T00:00:00Z' }] },
  };
}

test('unknownFields: none for a correct Deployment, exact paths for typos, in document order', () => {
  assert.deepEqual(unknownFields(deployment(), deploymentSchema), []);
  const d = deployment();
  d.spec.foo = 1;
  d.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
  d.spec.template.spec.containers[0].ports[0].hostPortt = 1;
  d.metadata.labelz = {};
  d.bogus = true;
  assert.deepEqual(unknownFields(d, deploymentSchema), [
    'metadata.labelz',
    'spec.template.spec.containers[0].ports[0].hostPortt',
    'spec.template.spec.containers[0].imagePullPolicyy',
    'spec.foo',
    'bogus',
  ]);
});

test('unknownFields: maps and free-form fields accept anything; ref wrapper and raw definition both work', () => {
  const rev = { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'r' }, revision: 1, data: { anything: { goes: [1] } } };
  assert.deepEqual(unknownFields(rev, schemaOf('apps', 'v1', 'ControllerRevision')), []);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { 'any.key': 'v' }, extra: 1 };
  assert.deepEqual(unknownFields(cm, { $ref: '#/components/schemas/io.k8s.api.core.v1.ConfigMap' }), ['extra']);
});

test('unknownFields on CRD schemas: preserve-unknown-fields, embedded resources, implicit root fields', () => {
  const schema: SchemaNode = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          size: { type: 'integer' },
          free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'string' } } },
          template: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object', properties: { a: { type: 'string' } } } } },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
  };
  const obj = {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w', bad: 1 },
    spec: {
      size: 1,
      colour: 'red',
      free: { known: 'x', whatever: { deep: true } },
      template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { a: 'x', b: 'y' } },
      labels: { x: 'y' },
    },
  };
  assert.deepEqual(unknownFields(obj, schema), ['metadata.bad', 'spec.colour', 'spec.template.spec.b']);
});

test('dropUnknownFields: what unknownFields reports, what pruneUnknown drops, in one walk (metadata reported, kept)', () => {
  const schema: SchemaNode = {
    type: 'object',
    properties: { spec: { type: 'object', properties: { size: { type: 'integer' }, items: { type: 'array', items: { type: 'object', properties: { a: { type: 'string' } } } } } } },
  };
  const make = () => ({ apiVersion: 'example.com/v1', kind: 'W', metadata: { name: 'w', bad: 1 }, spec: { size: 1, colour: 'red', items: [{ a: 'x', b: 'y' }] }, top: 2 });
  const reported = unknownFields(make(), schema);
  const pruned = make();
  const prunedPaths = pruneUnknown(pruned, schema);
  const both = make();
  assert.deepEqual(dropUnknownFields(both, schema), reported);
  assert.deepEqual(reported, ['metadata.bad', 'spec.colour', 'spec.items[0].b', 'top']);
  assert.deepEqual(prunedPaths, ['spec.colour', 'spec.items[0].b', 'top']);
  assert.deepEqual(both, pruned);
  assert.deepEqual(both.metadata, { name: 'w', bad: 1 });
});

test('typeErrors: wrong JSON types with upstream decoding messages; null and quantities/int-or-string accepted', () => {
  assert.deepEqual(typeErrors(deployment(), deploymentSchema), []);
  const d = deployment();
  d.spec.replicas = '3';
  d.spec.template.spec.containers = { name: 'x' };
  d.spec.paused = null;
  d.metadata.labels.app = 5;
  const errs = typeErrors(d, deploymentSchema);
  assert.deepEqual(
    errs.map((e) => e.field),
    ['metadata.labels.app', 'spec.replicas', 'spec.template.spec.containers'],
  );
  assert.equal(errs[1].detail, 'json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32');
  assert.equal(errs[2].detail, 'json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container');
  assert.equal(errs[0].detail, 'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string');

  const e = decodeError('Deployment', 'v1', errs.slice(1));
  assert.ok(e instanceof StatusError);
  assert.equal(e.code, 400);
  assert.equal(e.message, 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32');

  const f = deployment();
  f.spec.replicas = 1.5;
  f.spec.strategy.rollingUpdate.maxSurge = true;
  f.spec.template.spec.containers[0].resources.limits.cpu = [1];
  assert.deepEqual(
    typeErrors(f, deploymentSchema).map((x) => x.detail),
    [
      'json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32',
      'json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type intstr.IntOrString',
      'json: cannot unmarshal array into Go struct field ResourceRequirements.spec.template.spec.containers.resources.limits of type resource.Quantity',
    ],
  );
  assert.equal(typeErrors([1], deploymentSchema)[0].detail, 'json: cannot unmarshal array into Go value of type v1.Deployment');
});

const widgetSchema: SchemaNode = {
  type: 'object',
  required: ['spec'],
  properties: {
    spec: {
      type: 'object',
      required: ['size'],
      properties: {
        size: { type: 'integer', minimum: 1, maximum: 10, default: 1 },
        ratio: { type: 'number', exclusiveMinimum: true, minimum: 0, multipleOf: 0.5 },
        color: { type: 'string', enum: ['red', 'blue'] },
        name: { type: 'string', pattern: '^[a-z]+$', minLength: 2, maxLength: 5 },
        at: { type: 'string', format: 'date-time' },
        port: { 'x-kubernetes-int-or-string': true },
        note: { type: 'string', nullable: true },
        tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set', maxItems: 3, minItems: 1 },
        items: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, weight: { type: 'integer', format: 'int32' } } },
        },
        labels: { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 2 },
        choice: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, oneOf: [{ required: ['a'] }, { required: ['b'] }] },
        anyNum: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
        notZero: { type: 'integer', not: { enum: [0] } },
      },
    },
  },
};

test('validateCustom: accepts a valid object', () => {
  const ok = {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w' },
    spec: {
      size: 3,
      ratio: 1.5,
      color: 'red',
      name: 'abc',
      at: '2024-05-01T10:00:00Z',
      port: 'http',
      note: null,
      tags: ['a', 'b'],
      items: [{ name: 'a', weight: 1 }, { name: 'b' }],
      labels: { a: 'b' },
      choice: { a: 'x' },
      anyNum: 'x',
      notZero: 2,
    },
  };
  assert.deepEqual(validateCustom(ok, widgetSchema).map(String), []);
});

test('validateCustom: each keyword reports the exact field with upstream wording', () => {
  const bad = {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w' },
    spec: {
      size: 'big',
      ratio: 0,
      color: 'pink',
      name: 'ABCDEFG',
      at: 'yesterday',
      port: true,
      tags: ['a', 'a', 'b', 'c'],
      items: [{ name: 'a' }, { name: 'a', weight: 3000000000 }, { weight: 1 }],
      labels: { a: 'b', c: 'd', e: 'f' },
      choice: { a: 'x', b: 'y' },
      anyNum: false,
      notZero: 0,
    },
  };
  const msgs = validateCustom(bad, widgetSchema).map(String);
  const expected = [
    'spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"',
    'spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0',
    'spec.color: Unsupported value: "pink": supported values: "red", "blue"',
    'spec.name: Too long: may not be more than 5 bytes',
    "spec.name: Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'",
    'spec.at: Invalid value: "yesterday": spec.at in body must be of type date-time: "yesterday"',
    'spec.port: Invalid value: "boolean": spec.port in body must be of type integer or string: "boolean"',
    'spec.tags: Too many: 4: must have at most 3 items',
    'spec.tags[1]: Duplicate value: "a"',
    'spec.items[1]: Duplicate value: {"name":"a"}',
    'spec.items[1].weight: Invalid value: 3000000000: spec.items[1].weight in body must be of type int32: "3000000000"',
    'spec.items[2].name: Required value',
    'spec.labels: Too many: 3: must have at most 2 properties',
    'spec.choice: Invalid value: {"a":"x","b":"y"}: spec.choice in body must validate one and only one schema (oneOf)',
    'spec.anyNum: Invalid value: false: spec.anyNum in body must validate at least one schema (anyOf)',
    'spec.notZero: Invalid value: 0: spec.notZero in body must not validate the schema (not)',
  ];
  assert.deepEqual(msgs, expected);
  assert.deepEqual(validateCustom({ spec: { size: 0, note: null } }, widgetSchema).map(String), [
    'spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1',
  ]);
  assert.deepEqual(validateCustom({ spec: { size: 11, tags: [], color: null } }, widgetSchema).map(String), [
    'spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10',
    'spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items',
    'spec.color: Invalid value: "null": spec.color in body must be of type string: "null"',
  ]);
  assert.deepEqual(validateCustom({ metadata: {} }, widgetSchema).map(String), ['spec: Required value']);
});

test('validateCustom: embedded resources need apiVersion and kind; garbage input yields errors, never throws', () => {
  const schema: SchemaNode = { type: 'object', properties: { spec: { type: 'object', properties: { tpl: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true } } } } };
  assert.deepEqual(validateCustom({ spec: { tpl: { metadata: { name: 'x' } } } }, schema).map(String), [
    'spec.tpl.apiVersion: Required value: apiVersion must not be empty',
    'spec.tpl.kind: Required value: kind must not be empty',
  ]);
  assert.deepEqual(validateCustom({ spec: { tpl: { apiVersion: 'v1', kind: 'Pod', x: 1 } } }, schema), []);
  assert.doesNotThrow(() => validateCustom(42, widgetSchema));
  assert.doesNotThrow(() => validateCustom({ spec: { name: 'a' } }, { type: 'object', properties: { spec: { type: 'object', properties: { name: { type: 'string', pattern: '([' } } } } }));
});

test('pruneUnknown drops undeclared fields but keeps root type/metadata, embedded metadata, preserved subtrees', () => {
  const schema: SchemaNode = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          size: { type: 'integer' },
          free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          tpl: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object', properties: {} } } },
          list: { type: 'array', items: { type: 'object', properties: { a: { type: 'string' } } } },
          map: { type: 'object', additionalProperties: { type: 'object', properties: { v: { type: 'string' } } } },
        },
      },
    },
  };
  const obj: any = {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w', extra: 1 },
    spec: {
      size: 1,
      gone: true,
      free: { anything: { at: 'all' } },
      tpl: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, spec: { x: 1 }, data: {} },
      list: [{ a: 'x', b: 'y' }],
      map: { k: { v: 'x', w: 'y' } },
    },
    status: { phase: 'x' },
  };
  const pruned = pruneUnknown(obj, schema);
  assert.deepEqual(pruned, ['spec.gone', 'spec.tpl.spec.x', 'spec.tpl.data', 'spec.list[0].b', 'spec.map.k.w', 'status']);
  assert.deepEqual(obj, {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w', extra: 1 },
    spec: {
      size: 1,
      free: { anything: { at: 'all' } },
      tpl: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, spec: {} },
      list: [{ a: 'x' }],
      map: { k: { v: 'x' } },
    },
  });
});

test('pruneUnknown on a built-in schema drops unknown metadata fields through ObjectMeta', () => {
  const d = deployment();
  d.metadata.bogus = 1;
  d.spec.template.spec.containers[0].imagePullPolicyy = 'x';
  assert.deepEqual(pruneUnknown(d, deploymentSchema), ['metadata.bogus', 'spec.template.spec.containers[0].imagePullPolicyy']);
  assert.deepEqual(d, deployment());
});

test('applyDefaults: missing fields get defaults recursively; non-nullable nulls take the default or go', () => {
  const schema: SchemaNode = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        default: {},
        properties: {
          replicas: { type: 'integer', default: 1 },
          mode: { type: 'string', default: 'fast' },
          keep: { type: 'string', nullable: true, default: 'x' },
          drop: { type: 'string' },
          ports: { type: 'array', items: { type: 'object', properties: { protocol: { type: 'string', default: 'TCP' } } } },
          opts: { type: 'object', additionalProperties: { type: 'object', properties: { on: { type: 'boolean', default: true } } } },
        },
      },
    },
  };
  const empty: any = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
  applyDefaults(empty, schema);
  assert.deepEqual(empty.spec, { replicas: 1, mode: 'fast', keep: 'x' });

  const obj: any = { metadata: { name: 'w' }, spec: { replicas: 3, mode: null, keep: null, drop: null, ports: [{}, { protocol: 'UDP' }], opts: { a: {} } } };
  applyDefaults(obj, schema);
  assert.deepEqual(obj.spec, { replicas: 3, mode: 'fast', keep: null, ports: [{ protocol: 'TCP' }, { protocol: 'UDP' }], opts: { a: { on: true } } });
  // Defaults are copies, never shared.
  const a: any = {};
  const b: any = {};
  applyDefaults(a, schema);
  applyDefaults(b, schema);
  a.spec.x = 1;
  assert.equal(b.spec.x, undefined);
});

test('validators work on a registered CRD root (metadata resolves to ObjectMeta)', () => {
  const root = registerCrdSchema('example.com', 'v1', 'Thing', { type: 'object', properties: { spec: { type: 'object', properties: { a: { type: 'string' } } } } });
  try {
    const obj: any = { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 't', nope: 1 }, spec: { a: 'x', b: 1 } };
    assert.deepEqual(unknownFields(obj, root), ['metadata.nope', 'spec.b']);
    assert.deepEqual(validateCustom(obj, root), []);
    assert.deepEqual(pruneUnknown(obj, root), ['metadata.nope', 'spec.b']);
  } finally {
    unregisterCrdSchema('example.com', 'v1', 'Thing');
  }
});
