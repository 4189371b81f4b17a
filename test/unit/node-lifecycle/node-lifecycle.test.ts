import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import {
  NodeLifecycleController,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  TAINT_UNSCHEDULABLE,
  desiredTaints,
  tolerationWindowMs,
  toleratesTaint,
} from '../../../src/controllers/node-lifecycle.js';
import { startTestApi } from '../../support/in-memory-api.js';

async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 8000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const iso = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const isoMicro = () => new Date().toISOString().replace('Z', '000Z');

function node(name: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: {},
    status: {
      capacity: { cpu: '2', memory: '4Gi', pods: '110' },
      conditions: [
        { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', lastHeartbeatTime: iso(), lastTransitionTime: iso() },
        { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: iso(), lastTransitionTime: iso() },
      ],
    },
  };
}

/** A stand-in kubelet: registers the node and its lease, renews the lease, can stop and come back. */
class FakeKubelet {
  private timer?: NodeJS.Timeout;
  constructor(
    private client: ApiClient,
    readonly name: string,
  ) {}
  async register() {
    await this.client.create(R.nodes, undefined, node(this.name));
    await this.client.create(R.leases, 'kube-node-lease', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: 'kube-node-lease' },
      spec: { holderIdentity: this.name, leaseDurationSeconds: 40, renewTime: isoMicro() },
    });
    this.resume();
  }
  resume() {
    this.timer = setInterval(() => void this.renew().catch(() => {}), 40);
  }
  async renew() {
    const l = await this.client.get(R.leases, 'kube-node-lease', this.name);
    (l.spec as any).renewTime = isoMicro();
    await this.client.update(R.leases, 'kube-node-lease', l);
  }
  stop() {
    clearInterval(this.timer);
  }
  async postStatus(ready: 'True' | 'False') {
    const n = await this.client.get(R.nodes, undefined, this.name);
    (n.status as any).conditions = (n.status as any).conditions.map((c: any) =>
      c.type === 'Ready'
        ? { ...c, status: ready, reason: ready === 'True' ? 'KubeletReady' : 'KubeletNotReady', message: 'x', lastHeartbeatTime: iso(), lastTransitionTime: iso() }
        : { ...c, status: 'False', lastHeartbeatTime: iso() },
    );
    await this.client.update(R.nodes, undefined, n, 'status');
  }
}

function pod(name: string, nodeName: string, tolerations?: unknown[]): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'x' } },
    spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }], ...(tolerations ? { tolerations } : {}) },
  };
}

async function runningPod(client: ApiClient, p: KObject): Promise<KObject> {
  const created = await client.create(R.pods, 'default', p);
  created.status = { ...(created.status as object), phase: 'Running', podIP: '127.1.0.9', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: iso() }] };
  return client.update(R.pods, 'default', created, 'status');
}

const taintsOf = (n: KObject) => ((n.spec as any).taints ?? []).map((t: any) => `${t.key}:${t.effect}`).sort();
const readyOf = (n: KObject) => (n.status as any).conditions.find((c: any) => c.type === 'Ready');

async function setup(graceMs = 400) {
  const t = await startTestApi();
  const admin = t.client('admin');
  const ctrl = new NodeLifecycleController(t.client('system:node-controller'), { nodeMonitorGracePeriodMs: graceMs, nodeMonitorPeriodMs: 50, orphanQuarantineMs: 200 });
  const getNode = (name: string) => admin.get(R.nodes, undefined, name);
  const getPod = (name: string) => admin.get(R.pods, 'default', name).catch(() => undefined);
  return {
    t,
    admin,
    ctrl,
    getNode,
    getPod,
    async close() {
      ctrl.stop();
      await t.close();
    },
  };
}

