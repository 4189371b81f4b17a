// The ReplicaSet controller, as upstream's pkg/controller/replicaset: keep spec.replicas active
// pods that match the selector and are controlled by the ReplicaSet. Orphans that match are
// adopted, owned pods that stop matching are released, missing pods are created in slow-start
// batches, extra pods are deleted in upstream's ranking order, and the status subresource
// reports replicas / fullyLabeledReplicas / readyReplicas / availableReplicas / conditions.
import { deepCopy, jsonEqual, type KObject } from '../machinery/object.js';
import { compileLabelSelector, type LabelSelector } from '../machinery/selectors.js';
import { R, type ApiClient } from '../client/client.js';
import { Informer, cacheKey } from '../client/informer.js';
import { claimObjects, freshOwnerCheck, getControllerOf, newControllerRef, resolveControllerRef } from './controller-ref.js';
import {
  ControllerExpectations,
  PodControl,
  clientEventSink,
  errorMessage,
  isNamespaceTerminating,
  isPodActive,
  isPodAvailable,
  isPodReady,
  podsToDelete,
  slowStartBatch,
  type EventSink,
} from './pod-control.js';
import { rfc3339 } from '../machinery/time.js';
import { QueueController } from './queue-controller.js';

export interface ReplicaSetControllerOptions {
  /** Concurrent syncs (distinct ReplicaSets); default 4. */
  workers?: number;
  /** At most this many creates or deletes per sync (upstream's burstReplicas); default 500. */
  burstReplicas?: number;
  /** Where events go; default: core/v1 Events through the client. */
  events?: EventSink;
  log?: (line: string) => void;
  /** Share informers with other controllers of the same process (must not be started yet, or be started by the owner). */
  informers?: { pods?: Informer; replicaSets?: Informer };
}

interface Condition {
  type: string;
  status: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

const COMPONENT = 'replicaset-controller';

function spec(rs: KObject): Record<string, unknown> {
  return (rs.spec as Record<string, unknown> | undefined) ?? {};
}

function specReplicas(rs: KObject): number {
  const n = spec(rs).replicas;
  return typeof n === 'number' ? n : 1;
}

function minReadySeconds(rs: KObject): number {
  const n = spec(rs).minReadySeconds;
  return typeof n === 'number' ? n : 0;
}

/** The newer of two copies of one object (by resourceVersion), so our own writes beat a lagging cache. */
export function fresher(a: KObject | undefined, b: KObject | undefined): KObject | undefined {
  if (!a || !b) return a ?? b;
  if (a.metadata.uid !== b.metadata.uid) return a;
  const ra = Number(a.metadata.resourceVersion);
  const rb = Number(b.metadata.resourceVersion);
  if (Number.isNaN(ra) || Number.isNaN(rb)) return a;
  return rb > ra ? b : a;
}

export class ReplicaSetController extends QueueController {
  readonly pods: Informer;
  readonly replicaSets: Informer;
  private expectations = new ControllerExpectations();
  private podControl: PodControl;
  private events: EventSink;
  private burst: number;
  private written = new Map<string, KObject>();

  constructor(
    private client: ApiClient,
    opts: ReplicaSetControllerOptions = {},
  ) {
    super(COMPONENT, opts.log ?? (() => {}), { workers: opts.workers ?? 4, baseDelayMs: 20, maxDelayMs: 10_000 });
    this.events = opts.events ?? clientEventSink(client, COMPONENT);
    this.podControl = new PodControl(client, this.events);
    this.burst = opts.burstReplicas ?? 500;
    this.pods = opts.informers?.pods ?? this.own(new Informer(client, R.pods));
    this.replicaSets = opts.informers?.replicaSets ?? this.own(new Informer(client, R.replicasets));
    this.replicaSets.on({
      onAdd: (rs) => this.enqueue(rs),
      onUpdate: (rs) => this.enqueue(rs),
      onDelete: (rs) => {
        this.expectations.forget(cacheKey(rs));
        this.written.delete(cacheKey(rs));
        this.enqueue(rs);
      },
    });
    this.pods.on({
      onAdd: (p) => this.podAdded(p),
      onUpdate: (p, old) => this.podUpdated(p, old),
      onDelete: (p) => this.podDeleted(p),
    });
  }

