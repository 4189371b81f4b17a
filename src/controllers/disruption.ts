// The disruption controller, as upstream's pkg/controller/disruption: keeps every
// PodDisruptionBudget's status current — expectedPods (the owning controllers' scale, or the
// number of matching pods for an integer minAvailable), desiredHealthy, currentHealthy (Ready
// pods that are neither terminating nor recently evicted), disruptionsAllowed, the
// DisruptionAllowed condition, observedGeneration, and disruptedPods: the evictions the API
// server granted that this controller has not yet seen happen (dropped once the pod goes, or
// after two minutes when it never did). The eviction subresource reads this status and
// decrements it; every write is a compare-and-swap on the PDB's resourceVersion.
import { StatusError } from '../machinery/errors.js';
import { jsonEqual, type KObject } from '../machinery/object.js';
import { compileLabelSelector, type LabelSelector } from '../machinery/selectors.js';
import { R, type ApiClient, type ResourceRef } from '../client/client.js';
import { Informer, cacheKey } from '../client/informer.js';
import { WorkQueue } from '../client/workqueue.js';
import { clientEventSink, errorMessage, isPodReady, type EventSink } from './pod-control.js';
import { rfc3339 } from '../machinery/time.js';

export interface DisruptionControllerOptions {
  /** Concurrent syncs (distinct PDBs); default 2. */
  workers?: number;
  events?: EventSink;
  log?: (line: string) => void;
  /** How long an eviction granted by the API server is trusted to happen (upstream: 2 minutes). */
  deletionTimeoutMs?: number;
  /** Share informers with other controllers of the same process (started by their owner). */
  informers?: { pods?: Informer; pdbs?: Informer };
  now?: () => number;
}

const COMPONENT = 'controllermanager';
export const DELETION_TIMEOUT_MS = 2 * 60 * 1000;

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);

interface Condition {
  type: string;
  status: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
  reason: string;
  message: string;
}

const REPLICATION_CONTROLLERS: ResourceRef = { group: '', version: 'v1', resource: 'replicationcontrollers' };

/** A PDB's pod matcher: in policy/v1 a null selector selects nothing, `{}` everything. */
export function pdbMatcher(pdb: KObject): (labels: Record<string, string> | undefined) => boolean {
  try {
    return compileLabelSelector(asObj(pdb.spec)?.selector as LabelSelector | null | undefined);
  } catch {
    return () => false; // an invalid selector matches no pod
  }
}

