import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyStrategicMergePatch } from '../../../src/machinery/patch/strategic.js';
import type { KObject } from '../../../src/machinery/object.js';
import { allKeys, assertStatus, deployment, deploymentSchema, nested, resolve } from './fixtures.js';

const smp = (live: KObject, patch: unknown) => applyStrategicMergePatch(live, patch, deploymentSchema, resolve);
const podSpec = (o: KObject) => (o.spec as any).template.spec;
const names = (list: { name: string }[]) => list.map((c) => c.name);

describe('strategic merge patch: maps and plain lists', () => {
  it('merges maps and deletes keys patched to null', () => {
    const out = smp(deployment(), { metadata: { labels: { tier: 'web', app: null } }, spec: { replicas: 3 } });
    assert.deepEqual(out.metadata.labels, { tier: 'web' });
    assert.equal((out.spec as any).replicas, 3);
    assert.equal((out.spec as any).strategy.type, 'RollingUpdate');
  });

  it('replaces lists without a patch strategy', () => {
    const out = smp(deployment(), { spec: { template: { spec: { tolerations: [{ key: 'b', operator: 'Equal' }], containers: [{ name: 'side', command: ['true'] }] } } } });
    assert.deepEqual(podSpec(out).tolerations, [{ key: 'b', operator: 'Equal' }]);
    assert.deepEqual(podSpec(out).containers[1].command, ['true']);
  });

  it('treats lists of fields the schema does not know as atomic', () => {
    const live = deployment();
    (live.spec as any).extra = [{ name: 'x', v: 1 }];
    const out = smp(live, { spec: { extra: [{ name: 'y' }] } });
    assert.deepEqual((out.spec as any).extra, [{ name: 'y' }]);
  });

  it('never mutates the live object', () => {
    const live = deployment();
    const before = structuredClone(live);
    smp(live, { spec: { template: { spec: { containers: [{ name: 'main', image: 'x' }] } } } });
    assert.deepEqual(live, before);
  });
});

describe('strategic merge patch: merge lists', () => {
  it('merges matched elements by merge key, recursively', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: [{ name: 'main', image: 'nginx:1.26', env: [{ name: 'B', value: '3' }] }] } } } });
    const main = podSpec(out).containers[0];
    assert.equal(main.image, 'nginx:1.26');
    assert.deepEqual(main.ports, [{ containerPort: 80, protocol: 'TCP' }]);
    assert.deepEqual(main.env, [{ name: 'A', value: '1' }, { name: 'B', value: '3' }]);
    assert.deepEqual(names(podSpec(out).containers), ['main', 'side']);
  });

  it('puts new elements before live-only ones, as upstream does', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: [{ name: 'new', image: 'x' }] } } } });
    assert.deepEqual(names(podSpec(out).containers), ['new', 'main', 'side']);
  });

  it('unions primitive merge lists without duplicates', () => {
    const out = smp(deployment(), { metadata: { finalizers: ['a.example/one', 'b.example/two'] } });
    assert.deepEqual(out.metadata.finalizers, ['a.example/one', 'b.example/two']);
  });

  it('$deleteFromPrimitiveList removes values', () => {
    const live = deployment();
    live.metadata.finalizers = ['a', 'b', 'c'];
    const out = smp(live, { metadata: { '$deleteFromPrimitiveList/finalizers': ['b', 'zzz'] } });
    assert.deepEqual(out.metadata.finalizers, ['a', 'c']);
  });

  it('$patch: delete removes the element with that key', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: [{ name: 'side', $patch: 'delete' }] } } } });
    assert.deepEqual(names(podSpec(out).containers), ['main']);
  });

  it('$patch: replace as a list element replaces the whole list', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: [{ $patch: 'replace' }, { name: 'solo', image: 'x' }] } } } });
    assert.deepEqual(podSpec(out).containers, [{ name: 'solo', image: 'x' }]);
  });

  it('$patch: merge on an element is the default behaviour', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: [{ name: 'side', image: 'y', $patch: 'merge' }] } } } });
    assert.equal(podSpec(out).containers[1].image, 'y');
    assert.ok(!allKeys(out).some((k) => k.startsWith('$')));
  });

  it('$setElementOrder reorders a merge list, including elements the patch does not touch', () => {
    const out = smp(deployment(), {
      spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'side' }, { name: 'main' }], containers: [{ name: 'main', image: 'z' }] } } },
    });
    assert.deepEqual(names(podSpec(out).containers), ['side', 'main']);
    assert.equal(podSpec(out).containers[1].image, 'z');
  });

  it('$setElementOrder on a primitive list', () => {
    const live = deployment();
    live.metadata.finalizers = ['a', 'b'];
    const out = smp(live, { metadata: { '$setElementOrder/finalizers': ['c', 'b', 'a'], finalizers: ['c'] } });
    assert.deepEqual(out.metadata.finalizers, ['c', 'b', 'a']);
  });

  it('applies the client-side apply patch observed on the wire (kubectl-wire §6.1)', () => {
    const patch = {
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}\n' }, labels: { tier: 'web' } },
      spec: {
        replicas: 3,
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'main' }],
            containers: [
              { '$setElementOrder/env': [{ name: 'A' }, { name: 'C' }], env: [{ name: 'C', value: '3' }, { $patch: 'delete', name: 'B' }], image: 'nginx:1.26', name: 'main' },
              { $patch: 'delete', name: 'side' },
            ],
          },
        },
      },
    };
    const out = smp(deployment(), patch);
    assert.equal((out.spec as any).replicas, 3);
    assert.deepEqual(out.metadata.labels, { app: 'web', tier: 'web' });
    assert.deepEqual(podSpec(out).containers, [
      { name: 'main', image: 'nginx:1.26', ports: [{ containerPort: 80, protocol: 'TCP' }], env: [{ name: 'A', value: '1' }, { name: 'C', value: '3' }] },
    ]);
    assert.ok(!allKeys(out).some((k) => k.startsWith('$')), 'no directive may survive');
  });

  it('applies `kubectl set image` and `rollout restart` patches', () => {
    const set = smp(deployment(), { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'main' }, { name: 'side' }], containers: [{ image: 'x', name: 'main' }] } } } });
    assert.deepEqual(podSpec(set).containers.map((c: { image: string }) => c.image), ['x', 'busybox']);
    const restart = smp(deployment(), { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T00:00:00Z' } } } } });
    assert.deepEqual((restart.spec as any).template.metadata, { labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T00:00:00Z' } });
  });

  it('cleans directives out of newly added values', () => {
    const live = deployment();
    delete podSpec(live).volumes;
    const out = smp(live, { spec: { template: { spec: { volumes: [{ name: 'v', $retainKeys: ['name', 'emptyDir'], emptyDir: {} }], containers: [{ name: 'n', '$setElementOrder/env': [{ name: 'X' }], env: [{ name: 'X', value: '1' }] }] } } } });
    assert.deepEqual(podSpec(out).volumes, [{ name: 'v', emptyDir: {} }]);
    assert.deepEqual(podSpec(out).containers[0], { name: 'n', env: [{ name: 'X', value: '1' }] });
  });
});

