// The DaemonSet controller, after upstream's pkg/controller/daemon: one daemon pod on every node
// that should run it (node name, nodeSelector/required node affinity, NoSchedule/NoExecute taints
// against the pod's tolerations plus the daemon tolerations), created with required node affinity
// to that node so the scheduler binds it; pods on nodes that stop qualifying are deleted. Every
// template is a ControllerRevision (`<ds>-<hash>`); pods carry its hash in
// `controller-revision-hash`. RollingUpdate replaces old pods within maxUnavailable (or surges new
// pods next to old ones within maxSurge); OnDelete leaves old pods until someone deletes them.
import { deepCopy, jsonEqual, type KObject } from '../../machinery/object.js';
import { compileLabelSelector, type LabelSelector } from '../../machinery/selectors.js';
import { R, type ApiClient } from '../../client/client.js';
import { Informer, cacheKey } from '../../client/informer.js';
import { claimObjects, freshOwnerCheck, getControllerOf, newControllerRef, resolveControllerRef } from '../controller-ref.js';
import {
  ControllerExpectations,
  PodControl,
  clientEventSink,
  isNamespaceTerminating,
  isPodAvailable,
  isPodReady,
  podPhase,
  slowStartBatch,
  type EventSink,
} from '../pod-control.js';
import { CONTROLLER_REVISION_HASH, ensureUpdateRevision, revisionHash, revisionHistoryLimit, truncateHistory } from '../history.js';
import {
  TEMPLATE_GENERATION_ANNOTATION,
  daemonFenceposts,
  isPodUpdated,
  isRollingUpdate,
  nodeChanged,
  nodeShouldRunDaemonPod,
  podTemplateForNode,
  targetNode,
} from './util.js';
import { QueueController } from '../queue-controller.js';

export interface DaemonSetControllerOptions {
  /** Concurrent syncs (distinct DaemonSets); default 2. */
  workers?: number;
  /** At most this many pod creates or deletes per sync (upstream's burstReplicas); default 250. */
  burstReplicas?: number;
  events?: EventSink;
  log?: (line: string) => void;
  informers?: { pods?: Informer; nodes?: Informer; daemonSets?: Informer; revisions?: Informer };
}

const COMPONENT = 'daemonset-controller';
type Obj = Record<string, unknown>;

function spec(ds: KObject): Obj {
  return (ds.spec as Obj | undefined) ?? {};
}

function minReadySeconds(ds: KObject): number {
  const n = spec(ds).minReadySeconds;
  return typeof n === 'number' ? n : 0;
}

function created(o: KObject): number {
  const t = Date.parse(o.metadata.creationTimestamp ?? '');
  return Number.isNaN(t) ? 0 : t;
}

/** Oldest first (upstream's podByCreationTimestampAndPhase, without the phase tie-break). */
function byAge(a: KObject, b: KObject): number {
  return created(a) - created(b) || (a.metadata.name! < b.metadata.name! ? -1 : 1);
}

function newer(a: KObject | undefined, b: KObject | undefined): KObject | undefined {
  if (!a || !b) return a ?? b;
  if (a.metadata.uid !== b.metadata.uid) return a;
  return Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion) ? b : a;
}

/** What one node has: live daemon pods (oldest first), failed ones, and whether any is terminating. */
export interface NodePods {
  node: string;
  live: KObject[];
  failed: KObject[];
  terminating: boolean;
}

export interface RolloutPlan {
  deletes: KObject[];
  /** Nodes that get a new (surge) pod next to their old one. */
  createOn: string[];
}

/**
 * One step of a rolling update over the nodes that should run the DaemonSet (upstream's
 * rollingUpdate): without surge, old pods are deleted while fewer than maxUnavailable nodes are
 * unavailable (an old pod that is unavailable anyway is replaced at once); with surge, new pods
 * start next to available old pods within maxSurge, and an old pod goes once its new one is
 * available.
 */
