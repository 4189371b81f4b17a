// The StatefulSet controller, after upstream's pkg/controller/statefulset: pods `<set>-<ordinal>`
// with stable names, hostnames (subdomain = serviceName) and claims `<claim>-<set>-<ordinal>`
// created before their pod and kept after it (unless persistentVolumeClaimRetentionPolicy says
// Delete). OrderedReady creates in ordinal order, each once the previous is Running and Ready, and
// removes in reverse order one at a time; Parallel does both at once. Templates are
// ControllerRevisions; RollingUpdate replaces pods from the highest ordinal down to the
// partition, one at a time, each once the one above is healthy again; OnDelete waits for someone
// to delete them. A deleted pod comes back under its name, with its claims.
import { StatusError } from '../../machinery/errors.js';
import { deepCopy, jsonEqual, type KObject } from '../../machinery/object.js';
import { compileLabelSelector, type LabelSelector } from '../../machinery/selectors.js';
import { R, type ApiClient } from '../../client/client.js';
import { Informer, cacheKey } from '../../client/informer.js';
import { claimObjects, freshOwnerCheck, getControllerOf, newControllerRef, resolveControllerRef } from '../controller-ref.js';
import { clientEventSink, errorMessage, isNamespaceTerminating, isPodReady, type EventSink } from '../pod-control.js';
import { ensureUpdateRevision, revisionHistoryLimit, templateOfRevision, truncateHistory } from '../history.js';
import {
  claimsFor,
  desiredClaimOwners,
  isCreated,
  isFinished,
  isHealthy,
  isMemberOf,
  isParallel,
  isRunningAndAvailable,
  isRunningAndReady,
  isTerminating,
  minReadySeconds,
  newStatefulPod,
  ordinalOf,
  podRevision,
  setSpec,
  specReplicas,
  startOrdinal,
  updateStrategy,
} from './util.js';
import { scaledValue } from '../deployment/util.js';
import { QueueController } from '../queue-controller.js';

export interface StatefulSetControllerOptions {
  /** Concurrent syncs (distinct StatefulSets); default 2. */
  workers?: number;
  events?: EventSink;
  log?: (line: string) => void;
  informers?: { pods?: Informer; statefulSets?: Informer; revisions?: Informer; claims?: Informer };
}

const COMPONENT = 'statefulset-controller';
type Obj = Record<string, unknown>;

function newer(a: KObject | undefined, b: KObject | undefined): KObject | undefined {
  if (!a || !b) return a ?? b;
  if (a.metadata.uid !== b.metadata.uid) return a;
  return Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion) ? b : a;
}

function isConflictOrGone(e: unknown): boolean {
  return e instanceof StatusError && (e.code === 404 || e.code === 409);
}

export class StatefulSetController extends QueueController {
  readonly pods: Informer;
  readonly statefulSets: Informer;
  readonly revisions: Informer;
  readonly claims: Informer;
  private events: EventSink;
  private written = new Map<string, KObject>();

  constructor(
    private client: ApiClient,
    opts: StatefulSetControllerOptions = {},
  ) {
    super(COMPONENT, opts.log ?? (() => {}), { workers: opts.workers ?? 2, baseDelayMs: 20, maxDelayMs: 10_000 });
    this.events = opts.events ?? clientEventSink(client, COMPONENT);
    this.pods = opts.informers?.pods ?? this.own(new Informer(client, R.pods));
    this.statefulSets = opts.informers?.statefulSets ?? this.own(new Informer(client, R.statefulsets));
    this.revisions = opts.informers?.revisions ?? this.own(new Informer(client, R.controllerrevisions));
    this.claims = opts.informers?.claims ?? this.own(new Informer(client, R.persistentvolumeclaims));
    this.statefulSets.on({
      onAdd: (s) => this.enqueue(s),
      onUpdate: (s) => this.enqueue(s),
      onDelete: (s) => this.written.delete(cacheKey(s)),
    });
    this.pods.on({
      onAdd: (p) => this.podChanged(p),
      onUpdate: (p, old) => {
        if (getControllerOf(old)?.uid !== getControllerOf(p)?.uid) this.podChanged(old);
        this.podChanged(p, old);
      },
      onDelete: (p) => this.podChanged(p),
    });
    this.revisions.on({ onAdd: (r) => this.enqueueOwner(r), onDelete: (r) => this.enqueueOwner(r) });
  }

