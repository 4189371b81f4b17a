// The CronJob controller, as upstream's pkg/controller/cronjob (controller v2): for each CronJob,
// find the most recent unmet schedule time, and — unless suspended, too late for
// startingDeadlineSeconds, already done, or blocked by concurrencyPolicy Forbid — create the Job
// `<cronjob>-<scheduled minutes since epoch>` from the jobTemplate (Replace first deletes the
// active ones). Status keeps the active Jobs, lastScheduleTime and lastSuccessfulTime; finished
// Jobs beyond the history limits are deleted oldest first. Each CronJob has one timer set for its
// next schedule time (no polling); the clock and the timer are injectable for tests.
import { StatusError } from '../../machinery/errors.js';
import { deepCopy, type KObject } from '../../machinery/object.js';
import { R, type ApiClient } from '../../client/client.js';
import { Informer, cacheKey } from '../../client/informer.js';
import { isValidTimeZone } from '../../api/batch/v1/cron.js';
import { getControllerOf, isControlledBy, newControllerRef } from '../controller-ref.js';
import { clientEventSink, errorMessage, isNamespaceTerminating, type EventSink } from '../pod-control.js';
import { fresher } from '../replicaset.js';
import { hasTrueCondition, isJobFinished, rfc3339 } from '../job/util.js';
import { formatInZone, parseSchedule, type Schedule } from './schedule.js';
import { QueueController } from '../queue-controller.js';

export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
export const INSTANTIATE_ANNOTATION = 'cronjob.kubernetes.io/instantiate';

export interface CronJobControllerOptions {
  /** The clock (ms since epoch); default Date.now. */
  now?: () => number;
  /**
   * Runs `fn` once `ms` of this clock's time have passed; returns a cancel function. Default:
   * setTimeout. A test with a fake `now` passes a matching fake timer.
   */
  setTimer?: (fn: () => void, ms: number) => () => void;
  workers?: number;
  events?: EventSink;
  log?: (line: string) => void;
  informers?: { jobs?: Informer; cronJobs?: Informer };
}

interface ObjectRef {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
}

type Obj = Record<string, unknown>;

const COMPONENT = 'cronjob-controller';
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_MISSED = 100;

function spec(cj: KObject): Obj {
  return (cj.spec as Obj | undefined) ?? {};
}

function status(cj: KObject): Obj {
  if (!cj.status || typeof cj.status !== 'object') cj.status = {};
  return cj.status as Obj;
}

function activeRefs(cj: KObject): ObjectRef[] {
  const a = status(cj).active;
  return Array.isArray(a) ? (a as ObjectRef[]) : [];
}

function setActive(cj: KObject, refs: ObjectRef[]): void {
  if (refs.length) status(cj).active = refs;
  else delete status(cj).active;
}

