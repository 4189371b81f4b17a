// The scheduling queue: an active heap (higher spec.priority first, then older pods), a back-off
// set for pods that just failed, and the unschedulable set — pods parked until a cluster event
// that could help them (or a periodic flush) moves them back. Nothing polls: pop() waits on a
// promise, back-off uses one timer for the earliest expiry.
import type { PodInfo } from './types.js';

/** Cluster changes that can make an unschedulable pod schedulable. */
export type ClusterEvent = 'NodeAdd' | 'NodeUpdate' | 'AssignedPodAdd' | 'AssignedPodUpdate' | 'AssignedPodDelete' | 'Flush';

export interface QueuedPod {
  info: PodInfo;
  /** Scheduling attempts so far. */
  attempts: number;
  /** When the last attempt ended (ms). */
  lastAttempt: number;
  /** Plugins that rejected the pod last time: only events relevant to them move it. */
  rejectedBy: Set<string>;
  seq: number;
}

export interface QueueOptions {
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a pod stays in the unschedulable set before it is retried anyway. */
  unschedulableFlushMs?: number;
  /** Which plugins a cluster event may help (a pod rejected by none of them stays put). */
  relevant?: (event: ClusterEvent, plugin: string) => boolean;
}

function before(a: QueuedPod, b: QueuedPod): boolean {
  if (a.info.priority !== b.info.priority) return a.info.priority > b.info.priority;
  if (a.info.created !== b.info.created) return a.info.created < b.info.created;
  return a.seq < b.seq;
}

export class SchedulingQueue {
  private heap: QueuedPod[] = [];
  private active = new Map<string, QueuedPod>();
  private backoff = new Map<string, QueuedPod>();
  private unschedulable = new Map<string, QueuedPod>();
  private seq = 0;
  private waiter?: (q: QueuedPod | undefined) => void;
  private backoffTimer?: NodeJS.Timeout;
  private backoffAt = Infinity;
  private flushTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private readonly flushMs: number;

  constructor(private opts: QueueOptions = {}) {
    this.initialBackoff = opts.initialBackoffMs ?? 1000;
    this.maxBackoff = opts.maxBackoffMs ?? 10_000;
    this.flushMs = opts.unschedulableFlushMs ?? 30_000;
    this.flushTimer = setInterval(() => this.flushUnschedulable(), Math.max(1000, this.flushMs / 2));
    this.flushTimer.unref?.();
  }

  get sizes(): { active: number; backoff: number; unschedulable: number } {
    return { active: this.active.size, backoff: this.backoff.size, unschedulable: this.unschedulable.size };
  }

  has(key: string): boolean {
    return this.active.has(key) || this.backoff.has(key) || this.unschedulable.has(key);
  }

  isUnschedulable(key: string): boolean {
    return this.unschedulable.has(key);
  }

  /** A new pending pod (or one seen again): straight to the active heap. */
  add(info: PodInfo): void {
    if (this.closed) return;
    const existing = this.active.get(info.key) ?? this.backoff.get(info.key) ?? this.unschedulable.get(info.key);
    if (existing) {
      this.update(info);
      return;
    }
    this.pushActive({ info, attempts: 0, lastAttempt: 0, rejectedBy: new Set(), seq: this.seq++ });
  }

  /** The pod changed: keep its place, but an unschedulable pod whose spec/labels changed is retried. */
  update(info: PodInfo): void {
    const a = this.active.get(info.key);
    if (a) {
      a.info = info;
      return;
    }
    const b = this.backoff.get(info.key);
    if (b) {
      b.info = info;
      return;
    }
    const u = this.unschedulable.get(info.key);
    if (u) {
      const old = u.info.pod;
      u.info = info;
      const changed = JSON.stringify(old.spec) !== JSON.stringify(info.pod.spec) || JSON.stringify(old.metadata.labels) !== JSON.stringify(info.pod.metadata.labels);
      if (changed) {
        this.unschedulable.delete(info.key);
        this.requeue(u);
      }
      return;
    }
    this.add(info);
  }

  delete(key: string): void {
    this.unschedulable.delete(key);
    this.backoff.delete(key);
    const a = this.active.get(key);
    if (a) {
      this.active.delete(key);
      const i = this.heap.indexOf(a);
      if (i >= 0) this.removeAt(i);
    }
  }

  /** The next pod to schedule; waits while there is none; undefined once closed. */
  pop(): Promise<QueuedPod | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const q = this.take();
    if (q) return Promise.resolve(q);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** After a failed attempt: parked until a relevant event (or flush). */
  addUnschedulable(q: QueuedPod, rejectedBy: Iterable<string>): void {
    if (this.closed) return;
    q.attempts++;
    q.lastAttempt = Date.now();
    q.rejectedBy = new Set(rejectedBy);
    this.unschedulable.set(q.info.key, q);
  }

  /** After an error (e.g. binding failed): retried after its back-off. */
  addBackoff(q: QueuedPod): void {
    if (this.closed) return;
    q.attempts++;
    q.lastAttempt = Date.now();
    this.requeue(q);
  }

  /** A cluster change: move every unschedulable pod it may help. */
  moveAll(event: ClusterEvent): void {
    if (!this.unschedulable.size) return;
    const relevant = this.opts.relevant;
    for (const [key, q] of this.unschedulable) {
      if (event !== 'Flush' && relevant && q.rejectedBy.size && ![...q.rejectedBy].some((p) => relevant(event, p))) continue;
      this.unschedulable.delete(key);
      this.requeue(q);
    }
  }

  close(): void {
    this.closed = true;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.waiter?.(undefined);
    this.waiter = undefined;
  }

  private backoffUntil(q: QueuedPod): number {
    if (!q.attempts) return 0;
    return q.lastAttempt + Math.min(this.maxBackoff, this.initialBackoff * 2 ** (q.attempts - 1));
  }

  private requeue(q: QueuedPod): void {
    const until = this.backoffUntil(q);
    if (until <= Date.now()) {
      this.pushActive(q);
      return;
    }
    this.backoff.set(q.info.key, q);
    this.armBackoff(until);
  }

  private armBackoff(at: number): void {
    if (at >= this.backoffAt && this.backoffTimer) return;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffAt = at;
    this.backoffTimer = setTimeout(() => this.flushBackoff(), Math.max(0, at - Date.now()));
    this.backoffTimer.unref?.();
  }

  private flushBackoff(): void {
    this.backoffTimer = undefined;
    this.backoffAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const [key, q] of this.backoff) {
      const until = this.backoffUntil(q);
      if (until <= now) {
        this.backoff.delete(key);
        this.pushActive(q);
      } else next = Math.min(next, until);
    }
    if (next !== Infinity) this.armBackoff(next);
  }

  private flushUnschedulable(): void {
    const now = Date.now();
    for (const [key, q] of this.unschedulable) {
      if (now - q.lastAttempt < this.flushMs) continue;
      this.unschedulable.delete(key);
      this.requeue(q);
    }
  }

  private pushActive(q: QueuedPod): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(q);
      return;
    }
    this.active.set(q.info.key, q);
    this.heap.push(q);
    this.up(this.heap.length - 1);
  }

  private take(): QueuedPod | undefined {
    if (!this.heap.length) return undefined;
    const top = this.heap[0];
    this.removeAt(0);
    this.active.delete(top.info.key);
    return top;
  }

  private removeAt(i: number): void {
    const last = this.heap.pop()!;
    if (i === this.heap.length) return;
    this.heap[i] = last;
    this.down(i);
    this.up(i);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l], h[m])) m = l;
      if (r < h.length && before(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