/** intstr.GetScaledValueFromIntOrPercent with round-up. */
export function scaledValue(v: unknown, total: number, roundUp = true): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const m = /^(\d+)%$/.exec(v);
    if (!m) {
      if (/^\d+$/.test(v)) return Number(v);
      throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`);
    }
    const x = (Number(m[1]) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  throw new Error('invalid value for IntOrString: invalid type: neither int nor percentage');
}

/** metav1 SetStatusCondition: the transition time moves only when the status does. */
export function setCondition(conditions: Condition[], c: Condition, now: string): Condition[] {
  const existing = conditions.find((x) => x.type === c.type);
  if (!existing) return [...conditions, { ...c, lastTransitionTime: c.lastTransitionTime ?? now }];
  const next: Condition = { ...existing, ...c, lastTransitionTime: existing.status !== c.status ? now : (existing.lastTransitionTime ?? now) };
  return conditions.map((x) => (x === existing ? next : x));
}

/** The DisruptionAllowed condition for a status (upstream's UpdateDisruptionAllowedCondition). */
export function disruptionAllowedCondition(status: Obj, now: string): Condition[] {
  const allowed = typeof status.disruptionsAllowed === 'number' ? status.disruptionsAllowed : 0;
  const observedGeneration = typeof status.observedGeneration === 'number' ? status.observedGeneration : undefined;
  const c: Condition =
    allowed > 0
      ? { type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods', message: '', observedGeneration }
      : { type: 'DisruptionAllowed', status: 'False', reason: 'InsufficientPods', message: '', observedGeneration };
  if (observedGeneration === undefined) delete c.observedGeneration;
  return setCondition(Array.isArray(status.conditions) ? (status.conditions as Condition[]) : [], c, now);
}

interface Expected {
  expectedCount: number;
  desiredHealthy: number;
  unmanaged: string[];
}

export class DisruptionController {
  readonly pods: Informer;
  readonly pdbs: Informer;
  private queue: WorkQueue;
  private events: EventSink;
  private log: (line: string) => void;
  private ownInformers: Informer[] = [];
  private deletionTimeout: number;
  private now: () => number;
  /** Last warning per PDB, so a steady state does not repeat it on every sync. */
  private warned = new Map<string, string>();
  private rechecks = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private client: ApiClient,
    opts: DisruptionControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.events = opts.events ?? clientEventSink(client, COMPONENT);
    this.deletionTimeout = opts.deletionTimeoutMs ?? DELETION_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
    const own = (i: Informer) => (this.ownInformers.push(i), i);
    this.pods = opts.informers?.pods ?? own(new Informer(client, R.pods));
    this.pdbs = opts.informers?.pdbs ?? own(new Informer(client, R.poddisruptionbudgets));
    this.queue = new WorkQueue((k) => this.sync(k), opts.workers ?? 2, 20, 5_000, (k, e) => {
      if (!(e instanceof StatusError && e.code === 409)) this.log(`disruption-controller: sync ${k}: ${errorMessage(e)}`);
    });
    this.pdbs.on({
      onAdd: (p) => this.queue.add(cacheKey(p)),
      onUpdate: (p) => this.queue.add(cacheKey(p)),
      onDelete: (p) => {
        this.warned.delete(cacheKey(p));
        this.queue.add(cacheKey(p));
      },
    });
    this.pods.on({
      onAdd: (p) => this.podChanged(p),
      onUpdate: (p, old) => {
        this.podChanged(p);
        if (!jsonEqual(p.metadata.labels ?? {}, old.metadata.labels ?? {})) this.podChanged(old);
      },
      onDelete: (p) => this.podChanged(p),
    });
  }

  async start(): Promise<void> {
    await Promise.all(this.ownInformers.map((i) => i.start()));
  }

  stop(): void {
    this.stopped = true;
    this.queue.stop();
    for (const t of this.rechecks.values()) clearTimeout(t);
    this.rechecks.clear();
    for (const i of this.ownInformers) i.stop();
  }

  /** Resolves when no PDB is queued or syncing (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private podChanged(pod: KObject): void {
    const ns = pod.metadata.namespace;
    for (const pdb of this.pdbs.list(ns)) if (pdbMatcher(pdb)(pod.metadata.labels)) this.queue.add(cacheKey(pdb));
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    let pdb = this.pdbs.get(ns, name);
    if (!pdb) return;
    try {
      await this.trySync(pdb);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409)) {
        this.log(`disruption-controller: failed to sync pdb ${key}: ${errorMessage(e)}`);
        await this.failSafe(pdb, e);
        throw e; // retried with back-off
      }
      // Someone (an eviction) wrote the PDB since our cache saw it: recompute from the latest.
      try {
        pdb = await this.client.get(R.poddisruptionbudgets, ns, name);
      } catch (e2) {
        if (e2 instanceof StatusError && e2.code === 404) return;
        throw e2;
      }
      await this.trySync(pdb);
    }
  }

  private async trySync(pdb: KObject): Promise<void> {
    const key = cacheKey(pdb);
    const match = pdbMatcher(pdb);
    const pods = this.pods.list(pdb.metadata.namespace).filter((p) => match(p.metadata.labels));
    if (!pods.length) this.warnOnce(pdb, 'Normal', 'NoPods', 'No matching pods found');
    let expected: Expected;
    try {
      expected = await this.expectedPodCount(pdb, pods);
    } catch (e) {
      this.warnOnce(pdb, 'Warning', 'CalculateExpectedPodCountFailed', `Failed to calculate the number of expected pods: ${errorMessage(e)}`);
      throw e;
    }
    if (expected.unmanaged.length) {
      const sel = JSON.stringify(asObj(pdb.spec)?.selector ?? null);
      this.warnOnce(
        pdb,
        'Warning',
        'UnmanagedPods',
        `Pods selected by this PodDisruptionBudget (selector: ${sel}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`,
      );
    } else if (pods.length) this.warned.delete(key);
    const now = this.now();
    const { disrupted, recheckAt } = this.disruptedPodMap(pdb, pods, now);
    const currentHealthy = countHealthy(pods, disrupted, now, this.deletionTimeout);
    await this.updateStatus(pdb, currentHealthy, expected.desiredHealthy, expected.expectedCount, disrupted);
    if (recheckAt !== undefined) this.recheck(key, recheckAt - now);
  }

  private recheck(key: string, ms: number): void {
    if (this.stopped) return;
    const old = this.rechecks.get(key);
    if (old) clearTimeout(old);
    const t = setTimeout(() => {
      this.rechecks.delete(key);
      this.queue.add(key);
    }, Math.max(0, ms) + 10);
    t.unref?.();
    this.rechecks.set(key, t);
  }

  private warnOnce(pdb: KObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const key = cacheKey(pdb);
    const sig = `${pdb.metadata.uid}/${reason}/${message}`;
    if (this.warned.get(key) === sig) return;
    this.warned.set(key, sig);
    this.events(pdb, type, reason, message);
  }

  /** Upstream's getExpectedPodCount. */
  private async expectedPodCount(pdb: KObject, pods: KObject[]): Promise<Expected> {
    const spec = asObj(pdb.spec) ?? {};
    const present = (v: unknown) => v !== undefined && v !== null;
    if (present(spec.maxUnavailable)) {
      const { total, unmanaged } = await this.expectedScale(pdb, pods);
      const maxUnavailable = scaledValue(spec.maxUnavailable, total, true);
      return { expectedCount: total, desiredHealthy: Math.max(0, total - maxUnavailable), unmanaged };
    }
    if (present(spec.minAvailable)) {
      if (typeof spec.minAvailable === 'number') return { expectedCount: pods.length, desiredHealthy: spec.minAvailable, unmanaged: [] };
      const { total, unmanaged } = await this.expectedScale(pdb, pods);
      return { expectedCount: total, desiredHealthy: scaledValue(spec.minAvailable, total, true), unmanaged };
    }
    return { expectedCount: 0, desiredHealthy: 0, unmanaged: [] };
  }

  /** The sum of the scale of every controller owning a matching pod (each counted once). */
  private async expectedScale(pdb: KObject, pods: KObject[]): Promise<{ total: number; unmanaged: string[] }> {
    const scales = new Map<string, number>(); // controller uid → replicas
    const seenRefs = new Set<string>(); // controllerRef uids already resolved
    const unmanaged: string[] = [];
    for (const pod of pods) {
      const ref = (pod.metadata.ownerReferences ?? []).find((o) => o.controller);
      if (!ref) {
        unmanaged.push(pod.metadata.name!);
        continue;
      }
      if (seenRefs.has(ref.uid)) continue;
      const found = await this.findController(ref, pod.metadata.namespace!);
      if (!found) {
        const msg = `found no controllers for pod "${pod.metadata.name}"`;
        this.warnOnce(pdb, 'Warning', 'NoControllers', msg);
        throw new Error(msg);
      }
      seenRefs.add(ref.uid);
      scales.set(found.uid, found.scale);
    }
    let total = 0;
    for (const n of scales.values()) total += n;
    return { total, unmanaged };
  }

  /** The controller whose scale counts for a pod: Deployment (through its ReplicaSet), ReplicaSet, StatefulSet, ReplicationController. */
  private async findController(ref: { apiVersion: string; kind: string; name: string; uid: string }, ns: string): Promise<{ uid: string; scale: number } | undefined> {
    const group = ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[0] : '';
    const get = async (r: ResourceRef, name: string) => {
      try {
        return await this.client.get(r, ns, name);
      } catch (e) {
        if (e instanceof StatusError && (e.code === 404 || e.code === 405)) return undefined;
        throw e;
      }
    };
    const replicas = (o: KObject) => {
      const n = asObj(o.spec)?.replicas;
      return typeof n === 'number' ? n : 1;
    };
    if (group === 'apps' && ref.kind === 'ReplicaSet') {
      const rs = await get(R.replicasets, ref.name);
      if (!rs || rs.metadata.uid !== ref.uid) return undefined;
      const dref = (rs.metadata.ownerReferences ?? []).find((o) => o.controller);
      if (dref && dref.kind === 'Deployment' && dref.apiVersion.startsWith('apps/')) {
        const d = await get(R.deployments, dref.name);
        if (!d || d.metadata.uid !== dref.uid) return undefined;
        return { uid: d.metadata.uid!, scale: replicas(d) };
      }
      return { uid: rs.metadata.uid!, scale: replicas(rs) };
    }
    if (group === 'apps' && ref.kind === 'StatefulSet') {
      const ss = await get(R.statefulsets, ref.name);
      return ss && ss.metadata.uid === ref.uid ? { uid: ss.metadata.uid!, scale: replicas(ss) } : undefined;
    }
    if (group === '' && ref.kind === 'ReplicationController') {
      const rc = await get(REPLICATION_CONTROLLERS, ref.name).catch(() => undefined);
      return rc && rc.metadata.uid === ref.uid ? { uid: rc.metadata.uid!, scale: replicas(rc) } : undefined;
    }
    return undefined;
  }

  /** Granted evictions still expected to happen; expired ones get a NotDeleted event. */
  private disruptedPodMap(pdb: KObject, pods: KObject[], now: number): { disrupted: Record<string, string>; recheckAt?: number } {
    const recorded = asObj(asObj(pdb.status)?.disruptedPods) ?? {};
    const disrupted: Record<string, string> = {};
    let recheckAt: number | undefined;
    for (const pod of pods) {
      if (pod.metadata.deletionTimestamp) continue; // already going
      const at = recorded[pod.metadata.name!];
      if (typeof at !== 'string') continue;
      const t = Date.parse(at);
      const expires = (Number.isNaN(t) ? 0 : t) + this.deletionTimeout;
      if (expires < now) {
        this.events(pod, 'Warning', 'NotDeleted', `Pod was expected by PDB ${pdb.metadata.namespace}/${pdb.metadata.name} to be deleted but it wasn't`);
        continue;
      }
      if (recheckAt === undefined || expires < recheckAt) recheckAt = expires;
      disrupted[pod.metadata.name!] = at;
    }
    return { disrupted, recheckAt };
  }

  private async updateStatus(pdb: KObject, currentHealthy: number, desiredHealthy: number, expectedPods: number, disruptedPods: Record<string, string>): Promise<void> {
    let disruptionsAllowed = currentHealthy - desiredHealthy;
    if (expectedPods <= 0 || disruptionsAllowed <= 0) disruptionsAllowed = 0;
    const old = asObj(pdb.status) ?? {};
    const generation = pdb.metadata.generation ?? 1;
    const status: Obj = {
      observedGeneration: generation,
      disruptedPods,
      disruptionsAllowed,
      currentHealthy,
      desiredHealthy,
      expectedPods,
      conditions: old.conditions ?? [],
    };
    status.conditions = disruptionAllowedCondition(status, rfc3339(this.now()));
    if (!Object.keys(disruptedPods).length) delete status.disruptedPods;
    const same =
      old.currentHealthy === currentHealthy &&
      old.desiredHealthy === desiredHealthy &&
      old.expectedPods === expectedPods &&
      old.disruptionsAllowed === disruptionsAllowed &&
      old.observedGeneration === generation &&
      jsonEqual(asObj(old.disruptedPods) ?? {}, disruptedPods) &&
      jsonEqual(old.conditions ?? [], status.conditions);
    if (same) return;
    await this.client.update(R.poddisruptionbudgets, pdb.metadata.namespace, { ...pdb, status }, 'status');
  }

  /** On an error: allow no disruption, and say why (upstream's failSafe). */
  private async failSafe(pdb: KObject, err: unknown): Promise<void> {
    const old = asObj(pdb.status) ?? {};
    const status: Obj = { ...old, disruptionsAllowed: 0 };
    const observedGeneration = typeof old.observedGeneration === 'number' ? old.observedGeneration : undefined;
    const c: Condition = { type: 'DisruptionAllowed', status: 'False', reason: 'SyncFailed', message: errorMessage(err) };
    if (observedGeneration !== undefined) c.observedGeneration = observedGeneration;
    status.conditions = setCondition(Array.isArray(old.conditions) ? (old.conditions as Condition[]) : [], c, rfc3339(this.now()));
    if (jsonEqual(status, old)) return;
    await this.client.update(R.poddisruptionbudgets, pdb.metadata.namespace, { ...pdb, status }, 'status');
  }
}

/** Ready pods that are not terminating and not about to be (a granted eviction). */
export function countHealthy(pods: KObject[], disrupted: Record<string, string>, now: number, timeoutMs = DELETION_TIMEOUT_MS): number {
  let n = 0;
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    const at = disrupted[pod.metadata.name!];
    if (at !== undefined && Date.parse(at) + timeoutMs > now) continue;
    if (isPodReady(pod)) n++;
  }
  return n;
}