  protected queueAll(): void {
    for (const s of this.statefulSets.list()) this.enqueue(s);
  }

  private ownerOf(o: KObject): KObject | undefined {
    return resolveControllerRef(getControllerOf(o), 'StatefulSet', (name) => this.statefulSets.get(o.metadata.namespace, name));
  }

  private enqueueOwner(o: KObject): void {
    const s = this.ownerOf(o);
    if (s) this.enqueue(s);
  }

  private podChanged(pod: KObject, old?: KObject): void {
    const set = this.ownerOf(pod);
    if (set) {
      this.enqueue(set);
      const mrs = minReadySeconds(set);
      if (old && mrs > 0 && !isPodReady(old) && isPodReady(pod)) this.queue.addAfter(cacheKey(set), mrs * 1000 + 500);
      return;
    }
    if (getControllerOf(pod)) return;
    // An orphan: every set whose selector matches may adopt it.
    for (const s of this.statefulSets.list(pod.metadata.namespace))
      if (compileLabelSelector(setSpec(s).selector as LabelSelector | undefined)(pod.metadata.labels)) this.enqueue(s);
  }

  // --- sync -----------------------------------------------------------------------------------

  protected async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const cached = this.statefulSets.get(ns, name);
    if (!cached) {
      this.written.delete(key);
      return;
    }
    const set = newer(cached, this.written.get(key))!;
    if (set.metadata.deletionTimestamp) return;
    const selector = compileLabelSelector(setSpec(set).selector as LabelSelector | undefined);
    const ownerRef = newControllerRef(set, 'apps/v1', 'StatefulSet');
    const canAdopt = freshOwnerCheck(this.client, R.statefulsets, set);

    const revs = await claimObjects(this.revisions.list(ns), { client: this.client, resource: R.controllerrevisions, owner: set, ownerRef, selector, canAdopt });
    const status0 = (set.status as Obj | undefined) ?? {};
    const templateLabels = ((setSpec(set).template as Obj | undefined)?.metadata as Obj | undefined)?.labels as Record<string, string> | undefined;
    const ensured = await ensureUpdateRevision({
      client: this.client,
      owner: set,
      ownerRef,
      revisions: revs,
      collisionCount: typeof status0.collisionCount === 'number' ? status0.collisionCount : 0,
      labels: { ...(templateLabels ?? {}) },
    });
    const update = ensured.update;
    const current = ensured.revisions.find((r) => r.metadata.name === status0.currentRevision) ?? update;

    const members = this.pods.list(ns).filter((p) => isMemberOf(set, p));
    const pods = await claimObjects(members, { client: this.client, resource: R.pods, owner: set, ownerRef, selector, canAdopt });

    let actErr: unknown;
    try {
      await this.reconcile(set, pods, current, update);
    } catch (e) {
      actErr = e;
    }

