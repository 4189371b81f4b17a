// Deployment arithmetic and bookkeeping, after upstream's deployment/util: the pod-template
// hash, revision and replica annotations, maxSurge/maxUnavailable fenceposts, proportional
// scaling fractions, conditions and completeness.
import { deepCopy, jsonEqual, type KObject } from '../../machinery/object.js';
import { rfc3339 } from '../../machinery/time.js';

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE = 'kubernetes.io/change-cause';
export const POD_TEMPLATE_HASH = 'pod-template-hash';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const ROLLBACK_TO = 'deprecated.deployment.rollback.to';
/** Longest revision-history annotation kept (upstream's default). */
export const MAX_REV_HISTORY_CHARS = 2000;

/** Reasons of the Progressing / Available / ReplicaFailure conditions, as upstream spells them. */
export const Reasons = {
  FailedRSCreate: 'ReplicaSetCreateError',
  NewReplicaSet: 'NewReplicaSetCreated',
  FoundNewRS: 'FoundNewReplicaSet',
  NewRSAvailable: 'NewReplicaSetAvailable',
  TimedOut: 'ProgressDeadlineExceeded',
  PausedDeploy: 'DeploymentPaused',
  ResumedDeploy: 'DeploymentResumed',
  RSUpdated: 'ReplicaSetUpdated',
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
} as const;

export interface DeploymentCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: DeploymentCondition[];
  collisionCount?: number;
  [k: string]: unknown;
}

type Obj = Record<string, unknown>;

export function specOf(o: KObject): Obj {
  return (o.spec as Obj | undefined) ?? {};
}

export function replicasOf(o: KObject): number {
  const n = specOf(o).replicas;
  return typeof n === 'number' ? n : 1;
}

export function statusNum(o: KObject, field: string): number {
  const n = ((o.status as Obj | undefined) ?? {})[field];
  return typeof n === 'number' ? n : 0;
}

export function templateOf(o: KObject): Obj {
  return (specOf(o).template as Obj | undefined) ?? {};
}


// --- hashing --------------------------------------------------------------------------------

/** JSON with object keys sorted, so equal templates hash equally whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Obj;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function fnv32a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const SAFE_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** Upstream's rand.SafeEncodeString: each character mapped into an alphabet without vowels or look-alikes. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const ch of s) out += SAFE_ALPHANUMS[ch.codePointAt(0)! % SAFE_ALPHANUMS.length];
  return out;
}

/**
 * The pod-template-hash: FNV-32a over the template (canonical JSON here, where upstream hashes the
 * Go struct) plus the collision count as 8 little-endian bytes, the decimal sum safe-encoded.
 */
export function computeHash(template: Obj, collisionCount?: number): string {
  let h = fnv32a(new TextEncoder().encode(canonical(template)));
  if (collisionCount !== undefined && collisionCount !== null) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(b, h);
  }
  return safeEncodeString(String(h));
}

/** Templates equal apart from the pod-template-hash label. */
export function equalIgnoreHash(a: Obj, b: Obj): boolean {
  const strip = (t: Obj) => {
    const c = deepCopy(t);
    const meta = c.metadata as Obj | undefined;
    const labels = meta?.labels as Record<string, string> | undefined;
    if (labels) {
      delete labels[POD_TEMPLATE_HASH];
      if (!Object.keys(labels).length) delete meta!.labels;
    }
    if (meta && !Object.keys(meta).length) delete c.metadata;
    return c;
  };
  return jsonEqual(strip(a), strip(b));
}

// --- revisions and annotations -----------------------------------------------------------------

export function revisionOf(o: KObject): number {
  const v = o.metadata.annotations?.[REVISION];
  const n = v === undefined ? 0 : Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : 0;
}

export function maxRevision(rss: KObject[]): number {
  return rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

function skipCopy(k: string): boolean {
  return [LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO].includes(k);
}

/** Copies the Deployment's annotations (change-cause…) onto the RS; true when something changed. */
function copyAnnotations(d: KObject, rs: KObject): boolean {
  let changed = false;
  const ann = (rs.metadata.annotations ??= {});
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (skipCopy(k) || ann[k] === v) continue;
    ann[k] = v;
    changed = true;
  }
  return changed;
}

