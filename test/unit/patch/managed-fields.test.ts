import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FieldSet } from '../../../src/machinery/patch/fieldpath.js';
import { updateManagedFields, type UpdateManagedFieldsOptions } from '../../../src/machinery/patch/managed-fields.js';
import type { KObject, ManagedFieldsEntry } from '../../../src/machinery/object.js';
import { deployment, deploymentSchema, resolve } from './fixtures.js';

const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-01-02T00:00:00Z';
const opts = (manager: string, now = T1, extra: Partial<UpdateManagedFieldsOptions> = {}): UpdateManagedFieldsOptions => ({
  manager,
  operation: 'Update',
  now,
  apiVersion: 'apps/v1',
  schema: deploymentSchema,
  resolve,
  ignoreStatus: true,
  ...extra,
});

function created(manager = 'kubectl-create'): KObject {
  const obj = deployment();
  updateManagedFields(undefined, obj, opts(manager));
  return obj;
}

const entry = (o: KObject, manager: string): ManagedFieldsEntry | undefined => o.metadata.managedFields?.find((e) => e.manager === manager);
const fieldsOf = (o: KObject, manager: string) => FieldSet.fromFieldsV1(entry(o, manager)?.fieldsV1 ?? {});

describe('managedFields on ordinary writes', () => {
  it('on create the manager owns every field it set, encoded like upstream', () => {
    const obj = created();
    assert.equal(obj.metadata.managedFields?.length, 1);
    const e = entry(obj, 'kubectl-create')!;
    assert.deepEqual({ ...e, fieldsV1: undefined }, { manager: 'kubectl-create', operation: 'Update', apiVersion: 'apps/v1', time: T1, fieldsType: 'FieldsV1', fieldsV1: undefined });
    const f = FieldSet.fromFieldsV1(e.fieldsV1);
    assert.ok(f.has(['f:spec', 'f:replicas']));
    assert.ok(f.has(['f:spec', 'f:selector']), 'atomic map owned as a whole');
    assert.ok(!f.has(['f:spec', 'f:selector', 'f:matchLabels']));
    assert.ok(f.has(['f:metadata', 'f:labels', 'f:app']));
    assert.ok(f.has(['f:metadata', 'f:finalizers', 'v:"a.example/one"']));
    const main = ['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"main"}'];
    assert.ok(f.has(main));
    assert.ok(f.has([...main, 'f:image']));
    assert.ok(f.has([...main, 'f:ports', 'k:{"containerPort":80,"protocol":"TCP"}', 'f:containerPort']));
    assert.ok(f.has(['f:spec', 'f:template', 'f:spec', 'f:tolerations']), 'atomic list owned as a whole');
  });

  it('never tracks identity/system metadata, nor status of a kind with a status subresource', () => {
    const f = fieldsOf(created(), 'kubectl-create');
    for (const m of ['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields'])
      assert.equal(f.at(['f:metadata', `f:${m}`]), undefined, m);
    assert.equal(f.at(['f:apiVersion']), undefined);
    assert.equal(f.at(['f:kind']), undefined);
    assert.equal(f.at(['f:status']), undefined);
    const withStatus = deployment();
    updateManagedFields(undefined, withStatus, opts('c', T1, { ignoreStatus: false }));
    assert.ok(fieldsOf(withStatus, 'c').has(['f:status', 'f:replicas']));
  });

  it('uses the schema default for a missing list-map key field', () => {
    const obj = deployment();
    delete (obj.spec as any).template.spec.containers[0].ports[0].protocol;
    updateManagedFields(undefined, obj, opts('c'));
    assert.ok(fieldsOf(obj, 'c').at(['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"main"}', 'f:ports', 'k:{"containerPort":80,"protocol":"TCP"}']));
  });

  it('a later writer takes the fields it changed; the first keeps the rest', () => {
    const old = created();
    const next = structuredClone(old);
    (next.spec as any).replicas = 5;
    updateManagedFields(old, next, opts('kubectl-scale', T2));
    assert.ok(fieldsOf(next, 'kubectl-scale').has(['f:spec', 'f:replicas']));
    assert.equal(entry(next, 'kubectl-scale')!.time, T2);
    assert.ok(!fieldsOf(next, 'kubectl-create').has(['f:spec', 'f:replicas']));
    assert.ok(fieldsOf(next, 'kubectl-create').has(['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"main"}', 'f:image']));
    assert.equal(entry(next, 'kubectl-create')!.time, T1);
    assert.deepEqual(next.metadata.managedFields!.map((e) => e.manager), ['kubectl-create', 'kubectl-scale'], 'Update entries ordered by time');
  });

  it('a write that changes nothing leaves managedFields alone', () => {
    const old = created();
    const next = structuredClone(old);
    updateManagedFields(old, next, opts('someone-else', T2));
    assert.deepEqual(next.metadata.managedFields, old.metadata.managedFields);
  });

  it('removed fields leave their owner; an owner left with nothing disappears', () => {
    const old = created();
    const scaled = structuredClone(old);
    (scaled.spec as any).replicas = 5;
    updateManagedFields(old, scaled, opts('scaler', T2));
    const next = structuredClone(scaled);
    delete (next.spec as any).replicas;
    updateManagedFields(scaled, next, opts('kubectl-edit', T2));
    assert.equal(entry(next, 'scaler'), undefined);
    assert.equal(entry(next, 'kubectl-edit'), undefined, 'a pure removal owns nothing');
  });

  it('ignores managedFields the client sent', () => {
    const old = created();
    const next = structuredClone(old);
    next.metadata.managedFields = [{ manager: 'forged', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }];
    updateManagedFields(old, next, opts('x', T2));
    assert.deepEqual(next.metadata.managedFields, old.metadata.managedFields);
  });

  it('groups entries by manager, operation, apiVersion and subresource', () => {
    const old = created('ctl');
    const v2 = structuredClone(old);
    (v2.spec as any).replicas = 9;
    updateManagedFields(old, v2, opts('ctl', T2, { apiVersion: 'apps/v1beta2' }));
    const v3 = structuredClone(v2);
    v3.status = { replicas: 9 };
    updateManagedFields(v2, v3, opts('ctl', T2, { subresource: 'status', ignoreStatus: false }));
    const keys = v3.metadata.managedFields!.map((e) => `${e.manager}/${e.apiVersion}/${e.subresource ?? ''}`);
    assert.deepEqual(keys.sort(), ['ctl/apps/v1/', 'ctl/apps/v1/status', 'ctl/apps/v1beta2/'].sort());
  });

  it('without a schema every map key is owned, with "." on the maps', () => {
    const obj: KObject = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 1, items: ['a'] } };
    updateManagedFields(undefined, obj, { manager: 'm', operation: 'Update', now: T1, apiVersion: 'example.com/v1' });
    assert.deepEqual(obj.metadata.managedFields![0].fieldsV1, { 'f:spec': { '.': {}, 'f:items': {}, 'f:size': {} } });
  });

  it('drops managedFields instead of failing when the object cannot be keyed', () => {
    const old = created();
    const next = structuredClone(old);
    (next.spec as any).template.spec.containers = ['not-a-map'];
    assert.doesNotThrow(() => updateManagedFields(old, next, opts('x', T2)));
    assert.equal(next.metadata.managedFields, undefined);
  });

  it('decodes garbage stored managedFields as absent instead of failing', () => {
    const old = deployment();
    old.metadata.managedFields = [{ manager: 'a', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:x': 1 } as never }, 'junk' as never];
    const next = structuredClone(old);
    (next.spec as any).replicas = 1;
    updateManagedFields(old, next, opts('b', T2));
    assert.deepEqual(next.metadata.managedFields!.map((e) => e.manager), ['b']);
  });
});
