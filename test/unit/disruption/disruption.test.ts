import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { DeploymentController } from '../../../src/controllers/deployment/index.js';
import { ReplicaSetController } from '../../../src/controllers/replicaset.js';
import { DisruptionController, scaledValue } from '../../../src/controllers/disruption.js';
import { createNs, deployment, evict, FakeKubelet, isReady, livePods, markReady, pdb, pdbStatus, waitFor } from './helpers.js';

describe('disruption controller and pods/eviction', () => {
  let t: TestApi;
  let client: ApiClient;
  let rs: ReplicaSetController;
  let dep: DeploymentController;
  let dc: DisruptionController;
  let kubelet: FakeKubelet;
  /** Namespaces whose new pods the fake kubelet holds back from Ready. */
  const holdReady = new Set<string>();
  const initial = new Set<string>();

  before(async () => {
    t = await startTestApi();
    client = t.client('test');
    rs = new ReplicaSetController(t.client('replicaset-controller'));
    dep = new DeploymentController(t.client('deployment-controller'));
    dc = new DisruptionController(t.client('disruption-controller'));
    kubelet = new FakeKubelet(client, { readyIf: (p) => !holdReady.has(p.metadata.namespace!) || initial.has(p.metadata.uid!) });
    await Promise.all([rs.start(), dep.start(), dc.start(), kubelet.start()]);
  });

  after(async () => {
    kubelet.stop();
    dc.stop();
    dep.stop();
    rs.stop();
    await t.close();
  });

  async function readyDeployment(ns: string, name: string, replicas: number, labels: Record<string, string>) {
    await createNs(client, ns);
    await client.create(R.deployments, ns, deployment(name, replicas, labels));
    return waitFor(`${replicas} ready pods`, async () => {
      const pods = await livePods(client, ns, labels);
      return pods.length === replicas && pods.every(isReady) && pods;
    });
  }

  it('scales intstr values as upstream (percentages round up)', () => {
    assert.equal(scaledValue('50%', 3), 2);
    assert.equal(scaledValue('50%', 4), 2);
    assert.equal(scaledValue(2, 10), 2);
    assert.throws(() => scaledValue('abc', 3));
  });

  it('computes minAvailable 2 of 3 ready pods: disruptionsAllowed 1, and follows readiness', async () => {
    const pods = await readyDeployment('pdb1', 'web', 3, { app: 'web' });
    await client.create(R.poddisruptionbudgets, 'pdb1', pdb('web', { app: 'web' }, { minAvailable: 2 }));
    const st = await waitFor('status', async () => {
      const s = await pdbStatus(client, 'pdb1', 'web');
      return s.observedGeneration === 1 && s.currentHealthy === 3 && s;
    });
    assert.equal(st.desiredHealthy, 2);
    assert.equal(st.expectedPods, 3);
    assert.equal(st.disruptionsAllowed, 1);
    assert.equal(st.disruptedPods, undefined);
    assert.deepEqual(
      st.conditions?.map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration]),
      [['DisruptionAllowed', 'True', 'SufficientPods', '', 1]],
    );
    // One pod stops being ready: no disruption is allowed any more.
    await markReady(client, pods[0], false);
    const down = await waitFor('unready counted', async () => {
      const s = await pdbStatus(client, 'pdb1', 'web');
      return s.currentHealthy === 2 && s;
    });
    assert.equal(down.disruptionsAllowed, 0);
    assert.deepEqual(down.conditions?.map((c) => [c.status, c.reason]), [['False', 'InsufficientPods']]);
  });

  it('computes maxUnavailable 50% from the Deployment scale and follows scaling', async () => {
    await readyDeployment('pdb2', 'api', 4, { app: 'api' });
    await client.create(R.poddisruptionbudgets, 'pdb2', pdb('api', { app: 'api' }, { maxUnavailable: '50%' }));
    const st = await waitFor('status', async () => {
      const s = await pdbStatus(client, 'pdb2', 'api');
      return s.currentHealthy === 4 && s;
    });
    assert.deepEqual([st.expectedPods, st.desiredHealthy, st.disruptionsAllowed], [4, 2, 2]);
    await client.patch(R.deployments, 'pdb2', 'api', 'application/merge-patch+json', { spec: { replicas: 6 } });
    const scaled = await waitFor('scaled status', async () => {
      const s = await pdbStatus(client, 'pdb2', 'api');
      return s.currentHealthy === 6 && s.expectedPods === 6 && s;
    });
    assert.deepEqual([scaled.desiredHealthy, scaled.disruptionsAllowed], [3, 3]);
  });

  it('allows one eviction, refuses the next with 429 until a replacement is Ready', async () => {
    holdReady.add('ev');
    const pods = await (async () => {
      await createNs(client, 'ev');
      holdReady.delete('ev');
      await client.create(R.deployments, 'ev', deployment('web', 3, { app: 'web' }));
      const ps = await waitFor('3 ready pods', async () => {
        const p = await livePods(client, 'ev', { app: 'web' });
        return p.length === 3 && p.every(isReady) && p;
      });
      for (const p of ps) initial.add(p.metadata.uid!);
      holdReady.add('ev');
      return ps;
    })();
    await client.create(R.poddisruptionbudgets, 'ev', pdb('web', { app: 'web' }, { minAvailable: 2 }));
    await waitFor('one disruption allowed', async () => (await pdbStatus(client, 'ev', 'web')).disruptionsAllowed === 1);

    const first = await evict(client, 'ev', pods[0].metadata.name!);
    assert.equal(first.code, 201);
    const st = await pdbStatus(client, 'ev', 'web');
    assert.equal(st.disruptionsAllowed, 0);

    const second = await evict(client, 'ev', pods[1].metadata.name!);
    assert.equal(second.code, 429);
    assert.equal(second.error!.reason, 'TooManyRequests');
    assert.equal(second.error!.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.deepEqual(second.error!.details?.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget web needs 2 healthy pods and has 2 currently' }]);
    // The replacement exists but is not Ready: still refused, and the pod is untouched.
    await waitFor('replacement created', async () => (await livePods(client, 'ev', { app: 'web' })).length === 3);
    assert.equal((await evict(client, 'ev', pods[1].metadata.name!)).code, 429);
    assert.ok(!(await client.get(R.pods, 'ev', pods[1].metadata.name!)).metadata.deletionTimestamp);

    holdReady.delete('ev');
    kubelet.recheck();
    await waitFor('budget back', async () => (await pdbStatus(client, 'ev', 'web')).disruptionsAllowed === 1);
    assert.equal((await evict(client, 'ev', pods[1].metadata.name!)).code, 201);
  });

  it('dry-run evictions change nothing; unready pods follow unhealthyPodEvictionPolicy', async () => {
    const pods = await readyDeployment('ev2', 'web', 3, { app: 'web' });
    await client.create(R.poddisruptionbudgets, 'ev2', pdb('web', { app: 'web' }, { minAvailable: 2 }));
    await waitFor('one disruption allowed', async () => (await pdbStatus(client, 'ev2', 'web')).disruptionsAllowed === 1);
    const dry = await evict(client, 'ev2', pods[0].metadata.name!, { dryRun: ['All'] });
    assert.equal(dry.code, 201);
    assert.ok(!(await client.get(R.pods, 'ev2', pods[0].metadata.name!)).metadata.deletionTimestamp);
    const st = await pdbStatus(client, 'ev2', 'web');
    assert.equal(st.disruptionsAllowed, 1);
    assert.equal(st.disruptedPods, undefined);
    assert.equal((await evict(client, 'ev2', pods[0].metadata.name!, { dryRun: ['Bogus'] })).code, 400);

    // The budget is short (minAvailable 3, two healthy): a ready pod is refused; an unready pod
    // is refused under IfHealthyBudget and allowed under AlwaysAllow.
    holdReady.add('ev2');
    await client.patch(R.poddisruptionbudgets, 'ev2', 'web', 'application/merge-patch+json', { spec: { minAvailable: 3 } });
    await markReady(client, pods[2], false);
    await waitFor('short budget', async () => {
      const s = await pdbStatus(client, 'ev2', 'web');
      return s.observedGeneration === 2 && s.currentHealthy === 2 && s.desiredHealthy === 3;
    });
    assert.equal((await evict(client, 'ev2', pods[0].metadata.name!)).code, 429);
    assert.equal((await evict(client, 'ev2', pods[2].metadata.name!)).code, 429);
    await client.patch(R.poddisruptionbudgets, 'ev2', 'web', 'application/merge-patch+json', { spec: { unhealthyPodEvictionPolicy: 'AlwaysAllow' } });
    assert.equal((await evict(client, 'ev2', pods[2].metadata.name!)).code, 201);
    await waitFor('unready pod gone', async () => !(await livePods(client, 'ev2', { app: 'web' })).some((p) => p.metadata.uid === pods[2].metadata.uid));
    assert.equal((await pdbStatus(client, 'ev2', 'web')).disruptionsAllowed, 0);
  });

  it('evicts a Pending pod without consulting the budget, and rejects a mismatched name', async () => {
    await createNs(client, 'ev3');
    await client.create(R.poddisruptionbudgets, 'ev3', pdb('all', { app: 'x' }, { maxUnavailable: 0 }));
    holdReady.add('ev3');
    await client.create(R.pods, 'ev3', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    await client.patch(R.pods, 'ev3', 'p', 'application/merge-patch+json', { status: { phase: 'Pending' } }, 'status');
    await assert.rejects(
      client.createSubresource(R.pods, 'ev3', 'p', 'eviction', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'other' } }),
      (e: { code?: number }) => e.code === 400,
    );
    assert.equal((await evict(client, 'ev3', 'p')).code, 201);
    await assert.rejects(client.get(R.pods, 'ev3', 'p'), (e: { code?: number }) => e.code === 404);
  });
});
