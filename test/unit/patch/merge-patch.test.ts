import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyMergePatch } from '../../../src/machinery/patch/merge-patch.js';
import { assertStatus, deployment, nested } from './fixtures.js';

describe('JSON merge patch (RFC 7386)', () => {
  it('merges objects recursively and null deletes', () => {
    const out = applyMergePatch(deployment(), { metadata: { labels: { tier: 'front', app: null } }, spec: { replicas: 4 } });
    assert.deepEqual(out.metadata.labels, { tier: 'front' });
    assert.equal((out.spec as { replicas: number }).replicas, 4);
    assert.deepEqual((out.spec as any).strategy, (deployment().spec as any).strategy);
  });

  it('replaces arrays wholesale (no merge keys)', () => {
    const out = applyMergePatch(deployment(), { spec: { template: { spec: { containers: [{ name: 'only' }] } } } });
    assert.deepEqual((out.spec as any).template.spec.containers, [{ name: 'only' }]);
  });

  it('creates missing objects and drops nulls inside them', () => {
    const out = applyMergePatch(deployment(), { metadata: { annotations: { a: 'x', b: null } } });
    assert.deepEqual(out.metadata.annotations, { a: 'x' });
  });

  it('replaces a scalar with an object', () => {
    const out = applyMergePatch(deployment(), { spec: { replicas: { weird: true } } });
    assert.deepEqual((out.spec as { replicas: unknown }).replicas, { weird: true });
  });

  it('never mutates the live object and shares nothing with it', () => {
    const live = deployment();
    const before = structuredClone(live);
    const out = applyMergePatch(live, { metadata: { labels: { x: 'y' } } });
    assert.deepEqual(live, before);
    (out.spec as any).template.spec.containers[0].image = 'changed';
    assert.deepEqual(live, before);
  });

  it('non-object bodies are 400', () => {
    for (const body of [null, [1], 'x', 3]) assertStatus(() => applyMergePatch(deployment(), body), 400, 'BadRequest', /Invalid JSON Patch/);
  });

  it('too deeply nested bodies are 400, not a stack overflow', () => {
    assertStatus(() => applyMergePatch(deployment(), nested(100_000)), 400, 'BadRequest', /nested/);
  });

  it('a __proto__ key stays a plain key', () => {
    const out = applyMergePatch(deployment(), JSON.parse('{"metadata":{"__proto__":{"polluted":1}}}'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(out.metadata), Object.prototype);
  });
});
