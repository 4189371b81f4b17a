// The Job controller, as upstream's pkg/controller/job: run pods from the template until
// `completions` of them succeed (or, without completions, until one succeeds and none run), at
// most `parallelism` at a time, Indexed or not. Pods carry the batch.kubernetes.io/job-tracking
// finalizer so every terminated pod is counted exactly once: it goes to
// status.uncountedTerminatedPods, its finalizer is removed, then it moves into the counters.
// Failures are retried with exponential back-off until backoffLimit; activeDeadlineSeconds,
// suspend and podFailurePolicy (FailJob/Ignore/Count) act as upstream. Terminal conditions are
// preceded by the interim SuccessCriteriaMet / FailureTarget conditions (1.31+), and the
// terminal one is only added once no pod of the Job is still terminating.
import { StatusError } from '../../machinery/errors.js';
import { deepCopy, jsonEqual, type KObject } from '../../machinery/object.js';
import { compileLabelSelector, type LabelSelector } from '../../machinery/selectors.js';
import { R, type ApiClient } from '../../client/client.js';
import { Informer, cacheKey } from '../../client/informer.js';
import { WorkQueue } from '../../client/workqueue.js';
import { claimObjects, freshOwnerCheck, getControllerOf, newControllerRef, resolveControllerRef } from '../controller-ref.js';
import {
  ControllerExpectations,
  PodControl,
  clientEventSink,
  errorMessage,
  isNamespaceTerminating,
  isPodActive,
  isPodReady,
  podFromTemplate,
  podPhase,
  podsToDelete,
  slowStartBatch,
  type EventSink,
} from '../pod-control.js';
import { fresher } from '../replicaset.js';
import {
  COMPLETION_INDEX_ENV,
  COMPLETION_INDEX_KEY,
  JOB_TRACKING_FINALIZER,
  MAX_POD_CREATE_DELETE_PER_SYNC,
  MAX_UNCOUNTED_PODS,
  backoffRemaining,
  completionIndex,
  containerStatuses,
  ensureCondition,
  findCondition,
  formatIndexes,
  hasFinalizer,
  hasTrueCondition,
  isIndexed,
  isJobFinished,
  isPodFailed,
  isPodTerminating,
  jobSpec,
  matchPodFailurePolicy,
  newCondition,
  nextBackoffRecord,
  onlyReplaceFailedPods,
  parseIndexes,
  rfc3339,
  type BackoffRecord,
  type JobCondition,
  type Obj,
} from './util.js';

export interface JobControllerOptions {
  /** Concurrent syncs (distinct Jobs); default 4. */
  workers?: number;
  events?: EventSink;
  log?: (line: string) => void;
  /** The clock (ms since epoch); default Date.now. */
  now?: () => number;
  /** First pod-failure back-off (upstream 10 s); doubles per failure since the last success. */
  backoffBaseMs?: number;
  /** Back-off cap (6 min). */
  backoffMaxMs?: number;
  /** Share informers with other controllers of the same process. */
  informers?: { pods?: Informer; jobs?: Informer };
}

const COMPONENT = 'job-controller';
const GROUP_VERSION = 'batch/v1';

interface Uncounted {
  succeeded: string[];
  failed: string[];
}

/** Everything one sync learns about a Job and its pods. */
interface SyncCtx {
  key: string;
  job: KObject;
  pods: KObject[];
  activePods: KObject[];
  active: number;
  ready: number;
  terminating: number;
  succeeded: number;
  expectedRm: Set<string>;
  uncountedAtStart: { succeeded: Set<string>; failed: Set<string> };
  prevSucceededIndexes: Set<number>;
  succeededIndexes: Set<number>;
  finished?: JobCondition;
  backoff: BackoffRecord;
}

function num(v: unknown, dflt = 0): number {
  return typeof v === 'number' ? v : dflt;
}

function status(job: KObject): Obj {
  if (!job.status || typeof job.status !== 'object') job.status = {};
  return job.status as Obj;
}

function uncounted(job: KObject): Uncounted {
  const st = status(job);
  const u = (st.uncountedTerminatedPods as Partial<Uncounted> | undefined) ?? {};
  const out: Uncounted = { succeeded: [...(u.succeeded ?? [])], failed: [...(u.failed ?? [])] };
  return out;
}

function setUncounted(job: KObject, u: Uncounted): void {
  const o: Obj = {};
  if (u.succeeded.length) o.succeeded = u.succeeded;
  if (u.failed.length) o.failed = u.failed;
  status(job).uncountedTerminatedPods = o;
}