export function planRollingUpdate(ds: KObject, nodes: NodePods[], hash: string, tg: string | undefined, now = Date.now()): RolloutPlan {
  const [maxSurge, maxUnavailable] = daemonFenceposts(ds, nodes.length);
  const mrs = minReadySeconds(ds);
  const avail = (p: KObject) => isPodAvailable(p, mrs, now);
  const plan: RolloutPlan = { deletes: [], createOn: [] };
  const split = (n: NodePods) => {
    const upd = n.live.filter((p) => isPodUpdated(p, hash, tg));
    const old = n.live.filter((p) => !isPodUpdated(p, hash, tg));
    return { newPod: upd[0], oldPod: old[0], ok: upd.length <= 1 && old.length <= 1 };
  };
  if (maxSurge === 0) {
    let unavailable = 0;
    const candidates: KObject[] = [];
    for (const n of nodes) {
      const { newPod, oldPod, ok } = split(n);
      if (!ok || (!newPod && !oldPod) || (newPod && oldPod)) unavailable++;
      else if (newPod) {
        if (!avail(newPod)) unavailable++;
      } else if (!avail(oldPod!)) plan.deletes.push(oldPod!);
      else if (unavailable < maxUnavailable) candidates.push(oldPod!);
    }
    const room = Math.min(Math.max(0, maxUnavailable - unavailable), candidates.length);
    plan.deletes.push(...candidates.slice(0, room));
    return plan;
  }
  let surging = 0;
  const candidates: string[] = [];
  for (const n of nodes) {
    const { newPod, oldPod, ok } = split(n);
    if (!ok || !oldPod) continue;
    if (!newPod) {
      if (!avail(oldPod)) plan.createOn.push(n.node); // replace an unavailable old pod at once
      else candidates.push(n.node);
    } else if (avail(newPod)) plan.deletes.push(oldPod);
    else surging++;
  }
  const room = Math.min(Math.max(0, maxSurge - surging), candidates.length);
  plan.createOn.push(...candidates.slice(0, room));
  return plan;
}

export class DaemonSetController extends QueueController {
  readonly pods: Informer;
  readonly nodes: Informer;
  readonly daemonSets: Informer;
  readonly revisions: Informer;
  // Creates and deletes of one sync are tracked apart (each expect* call replaces its entry).
  private creates = new ControllerExpectations();
  private deletes = new ControllerExpectations();
  private podControl: PodControl;
  private events: EventSink;
  private burst: number;
  private written = new Map<string, KObject>();

  constructor(
    private client: ApiClient,
    opts: DaemonSetControllerOptions = {},
  ) {
    super(COMPONENT, opts.log ?? (() => {}), { workers: opts.workers ?? 2, baseDelayMs: 20, maxDelayMs: 10_000 });
    this.events = opts.events ?? clientEventSink(client, COMPONENT);
    this.podControl = new PodControl(client, this.events);
    this.burst = opts.burstReplicas ?? 250;
    this.pods = opts.informers?.pods ?? this.own(new Informer(client, R.pods));
    this.nodes = opts.informers?.nodes ?? this.own(new Informer(client, R.nodes));
    this.daemonSets = opts.informers?.daemonSets ?? this.own(new Informer(client, R.daemonsets));
    this.revisions = opts.informers?.revisions ?? this.own(new Informer(client, R.controllerrevisions));
    this.daemonSets.on({
      onAdd: (ds) => this.enqueue(ds),
      onUpdate: (ds) => this.enqueue(ds),
      onDelete: (ds) => {
        this.forget(cacheKey(ds));
        this.written.delete(cacheKey(ds));
      },
    });
    this.nodes.on({
      onAdd: () => this.enqueueAll(),
      onUpdate: (n, old) => {
        if (nodeChanged(n, old)) this.enqueueAll();
      },
      onDelete: () => this.enqueueAll(),
    });
    this.pods.on({
      onAdd: (p) => (p.metadata.deletionTimestamp ? this.podDeleted(p) : this.podAdded(p)),
      onUpdate: (p, old) => this.podUpdated(p, old),
      onDelete: (p) => this.podDeleted(p),
    });
    this.revisions.on({
      onAdd: (r) => this.enqueueOwner(r),
      onDelete: (r) => this.enqueueOwner(r),
    });
  }

