// Helpers of the Job controller that need no client: conditions, completion indexes and their
// interval strings ("1,3-5"), pod finish times and the pod-failure back-off record, and the
// podFailurePolicy matcher. Semantics follow upstream's pkg/controller/job.
import type { KObject } from '../../machinery/object.js';
import { podPhase } from '../pod-control.js';

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
export const COMPLETION_INDEX_KEY = 'batch.kubernetes.io/job-completion-index';
export const COMPLETION_INDEX_ENV = 'JOB_COMPLETION_INDEX';
/** Upstream's MaxUncountedPods: at most this many terminated pods are in flight per sync. */
export const MAX_UNCOUNTED_PODS = 500;
/** Upstream's MaxPodCreateDeletePerSync. */
export const MAX_POD_CREATE_DELETE_PER_SYNC = 500;

export interface JobCondition {
  type: string;
  status: string;
  lastProbeTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export type Obj = Record<string, unknown>;

export function jobSpec(job: KObject): Obj {
  return (job.spec as Obj | undefined) ?? {};
}

export function jobStatus(job: KObject): Obj {
  return (job.status as Obj | undefined) ?? {};
}

export function conditions(job: KObject): JobCondition[] {
  const c = jobStatus(job).conditions;
  return Array.isArray(c) ? (c as JobCondition[]) : [];
}

export function findCondition(job: KObject, type: string): JobCondition | undefined {
  return conditions(job).find((c) => c.type === type);
}

export function hasTrueCondition(job: KObject, type: string): boolean {
  return findCondition(job, type)?.status === 'True';
}

/** Complete or Failed (True): the Job is done for good. */
export function isJobFinished(job: KObject): boolean {
  return hasTrueCondition(job, 'Complete') || hasTrueCondition(job, 'Failed');
}

/** When the Job reached its terminal condition (ms), if it has. */
export function jobFinishTime(job: KObject): number | undefined {
  for (const c of conditions(job)) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') {
      const t = Date.parse(c.lastTransitionTime ?? '');
      if (!Number.isNaN(t)) return t;
    }
  }
  return undefined;
}

import { rfc3339 } from '../../machinery/time.js';

export { rfc3339 };

export function newCondition(type: string, status: string, reason: string, message: string, now: number): JobCondition {
  const t = rfc3339(now);
  return { type, status, lastProbeTime: t, lastTransitionTime: t, reason, message };
}

/**
 * Sets a condition of `type` (replacing one of the same type when status, reason or message
 * differ); a False condition is never added where none existed. Returns whether anything changed.
 */
export function ensureCondition(list: JobCondition[], type: string, status: string, reason: string, message: string, now: number): boolean {
  const i = list.findIndex((c) => c.type === type);
  if (i >= 0) {
    const c = list[i];
    if (c.status === status && c.reason === reason && c.message === message) return false;
    list[i] = newCondition(type, status, reason, message, now);
    return true;
  }
  if (status === 'False') return false;
  list.push(newCondition(type, status, reason, message, now));
  return true;
}

export function hasFinalizer(pod: KObject): boolean {
  return (pod.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER);
}

export function isIndexed(job: KObject): boolean {
  return jobSpec(job).completionMode === 'Indexed';
}

/** The pod's completion index (annotation, as upstream reads it), or -1. */
export function completionIndex(pod: KObject): number {
  const v = pod.metadata.annotations?.[COMPLETION_INDEX_KEY];
  if (v === undefined || !/^[0-9]+$/.test(v)) return -1;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : -1;
}

// ---------------------------------------------------------------------------------------------
// Completed indexes as interval strings
// ---------------------------------------------------------------------------------------------

/** "1,3-5" → [1,3,4,5]; indexes at or past `completions` and garbage are dropped. */
export function parseIndexes(s: string | undefined, completions: number): Set<number> {
  const out = new Set<number>();
  if (!s) return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b && i < completions; i++) out.add(i);
  }
  return out;
}

