// The Deployment controller, as upstream's pkg/controller/deployment: a Deployment owns one
// ReplicaSet per pod template (`<name>-<pod-template-hash>`), rolls from the old ones to the new
// one with the RollingUpdate (maxSurge / maxUnavailable) or Recreate strategy, keeps revision
// history, scales proportionally, honours spec.paused, and reports status and the Progressing /
// Available / ReplicaFailure conditions that `kubectl rollout status` reads.
import { StatusError } from '../../machinery/errors.js';
import { deepCopy, jsonEqual, type KObject } from '../../machinery/object.js';
import { compileLabelSelector, type LabelSelector } from '../../machinery/selectors.js';
import { R, type ApiClient } from '../../client/client.js';
import { Informer, cacheKey } from '../../client/informer.js';
import { claimObjects, freshOwnerCheck, getControllerOf, isControlledBy, newControllerRef, resolveControllerRef } from '../controller-ref.js';
import { clientEventSink, errorMessage, type EventSink } from '../pod-control.js';
import { fresher } from '../replicaset.js';
import {
  POD_TEMPLATE_HASH,
  REVISION,
  Reasons,
  activeReplicaSets,
  byCreation,
  byRevision,
  bySizeNewer,
  bySizeOlder,
  computeHash,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  desiredReplicasAnnotation,
  equalIgnoreHash,
  getCondition,
  hasProgressDeadline,
  isRollingUpdate,
  isSaturated,
  maxRevision,
  maxSurge,
  maxUnavailable,
  newCondition,
  newRSNewReplicas,
  proportion,
  removeCondition,
  replicasAnnotationsNeedUpdate,
  replicasOf,
  setCondition,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  specOf,
  statusNum,
  sumSpecReplicas,
  sumStatus,
  templateOf,
  type DeploymentCondition,
  type DeploymentStatus,
} from './util.js';
import { QueueController } from '../queue-controller.js';

export interface DeploymentControllerOptions {
  /** Concurrent syncs (distinct Deployments); default 4. */
  workers?: number;
  events?: EventSink;
  log?: (line: string) => void;
  /** Share informers with other controllers of the same process (started by their owner). */
  informers?: { pods?: Informer; replicaSets?: Informer; deployments?: Informer };
}

const COMPONENT = 'deployment-controller';

/** One sync's view: the Deployment as last written or read. */
interface Ctx {
  key: string;
  d: KObject;
}

function isStatus(e: unknown, code: number): boolean {
  return e instanceof StatusError && e.code === code;
}

/** Go's omitempty on DeploymentStatus: zero counters and empty conditions are left out. */
function compactStatus(s: DeploymentStatus): DeploymentStatus {
  const out: DeploymentStatus = {};
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined || v === null || v === 0) continue;
    if (Array.isArray(v) && !v.length) continue;
    out[k] = v;
  }
  return out;
}

export class DeploymentController extends QueueController {
  readonly pods: Informer;
  readonly replicaSets: Informer;
  readonly deployments: Informer;
  private events: EventSink;
  private writtenD = new Map<string, KObject>();
  private writtenRS = new Map<string, KObject>();

  constructor(
    private client: ApiClient,
    opts: DeploymentControllerOptions = {},
  ) {
    super(COMPONENT, opts.log ?? (() => {}), { workers: opts.workers ?? 4, baseDelayMs: 20, maxDelayMs: 10_000 });
    this.events = opts.events ?? clientEventSink(client, COMPONENT);
    this.pods = opts.informers?.pods ?? this.own(new Informer(client, R.pods));
    this.replicaSets = opts.informers?.replicaSets ?? this.own(new Informer(client, R.replicasets));
    this.deployments = opts.informers?.deployments ?? this.own(new Informer(client, R.deployments));
    this.deployments.on({
      onAdd: (d) => this.enqueue(d),
      onUpdate: (d) => this.enqueue(d),
      onDelete: (d) => {
        this.writtenD.delete(cacheKey(d));
        this.enqueue(d);
      },
    });
    this.replicaSets.on({
      onAdd: (rs) => this.rsChanged(rs),
      onUpdate: (rs, old) => this.rsUpdated(rs, old),
      onDelete: (rs) => {
        this.writtenRS.delete(cacheKey(rs));
        this.rsChanged(rs);
      },
    });
    this.pods.on({ onDelete: (p) => this.podDeleted(p) });
  }