describe('strategic merge patch: map directives', () => {
  it('$retainKeys drops the keys it does not list (Deployment strategy)', () => {
    const out = smp(deployment(), { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } });
    assert.deepEqual((out.spec as any).strategy, { type: 'Recreate' });
  });

  it('$retainKeys inside a merge-list element (volume source switch)', () => {
    const out = smp(deployment(), { spec: { template: { spec: { volumes: [{ name: 'cfg', $retainKeys: ['emptyDir', 'name'], emptyDir: {} }] } } } });
    assert.deepEqual(podSpec(out).volumes, [{ name: 'cfg', emptyDir: {} }]);
  });

  it('$patch: replace replaces a map', () => {
    const out = smp(deployment(), { metadata: { labels: { $patch: 'replace', only: 'this' } } });
    assert.deepEqual(out.metadata.labels, { only: 'this' });
  });

  it('$patch: delete removes a map', () => {
    const out = smp(deployment(), { spec: { strategy: { rollingUpdate: { $patch: 'delete' } } } });
    assert.deepEqual((out.spec as any).strategy, { type: 'RollingUpdate' });
  });
});

describe('strategic merge patch: hostile input', () => {
  it('a body that is not an object is 400', () => {
    for (const body of [[1], 'x', null, 5]) assertStatus(() => smp(deployment(), body), 400, 'BadRequest', /cannot unmarshal/);
  });

  it('directives of the wrong type are 400', () => {
    assertStatus(() => smp(deployment(), { metadata: { labels: { $patch: 5 } } }), 400, 'BadRequest', /unknown patch type/);
    assertStatus(() => smp(deployment(), { spec: { template: { spec: { '$setElementOrder/containers': 'x' } } } }), 400, 'BadRequest', /setElementOrder/);
    assertStatus(() => smp(deployment(), { spec: { strategy: { $retainKeys: 'type' } } }), 400, 'BadRequest', /retainKeys/);
    assertStatus(() => smp(deployment(), { metadata: { '$deleteFromPrimitiveList/finalizers': 'a' } }), 400, 'BadRequest', /primitive list/);
    assertStatus(() => smp(deployment(), { spec: { template: { spec: { containers: [{ name: 'main', $patch: 'explode' }] } } } }), 400);
    assertStatus(() => smp(deployment(), { metadata: { $bogus: 1 } }), 400, 'BadRequest', /directive/);
  });

  it('patch content outside $retainKeys is 400', () => {
    assertStatus(() => smp(deployment(), { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: {} } } }), 400, 'BadRequest', /retainKeys/);
  });

  it('merge-list elements without their merge key are 400', () => {
    assertStatus(() => smp(deployment(), { spec: { template: { spec: { containers: [{ image: 'x' }] } } } }), 400, 'BadRequest', /merge key: name/);
    assertStatus(() => smp(deployment(), { spec: { template: { spec: { containers: [{ $patch: 'delete' }] } } } }), 400);
  });

  it('lists of lists are 422 and mixed element types 400', () => {
    assertStatus(() => smp(deployment(), { metadata: { finalizers: [['a']] } }), 422);
    assertStatus(() => smp(deployment(), { metadata: { finalizers: [{ a: 1 }] } }), 400);
  });

  it('an element order that contradicts $setElementOrder is 400', () => {
    const patch = { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'main' }, { name: 'side' }], containers: [{ name: 'side' }, { name: 'main' }] } } } };
    assertStatus(() => smp(deployment(), patch), 400, 'BadRequest', /doesn't match/);
  });

  it('type mismatches replace rather than crash', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: 'oops' } } }, metadata: { labels: ['x'] } });
    assert.equal(podSpec(out).containers, 'oops');
    assert.deepEqual(out.metadata.labels, ['x']);
  });

  it('deep nesting is 400', () => {
    assertStatus(() => smp(deployment(), { spec: nested(50_000) }), 400, 'BadRequest', /nested/);
  });

  it('a __proto__ key never reaches Object.prototype', () => {
    smp(deployment(), JSON.parse('{"metadata":{"__proto__":{"polluted":1}},"__proto__":{"polluted":2}}'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