/** Sets desired-replicas and max-replicas; true when either changed. */
export function setReplicasAnnotations(rs: KObject, desired: number, max: number): boolean {
  const ann = (rs.metadata.annotations ??= {});
  let changed = false;
  if (ann[DESIRED_REPLICAS] !== String(desired)) {
    ann[DESIRED_REPLICAS] = String(desired);
    changed = true;
  }
  if (ann[MAX_REPLICAS] !== String(max)) {
    ann[MAX_REPLICAS] = String(max);
    changed = true;
  }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: KObject, desired: number, max: number): boolean {
  const ann = rs.metadata.annotations ?? {};
  return ann[DESIRED_REPLICAS] !== String(desired) || ann[MAX_REPLICAS] !== String(max);
}

export function desiredReplicasAnnotation(rs: KObject): number | undefined {
  const v = rs.metadata.annotations?.[DESIRED_REPLICAS];
  if (v === undefined) return undefined;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : undefined;
}

function maxReplicasAnnotation(rs: KObject): number | undefined {
  const v = rs.metadata.annotations?.[MAX_REPLICAS];
  if (v === undefined) return undefined;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The new RS's annotations: the Deployment's copied over, the revision raised to `newRevision`
 * (keeping the previous one in revision-history when an old RS is reused, e.g. by `rollout undo`),
 * and for a brand-new RS the replica annotations. True when something changed.
 */
export function setNewReplicaSetAnnotations(d: KObject, rs: KObject, newRevision: number, exists: boolean, maxSurge: number): boolean {
  let changed = copyAnnotations(d, rs);
  const ann = (rs.metadata.annotations ??= {});
  const had = ann[REVISION];
  let oldRev = 0;
  if (had !== undefined && had !== '') {
    oldRev = Number.parseInt(had, 10);
    if (!Number.isFinite(oldRev)) return changed;
  }
  if (oldRev < newRevision) {
    ann[REVISION] = String(newRevision);
    changed = true;
    if (had !== undefined && had !== '') {
      const hist = ann[REVISION_HISTORY] ?? '';
      let parts = hist === '' ? [] : hist.split(',');
      let total = hist.length + had.length + 1;
      let start = 0;
      while (parts.length && total > MAX_REV_HISTORY_CHARS && start < parts.length) {
        total -= parts[start].length + 1;
        start++;
      }
      if (total <= MAX_REV_HISTORY_CHARS) {
        parts = [...parts.slice(start), had];
        ann[REVISION_HISTORY] = parts.join(',');
      }
    }
  }
  if (!exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurge)) changed = true;
  return changed;
}

// --- surge and unavailability -------------------------------------------------------------------

/** An int-or-percent scaled against `total`: percentages round up or down as asked. */
export function scaledValue(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const m = /^(\d+)%$/.exec(v);
    if (m) {
      const x = (Number(m[1]) * total) / 100;
      return roundUp ? Math.ceil(x) : Math.floor(x);
    }
    const n = Number.parseInt(v, 10);
    if (Number.isFinite(n)) return n;
  }
  return 0;
}

export function isRollingUpdate(d: KObject): boolean {
  const s = specOf(d).strategy as Obj | undefined;
  return (s?.type ?? 'RollingUpdate') === 'RollingUpdate';
}

/** [maxSurge, maxUnavailable] for `desired` replicas: surge rounds up, unavailable down; both 0 → 1 unavailable. */
export function resolveFenceposts(d: KObject, desired: number): [number, number] {
  const ru = ((specOf(d).strategy as Obj | undefined)?.rollingUpdate as Obj | undefined) ?? {};
  const surge = scaledValue(ru.maxSurge ?? '25%', desired, true);
  let unavailable = scaledValue(ru.maxUnavailable ?? '25%', desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, unavailable];
}

export function maxSurge(d: KObject): number {
  if (!isRollingUpdate(d)) return 0;
  return resolveFenceposts(d, replicasOf(d))[0];
}

export function maxUnavailable(d: KObject): number {
  const r = replicasOf(d);
  if (!isRollingUpdate(d) || r === 0) return 0;
  return Math.min(resolveFenceposts(d, r)[1], r);
}

// --- replica counts -----------------------------------------------------------------------------

export const sumSpecReplicas = (rss: (KObject | undefined)[]) => rss.reduce((n, rs) => n + (rs ? replicasOf(rs) : 0), 0);
export const sumStatus = (rss: (KObject | undefined)[], field: string) => rss.reduce((n, rs) => n + (rs ? statusNum(rs, field) : 0), 0);

export function activeReplicaSets(rss: (KObject | undefined)[]): KObject[] {
  return rss.filter((rs): rs is KObject => !!rs && replicasOf(rs) > 0);
}

