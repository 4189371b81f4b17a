import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { Informer } from '../../../src/client/informer.js';
import { DeploymentController } from '../../../src/controllers/deployment/index.js';
import { ReplicaSetController } from '../../../src/controllers/replicaset.js';
import { DisruptionController } from '../../../src/controllers/disruption.js';
import { Scheduler } from '../../../src/scheduler/index.js';
import type { KObject } from '../../../src/machinery/object.js';
import { createNs, deployment, evict, FakeKubelet, isReady, node, pdb, pdbStatus, waitFor } from './helpers.js';

interface Env {
  t: TestApi;
  client: ApiClient;
  kubelet: FakeKubelet;
  stop: (() => void)[];
}

let env: Env | undefined;

async function setup(withWorkloads: boolean): Promise<Env> {
  const t = await startTestApi();
  const client = t.client('test');
  const sched = new Scheduler(t.client('system:kube-scheduler'), { initialBackoffMs: 10, maxBackoffMs: 50 });
  const kubelet = new FakeKubelet(client, { boundOnly: true });
  const dc = new DisruptionController(t.client('disruption-controller'));
  const stop: (() => void)[] = [() => sched.stop(), () => kubelet.stop(), () => dc.stop()];
  await Promise.all([sched.start(), kubelet.start(), dc.start()]);
  if (withWorkloads) {
    const rs = new ReplicaSetController(t.client('replicaset-controller'));
    const dep = new DeploymentController(t.client('deployment-controller'));
    await Promise.all([rs.start(), dep.start()]);
    stop.push(() => rs.stop(), () => dep.stop());
  }
  env = { t, client, kubelet, stop };
  return env;
}

afterEach(async () => {
  if (!env) return;
  for (const s of env.stop) s();
  await env.t.close();
  env = undefined;
});

const nodeOf = (p: KObject) => (p.spec as { nodeName?: string }).nodeName;

function priorityClass(name: string, value: number, preemptionPolicy = 'PreemptLowerPriority'): KObject {
  return { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name }, value, preemptionPolicy };
}

function prioPod(name: string, cls: string, priority: number, cpu: string, extra: Record<string, unknown> = {}, labels: Record<string, string> = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: {
      priorityClassName: cls,
      priority,
      terminationGracePeriodSeconds: 30,
      containers: [{ name: 'c', image: 'busybox', command: ['sleep', '3600'], resources: { requests: { cpu } } }],
      ...extra,
    },
  };
}

async function eventsFor(client: ApiClient, ns: string, pod: KObject, reason: string): Promise<KObject[]> {
  return (await client.list(R.events, ns)).items.filter((e) => (e.involvedObject as { uid?: string }).uid === pod.metadata.uid && e.reason === reason);
}

describe('drain through the eviction API', () => {
  it('evicts what the PDB allows, waits on 429 for replacements, never drops below minAvailable', async () => {
    const { client } = await setup(true);
    await client.create(R.nodes, undefined, node('node-a'));
    await createNs(client, 'drain');
    await client.create(R.deployments, 'drain', deployment('web', 3, { app: 'web' }));
    await client.create(R.poddisruptionbudgets, 'drain', pdb('web', { app: 'web' }, { minAvailable: 2 }));
    const onA = await waitFor('3 ready pods on node-a', async () => {
      const pods = (await client.list(R.pods, 'drain')).items;
      return pods.length === 3 && pods.every((p) => isReady(p) && nodeOf(p) === 'node-a') && pods;
    });
    await waitFor('budget', async () => (await pdbStatus(client, 'drain', 'web')).disruptionsAllowed === 1);

    // Watch readiness throughout: ready, not terminating pods never fall below minAvailable.
    const watch = new Informer(client, R.pods, { namespace: 'drain' });
    let minReady = Infinity;
    let synced = false;
    const count = () => {
      if (!synced) return; // the initial list arrives one pod at a time
      const n = watch.list().filter((p) => isReady(p) && !p.metadata.deletionTimestamp).length;
      minReady = Math.min(minReady, n);
    };
    watch.on({ onAdd: count, onUpdate: count, onDelete: count });
    await watch.start();
    synced = true;
    count();

    // kubectl drain: cordon, add capacity elsewhere, evict every pod (in parallel), retrying on 429.
    await client.patch(R.nodes, undefined, 'node-a', 'application/strategic-merge-patch+json', { spec: { unschedulable: true } });
    await client.create(R.nodes, undefined, node('node-b'));
    let refusals = 0;
    await Promise.all(
      onA.map(async (p) => {
        for (let i = 0; i < 2000; i++) {
          const r = await evict(client, 'drain', p.metadata.name!);
          if (r.code === 201) return;
          assert.equal(r.code, 429, r.error?.message);
          refusals++;
          await new Promise((res) => setTimeout(res, 20));
        }
        assert.fail(`pod ${p.metadata.name} was never evicted`);
      }),
    );
    const final = await waitFor('3 ready pods on node-b, node-a empty', async () => {
      const pods = (await client.list(R.pods, 'drain')).items;
      return pods.length === 3 && pods.every((p) => isReady(p) && nodeOf(p) === 'node-b' && !p.metadata.deletionTimestamp) && pods;
    });
    watch.stop();
    assert.equal(final.length, 3);
    assert.ok(refusals > 0, 'the PDB refused at least one eviction');
    assert.equal(minReady, 2);
  });
});