test('a silent kubelet: Ready Unknown, unreachable taints, pods marked not ready and evicted per toleration, then recovery', async () => {
  const c = await setup();
  const kubelet = new FakeKubelet(c.admin, 'n1');
  try {
    await kubelet.register();
    // Every pod gets 300 s not-ready/unreachable tolerations at admission (DefaultTolerationSeconds);
    // `plain` opts out with 0 s, which means "evict at once".
    await runningPod(c.admin, pod('plain', 'n1', [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 0 }]));
    await runningPod(c.admin, pod('tolerant', 'n1', [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 }]));
    await runningPod(c.admin, pod('forever', 'n1', [{ operator: 'Exists' }]));
    await c.ctrl.start();

    // Renewing: healthy well past the grace period.
    await new Promise((r) => setTimeout(r, 800));
    let n = await c.getNode('n1');
    assert.equal(readyOf(n).status, 'True');
    assert.deepEqual(taintsOf(n), []);

    // Evictions in the order they happen.
    const order: string[] = [];
    const watch = await c.admin.watch(R.pods, 'default', { resourceVersion: (await c.admin.list(R.pods, 'default')).resourceVersion }, (ev) => {
      const name = ev.object.metadata.name!;
      if ((ev.object.metadata.deletionTimestamp || ev.type === 'DELETED') && !order.includes(name)) order.push(name);
    }, () => {});

    kubelet.stop();
    n = await waitFor(async () => {
      const x = await c.getNode('n1');
      return readyOf(x).status === 'Unknown' && taintsOf(x).length === 2 ? x : undefined;
    }, 'node unreachable');
    assert.equal(readyOf(n).reason, 'NodeStatusUnknown');
    assert.equal(readyOf(n).message, 'Kubelet stopped posting node status.');
    assert.equal((n.status as any).conditions.find((x: any) => x.type === 'MemoryPressure').status, 'Unknown');
    assert.deepEqual(taintsOf(n), [`${TAINT_UNREACHABLE}:NoExecute`, `${TAINT_UNREACHABLE}:NoSchedule`]);
    assert.ok((n.spec as any).taints.find((x: any) => x.effect === 'NoExecute').timeAdded);

    // Without a toleration: evicted at once (the kubelet is gone, so it stays Terminating).
    await waitFor(async () => (await c.getPod('plain'))?.metadata.deletionTimestamp, 'plain evicted');
    const forever = await c.getPod('forever');
    assert.equal((forever!.status as any).conditions.find((x: any) => x.type === 'Ready').status, 'False'); // MarkPodsNotReady
    // With tolerationSeconds: evicted after it, and after the untolerated pod.
    await waitFor(async () => (await c.getPod('tolerant'))?.metadata.deletionTimestamp, 'tolerant evicted');
    assert.deepEqual(order, ['plain', 'tolerant']);
    assert.equal((await c.getPod('forever'))!.metadata.deletionTimestamp, undefined);
    const events = (await c.admin.list(R.events, 'default')).items.filter((e) => e.reason === 'TaintManagerEviction');
    assert.deepEqual(events.map((e) => (e.involvedObject as any).name).sort(), ['plain', 'tolerant']);
    assert.equal(events[0].message, `Marking for deletion Pod default/${(events[0].involvedObject as any).name}`);
    const plain = await c.getPod('plain');
    assert.equal((plain!.status as any).conditions.find((x: any) => x.type === 'DisruptionTarget')?.reason, 'DeletionByTaintManager');
    watch.stop();

    // The kubelet comes back: taints go.
    kubelet.resume();
    await kubelet.postStatus('True');
    n = await waitFor(async () => {
      const x = await c.getNode('n1');
      return taintsOf(x).length === 0 ? x : undefined;
    }, 'taints removed');
    assert.equal(readyOf(n).status, 'True');
  } finally {
    kubelet.stop();
    await c.close();
  }
});