/** Moves uncounted UIDs whose pods no longer carry the finalizer into the counters. */
function cleanUncounted(job: KObject, withFinalizer: Set<string>): boolean {
  const u = uncounted(job);
  const st = status(job);
  const s = u.succeeded.filter((uid) => withFinalizer.has(uid));
  const f = u.failed.filter((uid) => withFinalizer.has(uid));
  if (s.length === u.succeeded.length && f.length === u.failed.length) return false;
  st.succeeded = num(st.succeeded) + (u.succeeded.length - s.length);
  st.failed = num(st.failed) + (u.failed.length - f.length);
  setUncounted(job, { succeeded: s, failed: f });
  return true;
}

/** Zero counters are omitted as the Go types' omitempty does (ready/terminating are pointers). */
function normalizeStatus(st: Obj): void {
  for (const k of ['active', 'succeeded', 'failed']) if (st[k] === 0) delete st[k];
  if (st.completedIndexes === '') delete st.completedIndexes;
  if (Array.isArray(st.conditions) && st.conditions.length === 0) delete st.conditions;
}

function pastBackoffLimitOnFailure(job: KObject, pods: KObject[]): boolean {
  const tpl = jobSpec(job).template as { spec?: { restartPolicy?: string } } | undefined;
  if (tpl?.spec?.restartPolicy !== 'OnFailure') return false;
  let restarts = 0;
  for (const p of pods) {
    const phase = podPhase(p);
    if (phase !== 'Running' && phase !== 'Pending') continue;
    for (const key of ['initContainerStatuses', 'containerStatuses'] as const)
      for (const cs of containerStatuses(p, key)) restarts += num(cs.restartCount);
  }
  const limit = num(jobSpec(job).backoffLimit, 6);
  return limit === 0 ? restarts > 0 : restarts >= limit;
}

/** Adds JOB_COMPLETION_INDEX (downward API from the index label) to every container lacking it. */
function addCompletionIndexEnv(template: Obj): void {
  const spec = (template.spec as Obj | undefined) ?? {};
  for (const key of ['containers', 'initContainers']) {
    const list = spec[key];
    if (!Array.isArray(list)) continue;
    for (const c of list as Obj[]) {
      const env = Array.isArray(c.env) ? (c.env as Obj[]) : [];
      if (env.some((e) => e.name === COMPLETION_INDEX_ENV)) continue;
      env.push({ name: COMPLETION_INDEX_ENV, valueFrom: { fieldRef: { fieldPath: `metadata.labels['${COMPLETION_INDEX_KEY}']` } } });
      c.env = env;
    }
  }
}

export class JobController {
  readonly pods: Informer;
  readonly jobs: Informer;
  private queue: WorkQueue;
  private orphanQueue: WorkQueue;
  private expectations = new ControllerExpectations();
  /** UIDs of pods whose finalizer removal was sent but not yet observed, per Job. */
  private rmFinalizers = new Map<string, Set<string>>();
  private backoff = new Map<string, BackoffRecord>();
  private written = new Map<string, KObject>();
  private podControl: PodControl;
  private events: EventSink;
  private ownInformers: Informer[] = [];
  private ready = false;
  private log: (line: string) => void;
  private now: () => number;
  private backoffBase: number;
  private backoffMax: number;

  constructor(
    private client: ApiClient,
    opts: JobControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
    this.backoffBase = opts.backoffBaseMs ?? 10_000;
    this.backoffMax = opts.backoffMaxMs ?? 6 * 60_000;
    this.events = opts.events ?? clientEventSink(client, COMPONENT);
    this.podControl = new PodControl(client, this.events);
    this.pods = opts.informers?.pods ?? this.own(new Informer(client, R.pods));
    this.jobs = opts.informers?.jobs ?? this.own(new Informer(client, R.jobs));
    const onError = (k: string, e: unknown) => {
      if (!(e instanceof StatusError && e.code === 409)) this.log(`${COMPONENT}: sync ${k}: ${errorMessage(e)}`);
    };
    this.queue = new WorkQueue((k) => this.sync(k), opts.workers ?? 4, 20, 10_000, onError);
    this.orphanQueue = new WorkQueue((k) => this.syncOrphanPod(k), 2, 20, 10_000, onError);
    this.jobs.on({
      onAdd: (j) => this.enqueue(j),
      onUpdate: (j) => this.enqueue(j),
      onDelete: (j) => this.jobDeleted(j),
    });
    this.pods.on({
      onAdd: (p) => this.podAdded(p),
      onUpdate: (p, old) => this.podUpdated(p, old),
      onDelete: (p) => this.podDeleted(p),
    });
  }

