import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calculateResourceReplicas, milliValue, podRequests, type PodResourceMetric } from '../../../src/controllers/hpa/replicas.js';
import { ScalingHistory, behaviorOf } from '../../../src/controllers/hpa/behavior.js';
import type { KObject } from '../../../src/machinery/object.js';

const NOW = Date.parse('2025-01-01T12:00:00Z');
const LONG_AGO = '2025-01-01T11:00:00Z';

function pod(name: string, o: { cpu?: string; phase?: string; ready?: boolean; started?: string; deleted?: boolean } = {}): KObject {
  const started = o.started ?? LONG_AGO;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(o.deleted ? { deletionTimestamp: LONG_AGO } : {}) },
    spec: { containers: [{ name: 'app', resources: { requests: { cpu: o.cpu ?? '100m' } } }] },
    status: {
      phase: o.phase ?? 'Running',
      startTime: started,
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: started }],
    },
  };
}

function usage(entries: Record<string, number>, timestamp?: number, windowMs?: number): Map<string, PodResourceMetric> {
  return new Map(Object.entries(entries).map(([k, value]) => [k, { value, timestamp, windowMs }]));
}

const calc = (current: number, pods: KObject[], metrics: Map<string, PodResourceMetric>, utilization = 50) =>
  calculateResourceReplicas({ currentReplicas: current, pods, metrics, resource: 'cpu', target: { utilization } }, { now: NOW });

describe('HPA replica calculator', () => {
  it('utilization = sum(usage)/sum(requests) over ready pods', () => {
    const r = calc(2, [pod('a'), pod('b')], usage({ a: 100, b: 100 }));
    assert.deepEqual(r, { replicas: 4, utilization: 100, rawAverage: 100 });
    const mixed = calc(2, [pod('a', { cpu: '200m' }), pod('b')], usage({ a: 100, b: 200 }));
    assert.equal(mixed.utilization, 100);
    assert.equal(mixed.replicas, 4);
  });

  it('keeps the count within the 10% tolerance', () => {
    assert.equal(calc(3, [pod('a'), pod('b'), pod('c')], usage({ a: 54, b: 54, c: 54 })).replicas, 3);
    assert.equal(calc(3, [pod('a'), pod('b'), pod('c')], usage({ a: 60, b: 60, c: 60 })).replicas, 4);
  });

  it('missing metrics: 0% on a scale-up, at least 100% of request on a scale-down', () => {
    const four = [pod('a'), pod('b'), pod('c'), pod('d')];
    assert.equal(calc(4, four, usage({ a: 100, b: 100 })).replicas, 4);
    assert.equal(calc(4, four, usage({ a: 150, b: 150 })).replicas, 6);
    const six = [...four, pod('e'), pod('f')];
    assert.equal(calc(6, six, usage({ a: 10, b: 10, c: 10, d: 10 })).replicas, 5);
    // A target above 100% counts missing pods at the target.
    assert.equal(calc(6, six, usage({ a: 10, b: 10, c: 10, d: 10 }), 150).replicas, 3);
  });

  it('ignores deleted and failed pods; unready pods count as idle only on a scale-up', () => {
    const pods = [pod('a'), pod('b'), pod('c', { phase: 'Pending' }), pod('d', { deleted: true }), pod('e', { phase: 'Failed' })];
    assert.equal(calc(3, pods, usage({ a: 75, b: 75, c: 500, d: 500, e: 500 })).replicas, 3);
    assert.equal(calc(3, pods, usage({ a: 100, b: 100, c: 500 })).replicas, 4);
    // Scale-down ignores the unready pod altogether.
    assert.equal(calc(3, pods, usage({ a: 10, b: 10, c: 500 })).replicas, 1);
  });

  it('a pod in its CPU initialization period counts once a full window was sampled after it became ready', () => {
    const start = new Date(NOW - 60_000).toISOString();
    const young = pod('b', { started: start });
    const readyAt = Date.parse(start);
    // Sample taken before ready + window: unready → idle on the scale-up.
    assert.equal(calc(2, [pod('a'), young], usage({ a: 100, b: 100 }, readyAt + 1000, 5000)).replicas, 2);
    assert.equal(calc(2, [pod('a'), young], usage({ a: 100, b: 100 }, readyAt + 10_000, 5000)).replicas, 4);
  });

  it('errors as upstream', () => {
    assert.throws(() => calc(1, [], usage({})), /no pods returned by selector/);
    assert.throws(() => calc(1, [pod('a', { phase: 'Pending' })], usage({ a: 1 })), /did not receive metrics for targeted pods/);
    const noReq = pod('a');
    (noReq.spec as { containers: { resources: unknown }[] }).containers[0].resources = {};
    assert.throws(() => calc(1, [noReq], usage({ a: 1 })), /missing request for cpu in container app of Pod a/);
  });

  it('average value targets', () => {
    const r = calculateResourceReplicas(
      { currentReplicas: 2, pods: [pod('a'), pod('b')], metrics: usage({ a: 300, b: 100 }), resource: 'memory', target: { averageValue: 100 } },
      { now: NOW },
    );
    assert.deepEqual(r, { replicas: 4, rawAverage: 200 });
  });

  it('quantities and requests in milli-units', () => {
    assert.equal(milliValue('250m'), 250);
    assert.equal(milliValue('1'), 1000);
    assert.equal(milliValue('123456n'), 1);
    assert.equal(milliValue('1Ki'), 1024_000);
    const p = pod('a');
    (p.spec as { initContainers?: unknown[] }).initContainers = [{ name: 'sidecar', restartPolicy: 'Always', resources: { requests: { cpu: '50m' } } }];
    assert.equal(podRequests([p], 'cpu').get('a'), 150);
    assert.equal(podRequests([p], 'cpu', 'app').get('a'), 100);
  });
});

