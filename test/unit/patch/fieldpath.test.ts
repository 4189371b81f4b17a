import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FieldSet, canonicalJson, pathElement, pathString } from '../../../src/machinery/patch/fieldpath.js';

const upstreamSample = {
  'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
  'f:spec': {
    'f:replicas': {},
    'f:template': {
      'f:spec': {
        'f:containers': {
          'k:{"name":"nginx"}': {
            '.': {},
            'f:image': {},
            'f:name': {},
            'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
          },
        },
      },
    },
  },
};

describe('FieldSet and FieldsV1', () => {
  it('round-trips upstream FieldsV1 exactly', () => {
    const set = FieldSet.fromFieldsV1(upstreamSample);
    assert.deepEqual(set.toFieldsV1(), upstreamSample);
    assert.ok(set.has(['f:spec', 'f:replicas']));
    assert.ok(set.has(['f:metadata', 'f:labels']));
    assert.ok(!set.has(['f:spec']));
  });

  it('spells keys as canonical compact JSON and values as JSON', () => {
    assert.equal(pathElement.key({ protocol: 'TCP', containerPort: 80 }), 'k:{"containerPort":80,"protocol":"TCP"}');
    assert.equal(pathElement.value('a.example/x'), 'v:"a.example/x"');
    assert.equal(canonicalJson({ b: [1, { d: 1, c: 2 }], a: null }), '{"a":null,"b":[1,{"c":2,"d":1}]}');
  });

  it('formats paths the way conflict messages show them', () => {
    assert.equal(pathString(['f:spec', 'f:replicas']), '.spec.replicas');
    assert.equal(pathString(['f:spec', 'f:containers', 'k:{"name":"web"}', 'f:image']), '.spec.containers[name="web"].image');
    assert.equal(pathString(['f:ports', 'k:{"containerPort":80,"protocol":"TCP"}']), '.ports[containerPort=80,protocol="TCP"]');
    assert.equal(pathString(['f:metadata', 'f:finalizers', 'v:"x"']), '.metadata.finalizers[="x"]');
    assert.equal(pathString(['f:args', 'i:2']), '.args[2]');
  });

  it('computes union, difference and intersection per member', () => {
    const a = new FieldSet();
    a.insert(['f:spec', 'f:replicas']);
    a.insert(['f:spec', 'f:paused']);
    const b = new FieldSet();
    b.insert(['f:spec', 'f:replicas']);
    b.insert(['f:metadata', 'f:labels', 'f:x']);
    assert.deepEqual(a.union(b).paths(), [['f:metadata', 'f:labels', 'f:x'], ['f:spec', 'f:paused'], ['f:spec', 'f:replicas']]);
    assert.deepEqual(a.difference(b).paths(), [['f:spec', 'f:paused']]);
    assert.deepEqual(a.intersection(b).paths(), [['f:spec', 'f:replicas']]);
    assert.ok(a.difference(a).isEmpty());
    assert.deepEqual(a.difference(b).toFieldsV1(), { 'f:spec': { 'f:paused': {} } });
  });

  it('removes subtrees and single memberships', () => {
    const s = FieldSet.fromFieldsV1(upstreamSample);
    assert.ok(!s.withoutSubtree(['f:spec']).has(['f:spec', 'f:replicas']));
    const noLabelsNode = s.withoutMember(['f:metadata', 'f:labels']);
    assert.ok(!noLabelsNode.has(['f:metadata', 'f:labels']));
    assert.ok(noLabelsNode.has(['f:metadata', 'f:labels', 'f:app']));
  });

  it('rejects FieldsV1 that is not a tree of objects with known element kinds', () => {
    for (const bad of [[], 'x', { 'f:a': 1 }, { 'x:a': {} }, { 'f:a': [] }]) assert.throws(() => FieldSet.fromFieldsV1(bad));
  });
});
