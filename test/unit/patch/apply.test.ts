import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serverSideApply, type ApplyOptions } from '../../../src/machinery/patch/apply.js';
import { FieldSet } from '../../../src/machinery/patch/fieldpath.js';
import { updateManagedFields } from '../../../src/machinery/patch/managed-fields.js';
import type { KObject } from '../../../src/machinery/object.js';
import { assertStatus, deploymentSchema, nested, resolve } from './fixtures.js';

const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-01-02T00:00:00Z';
const opts = (manager: string, extra: Partial<ApplyOptions> = {}): ApplyOptions => ({
  manager,
  force: false,
  schema: deploymentSchema,
  resolve,
  now: T1,
  apiVersion: 'apps/v1',
  ignoreStatus: true,
  ...extra,
});

function config(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): KObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default', ...metadata }, spec };
}

const baseSpec = () => ({
  replicas: 2,
  selector: { matchLabels: { app: 'web' } },
  template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image: 'nginx:1.25' }] } },
});

/** What the API server does with a new object: identity fields, then store. */
function stored(obj: KObject): KObject {
  return { ...obj, metadata: { ...obj.metadata, uid: 'u-1', resourceVersion: '1', creationTimestamp: T1 } };
}

const fields = (o: KObject, manager: string, operation = 'Apply') =>
  FieldSet.fromFieldsV1(o.metadata.managedFields?.find((e) => e.manager === manager && e.operation === operation)?.fieldsV1 ?? {});
const containers = (o: KObject) => (o.spec as any).template.spec.containers;