  protected queueAll(): void {
    for (const d of this.deployments.list()) this.enqueue(d);
  }

  // --- events from ReplicaSets and pods ----------------------------------------------------------

  private ownerOf(rs: KObject): KObject | undefined {
    return resolveControllerRef(getControllerOf(rs), 'Deployment', (n) => this.deployments.get(rs.metadata.namespace, n));
  }

  private matchingDeployments(rs: KObject): KObject[] {
    return this.deployments
      .list(rs.metadata.namespace)
      .filter((d) => compileLabelSelector(specOf(d).selector as LabelSelector | undefined)(rs.metadata.labels));
  }

  private rsChanged(rs: KObject): void {
    const d = this.ownerOf(rs);
    if (d) return this.enqueue(d);
    if (!getControllerOf(rs)) for (const m of this.matchingDeployments(rs)) this.enqueue(m);
  }

  private rsUpdated(rs: KObject, old: KObject): void {
    const refChanged = getControllerOf(rs)?.uid !== getControllerOf(old)?.uid;
    if (refChanged) {
      const prev = this.ownerOf(old);
      if (prev) this.enqueue(prev);
    }
    const d = this.ownerOf(rs);
    if (d) return this.enqueue(d);
    if (!getControllerOf(rs) && (refChanged || !jsonEqual(rs.metadata.labels ?? {}, old.metadata.labels ?? {})))
      for (const m of this.matchingDeployments(rs)) this.enqueue(m);
  }

  /** Recreate waits for the old pods to be gone: each deletion may be the last one. */
  private podDeleted(pod: KObject): void {
    const rs = resolveControllerRef(getControllerOf(pod), 'ReplicaSet', (n) => this.replicaSets.get(pod.metadata.namespace, n));
    const d = rs && this.ownerOf(rs);
    if (d && !isRollingUpdate(d)) this.enqueue(d);
  }

  // --- sync -------------------------------------------------------------------------------------

  protected async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const cached = this.deployments.get(ns, name);
    if (!cached) {
      this.writtenD.delete(key);
      return;
    }
    const ctx: Ctx = { key, d: deepCopy(fresher(cached, this.writtenD.get(key))!) };
    const d = ctx.d;
    const sel = specOf(d).selector as LabelSelector | undefined;
    if (!sel || (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length)) {
      // An empty selector would select every pod: refuse, as upstream does.
      this.events(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if (statusNum(d, 'observedGeneration') < (d.metadata.generation ?? 0))
        await this.writeStatus(ctx, { ...((d.status as DeploymentStatus) ?? {}), observedGeneration: d.metadata.generation });
      return;
    }
    const rsList = await this.claimReplicaSets(ctx);

    if (d.metadata.deletionTimestamp) return this.syncStatusOnly(ctx, rsList);
    await this.checkPausedConditions(ctx);
    if (specOf(ctx.d).paused) return this.syncScaleOnly(ctx, rsList);
    if (await this.isScalingEvent(ctx, rsList)) return this.syncScaleOnly(ctx, rsList);
    if (isRollingUpdate(ctx.d)) return this.rolloutRolling(ctx, rsList);
    return this.rolloutRecreate(ctx, rsList);
  }

  /** The Deployment's ReplicaSets (deep copies, freshest known), after adoption and release. */
  private async claimReplicaSets(ctx: Ctx): Promise<KObject[]> {
    const d = ctx.d;
    const list = this.replicaSets.list(d.metadata.namespace).map((rs) => fresher(rs, this.writtenRS.get(cacheKey(rs)))!);
    const owned = await claimObjects(list, {
      client: this.client,
      resource: R.replicasets,
      owner: d,
      ownerRef: newControllerRef(d, 'apps/v1', 'Deployment'),
      selector: compileLabelSelector(specOf(d).selector as LabelSelector),
      canAdopt: freshOwnerCheck(this.client, R.deployments, d),
    });
    return owned.map((rs) => deepCopy(rs));
  }

  // --- writes ------------------------------------------------------------------------------------

  private async writeStatus(ctx: Ctx, status: DeploymentStatus): Promise<void> {
    const next = compactStatus(status);
    if (jsonEqual(ctx.d.status ?? {}, next)) return;
    const obj = deepCopy(ctx.d);
    obj.status = next;
    ctx.d = await this.client.update(R.deployments, obj.metadata.namespace, obj, 'status');
    this.writtenD.set(ctx.key, ctx.d);
  }

