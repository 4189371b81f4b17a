// The node lifecycle controller (upstream pkg/controller/nodelifecycle, tainteviction, and podgc's
// orphan collection), in one loop over Nodes, their Leases and Pods:
//
//  - health: a node whose kubelet neither renews its Lease (kube-node-lease) nor posts status
//    within the grace period (node-monitor-grace-period, 40 s) gets its conditions set to Unknown
//    (`NodeStatusUnknown`, "Kubelet stopped posting node status."), and its pods' Ready condition
//    set to False so Endpoints drop them (upstream MarkPodsNotReady);
//  - taints: Ready Unknown → node.kubernetes.io/unreachable, Ready False →
//    node.kubernetes.io/not-ready (NoSchedule and NoExecute each); pressure conditions and
//    cordoning get their NoSchedule taints; all go away when the node is healthy again;
//  - taint eviction: pods on a node with NoExecute taints are deleted at once when a taint is not
//    tolerated, after the smallest tolerationSeconds of the tolerations used otherwise, never when
//    tolerated forever (Event `TaintManagerEviction`);
//  - orphans: pods bound to a node that was deleted are deleted (force, as podgc does).
//
// Health is judged from what this controller observes change (a new lease renewTime, a new
// heartbeat), timed by its own clock, so clock skew between nodes does not matter — as upstream.
// Upstream rate-limits NoExecute tainting per zone; here every node is tainted when it fails.
import { StatusError } from '../machinery/errors.js';
import { deepCopy, jsonEqual, type KObject } from '../machinery/object.js';
import { Informer, cacheKey } from '../client/informer.js';
import { R, type ApiClient } from '../client/client.js';
import { WorkQueue } from '../client/workqueue.js';
import { asArr, asNum, asObj, asStr, dig, type Obj } from '../api/common/shape.js';
import { rfc3339 } from '../machinery/time.js';
import { emitEvent } from '../client/events.js';

export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure';
export const TAINT_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure';
export const TAINT_PID_PRESSURE = 'node.kubernetes.io/pid-pressure';
export const TAINT_NETWORK_UNAVAILABLE = 'node.kubernetes.io/network-unavailable';
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const COMPONENT = 'node-controller';
const EVICTION_COMPONENT = 'taint-eviction-controller';

/** Taints this controller owns: it adds and removes them from node conditions. */
const MANAGED_TAINTS = new Set([
  TAINT_UNREACHABLE,
  TAINT_NOT_READY,
  TAINT_UNSCHEDULABLE,
  TAINT_MEMORY_PRESSURE,
  TAINT_DISK_PRESSURE,
  TAINT_PID_PRESSURE,
  TAINT_NETWORK_UNAVAILABLE,
]);
/** The conditions set to Unknown when the kubelet goes silent. */
const MONITORED_CONDITIONS = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

