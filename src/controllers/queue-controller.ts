// The frame the queue-driven controllers share (ReplicaSet, Deployment, StatefulSet, DaemonSet,
// CronJob, HPA): the informers a controller started itself, one work queue of object keys whose
// failures other than a 409 (a stale write, retried anyway) are logged, and a `ready` gate so that
// nothing is queued before the caches are filled.
import { cacheKey, type Informer } from '../client/informer.js';
import { WorkQueue } from '../client/workqueue.js';
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { errorMessage } from './pod-control.js';

export interface QueueSettings {
  workers: number;
  /** Retry back-off of a failing key: first delay and cap. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export abstract class QueueController {
  protected readonly queue: WorkQueue;
  protected ready = false;
  private readonly ownInformers: Informer[] = [];

  protected constructor(component: string, log: (line: string) => void, q: QueueSettings) {
    this.queue = new WorkQueue((k) => this.sync(k), q.workers, q.baseDelayMs, q.maxDelayMs, (k, e) => {
      if (!(e instanceof StatusError && e.code === 409)) log(`${component}: sync ${k}: ${errorMessage(e)}`);
    });
  }

  /** Reconciles the object with this key. */
  protected abstract sync(key: string): Promise<void>;

  /** What start() queues once every cache is filled. */
  protected abstract queueAll(): void;

  /** An informer this controller starts and stops (one handed in by the caller is not). */
  protected own(i: Informer): Informer {
    this.ownInformers.push(i);
    return i;
  }

  async start(): Promise<void> {
    await Promise.all(this.ownInformers.map((i) => i.start()));
    this.ready = true;
    this.queueAll();
  }

  stop(): void {
    this.ready = false;
    this.queue.stop();
    for (const i of this.ownInformers) i.stop();
  }

  /** Resolves when no sync is queued or running (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  protected enqueue(obj: KObject): void {
    if (this.ready) this.queue.add(cacheKey(obj));
  }
}