  private own(i: Informer): Informer {
    this.ownInformers.push(i);
    return i;
  }

  async start(): Promise<void> {
    await Promise.all(this.ownInformers.map((i) => i.start()));
    this.ready = true;
    for (const j of this.jobs.list()) this.enqueue(j);
    for (const p of this.pods.list()) if (hasFinalizer(p) && !this.ownerOf(p)) this.orphanQueue.add(cacheKey(p));
  }

  stop(): void {
    this.ready = false;
    this.queue.stop();
    this.orphanQueue.stop();
    for (const i of this.ownInformers) i.stop();
  }

  /** Resolves when no sync is queued or running (tests). */
  async idle(): Promise<void> {
    await this.queue.idle();
    await this.orphanQueue.idle();
  }

  private enqueue(job: KObject): void {
    if (this.ready) this.queue.add(cacheKey(job));
  }

  // --- events ---------------------------------------------------------------------------------

  private jobDeleted(job: KObject): void {
    const key = cacheKey(job);
    this.expectations.forget(key);
    this.rmFinalizers.delete(key);
    this.backoff.delete(key);
    this.written.delete(key);
    // Its pods keep the tracking finalizer until someone removes it.
    if (!this.ready) return;
    for (const p of this.pods.list(job.metadata.namespace))
      if (hasFinalizer(p) && getControllerOf(p)?.uid === job.metadata.uid) this.orphanQueue.add(cacheKey(p));
  }

  private ownerOf(pod: KObject): KObject | undefined {
    return resolveControllerRef(getControllerOf(pod), 'Job', (name) => this.jobs.get(pod.metadata.namespace, name));
  }

  private finalizerRemovalObserved(jobKey: string, uid: string | undefined): void {
    if (uid) this.rmFinalizers.get(jobKey)?.delete(uid);
  }

  private podAdded(pod: KObject): void {
    const job = this.ownerOf(pod);
    if (job) {
      const key = cacheKey(job);
      if (pod.metadata.deletionTimestamp) this.expectations.deletionObserved(key, cacheKey(pod));
      else this.expectations.creationObserved(key);
      this.enqueue(job);
      return;
    }
    if (hasFinalizer(pod) && this.ready) this.orphanQueue.add(cacheKey(pod));
    if (!getControllerOf(pod)) for (const j of this.matchingJobs(pod)) this.enqueue(j);
  }

  private podUpdated(pod: KObject, old: KObject): void {
    const job = this.ownerOf(pod);
    const oldJob = this.ownerOf(old);
    if (oldJob && oldJob.metadata.uid !== job?.metadata.uid) this.enqueue(oldJob);
    if (job) {
      const key = cacheKey(job);
      if (pod.metadata.deletionTimestamp && !old.metadata.deletionTimestamp) this.expectations.deletionObserved(key, cacheKey(pod));
      if (!hasFinalizer(pod)) this.finalizerRemovalObserved(key, pod.metadata.uid);
      this.enqueue(job);
      return;
    }
    if (hasFinalizer(pod) && this.ready) this.orphanQueue.add(cacheKey(pod));
    if (!getControllerOf(pod) && !jsonEqual(pod.metadata.labels ?? {}, old.metadata.labels ?? {})) for (const j of this.matchingJobs(pod)) this.enqueue(j);
  }

  private podDeleted(pod: KObject): void {
    const job = this.ownerOf(pod);
    if (!job) return;
    const key = cacheKey(job);
    this.expectations.deletionObserved(key, cacheKey(pod));
    this.finalizerRemovalObserved(key, pod.metadata.uid);
    this.enqueue(job);
  }

  private matchingJobs(pod: KObject): KObject[] {
    return this.jobs
      .list(pod.metadata.namespace)
      .filter((j) => compileLabelSelector(jobSpec(j).selector as LabelSelector | undefined)(pod.metadata.labels));
  }

  /** A pod with the tracking finalizer whose Job is gone or finished: drop the finalizer. */
  private async syncOrphanPod(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const pod = this.pods.get(ns, name);
    if (!pod || !hasFinalizer(pod)) return;
    const ref = getControllerOf(pod);
    if (ref) {
      if (ref.kind !== 'Job' || ref.apiVersion !== GROUP_VERSION) return;
      const job = this.ownerOf(pod);
      if (job && !isJobFinished(job)) return; // adopted / still tracked by its Job
    }
    await this.patchOutFinalizer(pod);
  }