  protected queueAll(): void {
    this.enqueueAll();
  }

  private forget(key: string): void {
    this.creates.forget(key);
    this.deletes.forget(key);
  }

  private enqueueAll(): void {
    for (const ds of this.daemonSets.list()) this.enqueue(ds);
  }

  private ownerOf(o: KObject): KObject | undefined {
    return resolveControllerRef(getControllerOf(o), 'DaemonSet', (name) => this.daemonSets.get(o.metadata.namespace, name));
  }

  private enqueueOwner(o: KObject): void {
    const ds = this.ownerOf(o);
    if (ds) this.enqueue(ds);
  }

  private matching(pod: KObject): KObject[] {
    return this.daemonSets
      .list(pod.metadata.namespace)
      .filter((ds) => compileLabelSelector(spec(ds).selector as LabelSelector | undefined)(pod.metadata.labels));
  }

  private podAdded(pod: KObject): void {
    const ds = this.ownerOf(pod);
    if (ds) {
      this.creates.creationObserved(cacheKey(ds));
      this.enqueue(ds);
    } else if (!getControllerOf(pod)) for (const m of this.matching(pod)) this.enqueue(m);
  }

  private podUpdated(pod: KObject, old: KObject): void {
    if (pod.metadata.deletionTimestamp && !old.metadata.deletionTimestamp) return this.podDeleted(pod);
    if (getControllerOf(old)?.uid !== getControllerOf(pod)?.uid) this.enqueueOwner(old);
    const ds = this.ownerOf(pod);
    if (ds) {
      this.enqueue(ds);
      const mrs = minReadySeconds(ds);
      if (mrs > 0 && !isPodReady(old) && isPodReady(pod)) this.queue.addAfter(cacheKey(ds), mrs * 1000 + 500);
    } else if (!getControllerOf(pod) && !jsonEqual(pod.metadata.labels ?? {}, old.metadata.labels ?? {}))
      for (const m of this.matching(pod)) this.enqueue(m);
  }

  private podDeleted(pod: KObject): void {
    const ds = this.ownerOf(pod);
    if (!ds) return;
    this.deletes.deletionObserved(cacheKey(ds), cacheKey(pod));
    this.enqueue(ds);
  }

  // --- sync -----------------------------------------------------------------------------------

  protected async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const cached = this.daemonSets.get(ns, name);
    if (!cached) {
      this.forget(key);
      this.written.delete(key);
      return;
    }
    let ds = newer(cached, this.written.get(key))!;
    if (ds.metadata.deletionTimestamp) return;
    const selector = compileLabelSelector(spec(ds).selector as LabelSelector | undefined);
    const ownerRef = newControllerRef(ds, 'apps/v1', 'DaemonSet');
    const canAdopt = freshOwnerCheck(this.client, R.daemonsets, ds);

    // Revisions: the one of the current template, and the template generation that goes with it.
    const revs = await claimObjects(this.revisions.list(ns), { client: this.client, resource: R.controllerrevisions, owner: ds, ownerRef, selector, canAdopt });
    const collisionCount = ((ds.status as Obj | undefined)?.collisionCount as number | undefined) ?? 0;
    const templateLabels = ((spec(ds).template as Obj | undefined)?.metadata as Obj | undefined)?.labels as Record<string, string> | undefined;
    const ensured = await ensureUpdateRevision({
      client: this.client,
      owner: ds,
      ownerRef,
      revisions: revs,
      collisionCount,
      labels: { ...(templateLabels ?? {}) },
    });
    const hash = revisionHash(ensured.update);
    ds = await this.ensureTemplateGeneration(key, ds, ensured.changed && !!ensured.previous);
    const tg = ds.metadata.annotations?.[TEMPLATE_GENERATION_ANNOTATION];

