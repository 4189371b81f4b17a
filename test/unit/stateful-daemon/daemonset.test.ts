import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { DaemonSetController, nodeShouldRunDaemonPod, planRollingUpdate, targetNode, withDaemonTolerations } from '../../../src/controllers/daemonset/index.js';
import { Scheduler } from '../../../src/scheduler/index.js';
import type { KObject } from '../../../src/machinery/object.js';
import { FakeKubelet, PodLog, imageOf, isReady, node, nodeOf, patchRetry, waitFor } from './helpers.js';

const CP_TAINT = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };
const ON = { 'skiff.test/agent': 'yes' };

function daemonSet(name: string, extra: { nodeSelector?: Record<string, string>; tolerations?: unknown[]; strategy?: unknown; image?: string } = {}): KObject {
  const spec: Record<string, unknown> = { containers: [{ name: 'agent', image: extra.image ?? 'busybox:1.36' }] };
  if (extra.nodeSelector) spec.nodeSelector = extra.nodeSelector;
  if (extra.tolerations) spec.tolerations = extra.tolerations;
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec },
      ...(extra.strategy ? { updateStrategy: extra.strategy } : {}),
    },
  };
}

interface Cluster {
  client: ApiClient;
  ns: string;
  errors: string[];
  pods(name: string): Promise<KObject[]>;
  ds(name: string): Promise<KObject>;
}

/** A fresh API with 3 labelled workers and a tainted control plane, the scheduler, a fake kubelet and the controller. */
async function withCluster(fn: (c: Cluster) => Promise<void>, kubeletDelayMs = 5): Promise<void> {
  const t = await startTestApi();
  const client = t.client('test');
  const ns = 'ds';
  await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await client.create(R.nodes, undefined, node('cp', { taints: [CP_TAINT], labels: { 'node-role.kubernetes.io/control-plane': '' } }));
  for (const w of ['w1', 'w2', 'w3']) await client.create(R.nodes, undefined, node(w, { labels: ON }));
  const errors: string[] = [];
  const sched = new Scheduler(t.client('scheduler'), { initialBackoffMs: 10, maxBackoffMs: 50, events: false });
  const kubelet = new FakeKubelet(client, { delayMs: kubeletDelayMs, boundOnly: true });
  const dsc = new DaemonSetController(t.client('daemonset-controller'), { log: (l) => errors.push(l) });
  await sched.start();
  await kubelet.start();
  await dsc.start();
  try {
    await fn({
      client,
      ns,
      errors,
      pods: async (name) => (await client.list(R.pods, ns, { labelSelector: `app=${name}` })).items.filter((p) => !p.metadata.deletionTimestamp),
      ds: (name) => client.get(R.daemonsets, ns, name),
    });
  } finally {
    dsc.stop();
    kubelet.stop();
    sched.stop();
    await t.close();
  }
}

/** What `kubectl rollout status ds/x` waits for. */
function rolledOut(ds: KObject, desired: number): boolean {
  const s = (ds.status ?? {}) as Record<string, number>;
  return (
    (ds.metadata.generation ?? 0) <= (s.observedGeneration ?? 0) &&
    s.desiredNumberScheduled === desired &&
    (s.updatedNumberScheduled ?? 0) >= desired &&
    (s.numberAvailable ?? 0) >= desired
  );
}

const nodesOf = (pods: KObject[]) => pods.map((p) => nodeOf(p) ?? `(${targetNode(p)})`).sort();