  private async patchOutFinalizer(pod: KObject): Promise<void> {
    const body = { metadata: { [`$deleteFromPrimitiveList/finalizers`]: [JOB_TRACKING_FINALIZER] } };
    await this.client.patch(R.pods, pod.metadata.namespace, pod.metadata.name!, 'application/strategic-merge-patch+json', body);
  }

  // --- sync -----------------------------------------------------------------------------------

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const cached = this.jobs.get(ns, name);
    if (!cached) {
      this.expectations.forget(key);
      this.rmFinalizers.delete(key);
      this.backoff.delete(key);
      this.written.delete(key);
      return;
    }
    const job = deepCopy(fresher(cached, this.written.get(key))!);
    if (isJobFinished(job)) {
      // Pods that still carry the finalizer (e.g. a controller restart mid-way) are released.
      const left = this.pods.list(ns).filter((p) => hasFinalizer(p) && getControllerOf(p)?.uid === job.metadata.uid);
      if (left.length) await this.removeFinalizers(key, left);
      return;
    }
    const now = this.now();
    const spec = jobSpec(job);
    const st = status(job);
    const original = deepCopy(st);
    const suspended = spec.suspend === true;
    const satisfied = this.expectations.satisfied(key);

    const pods = await this.podsForJob(job);
    const expectedRm = this.rmFinalizers.get(key) ?? new Set<string>();
    const unc = uncounted(job);
    const uncAtStart = { succeeded: new Set(unc.succeeded), failed: new Set(unc.failed) };
    const indexed = isIndexed(job);
    const completions = typeof spec.completions === 'number' ? spec.completions : undefined;
    const validIndex = (p: KObject) => {
      if (!indexed) return true;
      const ix = completionIndex(p);
      return ix >= 0 && ix < (completions ?? 0);
    };
    const fresh = (p: KObject, set: Set<string>) => hasFinalizer(p) && !set.has(p.metadata.uid!) && !expectedRm.has(p.metadata.uid!) && validIndex(p);
    const newSucceeded = pods.filter((p) => fresh(p, uncAtStart.succeeded) && podPhase(p) === 'Succeeded');
    const newFailed = pods.filter((p) => fresh(p, uncAtStart.failed) && isPodFailed(p, job));
    const policy = spec.podFailurePolicy;
    const countedFailures = policy ? newFailed.filter((p) => matchPodFailurePolicy(policy, p).countFailed).length : newFailed.length;
    const activePods = pods.filter(isPodActive);
    const ctx: SyncCtx = {
      key,
      job,
      pods,
      activePods,
      active: activePods.length,
      ready: activePods.filter(isPodReady).length,
      terminating: pods.filter(isPodTerminating).length,
      succeeded: num(st.succeeded) + newSucceeded.length + unc.succeeded.length,
      expectedRm,
      uncountedAtStart: uncAtStart,
      prevSucceededIndexes: new Set(),
      succeededIndexes: new Set(),
      backoff: nextBackoffRecord(this.backoff.get(key), newSucceeded, newFailed, now),
    };
    const failed = num(st.failed) + countedFailures + unc.failed.length;
    if (!st.startTime && !suspended) st.startTime = rfc3339(now);
    if (!st.uncountedTerminatedPods) st.uncountedTerminatedPods = {};

    // Success or failure decided earlier, a podFailurePolicy FailJob, back-off limit, deadline.
    const successMet = findCondition(job, 'SuccessCriteriaMet');
    if (successMet?.status === 'True') ctx.finished = successMet;
    else {
      const target = findCondition(job, 'FailureTarget');
      if (target?.status === 'True') ctx.finished = newCondition('Failed', 'True', target.reason ?? '', target.message ?? '', now);
      else if (policy) {
        for (const p of pods) {
          if (!isPodFailed(p, job)) continue;
          const m = matchPodFailurePolicy(policy, p);
          if (m.failJobMessage) {
            ctx.finished = newCondition('FailureTarget', 'True', 'PodFailurePolicy', m.failJobMessage, now);
            break;
          }
        }
      }
    }
    if (!ctx.finished) {
      const deadline = typeof spec.activeDeadlineSeconds === 'number' ? spec.activeDeadlineSeconds * 1000 : undefined;
      const started = Date.parse((st.startTime as string | undefined) ?? '');
      if (failed > num(spec.backoffLimit, 6) || pastBackoffLimitOnFailure(job, pods)) {
        ctx.finished = newCondition('FailureTarget', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now);
      } else if (deadline !== undefined && !suspended && !Number.isNaN(started)) {
        if (now - started >= deadline) ctx.finished = newCondition('FailureTarget', 'True', 'DeadlineExceeded', 'Job was active longer than specified deadline', now);
        else this.queue.addAfter(key, deadline - (now - started) + 10);
      }
    }
    if (indexed) {
      ctx.prevSucceededIndexes = parseIndexes(st.completedIndexes as string | undefined, completions ?? 0);
      ctx.succeededIndexes = new Set(ctx.prevSucceededIndexes);
      for (const p of pods) if (podPhase(p) === 'Succeeded' && hasFinalizer(p) && validIndex(p)) ctx.succeededIndexes.add(completionIndex(p));
      ctx.succeeded = ctx.succeededIndexes.size;
    }

