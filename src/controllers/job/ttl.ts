// The TTL-after-finished controller (upstream's pkg/controller/ttlafterfinished): a finished Job
// with spec.ttlSecondsAfterFinished is deleted (background propagation, so the garbage collector
// removes its pods) once that many seconds have passed since it finished. One timer per Job,
// through the work queue; the expiry is re-checked against a fresh read before deleting.
import { StatusError } from '../../machinery/errors.js';
import type { KObject } from '../../machinery/object.js';
import { R, type ApiClient } from '../../client/client.js';
import { Informer, cacheKey } from '../../client/informer.js';
import { WorkQueue } from '../../client/workqueue.js';
import { errorMessage } from '../pod-control.js';
import { isJobFinished, jobFinishTime, jobSpec } from './util.js';

export interface TTLAfterFinishedControllerOptions {
  now?: () => number;
  log?: (line: string) => void;
  informers?: { jobs?: Informer };
}

const COMPONENT = 'ttl-after-finished-controller';

/** Milliseconds until `job` expires (≤ 0: expired), or undefined when it has no TTL or is not finished. */
export function timeLeft(job: KObject, now: number): number | undefined {
  const ttl = jobSpec(job).ttlSecondsAfterFinished;
  if (typeof ttl !== 'number' || job.metadata.deletionTimestamp || !isJobFinished(job)) return undefined;
  const finished = jobFinishTime(job);
  if (finished === undefined) return undefined;
  return finished + ttl * 1000 - now;
}

export class TTLAfterFinishedController {
  readonly jobs: Informer;
  private queue: WorkQueue;
  private ownInformers: Informer[] = [];
  private ready = false;
  private now: () => number;
  private log: (line: string) => void;

  constructor(
    private client: ApiClient,
    opts: TTLAfterFinishedControllerOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
    this.jobs = opts.informers?.jobs ?? this.own(new Informer(client, R.jobs));
    this.queue = new WorkQueue((k) => this.sync(k), 2, 50, 10_000, (k, e) => this.log(`${COMPONENT}: ${k}: ${errorMessage(e)}`));
    this.jobs.on({ onAdd: (j) => this.enqueue(j), onUpdate: (j) => this.enqueue(j) });
  }

  private own(i: Informer): Informer {
    this.ownInformers.push(i);
    return i;
  }

  async start(): Promise<void> {
    await Promise.all(this.ownInformers.map((i) => i.start()));
    this.ready = true;
    for (const j of this.jobs.list()) this.enqueue(j);
  }

  stop(): void {
    this.ready = false;
    this.queue.stop();
    for (const i of this.ownInformers) i.stop();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private enqueue(job: KObject): void {
    if (this.ready && timeLeft(job, this.now()) !== undefined) this.queue.add(cacheKey(job));
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const cached = this.jobs.get(ns, name);
    if (!cached) return;
    const left = timeLeft(cached, this.now());
    if (left === undefined) return;
    if (left > 0) {
      this.queue.addAfter(key, left);
      return;
    }
    // The cache may be stale (TTL changed, Job re-run): decide on a fresh copy.
    let fresh: KObject;
    try {
      fresh = await this.client.get(R.jobs, ns, name);
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return;
      throw e;
    }
    const freshLeft = timeLeft(fresh, this.now());
    if (freshLeft === undefined) return;
    if (freshLeft > 0) {
      this.queue.addAfter(key, freshLeft);
      return;
    }
    try {
      await this.client.delete(R.jobs, ns, name, {
        propagationPolicy: 'Background',
        preconditions: { uid: fresh.metadata.uid, resourceVersion: fresh.metadata.resourceVersion },
      });
    } catch (e) {
      if (e instanceof StatusError && (e.code === 404 || e.code === 409)) return;
      throw e;
    }
  }
}
