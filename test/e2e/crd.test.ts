// CustomResourceDefinitions: served at once with schema validation, pruning, defaults, status
// and scale subresources and additionalPrinterColumns; deleting the CRD deletes its objects.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, eventually } from './harness.js';

let c: TestCluster;

before(async () => {
  c = await TestCluster.create('crd');
});
after(async () => {
  await c?.destroy();
});

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget, shortNames: [wg] }
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: { specReplicasPath: .spec.size, statusReplicasPath: .status.size }
    additionalPrinterColumns:
    - { name: Size, type: integer, jsonPath: .spec.size }
    - { name: Color, type: string, jsonPath: .spec.color }
    - { name: Age, type: date, jsonPath: .metadata.creationTimestamp }
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: { type: integer, minimum: 1, maximum: 10 }
              color: { type: string, enum: [red, blue], default: red }
              items: { type: array, items: { type: string } }
          status:
            type: object
            properties:
              size: { type: integer }
`;

describe('custom resources', () => {
  it('serves a new CRD immediately, with short names and printer columns', async () => {
    await c.k(['apply', '-f', '-'], { input: CRD });
    await eventually(async () => (await c.kubectl(['get', 'widgets'])).code === 0, 'widgets to be served');
    const w1 = 'apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w1 }\nspec: { size: 2, extra: dropped }\n';
    const strict = await c.kubectl(['apply', '-f', '-'], { input: w1 });
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /strict decoding error: unknown field "spec.extra"/);
    await c.k(['apply', '--validate=false', '-f', '-'], { input: w1 });
    const out = await c.k(['get', 'wg']);
    assert.match(out, /^NAME\s+SIZE\s+COLOR\s+AGE$/m);
    assert.match(out, /^w1\s+2\s+red\s+\d+s$/m);
    const obj = JSON.parse(await c.k(['get', 'widget', 'w1', '-o', 'json']));
    assert.equal(obj.spec.color, 'red', 'schema default applied');
    assert.equal(obj.spec.extra, undefined, 'unknown field pruned');
  });

  it('validates against the schema with 422 naming the field', async () => {
    const r = await c.kubectl(['apply', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w2 }\nspec: { size: 99, color: green }\n' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /spec\.size/);
    assert.match(r.stderr, /spec\.color/);
    const missing = await c.kubectl(['apply', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w3 }\nspec: {}\n' });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /spec\.size: Required value/);
  });

  it('has status and scale subresources and merge-patches (no strategic merge for CRs)', async () => {
    await c.k(['scale', 'widget', 'w1', '--replicas=5']);
    assert.equal(JSON.parse(await c.k(['get', 'widget', 'w1', '-o', 'json'])).spec.size, 5);
    const r = await c.request('PATCH', '/apis/example.com/v1/namespaces/default/widgets/w1/status', {
      body: JSON.stringify({ status: { size: 5 }, spec: { size: 1 } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    assert.equal(r.status, 200, r.body);
    const w = JSON.parse(await c.k(['get', 'widget', 'w1', '-o', 'json']));
    assert.equal(w.status.size, 5);
    assert.equal(w.spec.size, 5, 'status writes never change spec');
    const smp = await c.request('PATCH', '/apis/example.com/v1/namespaces/default/widgets/w1', {
      body: '{"spec":{"size":3}}',
      headers: { 'content-type': 'application/strategic-merge-patch+json' },
    });
    assert.equal(smp.status, 415);
    await c.k(['patch', 'widget', 'w1', '--type', 'merge', '-p', '{"spec":{"size":3}}']);
  });

  it('deletes its objects with the CRD', async () => {
    await c.k(['delete', 'crd', 'widgets.example.com']);
    await eventually(async () => (await c.kubectl(['get', 'crd', 'widgets.example.com'])).code === 1, 'the CRD to go');
    const r = await c.kubectl(['get', 'widgets']);
    assert.equal(r.code, 1);
    // With kubectl's discovery cache still naming widgets, the server's 404 is what upstream gives too.
    assert.match(r.stderr, /doesn't have a resource type "widgets"|the server could not find the requested resource/);
  });
});