test('Ready=False gets not-ready taints, cordon the unschedulable taint; healthy again removes them', async () => {
  const c = await setup(5000);
  const kubelet = new FakeKubelet(c.admin, 'n1');
  try {
    await kubelet.register();
    await c.ctrl.start();
    await kubelet.postStatus('False');
    await waitFor(async () => taintsOf(await c.getNode('n1')).join() === `${TAINT_NOT_READY}:NoExecute,${TAINT_NOT_READY}:NoSchedule`, 'not-ready taints');
    const n = await c.getNode('n1');
    (n.spec as any).unschedulable = true;
    await c.admin.update(R.nodes, undefined, n);
    await waitFor(async () => taintsOf(await c.getNode('n1')).includes(`${TAINT_UNSCHEDULABLE}:NoSchedule`), 'unschedulable taint');
    await kubelet.postStatus('True');
    await waitFor(async () => taintsOf(await c.getNode('n1')).join() === `${TAINT_UNSCHEDULABLE}:NoSchedule`, 'not-ready taints removed');
    const m = await c.getNode('n1');
    (m.spec as any).unschedulable = false;
    (m.spec as any).taints = [...(m.spec as any).taints, { key: 'example.com/mine', effect: 'NoSchedule' }];
    await c.admin.update(R.nodes, undefined, m);
    await waitFor(async () => taintsOf(await c.getNode('n1')).join() === 'example.com/mine:NoSchedule', 'user taint kept');
  } finally {
    kubelet.stop();
    await c.close();
  }
});

test('pods of a deleted node are deleted', async () => {
  const c = await setup(5000);
  const kubelet = new FakeKubelet(c.admin, 'n1');
  try {
    await kubelet.register();
    await runningPod(c.admin, pod('a', 'n1'));
    await runningPod(c.admin, pod('ghost', 'never-existed'));
    await c.ctrl.start();
    kubelet.stop();
    await c.admin.delete(R.nodes, undefined, 'n1');
    await waitFor(async () => (await c.getPod('a')) === undefined, 'pod of deleted node gone');
    // A pod naming a node that never existed goes after the quarantine.
    await waitFor(async () => (await c.getPod('ghost')) === undefined, 'orphan collected');
  } finally {
    kubelet.stop();
    await c.close();
  }
});

test('toleration matching and windows', () => {
  const unreachable = { key: TAINT_UNREACHABLE, effect: 'NoExecute' };
  const notReady = { key: TAINT_NOT_READY, effect: 'NoExecute' };
  assert.equal(toleratesTaint({ operator: 'Exists' }, unreachable), true);
  assert.equal(toleratesTaint({ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoSchedule' }, unreachable), false);
  assert.equal(toleratesTaint({ key: 'k', value: 'v' }, { key: 'k', value: 'v', effect: 'NoExecute' }), true);
  assert.equal(toleratesTaint({ key: 'k', value: 'w' }, { key: 'k', value: 'v', effect: 'NoExecute' }), false);
  assert.equal(tolerationWindowMs([unreachable], []), 0);
  assert.equal(tolerationWindowMs([unreachable], [{ operator: 'Exists' }]), Infinity);
  assert.equal(tolerationWindowMs([unreachable, notReady], [{ key: TAINT_UNREACHABLE, operator: 'Exists', tolerationSeconds: 300 }]), 0);
  assert.equal(
    tolerationWindowMs([unreachable, notReady], [
      { key: TAINT_UNREACHABLE, operator: 'Exists', tolerationSeconds: 300 },
      { key: TAINT_NOT_READY, operator: 'Exists', tolerationSeconds: 30 },
    ]),
    30_000,
  );
  assert.equal(tolerationWindowMs([unreachable], [{ key: TAINT_UNREACHABLE, operator: 'Exists', tolerationSeconds: -5 }]), 0);
});

test('desired taints keep foreign taints and the timeAdded of existing ones', () => {
  const n: KObject = {
    metadata: { name: 'n' },
    spec: { taints: [{ key: 'mine', effect: 'NoSchedule' }, { key: TAINT_UNREACHABLE, effect: 'NoExecute', timeAdded: '2024-01-01T00:00:00Z' }] },
    status: { conditions: [{ type: 'Ready', status: 'Unknown' }] },
  };
  assert.deepEqual(desiredTaints(n, '2025-01-01T00:00:00Z'), [
    { key: 'mine', effect: 'NoSchedule' },
    { key: TAINT_UNREACHABLE, effect: 'NoExecute', timeAdded: '2024-01-01T00:00:00Z' },
    { key: TAINT_UNREACHABLE, effect: 'NoSchedule' },
  ]);
  (n.status as any).conditions[0].status = 'True';
  assert.deepEqual(desiredTaints(n, 'x'), [{ key: 'mine', effect: 'NoSchedule' }]);
});