describe('DaemonSet eligibility', () => {
  it('adds the daemon tolerations and follows selectors, affinity and taints', () => {
    const ds = daemonSet('a', { nodeSelector: ON });
    const tol = withDaemonTolerations({ tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }] });
    assert.deepEqual(
      tol.map((t) => `${t.key}:${t.effect}`),
      ['node.kubernetes.io/not-ready:NoExecute', 'node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/disk-pressure:NoSchedule', 'node.kubernetes.io/memory-pressure:NoSchedule', 'node.kubernetes.io/pid-pressure:NoSchedule', 'node.kubernetes.io/unschedulable:NoSchedule'],
    );
    assert.equal((tol[0] as { tolerationSeconds?: number }).tolerationSeconds, undefined);
    assert.deepEqual(nodeShouldRunDaemonPod(node('w', { labels: ON }), ds), { shouldRun: true, shouldContinueRunning: true });
    assert.deepEqual(nodeShouldRunDaemonPod(node('w'), ds), { shouldRun: false, shouldContinueRunning: false });
    const noSched = node('w', { labels: ON, taints: [{ key: 'x', effect: 'NoSchedule' }] });
    assert.deepEqual(nodeShouldRunDaemonPod(noSched, ds), { shouldRun: false, shouldContinueRunning: true });
    const noExec = node('w', { labels: ON, taints: [{ key: 'x', effect: 'NoExecute' }] });
    assert.deepEqual(nodeShouldRunDaemonPod(noExec, ds), { shouldRun: false, shouldContinueRunning: false });
    // Not-ready and unschedulable nodes still run daemon pods.
    const notReady = node('w', { labels: ON, taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] });
    assert.equal(nodeShouldRunDaemonPod(notReady, ds).shouldRun, true);
    const affinity = daemonSet('b');
    (affinity.spec as { template: { spec: Record<string, unknown> } }).template.spec.affinity = {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } },
    };
    assert.equal(nodeShouldRunDaemonPod(node('w', { labels: { zone: 'a' } }), affinity).shouldRun, true);
    assert.equal(nodeShouldRunDaemonPod(node('w', { labels: { zone: 'b' } }), affinity).shouldRun, false);
  });

  it('plans a rolling update within maxUnavailable, replacing unavailable old pods at once', () => {
    const ds = daemonSet('a', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } } });
    const t = new Date().toISOString();
    const pod = (name: string, hash: string, ready: boolean): KObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { 'controller-revision-hash': hash } },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t }] },
    });
    const nodes = [
      { node: 'n1', live: [pod('a', 'old', true)], failed: [], terminating: false },
      { node: 'n2', live: [pod('b', 'old', true)], failed: [], terminating: false },
      { node: 'n3', live: [pod('c', 'old', false)], failed: [], terminating: false },
    ];
    assert.deepEqual(planRollingUpdate(ds, nodes, 'new', undefined).deletes.map((p) => p.metadata.name).sort(), ['a', 'c']);
    nodes[0].live = [pod('a2', 'new', false)];
    assert.deepEqual(planRollingUpdate(ds, nodes, 'new', undefined).deletes.map((p) => p.metadata.name), ['c']);
    const surge = daemonSet('s', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } });
    nodes[0].live = [pod('a', 'old', true)];
    nodes[2].live = [pod('c', 'old', true)];
    assert.deepEqual(planRollingUpdate(surge, nodes, 'new', undefined), { deletes: [], createOn: ['n1'] });
    nodes[0].live = [pod('a', 'old', true), pod('a2', 'new', true)];
    assert.deepEqual(planRollingUpdate(surge, nodes, 'new', undefined).deletes.map((p) => p.metadata.name), ['a']);
  });
});

