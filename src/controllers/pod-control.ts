// What every pod-owning controller (ReplicaSet now; DaemonSet, StatefulSet, Job later) needs:
// pods made from a template with a controller reference, deleted with events, upstream's
// ranking of which pods to delete first, "expectations" so a burst of creates is not repeated
// before the watch catches up, slow-start batches, and pod readiness/availability.
import { StatusError } from '../machinery/errors.js';
import { deepCopy, type KObject, type OwnerReference } from '../machinery/object.js';
import type { ApiClient } from '../client/client.js';
import { R } from '../client/client.js';
import { eventAbout } from '../client/events.js';

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/** Best-effort event emission (never throws, never awaited by the caller's logic). */
export type EventSink = (obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string) => void;

/**
 * Events written through the client as core/v1 Events (one per call, no folding). A small local
 * helper on purpose: the integrator can swap it for the shared EventRecorder.
 */
export function clientEventSink(client: ApiClient, component: string): EventSink {
  let seq = 0;
  return (obj, type, reason, message) => {
    const name = `${obj.metadata.name}.${(Date.now() * 1000 + (seq++ % 1000)).toString(16)}`;
    client.create(R.events, obj.metadata.namespace || 'default', eventAbout(obj, type, reason, message, { component, name })).catch(() => {});
  };
}

// ---------------------------------------------------------------------------------------------
// Pod state
// ---------------------------------------------------------------------------------------------

interface PodCondition {
  type?: string;
  status?: string;
  lastTransitionTime?: string;
}

function podStatus(pod: KObject): Record<string, unknown> {
  return (pod.status as Record<string, unknown> | undefined) ?? {};
}

export function podPhase(pod: KObject): string {
  return (podStatus(pod).phase as string | undefined) ?? '';
}

function readyCondition(pod: KObject): PodCondition | undefined {
  const conds = podStatus(pod).conditions;
  return Array.isArray(conds) ? (conds as PodCondition[]).find((c) => c?.type === 'Ready') : undefined;
}

/** Not terminal and not being deleted (upstream's IsPodActive). */
export function isPodActive(pod: KObject): boolean {
  const phase = podPhase(pod);
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata.deletionTimestamp;
}

/** The Ready condition is True. */
export function isPodReady(pod: KObject): boolean {
  return readyCondition(pod)?.status === 'True';
}

/** When the pod last became Ready (undefined if not ready or unknown). */
export function podReadySince(pod: KObject): number | undefined {
  const c = readyCondition(pod);
  if (c?.status !== 'True' || !c.lastTransitionTime) return undefined;
  const t = Date.parse(c.lastTransitionTime);
  return Number.isNaN(t) ? undefined : t;
}

/** Ready for at least minReadySeconds. */
export function isPodAvailable(pod: KObject, minReadySeconds: number, now = Date.now()): boolean {
  if (!isPodReady(pod)) return false;
  if (!minReadySeconds) return true;
  const since = podReadySince(pod);
  return since !== undefined && since + minReadySeconds * 1000 < now;
}

function nodeName(pod: KObject): string {
  return ((pod.spec as Record<string, unknown> | undefined)?.nodeName as string | undefined) ?? '';
}

function maxRestarts(pod: KObject): number {
  let max = 0;
  for (const key of ['containerStatuses', 'initContainerStatuses']) {
    const list = podStatus(pod)[key];
    if (!Array.isArray(list)) continue;
    for (const cs of list) {
      const n = (cs as { restartCount?: unknown })?.restartCount;
      if (typeof n === 'number' && n > max) max = n;
    }
  }
  return max;
}

function deletionCost(pod: KObject): number {
  const v = pod.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'];
  const n = v === undefined ? 0 : Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : 0;
}

// ---------------------------------------------------------------------------------------------
// Which pods to delete first
// ---------------------------------------------------------------------------------------------

const PHASE_ORDER: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/** Bucket index of an age on a log2 scale (pods of similar age compare equal). */
function logBucket(since: number, now: number): number {
  const ns = (now - since) * 1e6;
  return ns <= 0 ? -1 : Math.floor(Math.log2(ns));
}

/**
 * Negative when `a` should be deleted before `b`: upstream's ActivePodsWithRanks order
 * (logarithmic scale-down): unscheduled, then Pending < Unknown < Running, not ready, lower
 * deletion cost, more pods of the same owner family on its node, ready more recently, more
 * restarts, created more recently, then by uid.
 */
export function comparePodsForDeletion(a: KObject, b: KObject, rankA: number, rankB: number, now: number): number {
  const na = nodeName(a);
  const nb = nodeName(b);
  if (na !== nb && (!na || !nb)) return na ? 1 : -1;
  const pa = PHASE_ORDER[podPhase(a)] ?? 0;
  const pb = PHASE_ORDER[podPhase(b)] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  const ca = deletionCost(a);
  const cb = deletionCost(b);
  if (ca !== cb) return ca - cb;
  if (rankA !== rankB) return rankB - rankA;
  if (ra && rb) {
    const ta = podReadySince(a);
    const tb = podReadySince(b);
    if (ta !== tb) {
      if (ta === undefined || tb === undefined) return ta === undefined ? -1 : 1;
      const d = logBucket(ta, now) - logBucket(tb, now);
      if (d !== 0) return d;
    }
  }
  const xa = maxRestarts(a);
  const xb = maxRestarts(b);
  if (xa !== xb) return xb - xa;
  const ta = Date.parse(a.metadata.creationTimestamp ?? '');
  const tb = Date.parse(b.metadata.creationTimestamp ?? '');
  if (ta !== tb && !(Number.isNaN(ta) && Number.isNaN(tb))) {
    if (Number.isNaN(ta) || Number.isNaN(tb)) return Number.isNaN(ta) ? -1 : 1;
    const d = logBucket(ta, now) - logBucket(tb, now);
    if (d !== 0) return d;
  }
  const ua = a.metadata.uid ?? '';
  const ub = b.metadata.uid ?? '';
  return ua < ub ? -1 : ua > ub ? 1 : 0;
}

