import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  computeHash,
  equalIgnoreHash,
  maxSurge,
  maxUnavailable,
  resolveFenceposts,
  safeEncodeString,
  setNewReplicaSetAnnotations,
} from '../../../src/controllers/deployment/util.js';
import { podsToDelete } from '../../../src/controllers/pod-control.js';
import type { KObject } from '../../../src/machinery/object.js';
import { deployment } from './helpers.js';

function withStrategy(replicas: number, maxSurgeV: unknown, maxUnavailableV: unknown): KObject {
  return deployment('d', replicas, { a: 'b' }, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: maxSurgeV, maxUnavailable: maxUnavailableV } } });
}

describe('deployment util', () => {
  it('hashes templates stably, independent of key order, and varies with the collision count', () => {
    const a = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'x' }] } };
    const b = { spec: { containers: [{ image: 'x', name: 'c' }] }, metadata: { labels: { app: 'web' } } };
    assert.equal(computeHash(a), computeHash(b));
    assert.notEqual(computeHash(a), computeHash(a, 1));
    assert.notEqual(computeHash(a, 1), computeHash(a, 2));
    assert.match(computeHash(a), /^[bcdfghjklmnpqrstvwxz2456789]+$/);
    // Each character maps to alphabet[code % 27]: '0' is 48 → 21 → '4'.
    assert.equal(safeEncodeString('0123456789'), '456789bcdf');
  });

  it('compares templates ignoring pod-template-hash', () => {
    const a = { metadata: { labels: { app: 'web', 'pod-template-hash': 'abc' } }, spec: { x: 1 } };
    assert.ok(equalIgnoreHash(a, { metadata: { labels: { app: 'web' } }, spec: { x: 1 } }));
    assert.ok(!equalIgnoreHash(a, { metadata: { labels: { app: 'api' } }, spec: { x: 1 } }));
  });

  it('rounds surge up and unavailability down, and never both zero', () => {
    assert.deepEqual(resolveFenceposts(withStrategy(10, '25%', '25%'), 10), [3, 2]);
    assert.deepEqual(resolveFenceposts(withStrategy(3, '25%', '25%'), 3), [1, 0]);
    assert.deepEqual(resolveFenceposts(withStrategy(3, 0, '10%'), 3), [0, 1]);
    assert.equal(maxSurge(withStrategy(3, 1, 0)), 1);
    assert.equal(maxUnavailable(withStrategy(3, 0, 5)), 3, 'capped at replicas');
    assert.equal(maxSurge(deployment('r', 3, { a: 'b' }, { strategy: { type: 'Recreate' } })), 0);
  });

  it('raises the revision of a reused ReplicaSet and keeps the old one in revision-history', () => {
    const d = deployment('d', 2, { a: 'b' });
    d.metadata.annotations = { 'kubernetes.io/change-cause': 'why', 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
    const rs: KObject = { metadata: { name: 'd-x', annotations: { 'deployment.kubernetes.io/revision': '1' } } };
    assert.ok(setNewReplicaSetAnnotations(d, rs, 3, true, 1));
    assert.deepEqual(rs.metadata.annotations, {
      'deployment.kubernetes.io/revision': '3',
      'deployment.kubernetes.io/revision-history': '1',
      'kubernetes.io/change-cause': 'why',
    });
    assert.ok(!setNewReplicaSetAnnotations(d, rs, 3, true, 1), 'idempotent');
    const fresh: KObject = { metadata: { name: 'd-y' } };
    setNewReplicaSetAnnotations(d, fresh, 4, false, 1);
    assert.equal(fresh.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'], '2');
    assert.equal(fresh.metadata.annotations?.['deployment.kubernetes.io/max-replicas'], '3');
  });

  it('ranks pods for deletion as upstream: unscheduled, pending, not ready, then doubled-up nodes', () => {
    const t = new Date(Date.now() - 60_000).toISOString();
    const pod = (name: string, node: string, phase: string, ready: boolean): KObject => ({
      metadata: { name, uid: name, creationTimestamp: t },
      spec: { nodeName: node },
      status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t }] },
    });
    const pods = [pod('running-a', 'n1', 'Running', true), pod('running-b', 'n2', 'Running', true), pod('pending', 'n1', 'Pending', false), pod('unscheduled', '', 'Pending', false), pod('notready', 'n2', 'Running', false)];
    assert.deepEqual(podsToDelete(pods, pods, 3).map((p) => p.metadata.name), ['unscheduled', 'pending', 'notready']);
    const extra = pod('other-on-n2', 'n2', 'Running', true);
    // n2 holds more of the family: its pod goes first among equals.
    assert.deepEqual(podsToDelete([pods[0], pods[1]], [...pods, extra], 1).map((p) => p.metadata.name), ['running-b']);
  });
});