describe('DaemonSet controller', () => {
  it('runs one pod per eligible node of 3 workers + a tainted control plane, follows nodes joining and labelled out', () =>
    withCluster(async (c) => {
      await c.client.create(R.daemonsets, c.ns, daemonSet('agent', { nodeSelector: ON }));
      await c.client.create(R.daemonsets, c.ns, daemonSet('everywhere', { tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }] }));
      await waitFor('3 agent pods bound and ready', async () => {
        const pods = await c.pods('agent');
        return pods.length === 3 && pods.every((p) => nodeOf(p) && isReady(p));
      });
      let pods = await c.pods('agent');
      assert.deepEqual(nodesOf(pods), ['w1', 'w2', 'w3']);
      for (const p of pods) {
        // Pinned by node affinity (the scheduler bound it), with the daemon tolerations and revision labels.
        const spec = p.spec as { affinity: unknown; tolerations: { key: string }[] };
        assert.deepEqual(spec.affinity, {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeOf(p)] }] }] } },
        });
        assert.ok(spec.tolerations.some((t) => t.key === 'node.kubernetes.io/unreachable'));
        assert.match(p.metadata.labels?.['controller-revision-hash'] ?? '', /^[bcdfghjklmnpqrstvwxz2456789]+$/);
        assert.equal(p.metadata.labels?.['pod-template-generation'], '1');
        assert.equal(p.metadata.ownerReferences?.[0]?.kind, 'DaemonSet');
      }
      const ds = await waitFor('agent status', async () => {
        const d = await c.ds('agent');
        return rolledOut(d, 3) && (d.status as Record<string, number>).numberReady === 3 && d;
      });
      const s = ds.status as Record<string, number>;
      assert.equal(s.currentNumberScheduled, 3);
      assert.equal(s.numberMisscheduled, 0);
      assert.equal(s.observedGeneration, ds.metadata.generation);
      assert.equal(ds.metadata.annotations?.['deprecated.daemonset.template.generation'], '1');
      const revs = (await c.client.list(R.controllerrevisions, c.ns)).items.filter((r) => r.metadata.ownerReferences?.[0]?.uid === ds.metadata.uid);
      assert.equal(revs.length, 1);
      assert.equal(revs[0].metadata.name, `agent-${pods[0].metadata.labels?.['controller-revision-hash']}`);
      assert.equal(revs[0].revision, 1);

      // The tolerating DaemonSet also runs on the control plane.
      await waitFor('4 everywhere pods', async () => nodesOf(await c.pods('everywhere')).join() === 'cp,w1,w2,w3');

      // A node joins.
      await c.client.create(R.nodes, undefined, node('w4', { labels: ON }));
      await waitFor('a pod on w4', async () => nodesOf(await c.pods('agent')).join() === 'w1,w2,w3,w4');
      await waitFor('everywhere on w4', async () => (await c.pods('everywhere')).length === 5);

      // A node is labelled out of the selector: its pod goes; the other DaemonSet stays.
      await patchRetry(c.client, R.nodes, undefined, 'w2', { metadata: { labels: { 'skiff.test/agent': 'no' } } });
      await waitFor('no agent pod on w2', async () => nodesOf(await c.pods('agent')).join() === 'w1,w3,w4');
      await waitFor('desired 3', async () => rolledOut(await c.ds('agent'), 3));
      assert.equal((await c.pods('everywhere')).length, 5);

      // A NoExecute taint evicts; removing the node drops its pod.
      await patchRetry(c.client, R.nodes, undefined, 'w3', { spec: { taints: [{ key: 'maintenance', effect: 'NoExecute' }] } });
      await waitFor('no agent pod on w3', async () => nodesOf(await c.pods('agent')).join() === 'w1,w4');
      await c.client.delete(R.nodes, undefined, 'w4');
      await waitFor('no agent pod on w4', async () => nodesOf(await c.pods('agent')).join() === 'w1');
      await waitFor('desired 1', async () => rolledOut(await c.ds('agent'), 1));
      // A deleted daemon pod is replaced.
      const [last] = await c.pods('agent');
      await c.client.delete(R.pods, c.ns, last.metadata.name!);
      await waitFor('replacement on w1', async () => {
        const now = await c.pods('agent');
        return now.length === 1 && now[0].metadata.uid !== last.metadata.uid && nodeOf(now[0]) === 'w1' && isReady(now[0]);
      });
      pods = await c.pods('agent');
      assert.equal(pods.length, 1);
      assert.deepEqual(c.errors.filter((e) => !/conflict|already exists/i.test(e)), []);
    }));

  it('rolls out a new template respecting maxUnavailable=1, with a ControllerRevision per template', () =>
    withCluster(async (c) => {
      await c.client.create(R.nodes, undefined, node('w4', { labels: ON }));
      await c.client.create(R.daemonsets, c.ns, daemonSet('agent', { nodeSelector: ON }));
      await waitFor('rolled out', async () => rolledOut(await c.ds('agent'), 4));
      const log = new PodLog(c.client, c.ns);
      await log.start();
      await patchRetry(c.client, R.daemonsets, c.ns, 'agent', { spec: { template: { spec: { containers: [{ name: 'agent', image: 'busybox:1.37' }] } } } }, 'application/strategic-merge-patch+json');
      const ds = await waitFor('rolled out again', async () => {
        const d = await c.ds('agent');
        const pods = await c.pods('agent');
        return rolledOut(d, 4) && pods.length === 4 && pods.every((p) => imageOf(p) === 'busybox:1.37' && isReady(p)) && d;
      });
      log.stop();
      // At no point were more than one of the four nodes without a ready, non-terminating pod.
      let worst = 0;
      for (const ev of log.events) {
        const ok = new Set([...ev.snapshot.values()].filter((p) => isReady(p) && !p.metadata.deletionTimestamp && nodeOf(p)).map((p) => nodeOf(p)));
        worst = Math.max(worst, 4 - ok.size);
      }
      assert.equal(worst, 1);
      const revs = (await c.client.list(R.controllerrevisions, c.ns)).items.sort((a, b) => (a.revision as number) - (b.revision as number));
      assert.deepEqual(revs.map((r) => r.revision), [1, 2]);
      const hash = (await c.pods('agent'))[0].metadata.labels?.['controller-revision-hash'];
      assert.equal(revs[1].metadata.name, `agent-${hash}`);
      assert.equal(revs[1].metadata.labels?.['controller-revision-hash'], hash);
      const data = revs[1].data as { spec: { template: { $patch: string; spec: { containers: { image: string }[] } } } };
      assert.equal(data.spec.template.$patch, 'replace');
      assert.equal(data.spec.template.spec.containers[0].image, 'busybox:1.37');
      assert.equal(ds.metadata.annotations?.['deprecated.daemonset.template.generation'], String(ds.metadata.generation));
    }, 15));

  it('surges with maxSurge=1 and maxUnavailable=0 without any node losing its ready pod', () =>
    withCluster(async (c) => {
      await c.client.create(R.daemonsets, c.ns, daemonSet('agent', { nodeSelector: ON, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } }));
      await waitFor('rolled out', async () => rolledOut(await c.ds('agent'), 3));
      const log = new PodLog(c.client, c.ns);
      await log.start();
      await patchRetry(c.client, R.daemonsets, c.ns, 'agent', { spec: { template: { spec: { containers: [{ name: 'agent', image: 'busybox:1.37' }] } } } }, 'application/strategic-merge-patch+json');
      await waitFor('rolled out again', async () => {
        const pods = await c.pods('agent');
        return rolledOut(await c.ds('agent'), 3) && pods.length === 3 && pods.every((p) => imageOf(p) === 'busybox:1.37');
      });
      log.stop();
      let worst = 0;
      let most = 0;
      for (const ev of log.events) {
        const live = [...ev.snapshot.values()].filter((p) => !p.metadata.deletionTimestamp);
        const ok = new Set(live.filter((p) => isReady(p) && nodeOf(p)).map((p) => nodeOf(p)));
        worst = Math.max(worst, 3 - ok.size);
        most = Math.max(most, live.length);
      }
      assert.equal(worst, 0);
      assert.equal(most, 4); // one surge pod at a time
    }));

  it('OnDelete keeps old pods until they are deleted', () =>
    withCluster(async (c) => {
      await c.client.create(R.daemonsets, c.ns, daemonSet('agent', { nodeSelector: ON, strategy: { type: 'OnDelete' } }));
      await waitFor('3 pods', async () => (await c.pods('agent')).filter(isReady).length === 3);
      await patchRetry(c.client, R.daemonsets, c.ns, 'agent', { spec: { template: { spec: { containers: [{ name: 'agent', image: 'busybox:1.37' }] } } } }, 'application/strategic-merge-patch+json');
      await waitFor('observed', async () => {
        const d = await c.ds('agent');
        return (d.status as Record<string, number>).observedGeneration === d.metadata.generation && (d.status as Record<string, number>).updatedNumberScheduled === undefined;
      });
      const before = await c.pods('agent');
      assert.ok(before.every((p) => imageOf(p) === 'busybox:1.36'));
      const victim = before.find((p) => nodeOf(p) === 'w2')!;
      await c.client.delete(R.pods, c.ns, victim.metadata.name!);
      await waitFor('new pod on w2', async () => {
        const pods = await c.pods('agent');
        return pods.length === 3 && pods.some((p) => nodeOf(p) === 'w2' && imageOf(p) === 'busybox:1.37');
      });
      const s = (await waitFor('updated 1', async () => {
        const d = await c.ds('agent');
        return (d.status as Record<string, number>).updatedNumberScheduled === 1 && d;
      })).status as Record<string, number>;
      assert.equal(s.desiredNumberScheduled, 3);
      assert.equal((await c.pods('agent')).filter((p) => imageOf(p) === 'busybox:1.36').length, 2);
    }));
});