    // Pods, by the node they are for.
    const pods = await claimObjects(this.pods.list(ns), { client: this.client, resource: R.pods, owner: ds, ownerRef, selector, canAdopt });
    const byNode = new Map<string, KObject[]>();
    const orphaned: KObject[] = []; // for no node, or a node that is gone
    for (const p of pods) {
      const n = targetNode(p);
      if (!n || !this.nodes.get(undefined, n)) {
        if (!p.metadata.deletionTimestamp) orphaned.push(p);
        continue;
      }
      byNode.set(n, [...(byNode.get(n) ?? []), p]);
    }
    const nodeStates: (NodePods & { shouldRun: boolean; shouldContinue: boolean })[] = [];
    for (const node of this.nodes.list()) {
      const name = node.metadata.name!;
      const all = (byNode.get(name) ?? []).sort(byAge);
      const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
      nodeStates.push({
        node: name,
        shouldRun,
        shouldContinue: shouldContinueRunning,
        live: all.filter((p) => !p.metadata.deletionTimestamp && podPhase(p) !== 'Failed' && podPhase(p) !== 'Succeeded'),
        failed: all.filter((p) => !p.metadata.deletionTimestamp && (podPhase(p) === 'Failed' || podPhase(p) === 'Succeeded')),
        terminating: all.some((p) => !!p.metadata.deletionTimestamp),
      });
    }

    let manageErr: unknown;
    if (this.creates.satisfied(key) && this.deletes.satisfied(key)) {
      try {
        await this.manage(key, ds, nodeStates, orphaned, hash, tg);
      } catch (e) {
        manageErr = e;
      }
    }

    // History: keep what pods still run, the current template and revisionHistoryLimit more.
    const live = new Set<string>([ensured.update.metadata.name!]);
    const hashes = new Set(pods.map((p) => p.metadata.labels?.[CONTROLLER_REVISION_HASH]).filter((h): h is string => !!h));
    for (const r of ensured.revisions) if (hashes.has(revisionHash(r))) live.add(r.metadata.name!);
    await truncateHistory(this.client, ensured.revisions, live, revisionHistoryLimit(ds));