  /** The Deployment's revision annotation (metadata, so no new generation). */
  private async setDeploymentRevision(ctx: Ctx, revision: string): Promise<void> {
    if (ctx.d.metadata.annotations?.[REVISION] === revision) return;
    const body = { metadata: { annotations: { [REVISION]: revision } } };
    const saved = await this.client.patch(R.deployments, ctx.d.metadata.namespace, ctx.d.metadata.name!, 'application/merge-patch+json', body);
    ctx.d = saved;
    this.writtenD.set(ctx.key, ctx.d);
  }

  /** PUT a ReplicaSet and refresh `rs` in place with what the server returned. */
  private async updateReplicaSet(rs: KObject, next: KObject): Promise<void> {
    const saved = await this.client.update(R.replicasets, next.metadata.namespace, next);
    this.writtenRS.set(cacheKey(saved), saved);
    for (const k of Object.keys(rs)) delete rs[k];
    Object.assign(rs, deepCopy(saved));
  }

  private async scaleReplicaSet(ctx: Ctx, rs: KObject, newScale: number, op: 'up' | 'down'): Promise<boolean> {
    const d = ctx.d;
    const oldScale = replicasOf(rs);
    const sizeNeeds = oldScale !== newScale;
    const desired = replicasOf(d);
    const max = desired + maxSurge(d);
    if (!sizeNeeds && !replicasAnnotationsNeedUpdate(rs, desired, max)) return false;
    const next = deepCopy(rs);
    (next.spec as Record<string, unknown>).replicas = newScale;
    setReplicasAnnotations(next, desired, max);
    await this.updateReplicaSet(rs, next);
    if (sizeNeeds) this.events(d, 'Normal', 'ScalingReplicaSet', `Scaled ${op} replica set ${rs.metadata.name} to ${newScale} from ${oldScale}`);
    return sizeNeeds;
  }

  private async scaleAndRecord(ctx: Ctx, rs: KObject, newScale: number): Promise<boolean> {
    if (replicasOf(rs) === newScale) return false;
    return this.scaleReplicaSet(ctx, rs, newScale, replicasOf(rs) < newScale ? 'up' : 'down');
  }

  // --- finding or creating the new ReplicaSet ------------------------------------------------------

  /**
   * The new RS (template equal to the Deployment's, ignoring the hash label; the oldest if
   * several) and the old ones. The new RS's annotations and the Deployment's revision are brought
   * up to date; with `create` a missing new RS is created.
   */
  private async getAll(ctx: Ctx, rsList: KObject[], create: boolean): Promise<{ newRS?: KObject; oldRSs: KObject[] }> {
    const tpl = templateOf(ctx.d);
    const existing = [...rsList].sort(byCreation).find((rs) => equalIgnoreHash(templateOf(rs), tpl));
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const newRS = await this.getNewReplicaSet(ctx, oldRSs, existing, create);
    return { newRS, oldRSs };
  }

