import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { hpaV1ToV2, hpaV2ToV1, METRIC_SPECS_ANNOTATION } from '../../../src/api/autoscaling/v1/hpa.js';
import { T0, cells, defaulted, fields, kind, meta, problems } from './helpers.js';

const v2 = kind('autoscaling', 'v2', 'HorizontalPodAutoscaler');
const v1 = kind('autoscaling', 'v1', 'HorizontalPodAutoscaler');
const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };

test('v2 is preferred and v1 is stored as v2', () => {
  assert.ok((v2.versionPriority ?? 0) < (v1.versionPriority ?? 0));
  assert.equal(v2.storedAs, undefined);
  assert.deepEqual({ group: v1.storedAs?.group, version: v1.storedAs?.version }, { group: 'autoscaling', version: 'v2' });
});

test('v2 defaults: minReplicas 1, CPU 80% metric, behavior completed only when given', () => {
  const h = defaulted(v2, { metadata: meta('web'), spec: { scaleTargetRef: ref, maxReplicas: 3 } });
  assert.equal((h.spec as any).minReplicas, 1);
  assert.deepEqual((h.spec as any).metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]);
  assert.equal((h.spec as any).behavior, undefined);
  const b = defaulted(v2, { metadata: meta('web'), spec: { scaleTargetRef: ref, maxReplicas: 3, behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } } });
  assert.deepEqual((b.spec as any).behavior.scaleDown, { stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] });
  assert.equal((b.spec as any).behavior.scaleUp.policies.length, 2);
  assert.deepEqual(problems(v2, b), []);
});

test('v2 validation: bounds, target ref, metric sources', () => {
  const h: KObject = {
    metadata: meta('web'),
    spec: {
      scaleTargetRef: { kind: 'Deployment' },
      minReplicas: 5,
      maxReplicas: 3,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization' } } },
        { type: 'Pods', resource: {} },
        { type: 'Bogus' },
      ],
    },
  };
  assert.deepEqual(problems(v2, h), [
    'spec.scaleTargetRef.name: Required value',
    'spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`',
    'spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization',
    'spec.metrics[1].pods: Required value: must populate information for the given metric source',
    'spec.metrics[1].resource: Forbidden: must populate the given metric source only',
    'spec.metrics[2].type: Unsupported value: "Bogus": supported values: "Object", "Pods", "Resource", "External", "ContainerResource"',
  ]);
  assert.deepEqual(fields(v2, { metadata: meta('x'), spec: { scaleTargetRef: ref, minReplicas: 0, maxReplicas: 0 } }), ['spec.minReplicas', 'spec.maxReplicas']);
});

test('HPA table: reference, targets with unknown current, min/max/replicas', () => {
  const h = defaulted(v2, {
    metadata: meta('web'),
    spec: {
      scaleTargetRef: ref,
      maxReplicas: 3,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
        { type: 'Pods', pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '1k' } } },
        { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } },
      ],
    },
  });
  h.status = { currentReplicas: 2, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 12 } } }] };
  assert.deepEqual(cells(v2, h, T0), {
    Name: 'web',
    Reference: 'Deployment/web',
    Targets: 'cpu: 12%/50%, <unknown>/1k + 1 more...',
    MinPods: '1',
    MaxPods: 3,
    Replicas: 2,
    Age: '0s',
  });
  const fresh = defaulted(v2, { metadata: meta('w'), spec: { scaleTargetRef: ref, maxReplicas: 3 } });
  assert.equal(cells(v2, fresh, T0).Targets, 'cpu: <unknown>/80%');
});

test('v1 → v2: targetCPUUtilizationPercentage becomes a CPU utilization metric', () => {
  const one: KObject = {
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta('web'),
    spec: { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 50 },
  };
  const two = hpaV1ToV2(one);
  assert.equal(two.apiVersion, 'autoscaling/v2');
  assert.deepEqual((two.spec as any).metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }]);
  assert.deepEqual(hpaV2ToV1(two), { ...one, status: { currentReplicas: 0, desiredReplicas: 0 } });
  assert.equal(cells(v1, one, T0).Targets, 'cpu: <unknown>/50%');
  // No target at all means the historical 80% default.
  const bare = hpaV1ToV2({ ...one, spec: { scaleTargetRef: ref, maxReplicas: 3 } });
  assert.equal((bare.spec as any).metrics[0].resource.target.averageUtilization, 80);
});

test('v2 → v1 → v2 keeps what v1 cannot express in annotations', () => {
  const two: KObject = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta('web', { annotations: { keep: 'me' } }),
    spec: {
      scaleTargetRef: ref,
      minReplicas: 2,
      maxReplicas: 9,
      metrics: [
        { type: 'Pods', pods: { metric: { name: 'qps', selector: { matchLabels: { a: 'b' } } }, target: { type: 'AverageValue', averageValue: '1k' } } },
        { type: 'External', external: { metric: { name: 'queue' }, target: { type: 'Value', value: '30' } } },
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
    },
    status: {
      currentReplicas: 3,
      desiredReplicas: 4,
      currentMetrics: [
        { type: 'Pods', pods: { metric: { name: 'qps' }, current: { averageValue: '900' } } },
        { type: 'Resource', resource: { name: 'cpu', current: { averageValue: '120m', averageUtilization: 40 } } },
      ],
      conditions: [{ type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale' }],
    },
  };
  const one = hpaV2ToV1(two);
  assert.equal((one.spec as any).targetCPUUtilizationPercentage, 70);
  assert.equal((one.status as any).currentCPUUtilizationPercentage, 40);
  assert.equal(one.metadata.annotations!.keep, 'me');
  assert.deepEqual(JSON.parse(one.metadata.annotations![METRIC_SPECS_ANNOTATION])[0], {
    type: 'Pods',
    pods: { metricName: 'qps', targetAverageValue: '1k', selector: { matchLabels: { a: 'b' } } },
  });
  assert.deepEqual(hpaV1ToV2(one), two);
  // v1 validation reports against the converted (v2) paths, as upstream does.
  assert.deepEqual(fields(v1, { ...one, spec: { ...(one.spec as object), targetCPUUtilizationPercentage: 0 } }), [
    'spec.metrics[2].resource.target.averageUtilization',
  ]);
});

test('conversions tolerate garbage annotations and shapes', () => {
  const junk: KObject = { metadata: { name: 'x', annotations: { [METRIC_SPECS_ANNOTATION]: '{not json' } }, spec: 'nope', status: 7 } as any;
  const two = hpaV1ToV2(junk);
  assert.equal(two.metadata.annotations![METRIC_SPECS_ANNOTATION], '{not json');
  assert.doesNotThrow(() => hpaV2ToV1({ metadata: {}, spec: { metrics: [null, 5, { type: 'Object', object: 'x' }] }, status: { currentMetrics: 'x' } } as any));
});