    await this.updateStatus(key, ds, nodeStates, hash, tg, ensured.collisionCount);
    if (manageErr) throw manageErr;
  }

  /**
   * The template generation annotation (upstream's API server keeps it; here the controller sets it
   * on first sight and moves it to the object's generation when the template changes).
   */
  private async ensureTemplateGeneration(key: string, ds: KObject, templateChanged: boolean): Promise<KObject> {
    const cur = ds.metadata.annotations?.[TEMPLATE_GENERATION_ANNOTATION];
    const want = String(ds.metadata.generation ?? 1);
    if (cur !== undefined && (!templateChanged || cur === want)) return ds;
    const saved = await this.client.patch(R.daemonsets, ds.metadata.namespace, ds.metadata.name!, 'application/merge-patch+json', {
      metadata: { annotations: { [TEMPLATE_GENERATION_ANNOTATION]: want } },
    });
    this.written.set(key, saved);
    return saved;
  }

  private async manage(
    key: string,
    ds: KObject,
    nodes: (NodePods & { shouldRun: boolean; shouldContinue: boolean })[],
    orphaned: KObject[],
    hash: string,
    tg: string | undefined,
  ): Promise<void> {
    const surge = isRollingUpdate(ds) && daemonFenceposts(ds, nodes.filter((n) => n.shouldRun).length)[0] > 0;
    const createOn: string[] = [];
    const deletes: KObject[] = [...orphaned];
    for (const n of nodes) {
      deletes.push(...n.failed); // a failed daemon pod is replaced
      if (n.shouldRun && !n.live.length && !n.terminating) createOn.push(n.node);
      else if (n.shouldContinue) {
        if (n.live.length <= 1) continue;
        if (!surge) deletes.push(...n.live.slice(1));
        else {
          // At most the oldest updated pod and the oldest old pod stay.
          const upd = n.live.filter((p) => isPodUpdated(p, hash, tg));
          const old = n.live.filter((p) => !isPodUpdated(p, hash, tg));
          deletes.push(...upd.slice(1), ...old.slice(1));
        }
      } else deletes.push(...n.live);
    }
    if (!createOn.length && !deletes.length && isRollingUpdate(ds)) {
      const plan = planRollingUpdate(
        ds,
        nodes.filter((n) => n.shouldRun),
        hash,
        tg,
      );
      createOn.push(...plan.createOn);
      deletes.push(...plan.deletes);
    }
    await this.syncNodes(key, ds, createOn.slice(0, this.burst), deletes.slice(0, this.burst), hash, tg);
  }

  private async syncNodes(key: string, ds: KObject, createOn: string[], deletes: KObject[], hash: string, tg: string | undefined): Promise<void> {
    if (!createOn.length && !deletes.length) return;
    const ns = ds.metadata.namespace!;
    this.creates.expectCreations(key, createOn.length);
    this.deletes.expectDeletions(key, deletes.map(cacheKey));
    const ref = newControllerRef(ds, 'apps/v1', 'DaemonSet');
    let firstErr: unknown;
    // Deletes first: an old pod whose replacement is available goes before the next surge pod starts.
    await Promise.all(
      deletes.map(async (p) => {
        try {
          const existed = await this.podControl.deletePod(ns, p.metadata.name!, ds);
          if (!existed) this.deletes.deletionObserved(key, cacheKey(p));
        } catch (e) {
          this.deletes.deletionObserved(key, cacheKey(p));
          firstErr ??= e;
        }
      }),
    );
    const queue = [...createOn];
    const { successes, error } = await slowStartBatch(createOn.length, 1, async () => {
      const node = queue.shift()!;
      try {
        await this.podControl.createPod(ns, podTemplateForNode(ds, node, hash, tg), ds, ref);
      } catch (e) {
        if (isNamespaceTerminating(e)) return;
        throw e;
      }
    });
    for (let i = successes; i < createOn.length; i++) this.creates.creationObserved(key);
    if (error) firstErr = error;
    if (firstErr) throw firstErr;
  }

  private async updateStatus(
    key: string,
    ds: KObject,
    nodes: (NodePods & { shouldRun: boolean })[],
    hash: string,
    tg: string | undefined,
    collisionCount: number,
  ): Promise<void> {
    const mrs = minReadySeconds(ds);
    const now = Date.now();
    let desired = 0;
    let current = 0;
    let misscheduled = 0;
    let ready = 0;
    let available = 0;
    let updated = 0;
    let waitingForAvailable = false;
    for (const n of nodes) {
      const scheduled = n.live.length > 0;
      if (!n.shouldRun) {
        if (scheduled) misscheduled++;
        continue;
      }
      desired++;
      if (!scheduled) continue;
      current++;
      const pod = n.live[0];
      if (isPodReady(pod)) {
        ready++;
        if (isPodAvailable(pod, mrs, now)) available++;
        else waitingForAvailable = true;
      }
      if (isPodUpdated(pod, hash, tg)) updated++;
    }
    const prev = (ds.status as Obj | undefined) ?? {};
    const status: Obj = {
      currentNumberScheduled: current,
      numberMisscheduled: misscheduled,
      desiredNumberScheduled: desired,
      numberReady: ready,
    };
    if (ds.metadata.generation) status.observedGeneration = ds.metadata.generation;
    if (updated) status.updatedNumberScheduled = updated;
    if (available) status.numberAvailable = available;
    if (desired - available > 0) status.numberUnavailable = desired - available;
    if (collisionCount) status.collisionCount = collisionCount;
    if (Array.isArray(prev.conditions) && prev.conditions.length) status.conditions = prev.conditions;
    if (waitingForAvailable && mrs > 0) this.queue.addAfter(key, mrs * 1000);
    if (jsonEqual(prev, status)) return;
    const next = deepCopy(ds);
    next.status = status;
    const saved = await this.client.update(R.daemonsets, ds.metadata.namespace, next, 'status');
    this.written.set(key, saved);
  }
}