function parseTime(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** Go's time.RFC1123Z in UTC. */
function rfc1123z(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

function isJobSucceeded(job: KObject): boolean {
  return hasTrueCondition(job, 'Complete');
}

function jobRef(job: KObject): ObjectRef {
  return {
    kind: 'Job',
    namespace: job.metadata.namespace,
    name: job.metadata.name,
    uid: job.metadata.uid,
    apiVersion: 'batch/v1',
    resourceVersion: job.metadata.resourceVersion,
  };
}

interface SyncResult {
  requeueAfter?: number;
  update: boolean;
  error?: unknown;
}

export class CronJobController extends QueueController {
  readonly jobs: Informer;
  readonly cronJobs: Informer;
  private timers = new Map<string, () => void>();
  private written = new Map<string, KObject>();
  private events: EventSink;
  private now: () => number;
  private setTimer: (fn: () => void, ms: number) => () => void;

  constructor(
    private client: ApiClient,
    opts: CronJobControllerOptions = {},
  ) {
    super(COMPONENT, opts.log ?? (() => {}), { workers: opts.workers ?? 2, baseDelayMs: 50, maxDelayMs: 10_000 });
    this.now = opts.now ?? Date.now;
    this.setTimer =
      opts.setTimer ??
      ((fn, ms) => {
        const t = setTimeout(fn, Math.min(MAX_TIMER_MS, Math.max(0, ms)));
        t.unref?.();
        return () => clearTimeout(t);
      });
    this.events = opts.events ?? clientEventSink(client, COMPONENT);
    this.jobs = opts.informers?.jobs ?? this.own(new Informer(client, R.jobs));
    this.cronJobs = opts.informers?.cronJobs ?? this.own(new Informer(client, R.cronjobs));
    this.cronJobs.on({
      onAdd: (cj) => this.enqueue(cj),
      onUpdate: (cj) => this.enqueue(cj),
      onDelete: (cj) => {
        const key = cacheKey(cj);
        this.cancelTimer(key);
        this.written.delete(key);
      },
    });
    const jobChanged = (job: KObject) => {
      const ref = getControllerOf(job);
      if (ref?.kind !== 'CronJob') return;
      const cj = this.cronJobs.get(job.metadata.namespace, ref.name);
      if (cj && cj.metadata.uid === ref.uid) this.enqueue(cj);
    };
    this.jobs.on({ onAdd: jobChanged, onUpdate: jobChanged, onDelete: jobChanged });
  }

  protected queueAll(): void {
    for (const cj of this.cronJobs.list()) this.enqueue(cj);
  }

  override stop(): void {
    super.stop();
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
  }

  /** When the timer of a CronJob fires next (ms since epoch of this clock), for tests and status. */
  readonly nextWakeup = new Map<string, number>();

  private cancelTimer(key: string): void {
    this.timers.get(key)?.();
    this.timers.delete(key);
    this.nextWakeup.delete(key);
  }

  private armTimer(key: string, ms: number): void {
    this.cancelTimer(key);
    if (!Number.isFinite(ms)) return;
    const delay = Math.max(0, ms);
    this.nextWakeup.set(key, this.now() + delay);
    this.timers.set(
      key,
      this.setTimer(() => {
        this.timers.delete(key);
        this.nextWakeup.delete(key);
        if (this.ready) this.queue.add(key);
      }, delay),
    );
  }

  // --- sync -----------------------------------------------------------------------------------

  protected async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const cached = this.cronJobs.get(ns, name);
    if (!cached) {
      this.cancelTimer(key);
      this.written.delete(key);
      return;
    }
    let cj = deepCopy(fresher(cached, this.written.get(key))!);
    const jobs = this.jobs.list(ns).filter((j) => {
      const ref = getControllerOf(j);
      return ref?.kind === 'CronJob' && ref.uid === cj.metadata.uid;
    });
    const before = JSON.stringify(cj.status ?? {});
    const r = await this.syncCronJob(cj, jobs, (fresh) => (cj = fresh));
    let update = r.update;
    if (!cj.metadata.deletionTimestamp && (await this.cleanupFinishedJobs(cj, jobs))) update = true;
    if (update && JSON.stringify(cj.status ?? {}) !== before) {
      const saved = await this.client.update(R.cronjobs, ns, cj, 'status');
      this.written.set(key, saved);
    }
    if (r.requeueAfter !== undefined) this.armTimer(key, r.requeueAfter);
    else this.cancelTimer(key);
    if (r.error) throw r.error;
  }

  private async syncCronJob(cj: KObject, jobs: KObject[], replace: (fresh: KObject) => void): Promise<SyncResult> {
    const now = this.now();
    let update = false;
    const children = new Set(jobs.map((j) => j.metadata.uid));
    for (const j of jobs) {
      const found = activeRefs(cj).some((r) => r.uid === j.metadata.uid);
      const finished = isJobFinished(j);
      if (!found && !finished) {
        // Our cache may lag our own status write: check a fresh copy before complaining.
        const fresh = await this.client.get(R.cronjobs, cj.metadata.namespace, cj.metadata.name!);
        if (activeRefs(fresh).some((r) => r.uid === j.metadata.uid)) {
          cj = deepCopy(fresh);
          replace(cj);
          continue;
        }
        this.events(cj, 'Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${j.metadata.name}`);
      } else if (found && finished) {
        setActive(
          cj,
          activeRefs(cj).filter((r) => r.uid !== j.metadata.uid),
        );
        this.events(cj, 'Normal', 'SawCompletedJob', `Saw completed job: ${j.metadata.name}, status: ${isJobSucceeded(j) ? 'Complete' : 'Failed'}`);
        update = true;
      } else if (isJobSucceeded(j)) {
        const done = parseTime((j.status as Obj | undefined)?.completionTime);
        const last = parseTime(status(cj).lastSuccessfulTime);
        if (done !== undefined && (last === undefined || done > last)) {
          status(cj).lastSuccessfulTime = (j.status as Obj).completionTime;
          update = true;
        }
      }
    }
    // Active entries whose Job is gone (checked against the API, not just a lagging cache).
    for (const ref of activeRefs(cj)) {
      if (children.has(ref.uid)) continue;
      try {
        await this.client.get(R.jobs, ref.namespace ?? cj.metadata.namespace, ref.name!);
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) return { update, error: e };
        this.events(cj, 'Normal', 'MissingJob', `Active job went missing: ${ref.name}`);
        setActive(
          cj,
          activeRefs(cj).filter((r) => r.uid !== ref.uid),
        );
        update = true;
      }
    }
    if (cj.metadata.deletionTimestamp) return { update };

    const sp = spec(cj);
    const tz = typeof sp.timeZone === 'string' ? sp.timeZone : undefined;
    if (tz !== undefined && !isValidTimeZone(tz)) {
      this.events(cj, 'Warning', 'UnknownTimeZone', `invalid timeZone: ${JSON.stringify(tz)}: unknown time zone ${tz}`);
      return { update };
    }
    if (sp.suspend === true) return { update };
    const scheduleText = String(sp.schedule ?? '');
    let sched: Schedule;
    try {
      if (scheduleText.includes('TZ'))
        this.events(
          cj,
          'Warning',
          'UnsupportedSchedule',
          `CRON_TZ or TZ used in schedule ${JSON.stringify(scheduleText)} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details`,
        );
      sched = parseSchedule(scheduleText, tz);
    } catch (e) {
      this.events(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(scheduleText)} : ${errorMessage(e)}`);
      return { update };
    }
    const untilNext = () => sched.next(now) - now;
    const scheduled = this.mostRecentScheduleTime(cj, now, sched);
    if (scheduled === undefined) return { update, requeueAfter: untilNext() };

    const sds = typeof sp.startingDeadlineSeconds === 'number' ? sp.startingDeadlineSeconds : undefined;
    if (sds !== undefined && scheduled + sds * 1000 < now) {
      this.events(cj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${rfc1123z(scheduled)}`);
      return { update, requeueAfter: untilNext() };
    }
    const jobName = `${cj.metadata.name}-${Math.floor(scheduled / 60_000)}`;
    if (activeRefs(cj).some((r) => r.name === jobName) || parseTime(status(cj).lastScheduleTime) === scheduled)
      return { update, requeueAfter: untilNext() };
    if (sp.concurrencyPolicy === 'Forbid' && activeRefs(cj).length > 0) {
      this.events(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      return { update, requeueAfter: untilNext() };
    }
    if (sp.concurrencyPolicy === 'Replace') {
      for (const ref of [...activeRefs(cj)]) {
        try {
          await this.client.delete(R.jobs, ref.namespace ?? cj.metadata.namespace, ref.name!, { propagationPolicy: 'Background' });
        } catch (e) {
          if (!(e instanceof StatusError && e.code === 404)) {
            this.events(cj, 'Warning', 'FailedDelete', `Deleted job: ${errorMessage(e)}`);
            return { update, error: e };
          }
        }
        setActive(
          cj,
          activeRefs(cj).filter((r) => r.uid !== ref.uid),
        );
        this.events(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${ref.name}`);
        update = true;
      }
    }

    let created: KObject;
    try {
      created = await this.client.create(R.jobs, cj.metadata.namespace, this.jobFromTemplate(cj, jobName, scheduled, tz ?? 'UTC'));
      this.events(cj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name}`);
    } catch (e) {
      if (isNamespaceTerminating(e)) return { update, error: e };
      if (e instanceof StatusError && e.code === 409) {
        // Created before but not recorded (crash between create and status write), or someone else's.
        const existing = await this.client.get(R.jobs, cj.metadata.namespace, jobName);
        if (!isControlledBy(existing, cj) || activeRefs(cj).some((r) => r.uid === existing.metadata.uid)) return { update };
        created = existing;
      } else {
        this.events(cj, 'Warning', 'FailedCreate', `Error creating job: ${errorMessage(e)}`);
        return { update, error: e };
      }
    }
    setActive(cj, [...activeRefs(cj), jobRef(created)]);
    status(cj).lastScheduleTime = rfc3339(scheduled);
    return { update: true, requeueAfter: untilNext() };
  }

  /**
   * The latest schedule time in (earliest, now], where earliest is the last schedule (or the
   * creation) bounded by startingDeadlineSeconds; warns when more than 100 were missed.
   */
  private mostRecentScheduleTime(cj: KObject, now: number, sched: Schedule): number | undefined {
    let earliest = parseTime(status(cj).lastScheduleTime) ?? parseTime(cj.metadata.creationTimestamp) ?? now;
    const sds = spec(cj).startingDeadlineSeconds;
    if (typeof sds === 'number') earliest = Math.max(earliest, now - sds * 1000);
    if (earliest > now) return undefined;
    let t = sched.next(earliest);
    if (t > now) return undefined;
    let last = t;
    let count = 0;
    while (t <= now && count <= MAX_MISSED) {
      last = t;
      count++;
      t = sched.next(t);
    }
    if (t > now) return last;
    this.events(cj, 'Warning', 'TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
    // Find the latest one without walking every missed time: search back from now, doubling.
    const step = Math.max(60_000, sched.next(last) - last);
    for (let back = 2 * step; ; back *= 2) {
      const from = Math.max(last, now - back);
      let found: number | undefined;
      for (let x = sched.next(from), n = 0; x <= now && n < 10_000; x = sched.next(x), n++) found = x;
      if (found !== undefined || from === last) return found ?? last;
    }
  }

  private jobFromTemplate(cj: KObject, name: string, scheduled: number, tz: string): KObject {
    const jt = (spec(cj).jobTemplate as Obj | undefined) ?? {};
    const meta = (jt.metadata as { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined) ?? {};
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace: cj.metadata.namespace,
        ...(meta.labels ? { labels: { ...meta.labels } } : {}),
        annotations: { ...(meta.annotations ?? {}), [SCHEDULED_TIMESTAMP_ANNOTATION]: formatInZone(scheduled, tz) },
        ownerReferences: [newControllerRef(cj, 'batch/v1', 'CronJob')],
      },
      spec: deepCopy((jt.spec as Obj | undefined) ?? {}),
    };
  }

  /** Deletes finished Jobs beyond the history limits, oldest start first. Returns whether status changed. */
  private async cleanupFinishedJobs(cj: KObject, jobs: KObject[]): Promise<boolean> {
    const sp = spec(cj);
    const okLimit = typeof sp.successfulJobsHistoryLimit === 'number' ? sp.successfulJobsHistoryLimit : undefined;
    const failLimit = typeof sp.failedJobsHistoryLimit === 'number' ? sp.failedJobsHistoryLimit : undefined;
    if (okLimit === undefined && failLimit === undefined) return false;
    const succeeded = jobs.filter((j) => isJobFinished(j) && isJobSucceeded(j));
    const failed = jobs.filter((j) => isJobFinished(j) && !isJobSucceeded(j));
    let changed = false;
    if (okLimit !== undefined && (await this.removeOldest(cj, succeeded, okLimit))) changed = true;
    if (failLimit !== undefined && (await this.removeOldest(cj, failed, failLimit))) changed = true;
    return changed;
  }

  private async removeOldest(cj: KObject, jobs: KObject[], keep: number): Promise<boolean> {
    const n = jobs.length - keep;
    if (n <= 0) return false;
    const start = (j: KObject) => parseTime((j.status as Obj | undefined)?.startTime);
    const sorted = [...jobs].sort((a, b) => {
      const sa = start(a);
      const sb = start(b);
      if (sa === undefined || sb === undefined) {
        if (sa !== sb) return sa === undefined ? 1 : -1;
      } else if (sa !== sb) return sa - sb;
      return a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0;
    });
    let changed = false;
    for (const j of sorted.slice(0, n)) {
      try {
        await this.client.delete(R.jobs, j.metadata.namespace, j.metadata.name!, { propagationPolicy: 'Background' });
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) {
          this.events(cj, 'Warning', 'FailedDelete', `Deleted job: ${errorMessage(e)}`);
          continue;
        }
      }
      setActive(
        cj,
        activeRefs(cj).filter((r) => r.uid !== j.metadata.uid),
      );
      this.events(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
      changed = true;
    }
    return changed;
  }
}