    const live = new Set([current.metadata.name!, update.metadata.name!]);
    for (const p of pods) {
      const r = podRevision(p);
      if (r) live.add(r);
    }
    await truncateHistory(this.client, ensured.revisions, live, revisionHistoryLimit(set));
    await this.updateStatus(key, set, pods, current.metadata.name!, update.metadata.name!, ensured.collisionCount);
    if (actErr) throw actErr;
  }

  /** Creates, replaces and removes pods as the policy allows; returns when it must wait. */
  private async reconcile(set: KObject, pods: KObject[], current: KObject, update: KObject): Promise<void> {
    const monotonic = !isParallel(set);
    const mrs = minReadySeconds(set);
    const start = startOrdinal(set);
    const replicas = specReplicas(set);
    const inRange = (o: number) => o >= start && o < start + replicas;
    const slots = new Map<number, KObject>();
    const condemned: KObject[] = [];
    for (const p of pods) {
      const o = ordinalOf(p);
      if (inRange(o)) {
        // Two pods cannot share a name, but keep the live one if the cache ever shows both.
        const prev = slots.get(o);
        if (!prev || (isTerminating(prev) && !isTerminating(p))) slots.set(o, p);
      } else condemned.push(p);
    }
    condemned.sort((a, b) => ordinalOf(b) - ordinalOf(a));
    const strategy = updateStrategy(set);
    const ref = newControllerRef(set, 'apps/v1', 'StatefulSet');

    // Replicas, lowest ordinal first.
    for (let o = start; o < start + replicas; o++) {
      const pod = slots.get(o);
      if (pod && isFinished(pod) && !isTerminating(pod)) {
        // A failed (or finished) pod is deleted and made anew.
        this.events(set, 'Warning', 'RecreatingFailedPod', `StatefulSet ${set.metadata.namespace}/${set.metadata.name} is recreating failed Pod ${pod.metadata.name}`);
        await this.deletePod(set, pod);
        if (monotonic) return;
        continue;
      }
      if (!pod) {
        // Which revision: ordinals below the partition keep the current revision.
        const useCurrent = strategy.type === 'RollingUpdate' && current.metadata.name !== update.metadata.name && o < strategy.partition;
        const rev = useCurrent ? current : update;
        await this.createPod(set, newStatefulPod(set, templateOfRevision(rev), rev.metadata.name!, o, ref), o);
        if (monotonic) return;
        continue;
      }
      if (isTerminating(pod)) {
        if (monotonic) return;
        continue;
      }
      await this.ensureClaims(set, o, pod, false);
      if (monotonic && !isRunningAndAvailable(pod, mrs)) return;
    }

    // Condemned pods, highest ordinal first.
    const firstUnhealthy = [...[...slots.values()].sort((a, b) => ordinalOf(a) - ordinalOf(b)), ...[...condemned].reverse()].find(
      (p) => !isRunningAndReady(p) || isTerminating(p),
    );
    for (const pod of condemned) {
      if (isTerminating(pod)) {
        if (monotonic) return;
        continue;
      }
      // Ordered: an unhealthy pod blocks scale-down unless it is the first unhealthy one itself.
      if (monotonic && !isRunningAndReady(pod) && pod !== firstUnhealthy) return;
      await this.ensureClaims(set, ordinalOf(pod), pod, true);
      await this.deletePod(set, pod);
      if (monotonic) return;
    }

    // Rolling update, highest ordinal first, down to the partition.
    if (strategy.type !== 'RollingUpdate') return;
    const maxUnavailable = Math.max(1, strategy.maxUnavailable === undefined ? 1 : scaledValue(strategy.maxUnavailable, replicas, false));
    let unavailable = 0;
    for (let o = start + replicas - 1; o >= Math.max(start, strategy.partition); o--) {
      const pod = slots.get(o);
      if (!pod) return;
      if (podRevision(pod) !== update.metadata.name && !isTerminating(pod)) {
        this.events(set, 'Normal', 'RollingUpdate', `rolling update pod ${pod.metadata.name} to revision ${update.metadata.name}`);
        await this.deletePod(set, pod);
        if (++unavailable >= maxUnavailable) return;
        continue;
      }
      if (!isHealthy(pod, mrs) && ++unavailable >= maxUnavailable) return;
    }
  }

  /** The claims of `ordinal` exist (created if missing) and have the owners the retention policy asks for. */
  private async ensureClaims(set: KObject, ordinal: number, pod: KObject | undefined, condemned: boolean): Promise<void> {
    const ns = set.metadata.namespace!;
    for (const want of claimsFor(set, ordinal)) {
      let claim = this.claims.get(ns, want.metadata.name!);
      if (!claim) {
        if (condemned) continue;
        const owners = desiredClaimOwners(want, set, pod, false);
        if (owners?.length) want.metadata.ownerReferences = owners;
        try {
          claim = await this.client.create(R.persistentvolumeclaims, ns, want);
          this.events(set, 'Normal', 'SuccessfulCreate', `create Claim ${want.metadata.name} Pod ${set.metadata.name}-${ordinal} in StatefulSet ${set.metadata.name} success`);
        } catch (e) {
          if (!(e instanceof StatusError && e.code === 409)) {
            this.events(set, 'Warning', 'FailedCreate', `create Claim ${want.metadata.name} for Pod ${set.metadata.name}-${ordinal} in StatefulSet ${set.metadata.name} failed error: ${errorMessage(e)}`);
            throw e;
          }
          claim = await this.client.get(R.persistentvolumeclaims, ns, want.metadata.name!);
        }
      }
      if (claim.metadata.deletionTimestamp && !condemned) throw new Error(`pvc ${claim.metadata.name} is being deleted`);
      const owners = desiredClaimOwners(claim, set, pod, condemned);
      if (owners) {
        try {
          await this.client.patch(R.persistentvolumeclaims, ns, claim.metadata.name!, 'application/merge-patch+json', {
            metadata: { ownerReferences: owners, resourceVersion: claim.metadata.resourceVersion },
          });
        } catch (e) {
          if (!isConflictOrGone(e)) throw e;
        }
      }
    }
  }

  private async createPod(set: KObject, pod: KObject, ordinal: number): Promise<void> {
    const ns = set.metadata.namespace!;
    await this.ensureClaims(set, ordinal, undefined, false);
    try {
      const created = await this.client.create(R.pods, ns, pod);
      this.events(set, 'Normal', 'SuccessfulCreate', `create Pod ${created.metadata.name} in StatefulSet ${set.metadata.name} successful`);
    } catch (e) {
      if (e instanceof StatusError && e.code === 409) return; // created by an earlier sync the cache has not shown yet
      if (isNamespaceTerminating(e)) return;
      this.events(set, 'Warning', 'FailedCreate', `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${errorMessage(e)}`);
      throw e;
    }
  }

  /** Deletes exactly this pod (uid precondition: never a newer pod of the same name). */
  private async deletePod(set: KObject, pod: KObject): Promise<void> {
    try {
      await this.client.delete(R.pods, pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid } });
      this.events(set, 'Normal', 'SuccessfulDelete', `delete Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`);
    } catch (e) {
      if (isConflictOrGone(e)) return;
      this.events(set, 'Warning', 'FailedDelete', `delete Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${errorMessage(e)}`);
      throw e;
    }
  }

  private async updateStatus(key: string, set: KObject, pods: KObject[], currentRevision: string, updateRevision: string, collisionCount: number): Promise<void> {
    const mrs = minReadySeconds(set);
    const now = Date.now();
    let replicas = 0;
    let ready = 0;
    let available = 0;
    let currentReplicas = 0;
    let updated = 0;
    let waiting = false;
    for (const p of pods) {
      if (isCreated(p)) replicas++;
      if (isRunningAndReady(p) && !isTerminating(p)) {
        ready++;
        if (isRunningAndAvailable(p, mrs, now)) available++;
        else waiting = true;
      }
      if (isCreated(p) && !isTerminating(p)) {
        if (podRevision(p) === currentRevision) currentReplicas++;
        if (podRevision(p) === updateRevision) updated++;
      }
    }
    let cur = currentRevision;
    // Every pod runs the update revision and is ready: the rollout is complete.
    if (updated === replicas && ready === replicas && replicas === specReplicas(set)) {
      cur = updateRevision;
      currentReplicas = updated;
    }
    const prev = (set.status as Obj | undefined) ?? {};
    const status: Obj = { replicas, availableReplicas: available };
    if (set.metadata.generation) status.observedGeneration = set.metadata.generation;
    if (ready) status.readyReplicas = ready;
    if (currentReplicas) status.currentReplicas = currentReplicas;
    if (updated) status.updatedReplicas = updated;
    status.currentRevision = cur;
    status.updateRevision = updateRevision;
    status.collisionCount = collisionCount;
    if (Array.isArray(prev.conditions) && prev.conditions.length) status.conditions = prev.conditions;
    if (waiting && mrs > 0) this.queue.addAfter(key, mrs * 1000);
    if (jsonEqual(prev, status)) return;
    const next = deepCopy(set);
    next.status = status;
    const saved = await this.client.update(R.statefulsets, set.metadata.namespace, next, 'status');
    this.written.set(key, saved);
  }
}