function created(o: KObject): number {
  const t = Date.parse(o.metadata.creationTimestamp ?? '');
  return Number.isNaN(t) ? 0 : t;
}

/** Oldest first; ties by name. */
export function byCreation(a: KObject, b: KObject): number {
  return created(a) - created(b) || (a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0);
}

/** Lowest revision first; ties by creation. */
export function byRevision(a: KObject, b: KObject): number {
  return revisionOf(a) - revisionOf(b) || byCreation(a, b);
}

/** Largest first, ties newest first (for scaling up proportionally). */
export function bySizeNewer(a: KObject, b: KObject): number {
  return replicasOf(b) - replicasOf(a) || byCreation(b, a);
}

/** Largest first, ties oldest first (for scaling down proportionally). */
export function bySizeOlder(a: KObject, b: KObject): number {
  return replicasOf(b) - replicasOf(a) || byCreation(a, b);
}

/** Replicas the new RS may have now under the strategy. */
export function newRSNewReplicas(d: KObject, all: KObject[], newRS: KObject): number {
  if (!isRollingUpdate(d)) return replicasOf(d);
  const desired = replicasOf(d);
  const [surge] = resolveFenceposts(d, desired);
  const current = sumSpecReplicas(all);
  const maxTotal = desired + surge;
  if (current >= maxTotal) return replicasOf(newRS);
  const up = Math.min(maxTotal - current, desired - replicasOf(newRS));
  return replicasOf(newRS) + up;
}

/** Go's math.Round: halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function replicaSetFraction(rs: KObject, d: KObject): number {
  if (replicasOf(d) === 0) return -replicasOf(rs);
  const deploymentReplicas = replicasOf(d) + maxSurge(d);
  const annotated = maxReplicasAnnotation(rs) ?? statusNum(d, 'replicas');
  if (!annotated) return 0;
  return roundHalfAway((replicasOf(rs) * deploymentReplicas) / annotated) - replicasOf(rs);
}

/** How many replicas `rs` gains (or loses) in a proportional scale. */
export function proportion(rs: KObject, d: KObject, toAdd: number, added: number): number {
  if (replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const f = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(f, allowed) : Math.max(f, allowed);
}

/** The new RS already runs the whole Deployment. */
export function isSaturated(d: KObject, rs: KObject | undefined): boolean {
  if (!rs) return false;
  const desired = desiredReplicasAnnotation(rs);
  const r = replicasOf(d);
  return desired === r && replicasOf(rs) === r && statusNum(rs, 'availableReplicas') === r;
}

// --- conditions -----------------------------------------------------------------------------------

export function getCondition(status: DeploymentStatus, type: string): DeploymentCondition | undefined {
  return status.conditions?.find((c) => c.type === type);
}

export function newCondition(type: string, status: DeploymentCondition['status'], reason: string, message: string): DeploymentCondition {
  const t = rfc3339();
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/** Upstream's SetDeploymentCondition: same status and reason → untouched; same status → keep transition time. */
export function setCondition(status: DeploymentStatus, c: DeploymentCondition): void {
  const cur = getCondition(status, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  if (cur && cur.status === c.status) c.lastTransitionTime = cur.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), c];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  if (!status.conditions) return;
  status.conditions = status.conditions.filter((c) => c.type !== type);
  if (!status.conditions.length) delete status.conditions;
}

export function hasProgressDeadline(d: KObject): boolean {
  const p = specOf(d).progressDeadlineSeconds;
  return typeof p === 'number' && p !== 2147483647;
}

/** Every replica updated, available, and nothing older left. */
export function deploymentComplete(d: KObject, s: DeploymentStatus): boolean {
  const r = replicasOf(d);
  return (s.updatedReplicas ?? 0) === r && (s.replicas ?? 0) === r && (s.availableReplicas ?? 0) === r && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** Something moved since the last status: more updated, fewer old, more ready or available. */
export function deploymentProgressing(d: KObject, s: DeploymentStatus): boolean {
  const old = (d.status as DeploymentStatus | undefined) ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (
    (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

/** The Progressing condition has not moved for progressDeadlineSeconds. */
export function deploymentTimedOut(d: KObject, s: DeploymentStatus, now = Date.now()): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, 'Progressing');
  if (!c) return false;
  if (c.reason === Reasons.NewRSAvailable) return false;
  if (c.reason === Reasons.TimedOut) return true;
  const from = Date.parse(c.lastUpdateTime ?? '');
  if (Number.isNaN(from)) return false;
  return from + (specOf(d).progressDeadlineSeconds as number) * 1000 < now;
}
