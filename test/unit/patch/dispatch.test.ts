import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyPatch, patchMediaType } from '../../../src/machinery/patch/index.js';
import { assertStatus, deployment, deploymentSchema, resolve } from './fixtures.js';

const addContainer = { spec: { template: { spec: { containers: [{ name: 'new', image: 'x' }] } } } };
const names = (o: any) => o.spec.template.spec.containers.map((c: { name: string }) => c.name);

describe('applyPatch dispatch', () => {
  it('matches the exact media type: strategic merges lists, merge patch replaces them', () => {
    const ctx = { schema: deploymentSchema, resolve };
    assert.deepEqual(names(applyPatch('application/strategic-merge-patch+json', deployment(), addContainer, ctx)), ['new', 'main', 'side']);
    assert.deepEqual(names(applyPatch('application/merge-patch+json', deployment(), addContainer, ctx)), ['new']);
  });

  it('ignores parameters and case', () => {
    assert.equal(patchMediaType('Application/Merge-Patch+JSON; charset=utf-8'), 'application/merge-patch+json');
    const out = applyPatch('application/json-patch+json; charset=utf-8', deployment(), [{ op: 'replace', path: '/spec/replicas', value: 1 }]);
    assert.equal((out.spec as any).replicas, 1);
  });

  it('unknown media types are 415', () => {
    for (const ct of ['application/json', 'text/plain', '', 'application/merge-patch+json-x'])
      assertStatus(() => applyPatch(ct, deployment(), {}), 415, 'UnsupportedMediaType');
  });

  it('strategic merge patch is 415 for kinds without a schema (CRDs)', () => {
    assertStatus(() => applyPatch('application/strategic-merge-patch+json', deployment(), {}), 415);
    assertStatus(() => applyPatch('application/strategic-merge-patch+json', deployment(), {}, { schema: deploymentSchema, resolve, strategicAllowed: false }), 415);
    // A built-in served without a schema (e.g. Scale) may still take strategic patches: maps merge.
    const out = applyPatch('application/strategic-merge-patch+json', deployment(), { spec: { replicas: 4 } }, { strategicAllowed: true });
    assert.equal((out.spec as any).replicas, 4);
  });

  it('server-side apply accepts YAML text and creates when there is no live object', () => {
    const yaml = 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n';
    const out = applyPatch('application/apply-patch+yaml', undefined, yaml, { schema: deploymentSchema, resolve, manager: 'kubectl', apiVersion: 'apps/v1', now: '2024-01-01T00:00:00Z' });
    assert.equal((out.spec as any).replicas, 2);
    assert.equal(out.metadata.managedFields?.[0].manager, 'kubectl');
  });

  it('bad apply bodies are 400', () => {
    const ctx = { manager: 'kubectl', apiVersion: 'apps/v1' };
    assertStatus(() => applyPatch('application/apply-patch+yaml', deployment(), 'a: [unclosed', ctx), 400, 'BadRequest', /error decoding YAML/);
    assertStatus(() => applyPatch('application/apply-patch+yaml', deployment(), '- a\n- b\n', ctx), 400, 'BadRequest', /error decoding YAML/);
    assertStatus(() => applyPatch('application/apply-patch+yaml', deployment(), 42, ctx), 400);
  });

  it('other flavours need a live object', () => {
    assertStatus(() => applyPatch('application/merge-patch+json', undefined, {}), 500);
  });

  it('never mutates the live object, whatever the flavour', () => {
    const live = deployment();
    const before = structuredClone(live);
    const ctx = { schema: deploymentSchema, resolve, manager: 'm', apiVersion: 'apps/v1', force: true };
    applyPatch('application/json-patch+json', live, [{ op: 'remove', path: '/spec/template' }], ctx);
    applyPatch('application/merge-patch+json', live, { spec: null }, ctx);
    applyPatch('application/strategic-merge-patch+json', live, addContainer, ctx);
    applyPatch('application/apply-patch+yaml', live, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 9 } }, ctx);
    assert.deepEqual(live, before);
  });
});