    let manageErr: unknown;
    let suspendChanged = false;
    if (ctx.finished) {
      const r = await this.deleteActivePods(job, activePods);
      if (r.deleted !== ctx.active || !satisfied) ctx.finished = undefined; // wait for the cache to catch up
      ctx.active -= r.deleted;
      ctx.terminating += r.deleted;
      ctx.ready -= r.deletedReady;
      manageErr = r.error;
    } else {
      let manageCalled = false;
      if (satisfied && !job.metadata.deletionTimestamp) {
        try {
          await this.manageJob(ctx);
        } catch (e) {
          manageErr = e;
        }
        manageCalled = true;
      }
      const complete = completions === undefined ? ctx.succeeded > 0 && ctx.active === 0 : ctx.succeeded >= completions && ctx.active === 0;
      if (complete) {
        ctx.finished = newCondition('SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
      } else if (manageCalled) {
        const conds = Array.isArray(st.conditions) ? (st.conditions as JobCondition[]) : [];
        if (suspended) {
          if (ensureCondition(conds, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now)) {
            suspendChanged = true;
            this.events(job, 'Normal', 'Suspended', 'Job suspended');
          }
        } else if (ensureCondition(conds, 'Suspended', 'False', 'JobResumed', 'Job resumed', now)) {
          suspendChanged = true;
          this.events(job, 'Normal', 'Resumed', 'Job resumed');
          // activeDeadlineSeconds counts continuous activity: resuming restarts the clock.
          st.startTime = rfc3339(now);
        }
        if (conds.length) st.conditions = conds;
      }
    }

    st.active = ctx.active;
    st.ready = ctx.ready;
    st.terminating = ctx.terminating;
    normalizeStatus(st);
    const needsFlush = suspendChanged || !jsonEqual(original, st);
    await this.trackStatusAndRemoveFinalizers(ctx, needsFlush, now);
    if (manageErr) throw manageErr;
  }

  /** The Job's pods (any phase): owned ones that match, plus matching orphans it adopts. */
  private async podsForJob(job: KObject): Promise<KObject[]> {
    const selector = compileLabelSelector(jobSpec(job).selector as LabelSelector | undefined);
    return claimObjects(this.pods.list(job.metadata.namespace), {
      client: this.client,
      resource: R.pods,
      owner: job,
      ownerRef: newControllerRef(job, GROUP_VERSION, 'Job'),
      selector,
      canAdopt: freshOwnerCheck(this.client, R.jobs, job),
    });
  }