describe('HPA scaling behavior', () => {
  it('legacy rules: scale-up at most max(2×, 4); scale-down held by the 5-minute window', () => {
    let t = NOW;
    const h = new ScalingHistory(() => t);
    h.recordInitial('k', 2);
    assert.equal(h.normalize('k', { currentReplicas: 2, desiredReplicas: 20, minReplicas: 1, maxReplicas: 50 }).replicas, 4);
    t += 60_000;
    const held = h.normalize('k', { currentReplicas: 4, desiredReplicas: 1, minReplicas: 1, maxReplicas: 50 });
    assert.equal(held.replicas, 8, 'held at the highest recent recommendation, within the rate limit');
    assert.equal(held.conditions[0].reason, 'ScaleDownStabilized');
    t += 300_000;
    assert.equal(h.normalize('k', { currentReplicas: 4, desiredReplicas: 1, minReplicas: 1, maxReplicas: 50 }).replicas, 1);
  });

  it('policies: selectPolicy Max picks the larger step, Min the smaller, Disabled none', () => {
    const t = NOW;
    const spec = (selectPolicy: string) => ({
      behavior: {
        scaleUp: {
          stabilizationWindowSeconds: 0,
          selectPolicy,
          policies: [
            { type: 'Pods', value: 2, periodSeconds: 60 },
            { type: 'Percent', value: 100, periodSeconds: 60 },
          ],
        },
      },
    });
    const run = (sp: string) => {
      const h = new ScalingHistory(() => t);
      h.recordInitial('k', 10);
      return h.normalize('k', { currentReplicas: 10, desiredReplicas: 100, minReplicas: 1, maxReplicas: 100, behavior: behaviorOf(spec(sp)) });
    };
    assert.equal(run('Max').replicas, 20);
    assert.equal(run('Min').replicas, 12);
    assert.equal(run('Disabled').replicas, 10);
  });

  it('scale events within the period count against the next step', () => {
    let t = NOW;
    const h = new ScalingHistory(() => t);
    const behavior = behaviorOf({ behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }] } } });
    h.recordInitial('k', 8);
    const a = h.normalize('k', { currentReplicas: 8, desiredReplicas: 1, minReplicas: 1, maxReplicas: 10, behavior });
    assert.equal(a.replicas, 4);
    h.recordScale('k', behavior, 8, 4);
    t += 30_000;
    assert.equal(h.normalize('k', { currentReplicas: 4, desiredReplicas: 1, minReplicas: 1, maxReplicas: 10, behavior }).replicas, 4);
    t += 31_000;
    assert.equal(h.normalize('k', { currentReplicas: 4, desiredReplicas: 1, minReplicas: 1, maxReplicas: 10, behavior }).replicas, 2);
  });
});
