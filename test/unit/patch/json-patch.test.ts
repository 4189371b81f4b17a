import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyJsonPatch } from '../../../src/machinery/patch/json-patch.js';
import { assertStatus, deployment } from './fixtures.js';

describe('JSON patch (RFC 6902)', () => {
  it('applies add, remove, replace, move, copy and test in order', () => {
    const live = deployment();
    const out = applyJsonPatch(live, [
      { op: 'test', path: '/spec/replicas', value: 2 },
      { op: 'replace', path: '/spec/replicas', value: 5 },
      { op: 'add', path: '/metadata/labels/tier', value: 'front' },
      { op: 'remove', path: '/metadata/finalizers' },
      { op: 'copy', from: '/metadata/labels/app', path: '/metadata/annotations' },
    ]);
    assert.equal((out.spec as { replicas: number }).replicas, 5);
    assert.deepEqual(out.metadata.labels, { app: 'web', tier: 'front' });
    assert.equal(out.metadata.finalizers, undefined);
    assert.equal(out.metadata.annotations as unknown, 'web');
  });

  it('moves values and appends with "-"', () => {
    const out = applyJsonPatch(deployment(), [
      { op: 'move', from: '/metadata/labels', path: '/metadata/annotations' },
      { op: 'add', path: '/metadata/finalizers/-', value: 'b.example/two' },
    ]);
    assert.equal(out.metadata.labels, undefined);
    assert.deepEqual(out.metadata.annotations, { app: 'web' });
    assert.deepEqual(out.metadata.finalizers, ['a.example/one', 'b.example/two']);
  });

  it('never mutates the live object', () => {
    const live = deployment();
    const before = structuredClone(live);
    applyJsonPatch(live, [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'x' }]);
    assert.deepEqual(live, before);
  });

  it('a failed test is 422 Invalid with upstream message and the reason as a cause', () => {
    const err = assertStatus(() => applyJsonPatch(deployment(), [{ op: 'test', path: '/spec/replicas', value: 9 }]), 422, 'Invalid', /rejected our request/);
    assert.equal(err.details?.causes?.[0].field, 'patch');
    assert.match(err.details?.causes?.[0].message ?? '', /Test operation failed/);
  });

  it('paths that do not exist are 422', () => {
    assertStatus(() => applyJsonPatch(deployment(), [{ op: 'replace', path: '/spec/nope', value: 1 }]), 422);
    assertStatus(() => applyJsonPatch(deployment(), [{ op: 'remove', path: '/metadata/annotations' }]), 422);
    assertStatus(() => applyJsonPatch(deployment(), [{ op: 'add', path: '/a/b/c', value: 1 }]), 422);
  });

  it('unknown ops and missing values are 422 (they fail while applying, as upstream)', () => {
    assertStatus(() => applyJsonPatch(deployment(), [{ op: 'frobnicate', path: '/spec' }]), 422);
    assertStatus(() => applyJsonPatch(deployment(), [{ op: 'add', path: '/spec/x' }]), 422);
    assertStatus(() => applyJsonPatch(deployment(), [{ op: 'move', path: '/spec/x' }]), 422);
    assertStatus(() => applyJsonPatch(deployment(), [{ op: 'add', path: 'no-slash', value: 1 }]), 422);
  });

  it('bodies that are not a list of operation objects are 400', () => {
    assertStatus(() => applyJsonPatch(deployment(), { op: 'add' }), 400, 'BadRequest', /cannot unmarshal object into Go value of type jsonpatch.Patch/);
    assertStatus(() => applyJsonPatch(deployment(), 'x'), 400);
    assertStatus(() => applyJsonPatch(deployment(), null), 400);
    assertStatus(() => applyJsonPatch(deployment(), [1]), 400, 'BadRequest', /jsonpatch.Operation/);
  });

  it('more than 10000 operations is 413', () => {
    const ops = Array.from({ length: 10001 }, () => ({ op: 'test', path: '/kind', value: 'Deployment' }));
    assertStatus(() => applyJsonPatch(deployment(), ops), 413);
  });

  it('replacing the root with a non-object is 422', () => {
    assertStatus(() => applyJsonPatch(deployment(), [{ op: 'replace', path: '', value: [1] }]), 422);
  });

  it('refuses prototype pollution', () => {
    assertStatus(() => applyJsonPatch(deployment(), [{ op: 'add', path: '/__proto__/polluted', value: 1 }]), 422);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