  protected queueAll(): void {
    for (const rs of this.replicaSets.list()) this.enqueue(rs);
  }

  // --- pod events -----------------------------------------------------------------------------

  private ownerOf(pod: KObject): KObject | undefined {
    return resolveControllerRef(getControllerOf(pod), 'ReplicaSet', (name) => this.replicaSets.get(pod.metadata.namespace, name));
  }

  /** ReplicaSets in the pod's namespace whose selector matches it (each decides in its sync whether to adopt). */
  private matchingReplicaSets(pod: KObject): KObject[] {
    return this.replicaSets
      .list(pod.metadata.namespace)
      .filter((rs) => compileLabelSelector(spec(rs).selector as LabelSelector | undefined)(pod.metadata.labels));
  }

  private podAdded(pod: KObject): void {
    if (pod.metadata.deletionTimestamp) {
      // Already terminating when first seen (e.g. after a restart): a deletion, not a creation.
      this.podDeleted(pod);
      return;
    }
    const rs = this.ownerOf(pod);
    if (rs) {
      this.expectations.creationObserved(cacheKey(rs));
      this.enqueue(rs);
      return;
    }
    if (getControllerOf(pod)) return;
    for (const m of this.matchingReplicaSets(pod)) this.enqueue(m);
  }

  private podUpdated(pod: KObject, old: KObject): void {
    const labelsChanged = !jsonEqual(pod.metadata.labels ?? {}, old.metadata.labels ?? {});
    if (pod.metadata.deletionTimestamp && !old.metadata.deletionTimestamp) {
      // Graceful deletion started: for the owner it is as good as gone.
      this.podDeleted(pod);
      if (labelsChanged) this.podDeleted(old);
      return;
    }
    const cur = getControllerOf(pod);
    const prev = getControllerOf(old);
    const refChanged = cur?.uid !== prev?.uid;
    if (refChanged && prev) {
      const o = this.ownerOf(old);
      if (o) this.enqueue(o);
    }
    const rs = this.ownerOf(pod);
    if (rs) {
      this.enqueue(rs);
      const mrs = minReadySeconds(rs);
      if (mrs > 0 && !isPodReady(old) && isPodReady(pod)) this.queue.addAfter(cacheKey(rs), mrs * 1000 + 1000);
      return;
    }
    if (!cur && (labelsChanged || refChanged)) for (const m of this.matchingReplicaSets(pod)) this.enqueue(m);
  }

  private podDeleted(pod: KObject): void {
    const rs = this.ownerOf(pod);
    if (!rs) return;
    const key = cacheKey(rs);
    this.expectations.deletionObserved(key, cacheKey(pod));
    this.enqueue(rs);
  }

  // --- sync ---------------------------------------------------------------------------------

  protected async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const cached = this.replicaSets.get(ns, name);
    if (!cached) {
      this.expectations.forget(key);
      this.written.delete(key);
      return;
    }
    const rs = fresher(cached, this.written.get(key))!;
    const needsSync = this.expectations.satisfied(key);
    const selector = compileLabelSelector(spec(rs).selector as LabelSelector | undefined);
    const active = this.pods.list(ns).filter(isPodActive);
    const owned = await claimObjects(active, {
      client: this.client,
      resource: R.pods,
      owner: rs,
      ownerRef: newControllerRef(rs, 'apps/v1', 'ReplicaSet'),
      selector,
      canAdopt: freshOwnerCheck(this.client, R.replicasets, rs),
    });

    let manageErr: unknown;
    if (needsSync && !rs.metadata.deletionTimestamp) {
      try {
        await this.manageReplicas(key, rs, owned);
      } catch (e) {
        manageErr = e;
      }
    }

    const status = this.calculateStatus(rs, owned, manageErr);
    const updated = await this.updateStatus(key, rs, status);
    const mrs = minReadySeconds(updated);
    const st = updated.status as Record<string, number> | undefined;
    if (!manageErr && mrs > 0 && (st?.readyReplicas ?? 0) === specReplicas(updated) && (st?.availableReplicas ?? 0) !== specReplicas(updated))
      this.queue.addAfter(key, mrs * 1000);
    if (manageErr) throw manageErr;
  }