describe('server-side apply: merging and ownership', () => {
  it('creates from the configuration with one Apply entry', () => {
    const out = serverSideApply(undefined, config(baseSpec()), opts('kubectl'));
    assert.deepEqual(out.spec, baseSpec());
    assert.equal(out.metadata.managedFields?.length, 1);
    const e = out.metadata.managedFields![0];
    assert.equal(e.manager, 'kubectl');
    assert.equal(e.operation, 'Apply');
    assert.equal(e.apiVersion, 'apps/v1');
    assert.equal(e.time, T1);
    assert.deepEqual(e.fieldsV1, {
      'f:spec': {
        'f:replicas': {},
        'f:selector': {},
        'f:template': {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': { 'f:containers': { 'k:{"name":"main"}': { '.': {}, 'f:image': {}, 'f:name': {} } } },
        },
      },
    });
  });

  it('never mutates the live object or the configuration', () => {
    const live = stored(serverSideApply(undefined, config(baseSpec()), opts('a')));
    const cfg = config({ ...baseSpec(), replicas: 3 });
    const before = structuredClone([live, cfg]);
    serverSideApply(live, cfg, opts('a'));
    assert.deepEqual([live, cfg], before);
  });

  it('merges associative lists by key and keeps other appliers\' elements', () => {
    const live = stored(serverSideApply(undefined, config(baseSpec()), opts('a')));
    const out = serverSideApply(live, config({ template: { spec: { containers: [{ name: 'sidecar', image: 'envoy' }] } } }), opts('b'));
    assert.deepEqual(containers(out).map((c: { name: string }) => c.name), ['main', 'sidecar']);
    assert.ok(fields(out, 'b').has(['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"sidecar"}', 'f:image']));
    assert.ok(fields(out, 'a').has(['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"main"}', 'f:image']));
  });

  it('unions sets and replaces atomic values', () => {
    const live = stored(serverSideApply(undefined, config(baseSpec(), { finalizers: ['x'] }), opts('a')));
    const out = serverSideApply(live, config({ selector: { matchLabels: { app: 'other' } } }, { finalizers: ['y'] }), opts('b', { force: true }));
    assert.deepEqual(out.metadata.finalizers, ['x', 'y']);
    assert.deepEqual((out.spec as any).selector, { matchLabels: { app: 'other' } });
  });

  it('removes what the applier no longer specifies', () => {
    const first = stored(serverSideApply(undefined, config({ ...baseSpec(), paused: true }, { labels: { a: '1' } }), opts('kubectl')));
    const spec = baseSpec();
    spec.template.spec.containers = [{ name: 'main', image: 'nginx:1.26' }];
    const out = serverSideApply(first, config(spec), opts('kubectl', { now: T2 }));
    assert.equal((out.spec as any).paused, undefined);
    assert.equal(out.metadata.labels, undefined, 'a map emptied by pruning goes too');
    assert.equal(containers(out)[0].image, 'nginx:1.26');
    assert.equal(out.metadata.managedFields![0].time, T2);
  });

  it('keeps removed fields another manager also owns, and fields nobody applied', () => {
    const first = stored(serverSideApply(undefined, config({ ...baseSpec(), paused: true }), opts('a')));
    const shared = serverSideApply(first, config({ paused: true }), opts('b'));
    (shared.spec as any).template.spec.restartPolicy = 'Always'; // e.g. defaulted, owned by nobody
    const out = serverSideApply(shared, config(baseSpec()), opts('a'));
    assert.equal((out.spec as any).paused, true);
    assert.equal((out.spec as any).template.spec.restartPolicy, 'Always');
  });

  it('a dropped container goes, with everything in it', () => {
    const spec = baseSpec();
    spec.template.spec.containers.push({ name: 'side', image: 'busybox' });
    const first = stored(serverSideApply(undefined, config(spec), opts('a')));
    const out = serverSideApply(first, config(baseSpec()), opts('a'));
    assert.deepEqual(containers(out), [{ name: 'main', image: 'nginx:1.25' }]);
  });

  it('null in the configuration removes the field', () => {
    const first = stored(serverSideApply(undefined, config(baseSpec()), opts('a')));
    const out = serverSideApply(first, config({ ...baseSpec(), replicas: null }), opts('a'));
    assert.equal((out.spec as any).replicas, undefined);
    assert.deepEqual((out.spec as any).selector, baseSpec().selector);
  });

  it('an applier that specifies nothing any more loses everything only it owned', () => {
    const first = stored(serverSideApply(undefined, config(baseSpec()), opts('a')));
    const { spec: _omitted, ...bare } = config({});
    const out = serverSideApply(first, bare as KObject, opts('a'));
    assert.equal(out.spec, undefined);
    assert.equal(out.metadata.name, 'web');
    assert.equal(out.metadata.managedFields?.length ?? 0, 0);
  });

  it('does not track status of a kind with a status subresource', () => {
    const cfg = { ...config(baseSpec()), status: { replicas: 5 } };
    const out = serverSideApply(undefined, cfg, opts('a'));
    assert.equal(fields(out, 'a').at(['f:status']), undefined);
  });
});

