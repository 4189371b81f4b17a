import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { StatefulSetController } from '../../../src/controllers/statefulset/index.js';
import type { KObject } from '../../../src/machinery/object.js';
import { FakeKubelet, PodLog, imageOf, isReady, patchRetry, waitFor } from './helpers.js';

function statefulSet(name: string, replicas: number, extra: Record<string, unknown> = {}, image = 'nginx:1.24'): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'web', image, volumeMounts: [{ name: 'www', mountPath: '/usr/share/nginx/html' }] }] },
      },
      volumeClaimTemplates: [{ metadata: { name: 'www' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      ...extra,
    },
  };
}

type Status = Record<string, number | string | undefined>;
const st = (s: KObject) => (s.status ?? {}) as Status;

/** What `kubectl rollout status sts/x` reports as done (RollingUpdate). */
function rolledOut(s: KObject): boolean {
  const status = st(s);
  const spec = s.spec as { replicas: number; updateStrategy?: { rollingUpdate?: { partition?: number } } };
  if (!status.observedGeneration || (s.metadata.generation ?? 0) > (status.observedGeneration as number)) return false;
  if (((status.readyReplicas as number) ?? 0) < spec.replicas) return false;
  const partition = spec.updateStrategy?.rollingUpdate?.partition ?? 0;
  if (partition > 0) return ((status.updatedReplicas as number) ?? 0) >= spec.replicas - partition;
  return status.updateRevision === status.currentRevision;
}