  private async getNewReplicaSet(ctx: Ctx, oldRSs: KObject[], existing: KObject | undefined, create: boolean): Promise<KObject | undefined> {
    const d = ctx.d;
    const newRevision = maxRevision(oldRSs) + 1;
    const mrs = (specOf(d).minReadySeconds as number | undefined) ?? 0;
    if (existing) {
      const next = deepCopy(existing);
      const annChanged = setNewReplicaSetAnnotations(d, next, newRevision, true, maxSurge(d));
      const mrsChanged = ((specOf(next).minReadySeconds as number | undefined) ?? 0) !== mrs;
      if (annChanged || mrsChanged) {
        (next.spec as Record<string, unknown>).minReadySeconds = mrs;
        await this.updateReplicaSet(existing, next);
      }
      await this.setDeploymentRevision(ctx, existing.metadata.annotations?.[REVISION] ?? String(newRevision));
      const status = deepCopy((ctx.d.status as DeploymentStatus | undefined) ?? {});
      if (hasProgressDeadline(ctx.d) && !getCondition(status, 'Progressing')) {
        setCondition(status, newCondition('Progressing', 'True', Reasons.FoundNewRS, `Found new replica set "${existing.metadata.name}"`));
        await this.writeStatus(ctx, status);
      }
      return existing;
    }
    if (!create) return undefined;

    const collisionCount = (d.status as DeploymentStatus | undefined)?.collisionCount;
    const hash = computeHash(templateOf(d), collisionCount);
    const template = deepCopy(templateOf(d));
    const tmeta = (template.metadata ??= {}) as Record<string, unknown>;
    tmeta.labels = { ...((tmeta.labels as Record<string, string> | undefined) ?? {}), [POD_TEMPLATE_HASH]: hash };
    const selector = deepCopy(specOf(d).selector as LabelSelector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash };
    const name = `${d.metadata.name}-${hash}`;
    const rs: KObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: d.metadata.namespace,
        ownerReferences: [newControllerRef(d, 'apps/v1', 'Deployment')],
        labels: { ...(tmeta.labels as Record<string, string>) },
      },
      spec: { replicas: 0, minReadySeconds: mrs, selector, template },
    };
    const count = newRSNewReplicas(d, [...oldRSs, rs], rs);
    (rs.spec as Record<string, unknown>).replicas = count;
    setNewReplicaSetAnnotations(d, rs, newRevision, false, maxSurge(d));

    let created: KObject;
    let alreadyExisted = false;
    try {
      created = await this.client.create(R.replicasets, d.metadata.namespace, rs);
      this.writtenRS.set(cacheKey(created), created);
    } catch (e) {
      if (isStatus(e, 409) && (e as StatusError).reason === 'AlreadyExists') {
        const found = await this.client.get(R.replicasets, d.metadata.namespace, name);
        if (isControlledBy(found, d) && equalIgnoreHash(templateOf(found), templateOf(d))) {
          // Ours, just not yet in the cache.
          created = found;
          alreadyExisted = true;
        } else {
          // A hash collision: bump collisionCount so the next sync computes another name.
          const status = deepCopy((d.status as DeploymentStatus | undefined) ?? {});
          status.collisionCount = (collisionCount ?? 0) + 1;
          await this.writeStatus(ctx, status);
          throw e;
        }
      } else {
        const msg = `Failed to create new replica set "${name}": ${errorMessage(e)}`;
        if (hasProgressDeadline(d)) {
          const status = deepCopy((d.status as DeploymentStatus | undefined) ?? {});
          setCondition(status, newCondition('Progressing', 'False', Reasons.FailedRSCreate, msg));
          await this.writeStatus(ctx, status).catch(() => {});
        }
        this.events(d, 'Warning', Reasons.FailedRSCreate, msg);
        throw e;
      }
    }
    if (!alreadyExisted && count > 0) this.events(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${name} to ${count}`);
    await this.setDeploymentRevision(ctx, String(newRevision));
    if (!alreadyExisted && hasProgressDeadline(ctx.d)) {
      const status = deepCopy((ctx.d.status as DeploymentStatus | undefined) ?? {});
      setCondition(status, newCondition('Progressing', 'True', Reasons.NewReplicaSet, `Created new replica set "${name}"`));
      await this.writeStatus(ctx, status);
    }
    return deepCopy(created);
  }

  // --- strategies ----------------------------------------------------------------------------------

  private async rolloutRolling(ctx: Ctx, rsList: KObject[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAll(ctx, rsList, true);
    const all = [...oldRSs, newRS!];
    if (await this.reconcileNewReplicaSet(ctx, all, newRS!)) return this.syncRolloutStatus(ctx, all, newRS);
    if (await this.reconcileOldReplicaSets(ctx, all, activeReplicaSets(oldRSs), newRS!)) return this.syncRolloutStatus(ctx, all, newRS);
    if (deploymentComplete(ctx.d, (ctx.d.status as DeploymentStatus | undefined) ?? {})) await this.cleanupDeployment(ctx, oldRSs);
    return this.syncRolloutStatus(ctx, all, newRS);
  }

  private async reconcileNewReplicaSet(ctx: Ctx, all: KObject[], newRS: KObject): Promise<boolean> {
    const desired = replicasOf(ctx.d);
    if (replicasOf(newRS) === desired) return false;
    if (replicasOf(newRS) > desired) return this.scaleAndRecord(ctx, newRS, desired);
    return this.scaleAndRecord(ctx, newRS, newRSNewReplicas(ctx.d, all, newRS));
  }

  private async reconcileOldReplicaSets(ctx: Ctx, all: KObject[], oldActive: KObject[], newRS: KObject): Promise<boolean> {
    if (sumSpecReplicas(oldActive) === 0) return false;
    const d = ctx.d;
    const minAvailable = replicasOf(d) - maxUnavailable(d);
    const newUnavailable = replicasOf(newRS) - statusNum(newRS, 'availableReplicas');
    const maxScaledDown = sumSpecReplicas(all) - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    const cleaned = await this.cleanupUnhealthyReplicas(ctx, oldActive, maxScaledDown);
    const scaledDown = await this.scaleDownOldForRollingUpdate(ctx, all, oldActive);
    return cleaned + scaledDown > 0;
  }

  /** Old RSs' replicas that are not available anyway go first, up to `maxCleanup`. */
  private async cleanupUnhealthyReplicas(ctx: Ctx, oldRSs: KObject[], maxCleanup: number): Promise<number> {
    let total = 0;
    for (const rs of [...oldRSs].sort(byCreation)) {
      if (total >= maxCleanup) break;
      const r = replicasOf(rs);
      const avail = statusNum(rs, 'availableReplicas');
      if (r === 0 || r === avail) continue;
      const down = Math.min(maxCleanup - total, r - avail);
      await this.scaleAndRecord(ctx, rs, r - down);
      total += down;
    }
    return total;
  }

  private async scaleDownOldForRollingUpdate(ctx: Ctx, all: KObject[], oldRSs: KObject[]): Promise<number> {
    const d = ctx.d;
    const minAvailable = replicasOf(d) - maxUnavailable(d);
    // An RS's status may still count pods its lowered spec is about to remove: never count more than its spec.
    const available = all.reduce((n, rs) => n + Math.min(statusNum(rs, 'availableReplicas'), replicasOf(rs)), 0);
    if (available <= minAvailable) return 0;
    const target = available - minAvailable;
    let total = 0;
    for (const rs of [...oldRSs].sort(byCreation)) {
      if (total >= target) break;
      const r = replicasOf(rs);
      if (r === 0) continue;
      const down = Math.min(r, target - total);
      await this.scaleAndRecord(ctx, rs, r - down);
      total += down;
    }
    return total;
  }

  private async rolloutRecreate(ctx: Ctx, rsList: KObject[]): Promise<void> {
    let { newRS, oldRSs } = await this.getAll(ctx, rsList, false);
    let scaledDown = false;
    for (const rs of activeReplicaSets(oldRSs)) if (await this.scaleAndRecord(ctx, rs, 0)) scaledDown = true;
    if (scaledDown) return this.syncRolloutStatus(ctx, [...oldRSs, newRS], newRS);
    if (this.oldPodsRunning(newRS, oldRSs)) return this.syncRolloutStatus(ctx, [...oldRSs, newRS], newRS);
    if (!newRS) ({ newRS, oldRSs } = await this.getAll(ctx, rsList, true));
    await this.scaleAndRecord(ctx, newRS!, replicasOf(ctx.d));
    if (deploymentComplete(ctx.d, (ctx.d.status as DeploymentStatus | undefined) ?? {})) await this.cleanupDeployment(ctx, oldRSs);
    return this.syncRolloutStatus(ctx, [...oldRSs, newRS], newRS);
  }

  /** Any pod of an old RS that is not terminal, terminating ones included. */
  private oldPodsRunning(newRS: KObject | undefined, oldRSs: KObject[]): boolean {
    if (sumStatus(oldRSs, 'replicas') > 0) return true;
    const olds = new Set(oldRSs.map((rs) => rs.metadata.uid));
    for (const p of this.pods.list(newRS?.metadata.namespace ?? oldRSs[0]?.metadata.namespace)) {
      const uid = getControllerOf(p)?.uid;
      if (!uid || !olds.has(uid)) continue;
      const phase = (p.status as { phase?: string } | undefined)?.phase;
      if (phase === 'Failed' || phase === 'Succeeded') continue;
      return true;
    }
    return false;
  }

  // --- paused deployments and scaling ---------------------------------------------------------------

  /** Replica counts changed since the RSs were last annotated: a scale, not a rollout. */
  private async isScalingEvent(ctx: Ctx, rsList: KObject[]): Promise<boolean> {
    const { newRS, oldRSs } = await this.getAll(ctx, rsList, false);
    for (const rs of activeReplicaSets([...oldRSs, newRS])) {
      const desired = desiredReplicasAnnotation(rs);
      if (desired !== undefined && desired !== replicasOf(ctx.d)) return true;
    }
    return false;
  }

  private async syncScaleOnly(ctx: Ctx, rsList: KObject[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAll(ctx, rsList, false);
    await this.scale(ctx, newRS, oldRSs);
    if (specOf(ctx.d).paused) await this.cleanupDeployment(ctx, oldRSs);
    await this.writeStatus(ctx, this.calculateStatus(ctx.d, [...oldRSs, newRS], newRS));
  }

  private async syncStatusOnly(ctx: Ctx, rsList: KObject[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAll(ctx, rsList, false);
    await this.writeStatus(ctx, this.calculateStatus(ctx.d, [...oldRSs, newRS], newRS));
  }

  /** Scale to spec.replicas: the one active RS directly, or every active RS in proportion. */
  private async scale(ctx: Ctx, newRS: KObject | undefined, oldRSs: KObject[]): Promise<void> {
    const d = ctx.d;
    const desired = replicasOf(d);
    const single = this.activeOrLatest(newRS, oldRSs);
    if (single) {
      if (replicasOf(single) !== desired) await this.scaleAndRecord(ctx, single, desired);
      return;
    }
    if (isSaturated(d, newRS)) {
      for (const rs of activeReplicaSets(oldRSs)) await this.scaleAndRecord(ctx, rs, 0);
      return;
    }
    if (!isRollingUpdate(d)) return;
    const all = activeReplicaSets([...oldRSs, newRS]);
    const allowed = desired > 0 ? desired + maxSurge(d) : 0;
    const toAdd = allowed - sumSpecReplicas(all);
    if (toAdd > 0) all.sort(bySizeNewer);
    else if (toAdd < 0) all.sort(bySizeOlder);
    const sizes = new Map<KObject, number>();
    let added = 0;
    for (const rs of all) {
      if (toAdd !== 0) {
        const p = proportion(rs, d, toAdd, added);
        sizes.set(rs, replicasOf(rs) + p);
        added += p;
      } else sizes.set(rs, replicasOf(rs));
    }
    if (toAdd !== 0 && all.length) {
      // Rounding leftovers go to the largest.
      sizes.set(all[0], Math.max(0, sizes.get(all[0])! + toAdd - added));
    }
    const op = toAdd > 0 ? 'up' : 'down';
    for (const rs of all) await this.scaleReplicaSet(ctx, rs, sizes.get(rs)!, op);
  }

  private activeOrLatest(newRS: KObject | undefined, oldRSs: KObject[]): KObject | undefined {
    if (!newRS && !oldRSs.length) return undefined;
    const newestFirst = [...oldRSs].sort(byCreation).reverse();
    const active = activeReplicaSets([...newestFirst, newRS]);
    if (active.length === 0) return newRS ?? newestFirst[0];
    if (active.length === 1) return active[0];
    return undefined;
  }

  /** Paused → Progressing Unknown/DeploymentPaused; resumed → DeploymentResumed. */
  private async checkPausedConditions(ctx: Ctx): Promise<void> {
    const d = ctx.d;
    if (!hasProgressDeadline(d)) return;
    const status = deepCopy((d.status as DeploymentStatus | undefined) ?? {});
    const cur = getCondition(status, 'Progressing');
    if (cur?.reason === Reasons.TimedOut) return;
    const pausedExists = cur?.reason === Reasons.PausedDeploy;
    const paused = !!specOf(d).paused;
    if (paused && !pausedExists) setCondition(status, newCondition('Progressing', 'Unknown', Reasons.PausedDeploy, 'Deployment is paused'));
    else if (!paused && pausedExists) setCondition(status, newCondition('Progressing', 'Unknown', Reasons.ResumedDeploy, 'Deployment is resumed'));
    else return;
    await this.writeStatus(ctx, status);
  }

  /** Deletes the oldest idle RSs beyond revisionHistoryLimit. */
  private async cleanupDeployment(ctx: Ctx, oldRSs: KObject[]): Promise<void> {
    const limit = specOf(ctx.d).revisionHistoryLimit;
    if (typeof limit !== 'number') return;
    const alive = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
    const diff = alive.length - limit;
    if (diff <= 0) return;
    alive.sort(byRevision);
    for (const rs of alive.slice(0, diff)) {
      if (statusNum(rs, 'replicas') !== 0 || replicasOf(rs) !== 0) continue;
      if ((rs.metadata.generation ?? 0) > statusNum(rs, 'observedGeneration')) continue;
      try {
        await this.client.delete(R.replicasets, rs.metadata.namespace, rs.metadata.name!);
      } catch (e) {
        if (!isStatus(e, 404)) throw e;
      }
    }
  }

  // --- status ---------------------------------------------------------------------------------------

  private calculateStatus(d: KObject, all: (KObject | undefined)[], newRS: KObject | undefined): DeploymentStatus {
    const prev = (d.status as DeploymentStatus | undefined) ?? {};
    const available = sumStatus(all, 'availableReplicas');
    const status: DeploymentStatus = {
      observedGeneration: d.metadata.generation,
      replicas: sumStatus(all, 'replicas'),
      updatedReplicas: sumStatus([newRS], 'replicas'),
      readyReplicas: sumStatus(all, 'readyReplicas'),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, sumSpecReplicas(all) - available),
      conditions: deepCopy(prev.conditions ?? []),
    };
    if (prev.collisionCount !== undefined) status.collisionCount = prev.collisionCount;
    if (available >= replicasOf(d) - maxUnavailable(d))
      setCondition(status, newCondition('Available', 'True', Reasons.MinimumReplicasAvailable, 'Deployment has minimum availability.'));
    else setCondition(status, newCondition('Available', 'False', Reasons.MinimumReplicasUnavailable, 'Deployment does not have minimum availability.'));
    return status;
  }

  private async syncRolloutStatus(ctx: Ctx, all: (KObject | undefined)[], newRS: KObject | undefined): Promise<void> {
    const d = ctx.d;
    const status = this.calculateStatus(d, all, newRS);
    if (!hasProgressDeadline(d)) removeCondition(status, 'Progressing');
    const cur = getCondition((d.status as DeploymentStatus | undefined) ?? {}, 'Progressing');
    const complete = (status.replicas ?? 0) === (status.updatedReplicas ?? 0) && cur?.reason === Reasons.NewRSAvailable;
    const subject = newRS ? `ReplicaSet "${newRS.metadata.name}"` : `Deployment "${d.metadata.name}"`;
    if (hasProgressDeadline(d) && !complete) {
      if (deploymentComplete(d, status)) {
        setCondition(status, newCondition('Progressing', 'True', Reasons.NewRSAvailable, `${subject} has successfully progressed.`));
      } else if (deploymentProgressing(d, status)) {
        const c = newCondition('Progressing', 'True', Reasons.RSUpdated, `${subject} is progressing.`);
        if (cur?.status === 'True') c.lastTransitionTime = cur.lastTransitionTime;
        removeCondition(status, 'Progressing');
        setCondition(status, c);
      } else if (deploymentTimedOut(d, status)) {
        setCondition(status, newCondition('Progressing', 'False', Reasons.TimedOut, `${subject} has timed out progressing.`));
      }
    }
    const failure = this.replicaFailure(all, newRS);
    if (failure) setCondition(status, failure);
    else removeCondition(status, 'ReplicaFailure');

    if (jsonEqual(compactStatus(status), d.status ?? {})) {
      this.requeueStuck(ctx, status);
      return;
    }
    await this.writeStatus(ctx, status);
  }

  /** A ReplicaFailure of the new RS, else of any RS, as a Deployment condition. */
  private replicaFailure(all: (KObject | undefined)[], newRS: KObject | undefined): DeploymentCondition | undefined {
    const pick = (rs: KObject | undefined) => {
      const conds = ((rs?.status as { conditions?: DeploymentCondition[] } | undefined)?.conditions ?? []) as DeploymentCondition[];
      const c = conds.find((x) => x.type === 'ReplicaFailure');
      return c && { type: 'ReplicaFailure', status: c.status, lastUpdateTime: c.lastTransitionTime, lastTransitionTime: c.lastTransitionTime, reason: c.reason, message: c.message };
    };
    return pick(newRS) ?? all.map(pick).find((c) => c);
  }

  /** Come back when the progress deadline would pass, so ProgressDeadlineExceeded is reported on time. */
  private requeueStuck(ctx: Ctx, status: DeploymentStatus): void {
    const d = ctx.d;
    const cur = getCondition((d.status as DeploymentStatus | undefined) ?? {}, 'Progressing');
    if (!hasProgressDeadline(d) || !cur) return;
    if (deploymentComplete(d, status) || cur.reason === Reasons.TimedOut) return;
    const from = Date.parse(cur.lastUpdateTime ?? '');
    if (Number.isNaN(from)) return;
    const after = from + (specOf(d).progressDeadlineSeconds as number) * 1000 - Date.now();
    this.queue.addAfter(ctx.key, after < 1000 ? Math.max(after, 0) + 100 : after + 1000);
  }
}