  private async manageReplicas(key: string, rs: KObject, owned: KObject[]): Promise<void> {
    const ns = rs.metadata.namespace!;
    const diff = owned.length - specReplicas(rs);
    if (diff < 0) {
      const n = Math.min(-diff, this.burst);
      this.expectations.expectCreations(key, n);
      const template = (spec(rs).template as Record<string, unknown> | undefined) ?? {};
      const ref = newControllerRef(rs, 'apps/v1', 'ReplicaSet');
      const { successes, error } = await slowStartBatch(n, 1, async () => {
        try {
          await this.podControl.createPod(ns, template, rs, ref);
        } catch (e) {
          if (isNamespaceTerminating(e)) return;
          throw e;
        }
      });
      // Pods never created will never be observed.
      for (let i = successes; i < n; i++) this.expectations.creationObserved(key);
      if (error) throw error;
    } else if (diff > 0) {
      const n = Math.min(diff, this.burst);
      const victims = podsToDelete(owned, this.relatedPods(rs, owned), n);
      this.expectations.expectDeletions(key, victims.map(cacheKey));
      let firstErr: unknown;
      await Promise.all(
        victims.map(async (p) => {
          try {
            const existed = await this.podControl.deletePod(ns, p.metadata.name!, rs);
            if (!existed) this.expectations.deletionObserved(key, cacheKey(p));
          } catch (e) {
            this.expectations.deletionObserved(key, cacheKey(p));
            firstErr ??= e;
          }
        }),
      );
      if (firstErr) throw firstErr;
    }
  }

  /** Active pods of every ReplicaSet sharing this one's controller (a Deployment's family). */
  private relatedPods(rs: KObject, owned: KObject[]): KObject[] {
    const ctrl = getControllerOf(rs);
    if (!ctrl) return owned;
    const siblings = new Set(
      this.replicaSets
        .list(rs.metadata.namespace)
        .filter((o) => getControllerOf(o)?.uid === ctrl.uid)
        .map((o) => o.metadata.uid),
    );
    return this.pods.list(rs.metadata.namespace).filter((p) => isPodActive(p) && siblings.has(getControllerOf(p)?.uid));
  }

  private calculateStatus(rs: KObject, owned: KObject[], manageErr: unknown): Record<string, unknown> {
    const prev = (rs.status as Record<string, unknown> | undefined) ?? {};
    const templateLabels = ((spec(rs).template as { metadata?: { labels?: Record<string, string> } } | undefined)?.metadata?.labels ?? {}) as Record<string, string>;
    const mrs = minReadySeconds(rs);
    const now = Date.now();
    let fullyLabeled = 0;
    let ready = 0;
    let available = 0;
    for (const p of owned) {
      const labels = p.metadata.labels ?? {};
      if (Object.entries(templateLabels).every(([k, v]) => labels[k] === v)) fullyLabeled++;
      if (isPodReady(p)) {
        ready++;
        if (isPodAvailable(p, mrs, now)) available++;
      }
    }
    let conditions = Array.isArray(prev.conditions) ? deepCopy(prev.conditions as Condition[]) : [];
    const failure = conditions.find((c) => c.type === 'ReplicaFailure');
    if (manageErr && !failure) {
      const diff = owned.length - specReplicas(rs);
      conditions.push({
        type: 'ReplicaFailure',
        status: 'True',
        lastTransitionTime: rfc3339(),
        reason: diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '',
        message: errorMessage(manageErr),
      });
    } else if (!manageErr && failure) conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');

    // Zero counters are omitted as the Go types' omitempty does; `replicas` is always present.
    const status: Record<string, unknown> = { replicas: owned.length };
    if (fullyLabeled) status.fullyLabeledReplicas = fullyLabeled;
    if (ready) status.readyReplicas = ready;
    if (available) status.availableReplicas = available;
    if (rs.metadata.generation) status.observedGeneration = rs.metadata.generation;
    if (conditions.length) status.conditions = conditions;
    return status;
  }

  private async updateStatus(key: string, rs: KObject, status: Record<string, unknown>): Promise<KObject> {
    if (jsonEqual(rs.status ?? {}, status)) return rs;
    const next = deepCopy(rs);
    next.status = status;
    const saved = await this.client.update(R.replicasets, rs.metadata.namespace, next, 'status');
    this.written.set(key, saved);
    return saved;
  }
}
