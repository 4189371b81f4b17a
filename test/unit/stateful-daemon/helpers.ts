// Test-only helpers for the DaemonSet and StatefulSet controllers: a fake kubelet that marks pods
// Running and Ready (optionally only bound ones) and finishes graceful deletions, Node fixtures,
// bounded waits and an event log of pod changes for ordering assertions.
import type { ApiClient } from '../../../src/client/client.js';
import { R } from '../../../src/client/client.js';
import { Informer } from '../../../src/client/informer.js';
import type { KObject } from '../../../src/machinery/object.js';
import { StatusError } from '../../../src/machinery/errors.js';
import { isReady, markReady, waitFor } from '../workloads/helpers.js';

// The pod-status pieces are the workload tests' own; this kubelet differs (bound pods, deletions).
export { isReady, markReady, waitFor };

export interface FakeKubeletOptions {
  /** Delay before a pod becomes Running+Ready; default 5 ms. */
  delayMs?: number;
  /** Only pods bound to a node (spec.nodeName) start; default false. */
  boundOnly?: boolean;
  /** Pods for which this returns false stay Pending. */
  readyIf?: (pod: KObject) => boolean;
}

export function nodeOf(pod: KObject): string | undefined {
  return (pod.spec as { nodeName?: string } | undefined)?.nodeName;
}

export function imageOf(pod: KObject): string {
  return (pod.spec as { containers: { image: string }[] }).containers[0].image;
}

export class FakeKubelet {
  readonly informer: Informer;
  private timers = new Set<NodeJS.Timeout>();
  private seen = new Set<string>();
  private stopped = false;

  constructor(
    private client: ApiClient,
    private opts: FakeKubeletOptions = {},
  ) {
    this.informer = new Informer(client, R.pods);
    const consider = (pod: KObject) => this.consider(pod);
    this.informer.on({ onAdd: consider, onUpdate: consider });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): void {
    this.stopped = true;
    this.informer.stop();
    for (const t of this.timers) clearTimeout(t);
  }

  private later(fn: () => Promise<unknown>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn().catch(() => {});
    }, this.opts.delayMs ?? 5);
    this.timers.add(t);
  }

  private consider(pod: KObject): void {
    const uid = pod.metadata.uid!;
    if (pod.metadata.deletionTimestamp) {
      // The kubelet stops the containers, then ends the graceful deletion.
      if (this.seen.has(`del:${uid}`)) return;
      this.seen.add(`del:${uid}`);
      this.later(() => this.client.delete(R.pods, pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid } }));
      return;
    }
    if (this.seen.has(uid) || isReady(pod)) return;
    if (this.opts.boundOnly && !nodeOf(pod)) return;
    if (this.opts.readyIf && !this.opts.readyIf(pod)) return;
    this.seen.add(uid);
    this.later(() => markReady(this.client, pod));
  }
}

export interface NodeOpts {
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
}

export function node(name: string, o: NodeOpts = {}): KObject {
  const alloc = { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...(o.labels ?? {}) } },
    spec: o.taints ? { taints: o.taints } : {},
    status: { capacity: alloc, allocatable: alloc, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** A patch retried on write conflicts (controllers write status concurrently). */
export async function patchRetry(client: ApiClient, r: typeof R.pods, ns: string | undefined, name: string, body: unknown, type = 'application/merge-patch+json'): Promise<KObject> {
  for (let i = 0; ; i++) {
    try {
      return await client.patch(r, ns, name, type, body);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409) || i > 20) throw e;
    }
  }
}

export interface PodEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  name: string;
  pod: KObject;
  /** Snapshot of every pod (by name) right after this event. */
  snapshot: Map<string, KObject>;
}

/** Records every pod event in a namespace, in order, with the state after each. */
export class PodLog {
  readonly events: PodEvent[] = [];
  private informer: Informer;
  constructor(client: ApiClient, namespace: string) {
    this.informer = new Informer(client, R.pods, { namespace });
    const rec = (type: PodEvent['type'], pod: KObject) =>
      this.events.push({ type, name: pod.metadata.name!, pod, snapshot: new Map([...this.informer.cache.values()].map((p) => [p.metadata.name!, p])) });
    this.informer.on({ onAdd: (p) => rec('ADDED', p), onUpdate: (p) => rec('MODIFIED', p), onDelete: (p) => rec('DELETED', p) });
  }
  /** Starts recording; the initial list is not part of the log. */
  async start(): Promise<void> {
    await this.informer.start();
    this.events.length = 0;
  }
  stop(): void {
    this.informer.stop();
  }
  pods(): KObject[] {
    return [...this.informer.cache.values()];
  }
}
