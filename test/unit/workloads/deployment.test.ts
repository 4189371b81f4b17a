import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient, type ClientWatch } from '../../../src/client/client.js';
import { ReplicaSetController } from '../../../src/controllers/replicaset.js';
import { DeploymentController } from '../../../src/controllers/deployment/index.js';
import { computeHash } from '../../../src/controllers/deployment/util.js';
import type { KObject } from '../../../src/machinery/object.js';
import { StatusError } from '../../../src/machinery/errors.js';
import { FakeKubelet, controllerUid, deployment, image, isReady, waitFor } from './helpers.js';

type Cond = { type: string; status: string; reason: string; message: string };

function conds(d: KObject): Cond[] {
  return ((d.status as { conditions?: Cond[] } | undefined)?.conditions ?? []) as Cond[];
}

function cond(d: KObject, type: string): Cond | undefined {
  return conds(d).find((c) => c.type === type);
}

/** What `kubectl rollout status` waits for (kubectl-wire §8.4). */
function rolledOut(d: KObject): boolean {
  const s = (d.status ?? {}) as Record<string, number>;
  const want = (d.spec as { replicas: number }).replicas;
  return (
    (d.metadata.generation ?? 0) <= (s.observedGeneration ?? 0) &&
    (s.updatedReplicas ?? 0) >= want &&
    (s.replicas ?? 0) <= (s.updatedReplicas ?? 0) &&
    (s.availableReplicas ?? 0) >= (s.updatedReplicas ?? 0)
  );
}

async function replicaSetsOf(client: ApiClient, ns: string, d: KObject): Promise<KObject[]> {
  return (await client.list(R.replicasets, ns)).items.filter((rs) => controllerUid(rs) === d.metadata.uid);
}

async function waitRolledOut(client: ApiClient, ns: string, name: string, extra: (d: KObject) => boolean = () => true): Promise<KObject> {
  return waitFor(`deployment ${name} rolled out`, async () => {
    const d = await client.get(R.deployments, ns, name);
    return rolledOut(d) && cond(d, 'Progressing')?.reason === 'NewReplicaSetAvailable' && extra(d) && d;
  });
}

/**
 * A patch retried on 409: the API server currently does not retry unconditional patches on a
 * write conflict (see the report), and the controllers write status concurrently.
 */
async function patch(client: ApiClient, ns: string, name: string, type: string, body: unknown): Promise<KObject> {
  for (let i = 0; ; i++) {
    try {
      return await client.patch(R.deployments, ns, name, type, body);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409) || i > 20) throw e;
    }
  }
}

const rev = (o: KObject) => o.metadata.annotations?.['deployment.kubernetes.io/revision'];

/** Lists then watches the pods of a namespace, keeping the live (non-deleting) ones; `onChange` runs on every event. */
async function watchPods(client: ApiClient, ns: string, onChange: (pods: Map<string, KObject>) => void): Promise<ClientWatch> {
  const pods = new Map<string, KObject>();
  const { items, resourceVersion } = await client.list(R.pods, ns);
  for (const p of items) if (!p.metadata.deletionTimestamp) pods.set(p.metadata.name!, p);
  onChange(pods);
  return client.watch(R.pods, ns, { resourceVersion }, (ev) => {
    if (ev.type === 'BOOKMARK') return;
    if (ev.type === 'DELETED' || ev.object.metadata.deletionTimestamp) pods.delete(ev.object.metadata.name!);
    else pods.set(ev.object.metadata.name!, ev.object);
    onChange(pods);
  }, () => {});
}

