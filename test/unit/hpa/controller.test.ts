import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { HorizontalPodAutoscalerController, HPA_RESOURCE } from '../../../src/controllers/hpa/index.js';
import { hpaTargetsCell } from '../../../src/api/autoscaling/v2/hpa.js';
import type { KObject } from '../../../src/machinery/object.js';
import { FakeClock, FakeMetrics, condition, cpuMetric, createNs, createPod, deployment, eventsFor, hpa, statefulSet, waitFor } from './helpers.js';

const SEC = 1000;

describe('HorizontalPodAutoscaler controller', () => {
  let t: TestApi;
  let client: ApiClient;
  let clock: FakeClock;
  let metrics: FakeMetrics;
  let ctrl: HorizontalPodAutoscalerController;

  before(async () => {
    t = await startTestApi();
    client = t.client('test');
    clock = new FakeClock(Date.now());
    metrics = new FakeMetrics();
    // A sync period longer than any test: every reconcile here is an explicit resync().
    ctrl = new HorizontalPodAutoscalerController(t.client('horizontal-pod-autoscaler'), { metrics, now: clock.now, syncPeriodMs: 3_600_000 });
    await ctrl.start();
  });

  after(async () => {
    ctrl.stop();
    await t.close();
  });

  /** A namespace with a target, `n` ready pods at `usage` each (requests 100m cpu, 64Mi memory). */
  async function setup(ns: string, n: number, usage: Record<string, string>, target: KObject = deployment('web', n, { app: ns })): Promise<void> {
    await createNs(client, ns);
    const r = target.kind === 'StatefulSet' ? R.statefulsets : R.deployments;
    await client.create(r, ns, target);
    for (let i = 0; i < n; i++) {
      await createPod(client, ns, `web-${i}`, { app: ns });
      metrics.set(ns, `web-${i}`, usage);
    }
    await podsSeen(ns, n);
  }

  async function podsSeen(ns: string, n: number): Promise<void> {
    await waitFor(`${n} pods in the controller's cache`, () => ctrl.pods.list(ns).filter((p) => (p.status as { phase?: string })?.phase).length === n);
  }

  async function addPods(ns: string, from: number, to: number, usage?: Record<string, string>, state?: 'ready' | 'pending' | 'unready'): Promise<void> {
    for (let i = from; i < to; i++) {
      await createPod(client, ns, `web-${i}`, { app: ns }, { state });
      if (usage) metrics.set(ns, `web-${i}`, usage);
    }
    await podsSeen(ns, to);
  }

  /** Creates the HPA and waits for the sync its creation triggers (one sync, as a rate-limited scale-up must be). */
  async function createHpa(ns: string, h: KObject, r = HPA_RESOURCE): Promise<void> {
    await client.create(r, ns, h);
    await waitFor('the first sync of the HPA', async () => ((await getHpa(ns, h.metadata.name)).status as { conditions?: unknown[] } | undefined)?.conditions);
    await ctrl.idle();
  }

  async function replicas(ns: string, kind: 'deployments' | 'statefulsets' = 'deployments', name = 'web'): Promise<number> {
    return ((await client.get(R[kind], ns, name)).spec as { replicas: number }).replicas;
  }

  async function setReplicas(ns: string, n: number): Promise<void> {
    await client.patch(R.deployments, ns, 'web', 'application/merge-patch+json', { spec: { replicas: n } });
  }

  const getHpa = (ns: string, name = 'web'): Promise<KObject> => client.get(HPA_RESOURCE, ns, name);

  it('scales out when utilization is above target, with status, conditions and an event', async () => {
    const ns = 'hpa-out';
    await setup(ns, 2, { cpu: '100m' });
    await createHpa(ns, hpa('web', { kind: 'Deployment', name: 'web' }, { minReplicas: 1, maxReplicas: 10, metrics: [cpuMetric(50)] }));
    assert.equal(await replicas(ns), 4);
    const h = await getHpa(ns);
    const st = h.status as Record<string, unknown>;
    assert.equal(st.currentReplicas, 2);
    assert.equal(st.desiredReplicas, 4);
    assert.ok(typeof st.lastScaleTime === 'string');
    assert.deepEqual(st.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 100, averageValue: '100m' } } }]);
    assert.equal(hpaTargetsCell(h), 'cpu: 100%/50%');
    assert.equal(condition(h, 'AbleToScale')?.reason, 'SucceededRescale');
    assert.equal(condition(h, 'ScalingActive')?.status, 'True');
    assert.equal(condition(h, 'ScalingActive')?.reason, 'ValidMetricFound');
    assert.equal(condition(h, 'ScalingLimited')?.status, 'False');
    const ev = await eventsFor(client, ns, 'web', 'SuccessfulRescale');
    assert.equal(ev.length, 1);
    assert.equal(ev[0].message, 'New size: 4; reason: cpu resource utilization (percentage of request) above target');
  });

  it('scales in only after the downscale stabilization window, honouring minReplicas', async () => {
    const ns = 'hpa-in';
    await setup(ns, 4, { cpu: '80m' });
    await createHpa(ns, hpa('web', { kind: 'Deployment', name: 'web' }, { minReplicas: 2, maxReplicas: 10, metrics: [cpuMetric(50)] }));
    // 80% of request against 50%: 4 → 7 (at most double).
    assert.equal(await replicas(ns), 7);
    await addPods(ns, 4, 7, { cpu: '80m' });
    // The load stops: 10% → 2 replicas wanted, but the last 5 minutes recommended 7.
    for (let i = 0; i < 7; i++) metrics.set(ns, `web-${i}`, { cpu: '10m' });
    clock.advance(60 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 7);
    let h = await getHpa(ns);
    assert.equal(condition(h, 'AbleToScale')?.reason, 'ScaleDownStabilized');
    assert.equal(hpaTargetsCell(h), 'cpu: 10%/50%');
    assert.equal((h.status as { desiredReplicas: number }).desiredReplicas, 7);
    clock.advance(241 * SEC);
    await ctrl.resync();
    // ceil(0.2 × 7) = 2 = minReplicas.
    assert.equal(await replicas(ns), 2);
    h = await getHpa(ns);
    assert.equal((h.status as { desiredReplicas: number }).desiredReplicas, 2);
    const ev = await eventsFor(client, ns, 'web', 'SuccessfulRescale');
    assert.ok(ev.some((e) => e.message === 'New size: 2; reason: All metrics below target'));
    // Even lower usage cannot go below minReplicas.
    for (let i = 0; i < 7; i++) metrics.set(ns, `web-${i}`, { cpu: '1m' });
    clock.advance(301 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 2);
    h = await getHpa(ns);
    assert.equal(condition(h, 'ScalingLimited')?.status, 'True');
    assert.equal(condition(h, 'ScalingLimited')?.reason, 'TooFewReplicas');
  });

  it('honours maxReplicas and brings a target above it back down', async () => {
    const ns = 'hpa-max';
    await setup(ns, 2, { cpu: '500m' });
    await createHpa(ns, hpa('web', { kind: 'Deployment', name: 'web' }, { minReplicas: 1, maxReplicas: 3, metrics: [cpuMetric(50)] }));
    assert.equal(await replicas(ns), 3);
    let h = await getHpa(ns);
    assert.equal(condition(h, 'ScalingLimited')?.status, 'True');
    assert.equal(condition(h, 'ScalingLimited')?.reason, 'TooManyReplicas');
    assert.equal(hpaTargetsCell(h), 'cpu: 500%/50%');
    await setReplicas(ns, 6);
    await ctrl.resync();
    assert.equal(await replicas(ns), 3);
    const ev = await eventsFor(client, ns, 'web', 'SuccessfulRescale');
    assert.ok(ev.some((e) => e.message === 'New size: 3; reason: Current number of replicas above Spec.MaxReplicas'));
    h = await getHpa(ns);
    assert.equal((h.status as { currentReplicas: number }).currentReplicas, 6);
  });

  it('limits each step by the behavior policies', async () => {
    const ns = 'hpa-policy';
    await setup(ns, 2, { cpu: '200m' });
    const behavior = { scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } };
    await createHpa(ns, hpa('web', { kind: 'Deployment', name: 'web' }, { minReplicas: 1, maxReplicas: 10, metrics: [cpuMetric(50)], behavior }));
    // 200% of request against 50% asks for 8; one pod per minute allows 3.
    assert.equal(await replicas(ns), 3);
    let h = await getHpa(ns);
    assert.equal(condition(h, 'ScalingLimited')?.status, 'True');
    assert.equal(condition(h, 'ScalingLimited')?.reason, 'ScaleUpLimit');
    await addPods(ns, 2, 3, { cpu: '200m' });
    clock.advance(20 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 3, 'still within the policy period');
    clock.advance(41 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 4);
    // The defaulted scaleDown rules (300 s window) hold a scale-down back.
    for (let i = 0; i < 3; i++) metrics.set(ns, `web-${i}`, { cpu: '5m' });
    await addPods(ns, 3, 4, { cpu: '5m' });
    clock.advance(60 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 4);
    h = await getHpa(ns);
    assert.equal(condition(h, 'AbleToScale')?.reason, 'ScaleDownStabilized');
    clock.advance(301 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 1);
  });

  it('scale-down policy: at most one pod per period', async () => {
    const ns = 'hpa-down-policy';
    await setup(ns, 6, { cpu: '5m' });
    const behavior = { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }] } };
    await createHpa(ns, hpa('web', { kind: 'Deployment', name: 'web' }, { minReplicas: 1, maxReplicas: 10, metrics: [cpuMetric(50)], behavior }));
    assert.equal(await replicas(ns), 5);
    assert.equal(condition(await getHpa(ns), 'ScalingLimited')?.reason, 'ScaleDownLimit');
    clock.advance(10 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 5);
    clock.advance(21 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 4);
  });

  it('handles pods without metrics as upstream: idle on a scale-up, at the target on a scale-down', async () => {
    const ns = 'hpa-missing';
    // Two pods at 100%, two without metrics: counted as 0 → 50% average, within tolerance.
    await setup(ns, 2, { cpu: '100m' });
    await addPods(ns, 2, 4);
    await setReplicas(ns, 4);
    const behavior = { scaleDown: { stabilizationWindowSeconds: 0 } };
    await createHpa(ns, hpa('web', { kind: 'Deployment', name: 'web' }, { minReplicas: 1, maxReplicas: 10, metrics: [cpuMetric(50)], behavior }));
    assert.equal(await replicas(ns), 4);
    let h = await getHpa(ns);
    assert.equal(hpaTargetsCell(h), 'cpu: 100%/50%', 'current utilization is over the pods with metrics');
    // Six pods, four at 10% and two without metrics (counted at 100%): (40+200)/6 = 40% → ceil(0.8 × 6) = 5.
    for (let i = 0; i < 4; i++) metrics.set(ns, `web-${i}`, { cpu: '10m' });
    await addPods(ns, 4, 6);
    await setReplicas(ns, 6);
    clock.advance(20 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 5);
    // No metrics at all: the metric fails, nothing is scaled, ScalingActive says why.
    metrics.clear(ns);
    clock.advance(20 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 5);
    h = await getHpa(ns);
    assert.equal(condition(h, 'ScalingActive')?.status, 'False');
    assert.equal(condition(h, 'ScalingActive')?.reason, 'FailedGetResourceMetric');
    assert.match(condition(h, 'ScalingActive')!.message!, /no metrics returned from resource metrics API/);
    assert.equal(hpaTargetsCell(h), 'cpu: <unknown>/50%');
    assert.ok((await eventsFor(client, ns, 'web', 'FailedGetResourceMetric')).length >= 1);
    assert.ok((await eventsFor(client, ns, 'web', 'FailedComputeMetricsReplicas')).length >= 1);
  });

  it('ignores not-yet-ready pods on a scale-up', async () => {
    const ns = 'hpa-unready';
    await setup(ns, 2, { cpu: '100m' });
    // Two more pods still Pending: they count as idle, (100+100+0+0)/400 = 50% → no change.
    await addPods(ns, 2, 4, { cpu: '400m' }, 'pending');
    await setReplicas(ns, 4);
    await createHpa(ns, hpa('web', { kind: 'Deployment', name: 'web' }, { minReplicas: 1, maxReplicas: 10, metrics: [cpuMetric(50)] }));
    assert.equal(await replicas(ns), 4);
    assert.equal(hpaTargetsCell(await getHpa(ns)), 'cpu: 100%/50%');
  });

  it('scales a StatefulSet (apps/v1beta1 reference) on memory average value', async () => {
    const ns = 'hpa-sts';
    await setup(ns, 2, { cpu: '10m', memory: '96Mi' }, statefulSet('web', 2, { app: ns }));
    const memory = { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '32Mi' } } };
    await createHpa(ns, hpa('web', { kind: 'StatefulSet', name: 'web', apiVersion: 'apps/v1beta1' }, { minReplicas: 1, maxReplicas: 10, metrics: [memory] }));
    // 96Mi average against 32Mi: 3 × 2 = 6, but the legacy rate limit allows max(2×2, 4) = 4.
    assert.equal(await replicas(ns, 'statefulsets'), 4);
    const h = await getHpa(ns);
    assert.deepEqual((h.status as { currentMetrics: unknown[] }).currentMetrics, [
      { type: 'Resource', resource: { name: 'memory', current: { averageValue: String(96 * 1024 * 1024) } } },
    ]);
    assert.equal(hpaTargetsCell(h), `memory: ${96 * 1024 * 1024}/32Mi`);
    const ev = await eventsFor(client, ns, 'web', 'SuccessfulRescale');
    assert.equal(ev[0].message, 'New size: 4; reason: memory resource above target');
  });

  it('scales on a ContainerResource metric of one container', async () => {
    const ns = 'hpa-container';
    await setup(ns, 2, { cpu: '75m' });
    const m = { type: 'ContainerResource', containerResource: { name: 'cpu', container: 'app', target: { type: 'Utilization', averageUtilization: 50 } } };
    await createHpa(ns, hpa('web', { kind: 'Deployment', name: 'web' }, { minReplicas: 1, maxReplicas: 10, metrics: [m] }));
    assert.equal(await replicas(ns), 3);
    const h = await getHpa(ns);
    assert.deepEqual((h.status as { currentMetrics: unknown[] }).currentMetrics, [
      { type: 'ContainerResource', containerResource: { name: 'cpu', container: 'app', current: { averageUtilization: 75, averageValue: '75m' } } },
    ]);
    assert.equal(hpaTargetsCell(h), 'cpu: 75%/50%');
    const ev = await eventsFor(client, ns, 'web', 'SuccessfulRescale');
    assert.equal(ev[0].message, 'New size: 3; reason: cpu container resource utilization (percentage of request) above target');
  });

  it('scales up on CPU while a Pods metric has no adapter, but does not scale down', async () => {
    const ns = 'hpa-custom';
    await setup(ns, 2, { cpu: '100m' });
    const podsMetric = { type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: '10' } } };
    await createHpa(ns, hpa('web', { kind: 'Deployment', name: 'web' }, { minReplicas: 1, maxReplicas: 10, metrics: [podsMetric, cpuMetric(50)] }));
    assert.equal(await replicas(ns), 4);
    let h = await getHpa(ns);
    assert.equal(condition(h, 'ScalingActive')?.reason, 'ValidMetricFound');
    assert.ok((await eventsFor(client, ns, 'web', 'FailedGetPodsMetric')).length >= 1);
    assert.equal(hpaTargetsCell(h), '<unknown>/10, cpu: 100%/50%');
    // Low CPU would scale down, which a failing metric forbids.
    await addPods(ns, 2, 4, { cpu: '1m' });
    for (let i = 0; i < 2; i++) metrics.set(ns, `web-${i}`, { cpu: '1m' });
    clock.advance(400 * SEC);
    await ctrl.resync();
    assert.equal(await replicas(ns), 4);
    h = await getHpa(ns);
    assert.equal(condition(h, 'ScalingActive')?.status, 'False');
    assert.equal(condition(h, 'ScalingActive')?.reason, 'FailedGetPodsMetric');
  });

  it('an autoscaling/v1 HPA (kubectl autoscale) works through conversion', async () => {
    const ns = 'hpa-v1';
    await setup(ns, 1, { cpu: '90m' });
    const v1 = { group: 'autoscaling', version: 'v1', resource: 'horizontalpodautoscalers' };
    await createHpa(ns, {
      apiVersion: 'autoscaling/v1',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 1, maxReplicas: 10, targetCPUUtilizationPercentage: 50 },
    }, v1);
    assert.equal(await replicas(ns), 2);
    const h = await client.get(v1, ns, 'web');
    const st = h.status as { currentReplicas: number; desiredReplicas: number; currentCPUUtilizationPercentage?: number };
    assert.equal(st.desiredReplicas, 2);
    assert.equal(st.currentCPUUtilizationPercentage, 90);
  });

  it('reports a missing target as AbleToScale=False and a zero-replica target as ScalingDisabled', async () => {
    const ns = 'hpa-notarget';
    await createNs(client, ns);
    await createHpa(ns, hpa('web', { kind: 'Deployment', name: 'nope' }, { maxReplicas: 3, metrics: [cpuMetric(50)] }));
    let h = await getHpa(ns);
    assert.equal(condition(h, 'AbleToScale')?.status, 'False');
    assert.equal(condition(h, 'AbleToScale')?.reason, 'FailedGetScale');
    assert.ok((await eventsFor(client, ns, 'web', 'FailedGetScale')).length >= 1);
    await client.create(R.deployments, ns, deployment('nope', 0, { app: ns }));
    await ctrl.resync();
    h = await getHpa(ns);
    assert.equal(condition(h, 'AbleToScale')?.status, 'True');
    assert.equal(condition(h, 'ScalingActive')?.reason, 'ScalingDisabled');
    assert.equal(((await client.get(R.deployments, ns, 'nope')).spec as { replicas: number }).replicas, 0);
  });
});