/** [1,3,4,5] → "1,3-5" (sorted; empty set → ""). */
export function formatIndexes(ix: Iterable<number>): string {
  const sorted = [...new Set(ix)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : j === i + 1 ? `${sorted[i]},${sorted[j]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

// ---------------------------------------------------------------------------------------------
// Pod failures and back-off
// ---------------------------------------------------------------------------------------------

interface ContainerStatus {
  name?: string;
  restartCount?: number;
  state?: { terminated?: { exitCode?: number; finishedAt?: string } };
  lastState?: { terminated?: { exitCode?: number; finishedAt?: string } };
}

export function containerStatuses(pod: KObject, key: 'containerStatuses' | 'initContainerStatuses'): ContainerStatus[] {
  const v = (pod.status as Obj | undefined)?.[key];
  return Array.isArray(v) ? (v as ContainerStatus[]) : [];
}

/** When the pod finished: the latest container finish, else its deletion, else `now`. */
export function podFinishTime(pod: KObject, now: number): number {
  let latest: number | undefined;
  for (const key of ['containerStatuses', 'initContainerStatuses'] as const) {
    for (const cs of containerStatuses(pod, key)) {
      const t = Date.parse(cs.state?.terminated?.finishedAt ?? '');
      if (!Number.isNaN(t) && (latest === undefined || t > latest)) latest = t;
    }
  }
  if (latest !== undefined) return latest;
  const d = Date.parse(pod.metadata.deletionTimestamp ?? '');
  return Number.isNaN(d) ? now : d;
}

/** Failures since the last success and when the last one happened (upstream's backoffRecord). */
export interface BackoffRecord {
  failuresAfterLastSuccess: number;
  lastFailureTime?: number;
}

export function nextBackoffRecord(prev: BackoffRecord | undefined, succeeded: KObject[], failed: KObject[], now: number): BackoffRecord {
  const old = prev ?? { failuresAfterLastSuccess: 0 };
  if (!succeeded.length && !failed.length) return old;
  const failTimes = failed.map((p) => podFinishTime(p, now)).sort((a, b) => a - b);
  if (succeeded.length) {
    const lastSuccess = Math.max(...succeeded.map((p) => podFinishTime(p, now)));
    const after = failTimes.filter((t) => t > lastSuccess);
    return after.length ? { failuresAfterLastSuccess: after.length, lastFailureTime: after[after.length - 1] } : { failuresAfterLastSuccess: 0 };
  }
  const last = failTimes[failTimes.length - 1];
  return {
    failuresAfterLastSuccess: old.failuresAfterLastSuccess + failTimes.length,
    lastFailureTime: old.lastFailureTime === undefined ? last : Math.max(old.lastFailureTime, last),
  };
}

/** How long pod creation must still wait: base·2^(failures−1), capped, minus the time since the last failure. */
export function backoffRemaining(rec: BackoffRecord | undefined, now: number, baseMs: number, maxMs: number): number {
  if (!rec || rec.failuresAfterLastSuccess === 0 || rec.lastFailureTime === undefined) return 0;
  const backoff = Math.min(maxMs, baseMs * 2 ** Math.min(rec.failuresAfterLastSuccess - 1, 30));
  const elapsed = Math.max(0, now - rec.lastFailureTime);
  return Math.max(0, backoff - elapsed);
}

// ---------------------------------------------------------------------------------------------
// podFailurePolicy
// ---------------------------------------------------------------------------------------------

interface PodFailurePolicyRule {
  action?: string;
  onExitCodes?: { containerName?: string; operator?: string; values?: number[] };
  onPodConditions?: { type?: string; status?: string }[];
}

export interface PolicyMatch {
  /** Set when the rule's action is FailJob: the Job fails with this message. */
  failJobMessage?: string;
  /** Whether the failure counts against backoffLimit. */
  countFailed: boolean;
  action?: string;
}

function exitCodeRuleMatches(pod: KObject, req: NonNullable<PodFailurePolicyRule['onExitCodes']>): { name: string; code: number } | undefined {
  const values = new Set(req.values ?? []);
  for (const key of ['initContainerStatuses', 'containerStatuses'] as const) {
    for (const cs of containerStatuses(pod, key)) {
      if (req.containerName && cs.name !== req.containerName) continue;
      const code = cs.state?.terminated?.exitCode;
      if (code === undefined || code === 0) continue;
      const inValues = values.has(code);
      if ((req.operator === 'In' && inValues) || (req.operator === 'NotIn' && !inValues)) return { name: cs.name ?? '', code };
    }
  }
  return undefined;
}

/** The first podFailurePolicy rule matching a failed pod decides (upstream's matchPodFailurePolicy). */
export function matchPodFailurePolicy(policy: unknown, pod: KObject): PolicyMatch {
  const rules = ((policy as { rules?: PodFailurePolicyRule[] } | undefined)?.rules ?? []) as PodFailurePolicyRule[];
  const podConds = ((pod.status as Obj | undefined)?.conditions as { type?: string; status?: string }[] | undefined) ?? [];
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    let matched: string | undefined;
    if (r.onExitCodes) {
      const m = exitCodeRuleMatches(pod, r.onExitCodes);
      if (m) matched = `Container ${m.name} for pod ${pod.metadata.namespace}/${pod.metadata.name} failed with exit code ${m.code} matching ${r.action} rule at index ${i}`;
    } else if (r.onPodConditions) {
      const c = r.onPodConditions.find((pc) => podConds.some((x) => x.type === pc.type && x.status === (pc.status ?? 'True')));
      if (c) matched = `Pod ${pod.metadata.namespace}/${pod.metadata.name} has condition ${c.type} matching ${r.action} rule at index ${i}`;
    }
    if (matched === undefined) continue;
    switch (r.action) {
      case 'FailJob':
        return { failJobMessage: matched, countFailed: true, action: r.action };
      case 'Ignore':
        return { countFailed: false, action: r.action };
      case 'Count':
        return { countFailed: true, action: r.action };
      default:
        // FailIndex needs backoffLimitPerIndex (not implemented): counted as usual.
        return { countFailed: true, action: r.action };
    }
  }
  return { countFailed: true };
}

/** Only Failed pods are replaced (podReplacementPolicy Failed, implied by a podFailurePolicy). */
export function onlyReplaceFailedPods(job: KObject): boolean {
  const s = jobSpec(job);
  return s.podReplacementPolicy === 'Failed' || (s.podFailurePolicy !== undefined && s.podFailurePolicy !== null);
}

/** Upstream's isPodFailed: Failed, or (unless only failed pods are replaced) deleted before succeeding. */
export function isPodFailed(pod: KObject, job: KObject): boolean {
  const phase = podPhase(pod);
  if (phase === 'Failed') return true;
  if (onlyReplaceFailedPods(job)) return false;
  return !!pod.metadata.deletionTimestamp && phase !== 'Succeeded';
}

/** Being deleted but not yet terminal (upstream's CountTerminatingPods). */
export function isPodTerminating(pod: KObject): boolean {
  const phase = podPhase(pod);
  return !!pod.metadata.deletionTimestamp && phase !== 'Failed' && phase !== 'Succeeded';
}