/**
 * The `count` pods of `pods` to delete first. `related` are the active pods of the whole owner
 * family (e.g. every ReplicaSet of one Deployment): a pod sharing its node with more of them goes
 * first, which spreads what remains.
 */
export function podsToDelete(pods: KObject[], related: KObject[], count: number, now = Date.now()): KObject[] {
  if (count >= pods.length) return [...pods];
  const onNode = new Map<string, number>();
  for (const p of related) {
    if (!isPodActive(p)) continue;
    const n = nodeName(p);
    if (n) onNode.set(n, (onNode.get(n) ?? 0) + 1);
  }
  const ranked = pods.map((p) => ({ p, rank: nodeName(p) ? (onNode.get(nodeName(p)) ?? 0) : 0 }));
  ranked.sort((x, y) => comparePodsForDeletion(x.p, y.p, x.rank, y.rank, now));
  return ranked.slice(0, count).map((x) => x.p);
}

// ---------------------------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------------------------

const EXPECTATIONS_TTL_MS = 5 * 60 * 1000;

interface Expectation {
  adds: number;
  dels: Set<string>;
  at: number;
}

/**
 * Creates and deletes a controller has issued but not yet seen through its informer. While any
 * are outstanding (and not older than five minutes) the controller must not act on its cache
 * again, or it would create or delete twice.
 */
export class ControllerExpectations {
  private m = new Map<string, Expectation>();

  satisfied(key: string): boolean {
    const e = this.m.get(key);
    if (!e) return true;
    return (e.adds <= 0 && e.dels.size === 0) || Date.now() - e.at > EXPECTATIONS_TTL_MS;
  }

  expectCreations(key: string, n: number): void {
    this.m.set(key, { adds: n, dels: new Set(), at: Date.now() });
  }

  /** Deletions are tracked by pod key (namespace/name) so a repeated DELETED event counts once. */
  expectDeletions(key: string, podKeys: string[]): void {
    this.m.set(key, { adds: 0, dels: new Set(podKeys), at: Date.now() });
  }

  creationObserved(key: string): void {
    const e = this.m.get(key);
    if (e) e.adds--;
  }

  deletionObserved(key: string, podKey: string): void {
    this.m.get(key)?.dels.delete(podKey);
  }

  forget(key: string): void {
    this.m.delete(key);
  }
}

// ---------------------------------------------------------------------------------------------
// Slow start
// ---------------------------------------------------------------------------------------------

/**
 * Runs `fn` `count` times in batches of 1, 2, 4, … (all of a batch concurrently); stops after the
 * first batch with a failure, so a quota or admission error costs one call, not hundreds.
 * Returns how many succeeded and the first error.
 */
export async function slowStartBatch(count: number, initial: number, fn: () => Promise<void>): Promise<{ successes: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  for (let batch = Math.min(remaining, initial); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += batch - failed.length;
    if (failed.length) return { successes, error: failed[0].reason };
    remaining -= batch;
  }
  return { successes };
}

// ---------------------------------------------------------------------------------------------
// Creating and deleting pods
// ---------------------------------------------------------------------------------------------

const MAX_NAME = 253;

/** A pod (not yet created) from `template`: its labels, annotations, finalizers and spec, owned by `ref`. */
export function podFromTemplate(template: Record<string, unknown>, ownerName: string, ref?: OwnerReference): KObject {
  const meta = (template.metadata as Record<string, unknown> | undefined) ?? {};
  const prefix = `${ownerName}-`.length <= MAX_NAME ? `${ownerName}-` : ownerName;
  const pod: KObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: prefix },
    spec: deepCopy(template.spec ?? {}),
  };
  if (meta.labels) pod.metadata.labels = deepCopy(meta.labels as Record<string, string>);
  if (meta.annotations) pod.metadata.annotations = deepCopy(meta.annotations as Record<string, string>);
  if (Array.isArray(meta.finalizers)) pod.metadata.finalizers = [...(meta.finalizers as string[])];
  if (ref) pod.metadata.ownerReferences = [{ ...ref }];
  return pod;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The namespace is being torn down: creating in it is pointless, not an error worth retrying. */
export function isNamespaceTerminating(e: unknown): boolean {
  return e instanceof StatusError && (e.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating');
}

export class PodControl {
  constructor(
    private client: ApiClient,
    private events: EventSink,
  ) {}

  /** Creates one pod from the template for `owner`; SuccessfulCreate / FailedCreate events as upstream. */
  async createPod(namespace: string, template: Record<string, unknown>, owner: KObject, ref: OwnerReference): Promise<KObject> {
    const pod = podFromTemplate(template, owner.metadata.name!, ref);
    if (!Object.keys(pod.metadata.labels ?? {}).length) throw new Error('unable to create pods, no labels');
    try {
      const created = await this.client.create(R.pods, namespace, pod);
      this.events(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
      return created;
    } catch (e) {
      this.events(owner, 'Warning', 'FailedCreate', `Error creating: ${errorMessage(e)}`);
      throw e;
    }
  }

  /** Deletes a pod for `owner`; false when it was already gone (not an error). */
  async deletePod(namespace: string, name: string, owner: KObject): Promise<boolean> {
    try {
      await this.client.delete(R.pods, namespace, name);
      this.events(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${name}`);
      return true;
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return false;
      this.events(owner, 'Warning', 'FailedDelete', `Error deleting: ${errorMessage(e)}`);
      throw e;
    }
  }
}