  private async manageJob(ctx: SyncCtx): Promise<void> {
    const { job, key } = ctx;
    const spec = jobSpec(job);
    if (spec.suspend === true) {
      const r = await this.deleteJobPods(key, job, ctx.activePods);
      ctx.active -= r.deleted;
      ctx.terminating += r.deleted;
      ctx.ready -= r.deletedReady;
      if (r.error) throw r.error;
      return;
    }
    const parallelism = num(spec.parallelism, 1);
    const completions = typeof spec.completions === 'number' ? spec.completions : undefined;
    let wantActive: number;
    if (completions === undefined) wantActive = ctx.succeeded > 0 ? ctx.active : parallelism;
    else wantActive = Math.max(0, Math.min(completions - ctx.succeeded, parallelism));

    const rm = this.activePodsForRemoval(job, ctx.activePods, Math.max(0, ctx.active - wantActive)).slice(0, MAX_POD_CREATE_DELETE_PER_SYNC);
    if (rm.length) {
      const r = await this.deleteJobPods(key, job, rm);
      ctx.active -= r.deleted;
      ctx.terminating += r.deleted;
      ctx.ready -= r.deletedReady;
      if (r.error) throw r.error;
      return; // deletions and creations never in the same sync
    }

    const terminating = onlyReplaceFailedPods(job) ? ctx.terminating : 0;
    let diff = wantActive - terminating - ctx.active;
    if (diff <= 0) return;
    const wait = backoffRemaining(ctx.backoff, this.now(), this.backoffBase, this.backoffMax);
    if (wait > 0) {
      this.queue.addAfter(key, wait);
      return;
    }
    diff = Math.min(diff, MAX_POD_CREATE_DELETE_PER_SYNC);
    let indexes: number[] = [];
    if (isIndexed(job)) {
      indexes = this.firstPendingIndexes(ctx, diff, completions ?? 0);
      diff = indexes.length;
      if (!diff) return;
    }
    const template = deepCopy((spec.template as Obj | undefined) ?? {});
    const meta = ((template.metadata as Obj | undefined) ?? {}) as Obj;
    template.metadata = meta;
    const fins = Array.isArray(meta.finalizers) ? (meta.finalizers as string[]) : [];
    if (!fins.includes(JOB_TRACKING_FINALIZER)) fins.push(JOB_TRACKING_FINALIZER);
    meta.finalizers = fins;
    if (isIndexed(job)) addCompletionIndexEnv(template);

    this.expectations.expectCreations(key, diff);
    const ns = job.metadata.namespace!;
    const ref = newControllerRef(job, GROUP_VERSION, 'Job');
    let next = 0;
    const { successes, error } = await slowStartBatch(diff, 1, async () => {
      const ix = isIndexed(job) ? indexes[next++] : -1;
      let tpl = template;
      let prefix = job.metadata.name!;
      if (ix >= 0) {
        tpl = deepCopy(template);
        const m = tpl.metadata as Obj;
        m.annotations = { ...((m.annotations as Record<string, string> | undefined) ?? {}), [COMPLETION_INDEX_KEY]: String(ix) };
        m.labels = { ...((m.labels as Record<string, string> | undefined) ?? {}), [COMPLETION_INDEX_KEY]: String(ix) };
        const podSpec = (tpl.spec as Obj | undefined) ?? {};
        podSpec.hostname = `${job.metadata.name}-${ix}`;
        tpl.spec = podSpec;
        prefix = `${job.metadata.name}-${ix}`;
      }
      try {
        await this.createPod(ns, tpl, prefix, job, ref);
      } catch (e) {
        if (isNamespaceTerminating(e)) return;
        throw e;
      }
    });
    ctx.active += successes;
    for (let i = successes; i < diff; i++) this.expectations.creationObserved(key);
    if (error) throw error;
  }