describe('server-side apply: conflicts', () => {
  const owned = () => stored(serverSideApply(undefined, config(baseSpec()), opts('a')));

  it('changing a field another applier owns is a 409 naming the field', () => {
    const err = assertStatus(() => serverSideApply(owned(), config({ replicas: 3 }), opts('b')), 409, 'Conflict');
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "a": .spec.replicas');
    assert.deepEqual(err.details?.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "a"', field: '.spec.replicas' }]);
  });

  it('applying the same value shares ownership without conflict', () => {
    const out = serverSideApply(owned(), config({ replicas: 2 }), opts('b'));
    assert.ok(fields(out, 'a').has(['f:spec', 'f:replicas']));
    assert.ok(fields(out, 'b').has(['f:spec', 'f:replicas']));
  });

  it('force moves ownership to the applier', () => {
    const out = serverSideApply(owned(), config({ replicas: 3 }), opts('b', { force: true }));
    assert.equal((out.spec as any).replicas, 3);
    assert.ok(fields(out, 'b').has(['f:spec', 'f:replicas']));
    assert.ok(!fields(out, 'a').has(['f:spec', 'f:replicas']));
    assert.ok(fields(out, 'a').has(['f:spec', 'f:selector']));
  });

  it('lists every conflicting field, grouped by manager, with Update managers described like upstream', () => {
    const live = owned();
    const edited = structuredClone(live);
    (edited.spec as any).template.spec.containers[0].image = 'edited';
    updateManagedFields(live, edited, { manager: 'kubectl-edit', operation: 'Update', now: T2, apiVersion: 'apps/v1', schema: deploymentSchema, resolve, ignoreStatus: true });
    const spec = { ...baseSpec(), replicas: 7 };
    spec.template.spec.containers = [{ name: 'main', image: 'mine' }];
    const err = assertStatus(() => serverSideApply(edited, config(spec), opts('b')), 409, 'Conflict');
    assert.equal(
      err.message,
      'Apply failed with 2 conflicts: conflicts with "a":\n- .spec.replicas\nconflicts with "kubectl-edit" using apps/v1 at 2024-01-02T00:00:00Z:\n- .spec.template.spec.containers[name="main"].image',
    );
    assert.deepEqual(
      err.details?.causes?.map((c) => [c.field, c.message]),
      [
        ['.spec.replicas', 'conflict with "a"'],
        ['.spec.template.spec.containers[name="main"].image', 'conflict with "kubectl-edit" using apps/v1 at 2024-01-02T00:00:00Z'],
      ],
    );
  });

  it('an object that never had managedFields conflicts with before-first-apply', () => {
    const legacy = stored(config(baseSpec()));
    assertStatus(() => serverSideApply(legacy, config({ replicas: 9 }), opts('b')), 409, 'Conflict', /before-first-apply/);
  });
});

describe('server-side apply: bad configurations', () => {
  it('rejects what upstream rejects', () => {
    const base = config(baseSpec());
    assertStatus(() => serverSideApply(undefined, base, opts('')), 422, 'Invalid', /fieldManager/);
    assertStatus(() => serverSideApply(undefined, { ...base, apiVersion: 'apps/v2' }, opts('a')), 400, 'BadRequest', /Incorrect version/);
    assertStatus(() => serverSideApply(undefined, { ...base, kind: undefined }, opts('a')), 400, 'BadRequest', /Kind/);
    assertStatus(() => serverSideApply(undefined, { ...base, metadata: { name: 'web', managedFields: [] } }, opts('a')), 400, 'BadRequest', /managedFields must be nil/);
    assertStatus(() => serverSideApply(undefined, { ...base, metadata: 'x' as never }, opts('a')), 400);
    assertStatus(() => serverSideApply(undefined, 'x' as never, opts('a')), 400);
  });

  it('a configuration nested absurdly deep is 400', () => {
    assertStatus(() => serverSideApply(undefined, config({ x: nested(20_000) }), opts('a')), 400, 'BadRequest', /nested/);
  });

  it('duplicate keys in an associative list are 400', () => {
    const spec = baseSpec();
    spec.template.spec.containers.push({ name: 'main', image: 'again' });
    assertStatus(() => serverSideApply(undefined, config(spec), opts('a')), 400, 'BadRequest', /duplicate/);
  });

  it('a list-map element that is not a map is 400, not a crash', () => {
    const spec = { template: { spec: { containers: ['oops'] } } };
    assertStatus(() => serverSideApply(undefined, config(spec), opts('a')), 400);
  });
});

describe('server-side apply and the ordinary write path', () => {
  it('updateManagedFields leaves an apply result alone', () => {
    const live = stored(serverSideApply(undefined, config(baseSpec()), opts('a')));
    const out = serverSideApply(live, config({ ...baseSpec(), replicas: 4 }), opts('a'));
    const settled = structuredClone(out.metadata.managedFields);
    updateManagedFields(live, out, { manager: 'a', operation: 'Update', now: T2, apiVersion: 'apps/v1', schema: deploymentSchema, resolve });
    assert.deepEqual(out.metadata.managedFields, settled);
  });
});