describe('Deployment controller', () => {
  let t: TestApi;
  let client: ApiClient;
  let rsc: ReplicaSetController;
  let dc: DeploymentController;
  let kubelet: FakeKubelet;
  /** Sync failures other than write conflicts (which are retried and expected). */
  const errors: string[] = [];

  before(async () => {
    t = await startTestApi();
    client = t.client('test');
    for (const name of ['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7'])
      await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    // Pods whose image says "broken" never become ready (stuck rollouts).
    kubelet = new FakeKubelet(client, { delayMs: 10, readyIf: (p) => !image(p).includes('broken') });
    await kubelet.start();
    const log = (line: string) => errors.push(line);
    rsc = new ReplicaSetController(t.client('replicaset-controller'), { log });
    dc = new DeploymentController(t.client('deployment-controller'), { log });
    await rsc.start();
    await dc.start();
  });

  after(async () => {
    dc.stop();
    rsc.stop();
    kubelet.stop();
    await t.close();
  });

  it('creates a ReplicaSet <name>-<pod-template-hash> with revision 1 and its pods', async () => {
    const d0 = await client.create(R.deployments, 'd1', deployment('web', 3, { app: 'web' }));
    const d = await waitRolledOut(client, 'd1', 'web');
    const [rs] = await replicaSetsOf(client, 'd1', d);
    const hash = computeHash((d0.spec as { template: Record<string, unknown> }).template);
    assert.equal(rs.metadata.name, `web-${hash}`);
    assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    assert.deepEqual(rs.metadata.labels, { app: 'web', 'pod-template-hash': hash });
    assert.deepEqual((rs.spec as { selector: unknown }).selector, { matchLabels: { app: 'web', 'pod-template-hash': hash } });
    assert.equal(rev(rs), '1');
    assert.equal(rs.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'], '3');
    assert.equal(rs.metadata.annotations?.['deployment.kubernetes.io/max-replicas'], '4'); // 3 + ceil(25% of 3)
    assert.equal(rev(d), '1');
    const s = d.status as Record<string, number>;
    assert.equal(s.replicas, 3);
    assert.equal(s.updatedReplicas, 3);
    assert.equal(s.readyReplicas, 3);
    assert.equal(s.availableReplicas, 3);
    assert.equal(s.unavailableReplicas, undefined);
    assert.equal(cond(d, 'Available')?.status, 'True');
    assert.equal(cond(d, 'Available')?.reason, 'MinimumReplicasAvailable');
    assert.equal(cond(d, 'Progressing')?.message, `ReplicaSet "web-${hash}" has successfully progressed.`);
    const pods = (await client.list(R.pods, 'd1')).items;
    assert.equal(pods.length, 3);
    assert.ok(pods.every((p) => controllerUid(p) === rs.metadata.uid && p.metadata.labels?.['pod-template-hash'] === hash));
    const ev = (await client.list(R.events, 'd1')).items.filter((e) => e.reason === 'ScalingReplicaSet');
    assert.deepEqual(ev.map((e) => e.message), [`Scaled up replica set web-${hash} to 3`]);
  });

  it('rolls out a new image honouring maxSurge=1 / maxUnavailable=0 at every step; undo reuses the old ReplicaSet as revision 3', async () => {
    await client.create(
      R.deployments,
      'd2',
      deployment('web', 3, { app: 'web' }, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }),
    );
    let d = await waitRolledOut(client, 'd2', 'web');
    const violations: string[] = [];
    let maxSeen = 0;
    const w = await watchPods(client, 'd2', (pods) => {
      const all = [...pods.values()];
      const ready = all.filter(isReady).length;
      maxSeen = Math.max(maxSeen, all.length);
      if (all.length > 4) violations.push(`total ${all.length} > 4`);
      if (ready < 3) violations.push(`available ${ready} < 3`);
    });
    try {
      await patch(client, 'd2', 'web', 'application/strategic-merge-patch+json', {
        metadata: { annotations: { 'kubernetes.io/change-cause': 'set image 1.25' } },
        spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:1.25' }] } } },
      });
      d = await waitRolledOut(client, 'd2', 'web', (x) => rev(x) === '2');
      await dc.idle();
      await rsc.idle();
    } finally {
      w.stop();
    }
    assert.deepEqual(violations, []);
    assert.equal(maxSeen, 4, 'the surge pod was used');
    const rss = await replicaSetsOf(client, 'd2', d);
    assert.equal(rss.length, 2);
    const v1 = rss.find((rs) => image(rs) === 'nginx:1.24')!;
    const v2 = rss.find((rs) => image(rs) === 'nginx:1.25')!;
    assert.equal(rev(v1), '1');
    assert.equal(rev(v2), '2');
    assert.equal((v1.spec as { replicas: number }).replicas, 0);
    assert.equal(v2.metadata.annotations?.['kubernetes.io/change-cause'], 'set image 1.25');
    assert.equal(v1.metadata.annotations?.['kubernetes.io/change-cause'], undefined);
    const msgs = (await client.list(R.events, 'd2')).items.filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message);
    assert.ok(msgs.includes(`Scaled up replica set ${v2.metadata.name} to 1`), msgs.join('\n'));
    assert.ok(msgs.includes(`Scaled down replica set ${v1.metadata.name} to 2 from 3`), msgs.join('\n'));

    // rollout undo, as kubectl sends it: the revision-1 template without pod-template-hash, and annotations.
    const tpl = structuredClone((v1.spec as { template: { metadata: { labels: Record<string, string> } } }).template);
    delete tpl.metadata.labels['pod-template-hash'];
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {}))
      if (['deployment.kubernetes.io/revision', 'kubectl.kubernetes.io/last-applied-configuration'].includes(k)) annotations[k] = v;
    for (const [k, v] of Object.entries(v1.metadata.annotations ?? {}))
      if (!k.startsWith('deployment.kubernetes.io/')) annotations[k] = v;
    await patch(client, 'd2', 'web', 'application/json-patch+json', [
      { op: 'replace', path: '/spec/template', value: tpl },
      { op: 'replace', path: '/metadata/annotations', value: annotations },
    ]);
    d = await waitRolledOut(client, 'd2', 'web', (x) => rev(x) === '3');
    const after = await replicaSetsOf(client, 'd2', d);
    assert.equal(after.length, 2, 'no third ReplicaSet');
    const back = after.find((rs) => rs.metadata.uid === v1.metadata.uid)!;
    assert.equal(rev(back), '3');
    assert.equal(back.metadata.annotations?.['deployment.kubernetes.io/revision-history'], '1');
    assert.equal((back.spec as { replicas: number }).replicas, 3);
    assert.ok((await client.list(R.pods, 'd2')).items.every((p) => image(p) === 'nginx:1.24'));
  });

  it('Recreate never runs old and new pods together', async () => {
    await client.create(R.deployments, 'd3', deployment('job', 3, { app: 'job' }, { strategy: { type: 'Recreate' } }));
    let d = await waitRolledOut(client, 'd3', 'job');
    const [old] = await replicaSetsOf(client, 'd3', d);
    const overlaps: string[] = [];
    const w = await watchPods(client, 'd3', (pods) => {
      const owners = new Set([...pods.values()].map(controllerUid));
      if (owners.size > 1) overlaps.push([...pods.keys()].join(','));
    });
    try {
      await patch(client, 'd3', 'job', 'application/strategic-merge-patch+json', {
        spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:1.25' }] } } },
      });
      d = await waitRolledOut(client, 'd3', 'job', (x) => rev(x) === '2');
    } finally {
      w.stop();
    }
    assert.deepEqual(overlaps, []);
    const pods = (await client.list(R.pods, 'd3')).items;
    assert.equal(pods.length, 3);
    assert.ok(pods.every((p) => controllerUid(p) !== old.metadata.uid && image(p) === 'nginx:1.25'));
  });

  it('a paused Deployment does not roll out (but scales) until resumed', async () => {
    await client.create(R.deployments, 'd4', deployment('api', 2, { app: 'api' }));
    let d = await waitRolledOut(client, 'd4', 'api');
    await patch(client, 'd4', 'api', 'application/strategic-merge-patch+json', { spec: { paused: true } });
    await patch(client, 'd4', 'api', 'application/strategic-merge-patch+json', {
      spec: { replicas: 3, template: { spec: { containers: [{ name: 'app', image: 'nginx:1.25' }] } } },
    });
    d = await waitFor('paused condition, observed, scaled', async () => {
      const x = await client.get(R.deployments, 'd4', 'api');
      const s = x.status as Record<string, number>;
      return cond(x, 'Progressing')?.reason === 'DeploymentPaused' && s.observedGeneration === x.metadata.generation && s.availableReplicas === 3 && x;
    });
    await dc.idle();
    let rss = await replicaSetsOf(client, 'd4', d);
    assert.equal(rss.length, 1, 'no new ReplicaSet while paused');
    assert.equal((rss[0].spec as { replicas: number }).replicas, 3);
    assert.equal(cond(d, 'Progressing')?.status, 'Unknown');
    assert.equal(rev(d), '1');

    await patch(client, 'd4', 'api', 'application/strategic-merge-patch+json', { spec: { paused: null } });
    d = await waitRolledOut(client, 'd4', 'api', (x) => rev(x) === '2');
    rss = await replicaSetsOf(client, 'd4', d);
    assert.equal(rss.length, 2);
    assert.ok((await client.list(R.pods, 'd4')).items.every((p) => image(p) === 'nginx:1.25'));
  });

  it('reports ProgressDeadlineExceeded when the new pods never become ready', async () => {
    await client.create(R.deployments, 'd5', deployment('stuck', 2, { app: 'stuck' }, { progressDeadlineSeconds: 1 }));
    await waitRolledOut(client, 'd5', 'stuck');
    await patch(client, 'd5', 'stuck', 'application/strategic-merge-patch+json', {
      spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:broken' }] } } },
    });
    const d = await waitFor('ProgressDeadlineExceeded', async () => {
      const x = await client.get(R.deployments, 'd5', 'stuck');
      return cond(x, 'Progressing')?.reason === 'ProgressDeadlineExceeded' && x;
    }, 10000);
    const c = cond(d, 'Progressing')!;
    assert.equal(c.status, 'False');
    assert.match(c.message, /^ReplicaSet "stuck-[a-z0-9]+" has timed out progressing\.$/);
    // maxUnavailable 25% of 2 rounds down to 0: both old pods still serve.
    assert.equal((d.status as Record<string, number>).availableReplicas, 2);
    assert.equal(cond(d, 'Available')?.status, 'True');
  });

  it('scaling mid-rollout distributes replicas proportionally', async () => {
    await client.create(
      R.deployments,
      'd6',
      deployment('big', 10, { app: 'big' }, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } }),
    );
    await waitRolledOut(client, 'd6', 'big');
    await patch(client, 'd6', 'big', 'application/strategic-merge-patch+json', {
      spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:broken' }] } } },
    });
    const sizes = async () => {
      const d = await client.get(R.deployments, 'd6', 'big');
      const rss = await replicaSetsOf(client, 'd6', d);
      const get = (img: string) => (rss.find((rs) => image(rs) === img)?.spec as { replicas: number } | undefined)?.replicas;
      return [get('nginx:1.24'), get('nginx:broken')];
    };
    // Stuck: 8 old (2 unavailable allowed) + 5 new (3 surge).
    await waitFor('stuck at 8+5', async () => {
      const [o, n] = await sizes();
      return o === 8 && n === 5;
    });
    await patch(client, 'd6', 'big', 'application/merge-patch+json', { spec: { replicas: 15 } });
    // 18 allowed, 5 more: 3 to the old RS (8*18/13 ≈ 11), 2 to the new (5*18/13 ≈ 7).
    await waitFor('scaled to 11+7', async () => {
      const [o, n] = await sizes();
      return o === 11 && n === 7;
    });
    await dc.idle();
    assert.deepEqual(await sizes(), [11, 7]);
  });

  it('revisionHistoryLimit=1 keeps one old ReplicaSet', async () => {
    await client.create(R.deployments, 'd7', deployment('hist', 1, { app: 'hist' }, { revisionHistoryLimit: 1 }));
    await waitRolledOut(client, 'd7', 'hist');
    for (const [i, img] of ['nginx:1.25', 'nginx:1.26'].entries()) {
      await patch(client, 'd7', 'hist', 'application/strategic-merge-patch+json', {
        spec: { template: { spec: { containers: [{ name: 'app', image: img }] } } },
      });
      await waitRolledOut(client, 'd7', 'hist', (x) => rev(x) === String(i + 2));
    }
    const d = await client.get(R.deployments, 'd7', 'hist');
    const rss = await waitFor('oldest deleted', async () => {
      const r = await replicaSetsOf(client, 'd7', d);
      return r.length === 2 && r;
    });
    assert.deepEqual(rss.map(rev).sort(), ['2', '3']);
    assert.deepEqual(rss.map(image).sort(), ['nginx:1.25', 'nginx:1.26']);
  });

  it('logged no sync errors other than write conflicts', () => {
    assert.deepEqual(errors, []);
  });
});