  /** PodControl.createPod with upstream's per-index generateName (`<job>-<index>-`). */
  private async createPod(ns: string, template: Obj, prefix: string, job: KObject, ref: ReturnType<typeof newControllerRef>): Promise<KObject> {
    if (prefix === job.metadata.name) return this.podControl.createPod(ns, template, job, ref);
    const pod = podFromTemplate(template, prefix, ref);
    try {
      const created = await this.client.create(R.pods, ns, pod);
      this.events(job, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
      return created;
    } catch (e) {
      this.events(job, 'Warning', 'FailedCreate', `Error creating: ${errorMessage(e)}`);
      throw e;
    }
  }

  /** Lowest indexes neither succeeded nor held by an active pod. */
  private firstPendingIndexes(ctx: SyncCtx, count: number, completions: number): number[] {
    const taken = new Set(ctx.succeededIndexes);
    for (const p of ctx.activePods) taken.add(completionIndex(p));
    const out: number[] = [];
    for (let i = 0; i < completions && out.length < count; i++) if (!taken.has(i)) out.push(i);
    return out;
  }

  /** Indexed: duplicates and out-of-range indexes go first; then upstream's deletion ranking. */
  private activePodsForRemoval(job: KObject, pods: KObject[], atLeast: number): KObject[] {
    const rm: KObject[] = [];
    let left = pods;
    if (isIndexed(job)) {
      const completions = num(jobSpec(job).completions);
      const seen = new Set<number>();
      left = [];
      const sorted = [...pods].sort((a, b) => completionIndex(a) - completionIndex(b) || (isPodReady(b) ? 1 : 0) - (isPodReady(a) ? 1 : 0));
      for (const p of sorted) {
        const ix = completionIndex(p);
        if (ix < 0 || ix >= completions || seen.has(ix)) rm.push(p);
        else {
          seen.add(ix);
          left.push(p);
        }
      }
    }
    if (rm.length < atLeast) rm.push(...podsToDelete(left, left, atLeast - rm.length, this.now()));
    return rm;
  }

  /** Deletes pods the Job no longer wants, dropping their finalizer first so they are not counted as failures. */
  private async deleteJobPods(key: string, job: KObject, pods: KObject[]): Promise<{ deleted: number; deletedReady: number; error?: unknown }> {
    if (!pods.length) return { deleted: 0, deletedReady: 0 };
    this.expectations.expectDeletions(key, pods.map(cacheKey));
    let deleted = 0;
    let deletedReady = 0;
    let error: unknown;
    await Promise.all(
      pods.map(async (p) => {
        try {
          if (hasFinalizer(p)) await this.patchOutFinalizer(p);
          await this.podControl.deletePod(p.metadata.namespace!, p.metadata.name!, job);
          deleted++;
          if (isPodReady(p)) deletedReady++;
        } catch (e) {
          this.expectations.deletionObserved(key, cacheKey(p));
          if (e instanceof StatusError && e.code === 404) {
            deleted++;
            return;
          }
          error ??= e;
        }
      }),
    );
    return { deleted, deletedReady, error };
  }

  /** Deletes the active pods of a finishing Job, keeping finalizers (they are counted as failed). */
  private async deleteActivePods(job: KObject, pods: KObject[]): Promise<{ deleted: number; deletedReady: number; error?: unknown }> {
    let deleted = 0;
    let deletedReady = 0;
    let error: unknown;
    await Promise.all(
      pods.map(async (p) => {
        try {
          await this.podControl.deletePod(p.metadata.namespace!, p.metadata.name!, job);
          deleted++;
          if (isPodReady(p)) deletedReady++;
        } catch (e) {
          error ??= e;
        }
      }),
    );
    return { deleted, deletedReady, error };
  }

  /** Removes the tracking finalizer; returns the UIDs for which it is gone (a vanished pod counts). */
  private async removeFinalizers(key: string, pods: KObject[]): Promise<{ removed: Set<string>; error?: unknown }> {
    const removed = new Set<string>();
    let error: unknown;
    let expected = this.rmFinalizers.get(key);
    if (!expected) this.rmFinalizers.set(key, (expected = new Set()));
    for (const p of pods) expected.add(p.metadata.uid!);
    await Promise.all(
      pods.map(async (p) => {
        try {
          await this.patchOutFinalizer(p);
          removed.add(p.metadata.uid!);
        } catch (e) {
          expected!.delete(p.metadata.uid!);
          if (e instanceof StatusError && e.code === 404) removed.add(p.metadata.uid!);
          else error ??= e;
        }
      }),
    );
    return { removed, error };
  }

  private async writeStatus(ctx: SyncCtx): Promise<void> {
    normalizeStatus(status(ctx.job));
    const saved = await this.client.update(R.jobs, ctx.job.metadata.namespace, ctx.job, 'status');
    this.written.set(ctx.key, saved);
    ctx.job = deepCopy(saved);
  }

  /**
   * Upstream's trackJobStatusAndRemoveFinalizers: (1) record newly terminated pods in
   * uncountedTerminatedPods (and the interim condition) and flush, (2) remove their finalizers,
   * (3) move them into the counters, (4) add the terminal condition once nothing is uncounted or
   * terminating.
   */
  private async trackStatusAndRemoveFinalizers(ctx: SyncCtx, needsFlush: boolean, now: number): Promise<void> {
    const job = ctx.job;
    const indexed = isIndexed(job);
    const completions = num(jobSpec(job).completions);
    const pods = indexed ? [...ctx.pods].sort((a, b) => completionIndex(a) - completionIndex(b)) : ctx.pods;
    const withFinalizer = new Set(pods.filter((p) => hasFinalizer(p) && !ctx.expectedRm.has(p.metadata.uid!)).map((p) => p.metadata.uid!));
    if (cleanUncounted(job, withFinalizer)) needsFlush = true;
    const unc = uncounted(job);
    const policy = jobSpec(job).podFailurePolicy;
    const toRemove: KObject[] = [];
    const newSucceededIndexes: number[] = [];
    let reachedMax = false;
    const finishing = !!ctx.finished;
    const failing = finishing && ctx.finished!.type !== 'SuccessCriteriaMet';
    for (const p of pods) {
      const uid = p.metadata.uid!;
      if (!hasFinalizer(p) || ctx.expectedRm.has(uid)) continue;
      const failed = isPodFailed(p, job);
      const succeeded = podPhase(p) === 'Succeeded';
      if (!(job.metadata.deletionTimestamp || finishing || succeeded || failed)) continue;
      toRemove.push(p);
      const ix = completionIndex(p);
      const validIx = ix >= 0 && ix < completions;
      if (succeeded && !ctx.uncountedAtStart.failed.has(uid)) {
        if (indexed) {
          if (validIx && !ctx.prevSucceededIndexes.has(ix)) {
            newSucceededIndexes.push(ix);
            needsFlush = true;
          }
        } else if (!unc.succeeded.includes(uid)) {
          unc.succeeded.push(uid);
          needsFlush = true;
        }
      } else if ((failed || failing) && !unc.failed.includes(uid) && (!indexed || validIx)) {
        if (!policy || matchPodFailurePolicy(policy, p).countFailed) {
          unc.failed.push(uid);
          needsFlush = true;
        }
      }
      if (newSucceededIndexes.length + unc.succeeded.length + unc.failed.length >= MAX_UNCOUNTED_PODS) {
        reachedMax = true;
        break;
      }
    }
    setUncounted(job, unc);
    const st = status(job);
    if (indexed) {
      const all = new Set([...ctx.succeededIndexes, ...newSucceededIndexes]);
      const s = formatIndexes(all);
      if (s !== ((st.completedIndexes as string | undefined) ?? '')) needsFlush = true;
      st.completedIndexes = s;
      st.succeeded = all.size;
      normalizeStatus(st);
    }
    const conds = Array.isArray(st.conditions) ? (st.conditions as JobCondition[]) : [];
    if (ctx.finished?.type === 'FailureTarget') {
      conds.push(ctx.finished);
      needsFlush = true;
      ctx.finished = newCondition('Failed', 'True', ctx.finished.reason ?? '', ctx.finished.message ?? '', now);
    } else if (ctx.finished?.type === 'SuccessCriteriaMet') {
      if (!hasTrueCondition(job, 'SuccessCriteriaMet') && !conds.some((c) => c.type === 'SuccessCriteriaMet')) {
        conds.push(ctx.finished);
        needsFlush = true;
      }
      ctx.finished = newCondition('Complete', 'True', ctx.finished.reason ?? '', ctx.finished.message ?? '', now);
    }
    if (conds.length) st.conditions = conds;

    // (1) flush newly uncounted pods, then remember the back-off they cause.
    if (needsFlush) {
      await this.writeStatus(ctx);
      needsFlush = false;
    }
    this.backoff.set(ctx.key, ctx.backoff);
    // (2) + (3)
    let rmErr: unknown;
    if (toRemove.length) {
      const r = await this.removeFinalizers(ctx.key, toRemove);
      for (const uid of r.removed) withFinalizer.delete(uid);
      rmErr = r.error;
    }
    if (cleanUncounted(ctx.job, withFinalizer)) needsFlush = true;
    if (rmErr) {
      if (needsFlush) await this.writeStatus(ctx);
      throw rmErr;
    }
    // (4)
    const finished = !reachedMax && this.enactFinished(ctx, now);
    if (finished) needsFlush = true;
    if (needsFlush) await this.writeStatus(ctx);
    if (finished) this.recordFinished(ctx.job, ctx.finished!);
  }

  private enactFinished(ctx: SyncCtx, now: number): boolean {
    const cond = ctx.finished;
    if (!cond) return false;
    const u = uncounted(ctx.job);
    if (u.succeeded.length + u.failed.length > 0) return false;
    if (ctx.terminating > 0) return false;
    const st = status(ctx.job);
    const conds = Array.isArray(st.conditions) ? (st.conditions as JobCondition[]) : [];
    ensureCondition(conds, cond.type, 'True', cond.reason ?? '', cond.message ?? '', now);
    st.conditions = conds;
    if (cond.type === 'Complete') st.completionTime = conds.find((c) => c.type === 'Complete')?.lastTransitionTime ?? rfc3339(now);
    return true;
  }

  private recordFinished(job: KObject, cond: JobCondition): void {
    if (cond.type === 'Complete') {
      const completions = jobSpec(job).completions;
      if (typeof completions === 'number' && num(status(job).succeeded) > completions)
        this.events(job, 'Warning', 'TooManySucceededPods', 'Too many succeeded pods running after completion count reached');
      this.events(job, 'Normal', 'Completed', 'Job completed');
    } else this.events(job, 'Warning', cond.reason ?? 'Failed', cond.message ?? '');
  }
}