describe('StatefulSet controller', () => {
  let t: TestApi;
  let client: ApiClient;
  let ssc: StatefulSetController;
  let kubelet: FakeKubelet;
  const errors: string[] = [];
  const ns = (n: string) => `sts-${n}`;

  before(async () => {
    t = await startTestApi();
    client = t.client('test');
    for (const n of ['ordered', 'parallel', 'update', 'retain', 'stuck'])
      await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns(n) } });
    // Pods in sts-stuck never become ready.
    kubelet = new FakeKubelet(client, { delayMs: 15, readyIf: (p) => p.metadata.namespace !== ns('stuck') });
    await kubelet.start();
    ssc = new StatefulSetController(t.client('statefulset-controller'), { log: (l) => errors.push(l) });
    await ssc.start();
  });

  after(async () => {
    ssc.stop();
    kubelet.stop();
    await t.close();
  });

  const pods = async (n: string) => (await client.list(R.pods, ns(n))).items.filter((p) => !p.metadata.deletionTimestamp);
  const names = (list: KObject[]) => list.map((p) => p.metadata.name).sort();
  const claim = (n: string, name: string) => client.get(R.persistentvolumeclaims, ns(n), name);

  it('creates web-0, web-1, web-2 in order, each after the previous is Ready, each with its own claim www-web-N', async () => {
    const log = new PodLog(client, ns('ordered'));
    await log.start();
    await client.create(R.statefulsets, ns('ordered'), statefulSet('web', 3));
    const set = await waitFor('web rolled out', async () => {
      const s = await client.get(R.statefulsets, ns('ordered'), 'web');
      return rolledOut(s) && st(s).replicas === 3 && s;
    });
    const added = log.events.filter((e) => e.type === 'ADDED');
    assert.deepEqual(added.map((e) => e.name), ['web-0', 'web-1', 'web-2']);
    for (let i = 1; i < 3; i++) assert.ok(isReady(added[i].snapshot.get(`web-${i - 1}`)!), `web-${i - 1} was Ready before web-${i} was created`);
    log.stop();

    const list = await pods('ordered');
    assert.deepEqual(names(list), ['web-0', 'web-1', 'web-2']);
    for (const p of list) {
      const i = p.metadata.name!.slice(4);
      assert.equal(p.metadata.labels?.['statefulset.kubernetes.io/pod-name'], p.metadata.name);
      assert.equal(p.metadata.labels?.['apps.kubernetes.io/pod-index'], i);
      assert.equal(p.metadata.labels?.['controller-revision-hash'], st(set).updateRevision);
      const spec = p.spec as { hostname: string; subdomain: string; volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[] };
      assert.equal(spec.hostname, p.metadata.name);
      assert.equal(spec.subdomain, 'web');
      assert.deepEqual(spec.volumes.find((v) => v.name === 'www')?.persistentVolumeClaim, { claimName: `www-web-${i}` });
      const pvc = await claim('ordered', `www-web-${i}`);
      assert.deepEqual(pvc.metadata.labels, { app: 'web' });
      assert.deepEqual((pvc.spec as { accessModes: string[] }).accessModes, ['ReadWriteOnce']);
    }
    const s = st(set);
    assert.equal(s.readyReplicas, 3);
    assert.equal(s.availableReplicas, 3);
    assert.equal(s.currentReplicas, 3);
    assert.equal(s.updatedReplicas, 3);
    assert.equal(s.currentRevision, s.updateRevision);
    assert.equal(s.collisionCount, 0);
    assert.equal(s.observedGeneration, set.metadata.generation);
    const revs = (await client.list(R.controllerrevisions, ns('ordered'))).items;
    assert.deepEqual(revs.map((r) => r.metadata.name), [s.updateRevision]);
    assert.match(String(s.updateRevision), /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.equal(revs[0].revision, 1);
  });

  it('a deleted web-1 comes back as web-1 with the same claim', async () => {
    const old = await client.get(R.pods, ns('ordered'), 'web-1');
    const pvc = await claim('ordered', 'www-web-1');
    await client.delete(R.pods, ns('ordered'), 'web-1');
    const back = await waitFor('web-1 back and ready', async () => {
      const p = await client.get(R.pods, ns('ordered'), 'web-1');
      return p.metadata.uid !== old.metadata.uid && isReady(p) && p;
    });
    assert.equal((back.spec as { volumes: { persistentVolumeClaim?: { claimName: string } }[] }).volumes[0].persistentVolumeClaim?.claimName, 'www-web-1');
    assert.equal((await claim('ordered', 'www-web-1')).metadata.uid, pvc.metadata.uid);
  });

  it('scales down in reverse order one at a time and keeps the claims', async () => {
    const log = new PodLog(client, ns('ordered'));
    await log.start();
    await patchRetry(client, R.statefulsets, ns('ordered'), 'web', { spec: { replicas: 1 } });
    await waitFor('one pod left', async () => names(await pods('ordered')).join() === 'web-0');
    await waitFor('status replicas 1', async () => st(await client.get(R.statefulsets, ns('ordered'), 'web')).replicas === 1);
    log.stop();
    const gone = log.events.filter((e) => e.type === 'DELETED').map((e) => e.name);
    assert.deepEqual(gone, ['web-2', 'web-1']);
    // web-1 was deleted only after web-2 was gone.
    const del1 = log.events.find((e) => e.name === 'web-1' && (e.type === 'DELETED' || e.pod.metadata.deletionTimestamp))!;
    assert.equal(del1.snapshot.has('web-2'), false);
    const claims = (await client.list(R.persistentvolumeclaims, ns('ordered'))).items.map((c) => c.metadata.name).sort();
    assert.deepEqual(claims, ['www-web-0', 'www-web-1', 'www-web-2']);
    // Scaling up again reuses them.
    const pvc2 = await claim('ordered', 'www-web-2');
    await patchRetry(client, R.statefulsets, ns('ordered'), 'web', { spec: { replicas: 3 } });
    await waitFor('3 ready', async () => (await pods('ordered')).filter(isReady).length === 3);
    assert.equal((await claim('ordered', 'www-web-2')).metadata.uid, pvc2.metadata.uid);
  });

  it('Parallel creates all pods at once, without waiting for readiness', async () => {
    await client.create(R.statefulsets, ns('stuck'), statefulSet('par', 3, { podManagementPolicy: 'Parallel' }));
    await client.create(R.statefulsets, ns('stuck'), statefulSet('ord', 3));
    await waitFor('3 parallel pods', async () => (await pods('stuck')).filter((p) => p.metadata.name!.startsWith('par-')).length === 3);
    await waitFor('status', async () => st(await client.get(R.statefulsets, ns('stuck'), 'par')).replicas === 3);
    await ssc.idle();
    // OrderedReady waits for ord-0, which never becomes ready.
    assert.deepEqual(names((await pods('stuck')).filter((p) => p.metadata.name!.startsWith('ord-'))), ['ord-0']);
    assert.equal(st(await client.get(R.statefulsets, ns('stuck'), 'ord')).replicas, 1);
    // Parallel scale-down removes them at once too.
    await patchRetry(client, R.statefulsets, ns('stuck'), 'par', { spec: { replicas: 0 } });
    await waitFor('no parallel pods', async () => !(await pods('stuck')).some((p) => p.metadata.name!.startsWith('par-')));
  });

  it('Parallel with ready pods rolls out fully', async () => {
    await client.create(R.statefulsets, ns('parallel'), statefulSet('p', 4, { podManagementPolicy: 'Parallel' }));
    await waitFor('rolled out', async () => rolledOut(await client.get(R.statefulsets, ns('parallel'), 'p')));
    assert.deepEqual(names(await pods('parallel')), ['p-0', 'p-1', 'p-2', 'p-3']);
  });

  it('rolling update with partition=1 updates web-2 then web-1 and keeps web-0; partition 0 finishes it', async () => {
    const n = 'update';
    await client.create(R.statefulsets, ns(n), statefulSet('web', 3));
    const before = await waitFor('rolled out', async () => {
      const s = await client.get(R.statefulsets, ns(n), 'web');
      return rolledOut(s) && s;
    });
    const rev1 = st(before).currentRevision;
    const log = new PodLog(client, ns(n));
    await log.start();
    await patchRetry(client, R.statefulsets, ns(n), 'web', {
      spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } }, template: { spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] } } },
    }, 'application/strategic-merge-patch+json');
    const mid = await waitFor('partitioned roll out', async () => {
      const s = await client.get(R.statefulsets, ns(n), 'web');
      const list = await pods(n);
      return rolledOut(s) && st(s).updatedReplicas === 2 && list.filter((p) => imageOf(p) === 'nginx:1.25' && isReady(p)).length === 2 && s;
    });
    log.stop();
    const deleted = log.events.filter((e) => e.type === 'DELETED').map((e) => e.name);
    assert.deepEqual(deleted, ['web-2', 'web-1']);
    const byName = new Map((await pods(n)).map((p) => [p.metadata.name!, p]));
    assert.equal(imageOf(byName.get('web-0')!), 'nginx:1.24');
    assert.equal(imageOf(byName.get('web-1')!), 'nginx:1.25');
    assert.equal(imageOf(byName.get('web-2')!), 'nginx:1.25');
    const s = st(mid);
    assert.equal(s.currentRevision, rev1);
    assert.notEqual(s.updateRevision, rev1);
    assert.equal(s.currentReplicas, 1);
    assert.equal(byName.get('web-0')!.metadata.labels?.['controller-revision-hash'], rev1);
    assert.equal(byName.get('web-2')!.metadata.labels?.['controller-revision-hash'], s.updateRevision);

    // A deleted pod below the partition comes back at the old revision.
    const w0 = byName.get('web-0')!;
    await client.delete(R.pods, ns(n), 'web-0');
    const back = await waitFor('web-0 back', async () => {
      const p = await client.get(R.pods, ns(n), 'web-0');
      return p.metadata.uid !== w0.metadata.uid && isReady(p) && p;
    });
    assert.equal(imageOf(back), 'nginx:1.24');

    await patchRetry(client, R.statefulsets, ns(n), 'web', { spec: { updateStrategy: { rollingUpdate: { partition: 0 } } } }, 'application/strategic-merge-patch+json');
    const done = await waitFor('complete', async () => {
      const x = await client.get(R.statefulsets, ns(n), 'web');
      return rolledOut(x) && st(x).updatedReplicas === 3 && x;
    });
    assert.equal(st(done).currentRevision, st(done).updateRevision);
    assert.equal(st(done).currentReplicas, 3);
    assert.ok((await pods(n)).every((p) => imageOf(p) === 'nginx:1.25'));
    const revs = (await client.list(R.controllerrevisions, ns(n))).items.map((r) => r.revision).sort();
    assert.deepEqual(revs, [1, 2]);
  });

  it('OnDelete leaves pods alone until deleted; whenScaled=Delete hands claims to their pods', async () => {
    const n = 'retain';
    await client.create(
      R.statefulsets,
      ns(n),
      statefulSet('db', 2, { updateStrategy: { type: 'OnDelete' }, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Delete' } }),
    );
    const s0 = await waitFor('2 ready', async () => {
      const s = await client.get(R.statefulsets, ns(n), 'db');
      return st(s).readyReplicas === 2 && s;
    });
    const pvc = await claim(n, 'www-db-1');
    assert.deepEqual(pvc.metadata.ownerReferences?.map((r) => `${r.kind}/${r.name}`), ['StatefulSet/db']);
    await patchRetry(client, R.statefulsets, ns(n), 'db', { spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] } } } }, 'application/strategic-merge-patch+json');
    await waitFor('new update revision', async () => {
      const s = await client.get(R.statefulsets, ns(n), 'db');
      return st(s).observedGeneration === s.metadata.generation && st(s).updateRevision !== st(s0).updateRevision;
    });
    await ssc.idle();
    assert.ok((await pods(n)).every((p) => imageOf(p) === 'nginx:1.24'));
    await client.delete(R.pods, ns(n), 'db-1');
    await waitFor('db-1 updated', async () => {
      const p = await client.get(R.pods, ns(n), 'db-1');
      return imageOf(p) === 'nginx:1.25' && isReady(p);
    });
    assert.equal(imageOf(await client.get(R.pods, ns(n), 'db-0')), 'nginx:1.24');
    // Scale down: db-1's claim is handed to db-1 (the garbage collector removes it with the pod).
    const db1 = await client.get(R.pods, ns(n), 'db-1');
    await patchRetry(client, R.statefulsets, ns(n), 'db', { spec: { replicas: 1 } });
    await waitFor('db-1 gone', async () => names(await pods(n)).join() === 'db-0');
    const owners = (await claim(n, 'www-db-1')).metadata.ownerReferences?.map((r) => `${r.kind}/${r.name}/${r.uid}`).sort();
    assert.deepEqual(owners, [`Pod/db-1/${db1.metadata.uid}`, `StatefulSet/db/${s0.metadata.uid}`]);
  });

  it('logged no unexpected sync errors', () => {
    assert.deepEqual(errors.filter((e) => !/conflict|already exists|not found/i.test(e)), []);
  });
});