export interface NodeLifecycleOptions {
  /** How long a node may go without a lease renewal or status heartbeat (upstream 40 s). */
  nodeMonitorGracePeriodMs?: number;
  /** How often every node is re-checked (upstream node-monitor-period, 5 s). */
  nodeMonitorPeriodMs?: number;
  /** How long pods may name a node that never existed before they are collected (upstream podgc 40 s). */
  orphanQuarantineMs?: number;
  log?: (s: string) => void;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

// ---------------------------------------------------------------------------------------------
// Pure pieces

function objs(v: unknown): Obj[] {
  return asArr(v)
    .map(asObj)
    .filter((x): x is Obj => x !== undefined);
}

export function nodeCondition(node: KObject, type: string): Obj | undefined {
  return objs(dig(node, 'status', 'conditions')).find((c) => c.type === type);
}

export function nodeTaints(node: KObject): Taint[] {
  return objs(dig(node, 'spec', 'taints')) as unknown as Taint[];
}

/** Upstream Toleration.ToleratesTaint. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  const op = t.operator || 'Equal';
  if (op === 'Exists') return true;
  if (op === 'Equal') return (t.value ?? '') === (taint.value ?? '');
  return false;
}

/**
 * How long a pod may stay on a node with these NoExecute taints: 0 (now) when one is not
 * tolerated, Infinity when every taint is tolerated forever, else the smallest tolerationSeconds
 * of the toleration used for each taint (upstream GetMatchingTolerations + getMinTolerationTime).
 */
export function tolerationWindowMs(taints: Taint[], tolerations: Toleration[]): number {
  let min = Infinity;
  for (const taint of taints) {
    const used = tolerations.find((t) => toleratesTaint(t, taint));
    if (!used) return 0;
    const s = asNum(used.tolerationSeconds);
    if (s !== undefined) min = Math.min(min, Math.max(0, s) * 1000);
  }
  return min;
}

/**
 * The taints a node should carry for its conditions and cordon: those this controller manages,
 * computed afresh; every other taint kept as is. NoExecute taints keep their timeAdded.
 */
export function desiredTaints(node: KObject, nowIso: string): Taint[] {
  const status = (type: string) => asStr(nodeCondition(node, type)?.status);
  const want: Taint[] = [];
  const ready = status('Ready');
  if (ready === 'False') want.push({ key: TAINT_NOT_READY, effect: 'NoSchedule' }, { key: TAINT_NOT_READY, effect: 'NoExecute' });
  else if (ready === 'Unknown') want.push({ key: TAINT_UNREACHABLE, effect: 'NoSchedule' }, { key: TAINT_UNREACHABLE, effect: 'NoExecute' });
  if (status('MemoryPressure') === 'True') want.push({ key: TAINT_MEMORY_PRESSURE, effect: 'NoSchedule' });
  if (status('DiskPressure') === 'True') want.push({ key: TAINT_DISK_PRESSURE, effect: 'NoSchedule' });
  if (status('PIDPressure') === 'True') want.push({ key: TAINT_PID_PRESSURE, effect: 'NoSchedule' });
  if (status('NetworkUnavailable') === 'True') want.push({ key: TAINT_NETWORK_UNAVAILABLE, effect: 'NoSchedule' });
  if (dig(node, 'spec', 'unschedulable') === true) want.push({ key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' });
  const current = nodeTaints(node);
  const out = current.filter((t) => !MANAGED_TAINTS.has(t.key) || want.some((w) => w.key === t.key && w.effect === t.effect));
  for (const w of want) {
    if (out.some((t) => t.key === w.key && t.effect === w.effect)) continue;
    out.push(w.effect === 'NoExecute' ? { ...w, timeAdded: nowIso } : w);
  }
  return out;
}

/** The node's status with its monitored conditions set to Unknown (upstream tryUpdateNodeHealth). */
export function unknownConditions(node: KObject, nowIso: string): Obj[] {
  const conds = objs(dig(node, 'status', 'conditions')).map((c) => ({ ...c }));
  for (const type of MONITORED_CONDITIONS) {
    const c = conds.find((x) => x.type === type);
    if (!c) {
      conds.push({
        type,
        status: 'Unknown',
        reason: 'NodeStatusNeverUpdated',
        message: 'Kubelet never posted node status.',
        lastHeartbeatTime: node.metadata.creationTimestamp ?? nowIso,
        lastTransitionTime: nowIso,
      });
    } else if (c.status !== 'Unknown') {
      c.status = 'Unknown';
      c.reason = 'NodeStatusUnknown';
      c.message = 'Kubelet stopped posting node status.';
      c.lastTransitionTime = nowIso;
    }
  }
  return conds;
}

const ignore = (...codes: number[]) => (e: unknown) => {
  if (!(e instanceof StatusError && codes.includes(e.code))) throw e;
};

// ---------------------------------------------------------------------------------------------
// The controller

interface Health {
  /** When (our clock) we last saw the kubelet alive. */
  probe: number;
  heartbeat?: string;
  leaseRenew?: string;
}

interface ScheduledEviction {
  createdAt: number;
  fireAt: number;
  timer?: NodeJS.Timeout;
}

export class NodeLifecycleController {
  private nodes: Informer;
  private leases: Informer;
  private pods: Informer;
  private nodeQueue: WorkQueue;
  private podQueue: WorkQueue;
  private health = new Map<string, Health>();
  private podsByNode = new Map<string, Set<string>>();
  private evictions = new Map<string, ScheduledEviction>();
  /** Node names pods are bound to but no Node has: first seen (our clock). */
  private missingNodes = new Map<string, number>();
  private deletedNodes = new Set<string>();
  /** When a node's next grace-period check is queued (our clock). */
  private checks = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private grace: number;
  private period: number;
  private quarantine: number;
  private log: (s: string) => void;

  constructor(
    private client: ApiClient,
    opts: NodeLifecycleOptions = {},
  ) {
    this.grace = opts.nodeMonitorGracePeriodMs ?? 40_000;
    this.period = opts.nodeMonitorPeriodMs ?? 5_000;
    this.quarantine = opts.orphanQuarantineMs ?? 40_000;
    this.log = opts.log ?? (() => {});
    this.nodes = new Informer(client, R.nodes);
    this.leases = new Informer(client, R.leases, { namespace: NODE_LEASE_NAMESPACE });
    this.pods = new Informer(client, R.pods);
    const err = (what: string) => (k: string, e: unknown) => this.log(`node lifecycle ${what} ${k}: ${(e as Error).message}`);
    this.nodeQueue = new WorkQueue((k) => this.syncNode(k), 4, 100, 5_000, err('node'));
    this.podQueue = new WorkQueue((k) => this.syncPod(k), 4, 100, 5_000, err('pod'));

    this.nodes.on({
      onAdd: (n) => this.nodeQueue.add(n.metadata.name!),
      onUpdate: (n, old) => {
        this.nodeQueue.add(n.metadata.name!);
        if (!jsonEqual(noExecute(nodeTaints(n)), noExecute(nodeTaints(old)))) this.podsOn(n.metadata.name!).forEach((k) => this.podQueue.add(k));
      },
      onDelete: (n) => {
        this.deletedNodes.add(n.metadata.name!);
        this.nodeQueue.add(n.metadata.name!);
      },
    });
    this.leases.on({
      onAdd: (l) => this.observeLease(l),
      onUpdate: (l) => this.observeLease(l),
    });
    this.pods.on({
      onAdd: (p) => this.podChanged(p, undefined),
      onUpdate: (p, old) => this.podChanged(p, old),
      onDelete: (p) => this.podChanged(undefined, p),
    });
  }

  async start(): Promise<void> {
    await this.pods.start();
    await this.leases.start();
    await this.nodes.start();
    this.timer = setInterval(() => this.monitor(), this.period);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const e of this.evictions.values()) if (e.timer) clearTimeout(e.timer);
    this.evictions.clear();
    this.nodes.stop();
    this.leases.stop();
    this.pods.stop();
    this.nodeQueue.stop();
    this.podQueue.stop();
  }

  /** Resolves when no work is queued (tests). */
  async idle(): Promise<void> {
    await this.nodeQueue.idle();
    await this.podQueue.idle();
  }

  private podsOn(node: string): string[] {
    return [...(this.podsByNode.get(node) ?? [])];
  }

  private podChanged(pod: KObject | undefined, old: KObject | undefined): void {
    const oldNode = old ? asStr(dig(old, 'spec', 'nodeName')) : undefined;
    const node = pod ? asStr(dig(pod, 'spec', 'nodeName')) : undefined;
    const key = cacheKey((pod ?? old)!);
    if (oldNode && oldNode !== node) this.podsByNode.get(oldNode)?.delete(key);
    if (node) {
      let s = this.podsByNode.get(node);
      if (!s) this.podsByNode.set(node, (s = new Set()));
      s.add(key);
    }
    if (!pod && oldNode) {
      const s = this.podsByNode.get(oldNode);
      s?.delete(key);
      if (s && s.size === 0) this.podsByNode.delete(oldNode);
    }
    this.podQueue.add(key);
  }

  private observeLease(lease: KObject): void {
    const name = lease.metadata.name!;
    const renew = asStr(dig(lease, 'spec', 'renewTime'));
    const h = this.health.get(name);
    if (h && renew && renew !== h.leaseRenew) {
      h.leaseRenew = renew;
      h.probe = Date.now();
    }
    this.nodeQueue.add(name);
  }

  /** The periodic pass: every node re-judged; pods naming unknown nodes noticed. */
  private monitor(): void {
    for (const n of this.nodes.list()) this.nodeQueue.add(n.metadata.name!);
    const now = Date.now();
    for (const node of this.podsByNode.keys()) {
      if (this.nodes.get(undefined, node)) {
        this.missingNodes.delete(node);
        continue;
      }
      const first = this.missingNodes.get(node);
      if (first === undefined) this.missingNodes.set(node, now);
      else if (now - first >= this.quarantine) this.nodeQueue.add(node);
    }
  }

  // --- nodes ---------------------------------------------------------------------------------

  private async syncNode(name: string): Promise<void> {
    const node = this.nodes.get(undefined, name);
    if (!node) return this.collectOrphans(name);
    this.deletedNodes.delete(name);
    this.missingNodes.delete(name);
    const now = Date.now();
    const ready = nodeCondition(node, 'Ready');
    const heartbeat = asStr(ready?.lastHeartbeatTime);
    const lease = this.leases.get(NODE_LEASE_NAMESPACE, name);
    const renew = asStr(dig(lease, 'spec', 'renewTime'));
    let h = this.health.get(name);
    if (!h) {
      // First sight (or our own restart): the kubelet gets a full grace period from now, except a
      // node that never posted status, whose grace runs from its creation.
      const created = Date.parse(String(node.metadata.creationTimestamp ?? '')) || now;
      h = { probe: ready ? now : Math.min(now, created), heartbeat, leaseRenew: renew };
      this.health.set(name, h);
    }
    if (heartbeat !== h.heartbeat) {
      h.heartbeat = heartbeat;
      h.probe = now;
    }
    if (renew && renew !== h.leaseRenew) {
      h.leaseRenew = renew;
      h.probe = now;
    }

    let current = node;
    const observedReady = asStr(ready?.status);
    const overdue = now - h.probe > this.grace;
    if (overdue) {
      const conditions = unknownConditions(node, rfc3339());
      if (!jsonEqual(conditions, objs(dig(node, 'status', 'conditions')))) {
        const copy = deepCopy(node);
        (copy.status as Obj) = { ...(asObj(copy.status) ?? {}), conditions };
        current = await this.client.update(R.nodes, undefined, copy, 'status');
        this.log(`node ${name}: kubelet stopped posting node status; Ready is Unknown`);
      }
    }
    const currentReady = asStr(nodeCondition(current, 'Ready')?.status);
    if (observedReady === 'True' && currentReady !== 'True') {
      await emitEvent(this.client, COMPONENT, current, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
    }
    // Pods on a node whose kubelet is gone cannot report; say they are not ready (Endpoints drop them).
    if (currentReady === 'Unknown' || (observedReady === 'True' && currentReady === 'False')) await this.markPodsNotReady(name);

    const taints = desiredTaints(current, rfc3339());
    if (!jsonEqual(taints, nodeTaints(current))) {
      const copy = deepCopy(current);
      const spec = (asObj(copy.spec) ?? {}) as Obj;
      if (taints.length) spec.taints = taints;
      else delete spec.taints;
      copy.spec = spec;
      await this.client.update(R.nodes, undefined, copy);
    }
    // Re-check when the grace period would run out, not only on the periodic pass.
    if (!overdue) {
      const due = h.probe + this.grace + 5;
      const pending = this.checks.get(name);
      if (pending === undefined || pending <= now) {
        this.checks.set(name, due);
        this.nodeQueue.addAfter(name, due - now);
      }
    }
  }

  private async markPodsNotReady(node: string): Promise<void> {
    for (const key of this.podsOn(node)) {
      const pod = this.pods.cache.get(key);
      if (!pod || dig(pod, 'spec', 'nodeName') !== node) continue;
      const conds = objs(dig(pod, 'status', 'conditions'));
      const ready = conds.find((c) => c.type === 'Ready');
      if (!ready || ready.status === 'False') continue;
      const copy = deepCopy(pod);
      const t = rfc3339();
      (copy.status as Obj).conditions = conds.map((c) => (c.type === 'Ready' ? { ...c, status: 'False', lastTransitionTime: t } : c));
      try {
        await this.client.update(R.pods, pod.metadata.namespace, copy, 'status');
      } catch (e) {
        ignore(404, 409)(e); // gone, or changed: the next pass sees it again
        continue;
      }
      await emitEvent(this.client, COMPONENT, pod, 'Warning', 'NodeNotReady', 'Node is not ready');
    }
  }

  /** Pods bound to a node that no longer exists are deleted (upstream podgc gcOrphaned). */
  private async collectOrphans(name: string): Promise<void> {
    this.health.delete(name);
    this.checks.delete(name);
    const keys = this.podsOn(name);
    if (keys.length === 0) {
      this.deletedNodes.delete(name);
      this.missingNodes.delete(name);
      return;
    }
    const seenDeleted = this.deletedNodes.has(name);
    const missingSince = this.missingNodes.get(name);
    if (!seenDeleted && (missingSince === undefined || Date.now() - missingSince < this.quarantine)) return;
    // The cache says it is gone; make sure the API agrees before deleting anything.
    try {
      await this.client.get(R.nodes, undefined, name);
      return;
    } catch (e) {
      ignore(404)(e);
    }
    for (const key of keys) {
      const pod = this.pods.cache.get(key);
      if (!pod || dig(pod, 'spec', 'nodeName') !== name) continue;
      await this.addDisruptionCondition(pod, 'DeletionByPodGC', 'PodGC: node no longer exists');
      try {
        await this.client.delete(R.pods, pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
        this.log(`pod ${key}: deleted, its node ${name} no longer exists`);
      } catch (e) {
        ignore(404, 409)(e);
      }
    }
    this.deletedNodes.delete(name);
    this.missingNodes.delete(name);
  }

  // --- taint eviction --------------------------------------------------------------------------

  private cancelEviction(key: string, pod: KObject | undefined): void {
    const e = this.evictions.get(key);
    if (!e) return;
    if (e.timer) clearTimeout(e.timer);
    this.evictions.delete(key);
    if (pod) void emitEvent(this.client, EVICTION_COMPONENT, pod, 'Normal', 'TaintManagerEviction', `Cancelling deletion of Pod ${key}`);
  }

  private async syncPod(key: string): Promise<void> {
    const pod = this.pods.cache.get(key);
    const nodeName = pod ? asStr(dig(pod, 'spec', 'nodeName')) : undefined;
    if (!pod || pod.metadata.deletionTimestamp || !nodeName) return this.cancelEviction(key, undefined);
    const node = this.nodes.get(undefined, nodeName);
    const taints = node ? noExecute(nodeTaints(node)) : [];
    if (taints.length === 0) return this.cancelEviction(key, pod);
    const window = tolerationWindowMs(taints, objs(dig(pod, 'spec', 'tolerations')) as Toleration[]);
    if (window === Infinity) return this.cancelEviction(key, pod);
    const now = Date.now();
    let e = this.evictions.get(key);
    if (e && e.createdAt + window !== e.fireAt) {
      // Tolerations or taints changed: the clock keeps running from when eviction was first scheduled.
      if (e.timer) clearTimeout(e.timer);
      e = { createdAt: e.createdAt, fireAt: e.createdAt + window };
      this.evictions.set(key, e);
    } else if (!e) {
      e = { createdAt: now, fireAt: now + window };
      this.evictions.set(key, e);
    }
    if (now >= e.fireAt) {
      this.evictions.delete(key);
      if (e.timer) clearTimeout(e.timer);
      return this.evict(pod);
    }
    if (!e.timer) {
      e.timer = setTimeout(() => this.podQueue.add(key), e.fireAt - now + 1);
      e.timer.unref?.();
    }
  }

  private async evict(pod: KObject): Promise<void> {
    const key = cacheKey(pod);
    await emitEvent(this.client, EVICTION_COMPONENT, pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${key}`);
    await this.addDisruptionCondition(pod, 'DeletionByTaintManager', 'Taint manager: deleting due to NoExecute taint');
    try {
      await this.client.delete(R.pods, pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid } });
      this.log(`pod ${key}: evicted from node ${String(dig(pod, 'spec', 'nodeName'))} (NoExecute taint)`);
    } catch (e) {
      ignore(404, 409)(e);
    }
  }

  /** Upstream adds a DisruptionTarget condition before deleting, so the pod's owner knows why. Best effort. */
  private async addDisruptionCondition(pod: KObject, reason: string, message: string): Promise<void> {
    const conds = objs(dig(pod, 'status', 'conditions'));
    if (conds.some((c) => c.type === 'DisruptionTarget' && c.status === 'True')) return;
    const copy = deepCopy(pod);
    const status = (asObj(copy.status) ?? {}) as Obj;
    status.conditions = [...conds, { type: 'DisruptionTarget', status: 'True', reason, message, lastTransitionTime: rfc3339() }];
    copy.status = status;
    try {
      await this.client.update(R.pods, pod.metadata.namespace, copy, 'status');
    } catch {
      // The deletion matters; the condition only explains it.
    }
  }
}

function noExecute(taints: Taint[]): Taint[] {
  return taints.filter((t) => t.effect === 'NoExecute');
}