describe('preemption', () => {
  it('preempts a low-priority pod for a high-priority one on a full node', async () => {
    const { client, kubelet } = await setup(false);
    await client.create(R.priorityclasses, undefined, priorityClass('low', 10));
    await client.create(R.priorityclasses, undefined, priorityClass('high', 1000));
    await client.create(R.nodes, undefined, node('n1', '1'));
    const low = await client.create(R.pods, 'default', prioPod('low', 'low', 10, '800m'));
    await waitFor('low running', async () => isReady(await client.get(R.pods, 'default', 'low')));

    kubelet.finishDeletions = false; // victims stay Terminating until released
    const high = await client.create(R.pods, 'default', prioPod('high', 'high', 1000, '500m'));
    const nominated = await waitFor('nominated', async () => {
      const p = await client.get(R.pods, 'default', 'high');
      return (p.status as { nominatedNodeName?: string }).nominatedNodeName === 'n1' && p;
    });
    assert.equal(nodeOf(nominated), undefined);
    const victim = await waitFor('victim terminating', async () => {
      const p = await client.get(R.pods, 'default', 'low');
      return p.metadata.deletionTimestamp ? p : undefined;
    });
    assert.equal(victim.metadata.deletionGracePeriodSeconds, 30);
    const cond = ((victim.status as { conditions?: Record<string, unknown>[] }).conditions ?? []).find((c) => c.type === 'DisruptionTarget');
    assert.deepEqual([cond?.status, cond?.reason], ['True', 'PreemptionByScheduler']);
    const preempted = await waitFor('Preempted event', async () => {
      const ev = await eventsFor(client, 'default', low, 'Preempted');
      return ev.length > 0 && ev;
    });
    assert.equal(preempted[0].message, `Preempted by pod ${high.metadata.uid} on node n1`);
    assert.equal(preempted[0].type, 'Normal');
    const failed = await waitFor('FailedScheduling', async () => {
      const ev = await eventsFor(client, 'default', high, 'FailedScheduling');
      return ev.length > 0 && ev;
    });
    assert.equal(failed[0].message, '0/1 nodes are available: 1 Insufficient cpu.');

    kubelet.finishDeletions = true;
    kubelet.recheck();
    const bound = await waitFor('high bound', async () => nodeOf(await client.get(R.pods, 'default', 'high')));
    assert.equal(bound, 'n1');
    await assert.rejects(client.get(R.pods, 'default', 'low'), (e: { code?: number }) => e.code === 404);
  });

  it('prefers victims whose eviction a PodDisruptionBudget allows', async () => {
    const { client } = await setup(false);
    await client.create(R.priorityclasses, undefined, priorityClass('low', 10));
    await client.create(R.priorityclasses, undefined, priorityClass('high', 1000));
    await client.create(R.nodes, undefined, node('n1', '1'));
    await client.create(R.nodes, undefined, node('n2', '1'));
    // Both nodes full of low-priority pods; the one on n1 is protected by a budget.
    await client.create(R.pods, 'default', prioPod('guarded', 'low', 10, '800m', { nodeName: 'n1' }, { app: 'guarded' }));
    await client.create(R.pods, 'default', prioPod('free', 'low', 10, '800m', { nodeName: 'n2' }, { app: 'free' }));
    await client.create(R.poddisruptionbudgets, 'default', pdb('guard', { app: 'guarded' }, { minAvailable: 1 }));
    await waitFor('budget computed', async () => {
      const s = await pdbStatus(client, 'default', 'guard');
      return s.currentHealthy === 1 && s.disruptionsAllowed === 0;
    });
    await client.create(R.pods, 'default', prioPod('high', 'high', 1000, '500m'));
    const bound = await waitFor('high bound', async () => nodeOf(await client.get(R.pods, 'default', 'high')));
    assert.equal(bound, 'n2');
    assert.ok(!(await client.get(R.pods, 'default', 'guarded')).metadata.deletionTimestamp);
  });

  it('does not preempt for a pod with preemptionPolicy Never', async () => {
    const { client } = await setup(false);
    await client.create(R.priorityclasses, undefined, priorityClass('low', 10));
    await client.create(R.priorityclasses, undefined, priorityClass('polite', 1000, 'Never'));
    await client.create(R.nodes, undefined, node('n1', '1'));
    await client.create(R.pods, 'default', prioPod('low', 'low', 10, '800m'));
    await waitFor('low running', async () => isReady(await client.get(R.pods, 'default', 'low')));
    const polite = await client.create(R.pods, 'default', prioPod('polite', 'polite', 1000, '500m', { preemptionPolicy: 'Never' }));
    const failed = await waitFor('FailedScheduling', async () => {
      const ev = await eventsFor(client, 'default', polite, 'FailedScheduling');
      return ev.length > 0 && ev;
    });
    assert.equal(failed[0].message, '0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.');
    const p = await client.get(R.pods, 'default', 'polite');
    assert.equal(nodeOf(p), undefined);
    assert.equal((p.status as { nominatedNodeName?: string }).nominatedNodeName, undefined);
    assert.ok(!(await client.get(R.pods, 'default', 'low')).metadata.deletionTimestamp);
  });

  it('says why when preemption cannot help', async () => {
    const { client } = await setup(false);
    await client.create(R.nodes, undefined, node('n1', '1'));
    await client.create(R.nodes, undefined, node('n2', '1', { unschedulable: true }));
    await client.create(R.pods, 'default', prioPod('a', '', 0, '800m', { nodeName: 'n1' }));
    const b = await client.create(R.pods, 'default', prioPod('b', '', 0, '500m'));
    const failed = await waitFor('FailedScheduling', async () => {
      const ev = await eventsFor(client, 'default', b, 'FailedScheduling');
      return ev.length > 0 && ev;
    });
    assert.equal(
      failed[0].message,
      "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.",
    );
  });
});
