import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { ReplicaSetController } from '../../../src/controllers/replicaset.js';
import { GarbageCollector } from '../../../src/controllers/garbage-collector.js';
import { errors } from '../../../src/machinery/errors.js';
import type { AdmissionPlugin } from '../../../src/apiserver/resources.js';
import type { KObject } from '../../../src/machinery/object.js';
import { FakeKubelet, controllerUid, isReady, markReady, replicaSet, waitFor } from './helpers.js';

async function podsOf(client: ApiClient, ns: string, rs: KObject): Promise<KObject[]> {
  const { items } = await client.list(R.pods, ns);
  return items.filter((p) => controllerUid(p) === rs.metadata.uid && !p.metadata.deletionTimestamp);
}

async function activePodsOf(client: ApiClient, ns: string, rs: KObject): Promise<KObject[]> {
  return (await podsOf(client, ns, rs)).filter((p) => !['Failed', 'Succeeded'].includes((p.status as { phase?: string })?.phase ?? ''));
}

async function createNs(client: ApiClient, name: string) {
  await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

describe('ReplicaSet controller', () => {
  let t: TestApi;
  let client: ApiClient;
  let ctrl: ReplicaSetController;
  let failPods = false;
  let podCreates = 0;

  before(async () => {
    t = await startTestApi();
    client = t.client('test');
    // A stand-in for quota: reject pod creation while `failPods` is set.
    const gate: AdmissionPlugin = {
      name: 'test-gate',
      async admit(op, spec, obj) {
        if (op !== 'CREATE' || spec.kind !== 'Pod' || obj.metadata.namespace !== 'quota') return;
        podCreates++;
        if (failPods) throw errors.forbidden(`pods "${obj.metadata.generateName}" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1`);
      },
    };
    t.api.resources.use(gate);
    ctrl = new ReplicaSetController(t.client('replicaset-controller'));
    await ctrl.start();
  });

  after(async () => {
    ctrl.stop();
    await t.close();
  });

  it('creates spec.replicas pods from the template, owned by the ReplicaSet, and reports status', async () => {
    await createNs(client, 'rs1');
    const kubelet = new FakeKubelet(client);
    await kubelet.start();
    try {
      const rs = await client.create(R.replicasets, 'rs1', replicaSet('web', 3, { app: 'web' }));
      const pods = await waitFor('3 pods', async () => {
        const p = await podsOf(client, 'rs1', rs);
        return p.length === 3 && p;
      });
      for (const p of pods) {
        assert.match(p.metadata.name!, /^web-[a-z0-9]{5}$/);
        assert.equal(p.metadata.generateName, 'web-');
        assert.deepEqual(p.metadata.labels, { app: 'web' });
        assert.deepEqual(p.metadata.ownerReferences, [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true },
        ]);
      }
      const done = await waitFor('status 3/3 ready', async () => {
        const cur = await client.get(R.replicasets, 'rs1', 'web');
        const s = cur.status as Record<string, number>;
        return s?.readyReplicas === 3 && s.availableReplicas === 3 && cur;
      });
      assert.deepEqual(done.status, { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: 1 });
      const events = (await client.list(R.events, 'rs1')).items.filter((e) => e.reason === 'SuccessfulCreate');
      assert.equal(events.length, 3);
      assert.deepEqual(events.map((e) => e.message).sort(), pods.map((p) => `Created pod: ${p.metadata.name}`).sort());
      assert.equal((events[0].involvedObject as { kind: string }).kind, 'ReplicaSet');
      assert.equal((events[0].source as { component: string }).component, 'replicaset-controller');
    } finally {
      kubelet.stop();
    }
  });

  it('replaces a deleted pod and a failed pod, without over-creating', async () => {
    const rs = await client.get(R.replicasets, 'rs1', 'web');
    const [victim, failing] = await podsOf(client, 'rs1', rs);
    await client.delete(R.pods, 'rs1', victim.metadata.name!);
    await client.patch(R.pods, 'rs1', failing.metadata.name!, 'application/merge-patch+json', { status: { phase: 'Failed' } }, 'status');
    const pods = await waitFor('3 active pods again', async () => {
      const p = await activePodsOf(client, 'rs1', rs);
      return p.length === 3 && !p.some((x) => x.metadata.name === victim.metadata.name || x.metadata.name === failing.metadata.name) && p;
    });
    await ctrl.idle();
    assert.equal((await activePodsOf(client, 'rs1', rs)).length, 3);
    assert.equal(pods.length, 3);
    // The failed pod stays (it is history) but does not count.
    const st = await waitFor('replicas 3', async () => {
      const s = (await client.get(R.replicasets, 'rs1', 'web')).status as Record<string, number>;
      return s.replicas === 3 && s;
    });
    assert.equal(st.replicas, 3);
  });

  it('scales down deleting not-ready pods first, then the newest', async () => {
    await createNs(client, 'rs2');
    const rs = await client.create(R.replicasets, 'rs2', replicaSet('api', 4, { app: 'api' }));
    const pods = await waitFor('4 pods', async () => {
      const p = await podsOf(client, 'rs2', rs);
      return p.length === 4 && p;
    });
    // Two become ready; one of the others has restarted a lot (not-ready pods go before ready ones regardless).
    const ready = [pods[0], pods[2]];
    for (const p of ready) await markReady(client, p);
    await client.patch(R.replicasets, 'rs2', 'api', 'application/merge-patch+json', { spec: { replicas: 2 } });
    const left = await waitFor('2 pods', async () => {
      const p = await podsOf(client, 'rs2', rs);
      return p.length === 2 && p;
    });
    assert.deepEqual(left.map((p) => p.metadata.name).sort(), ready.map((p) => p.metadata.name).sort());
    assert.ok(left.every(isReady));
    // Among ready pods, the one with more restarts goes first.
    await client.patch(R.pods, 'rs2', ready[1].metadata.name!, 'application/merge-patch+json', {
      status: { containerStatuses: [{ name: 'app', image: 'nginx:1.24', ready: true, restartCount: 7, state: { running: {} } }] },
    }, 'status');
    await client.patch(R.replicasets, 'rs2', 'api', 'application/merge-patch+json', { spec: { replicas: 1 } });
    const last = await waitFor('1 pod', async () => {
      const p = await podsOf(client, 'rs2', rs);
      return p.length === 1 && p;
    });
    assert.equal(last[0].metadata.name, ready[0].metadata.name);
    const deleted = (await client.list(R.events, 'rs2')).items.filter((e) => e.reason === 'SuccessfulDelete').map((e) => e.message);
    assert.equal(deleted.length, 3);
    assert.ok(deleted.includes(`Deleted pod: ${ready[1].metadata.name}`));
  });

  it('adopts a matching orphan and releases a pod whose labels stop matching', async () => {
    await createNs(client, 'rs3');
    const orphan = await client.create(R.pods, 'rs3', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'stray', labels: { app: 'db' } },
      spec: { containers: [{ name: 'app', image: 'nginx:1.24' }] },
    });
    const rs = await client.create(R.replicasets, 'rs3', replicaSet('db', 2, { app: 'db' }));
    const pods = await waitFor('2 pods incl. the adopted orphan', async () => {
      const p = await podsOf(client, 'rs3', rs);
      return p.length === 2 && p;
    });
    assert.ok(pods.some((p) => p.metadata.name === 'stray' && p.metadata.uid === orphan.metadata.uid));
    await ctrl.idle();
    assert.equal((await client.list(R.pods, 'rs3')).items.length, 2, 'adopting replaced a create');

    await client.patch(R.pods, 'rs3', 'stray', 'application/merge-patch+json', { metadata: { labels: { app: 'other' } } });
    await waitFor('stray released and replaced', async () => {
      const stray = await client.get(R.pods, 'rs3', 'stray');
      const owned = await podsOf(client, 'rs3', rs);
      return !stray.metadata.ownerReferences?.length && owned.length === 2 && !owned.some((p) => p.metadata.name === 'stray');
    });
  });

  it('delete --cascade=orphan leaves the pods, and only a live ReplicaSet adopts them', async () => {
    await createNs(client, 'rs4');
    const gc = new GarbageCollector(t.api.resources);
    await gc.start();
    try {
      const rs = await client.create(R.replicasets, 'rs4', replicaSet('cache', 2, { app: 'cache' }));
      const pods = await waitFor('2 pods', async () => {
        const p = await podsOf(client, 'rs4', rs);
        return p.length === 2 && p;
      });
      await client.delete(R.replicasets, 'rs4', 'cache', { propagationPolicy: 'Orphan' });
      await waitFor('rs gone', async () => (await client.list(R.replicasets, 'rs4')).items.length === 0);
      await ctrl.idle();
      const left = (await client.list(R.pods, 'rs4')).items;
      assert.deepEqual(left.map((p) => p.metadata.name).sort(), pods.map((p) => p.metadata.name).sort());
      assert.ok(left.every((p) => !p.metadata.ownerReferences?.length));
      // A new ReplicaSet with the same selector adopts them instead of creating new pods.
      const again = await client.create(R.replicasets, 'rs4', replicaSet('cache', 2, { app: 'cache' }));
      await waitFor('adopted', async () => (await podsOf(client, 'rs4', again)).length === 2);
      await ctrl.idle();
      assert.equal((await client.list(R.pods, 'rs4')).items.length, 2);
    } finally {
      gc.stop();
    }
  });

  it('counts a ready pod as available only after minReadySeconds', async () => {
    await createNs(client, 'rs5');
    const readyAll = async (name: string, minReadySeconds: number) => {
      const rs = await client.create(R.replicasets, 'rs5', replicaSet(name, 2, { app: name }, { minReadySeconds }));
      const pods = await waitFor('2 pods', async () => {
        const p = await podsOf(client, 'rs5', rs);
        return p.length === 2 && p;
      });
      for (const p of pods) await markReady(client, p);
    };
    // An hour: ready, not available.
    await readyAll('hour', 3600);
    const s1 = await waitFor('ready 2', async () => {
      const s = (await client.get(R.replicasets, 'rs5', 'hour')).status as Record<string, number>;
      return s.readyReplicas === 2 && s;
    });
    await ctrl.idle();
    assert.equal(s1.availableReplicas, undefined);
    assert.equal(((await client.get(R.replicasets, 'rs5', 'hour')).status as Record<string, number>).availableReplicas, undefined);
    // One second: the controller comes back on its own (no further pod event) and counts them.
    await readyAll('second', 1);
    await waitFor('available 2 after minReadySeconds', async () => {
      const s = (await client.get(R.replicasets, 'rs5', 'second')).status as Record<string, number>;
      return s.availableReplicas === 2;
    }, 8000);
  });

  it('reports ReplicaFailure and FailedCreate when creates fail, in slow-start batches, and recovers', async () => {
    await createNs(client, 'quota');
    failPods = true;
    podCreates = 0;
    await client.create(R.replicasets, 'quota', replicaSet('q', 5, { app: 'q' }));
    const cur = await waitFor('ReplicaFailure', async () => {
      const rs = await client.get(R.replicasets, 'quota', 'q');
      return ((rs.status as { conditions?: { type: string }[] })?.conditions ?? []).length > 0 && rs;
    });
    const cond = (cur.status as { conditions: Record<string, string>[] }).conditions[0];
    assert.equal(cond.type, 'ReplicaFailure');
    assert.equal(cond.status, 'True');
    assert.equal(cond.reason, 'FailedCreate');
    assert.match(cond.message, /exceeded quota/);
    // Slow start: each failed sync tries one pod, not five.
    assert.ok(podCreates <= 3, `tried ${podCreates} creates`);
    const ev = (await client.list(R.events, 'quota')).items.find((e) => e.reason === 'FailedCreate');
    assert.equal(ev?.type, 'Warning');
    assert.match(String(ev?.message), /^Error creating: pods "q-" is forbidden: exceeded quota/);

    failPods = false;
    const ok = await waitFor('recovered', async () => {
      const rs = await client.get(R.replicasets, 'quota', 'q');
      const s = rs.status as { replicas?: number; conditions?: unknown[] };
      return s.replicas === 5 && !s.conditions && rs;
    }, 15000);
    assert.equal((ok.status as { replicas: number }).replicas, 5);
    assert.equal((await client.list(R.pods, 'quota')).items.length, 5);
  });
});
