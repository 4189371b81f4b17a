// Test-only helpers for the workload controllers: a fake kubelet that marks pods Running and
// Ready through the status subresource (after a delay, or never), bounded waits, fixtures.
import type { ApiClient } from '../../../src/client/client.js';
import { R } from '../../../src/client/client.js';
import { Informer } from '../../../src/client/informer.js';
import type { KObject } from '../../../src/machinery/object.js';
import { until } from '../../support/wait.js';

export interface FakeKubeletOptions {
  /** Delay before a new pod becomes Running+Ready; default 5 ms. */
  delayMs?: number;
  /** Pods for which this returns false stay Pending forever (stuck rollouts). */
  readyIf?: (pod: KObject) => boolean;
}

export function isReady(pod: KObject): boolean {
  const conds = (pod.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
  return conds.some((c) => c.type === 'Ready' && c.status === 'True');
}

export class FakeKubelet {
  private informer: Informer;
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

  private consider(pod: KObject): void {
    const uid = pod.metadata.uid!;
    if (this.seen.has(uid) || pod.metadata.deletionTimestamp || isReady(pod)) return;
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Failed' || phase === 'Succeeded') return;
    if (this.opts.readyIf && !this.opts.readyIf(pod)) return;
    this.seen.add(uid);
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) markReady(this.client, pod).catch(() => {});
    }, this.opts.delayMs ?? 5);
    this.timers.add(t);
  }
}

export async function markReady(client: ApiClient, pod: KObject, ready = true): Promise<KObject> {
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const containers = ((pod.spec as { containers?: { name: string; image: string }[] }).containers ?? []).map((c) => ({
    name: c.name,
    image: c.image,
    ready,
    restartCount: 0,
    started: true,
    state: { running: { startedAt: t } },
  }));
  const status = {
    phase: 'Running',
    conditions: [
      { type: 'Initialized', status: 'True', lastTransitionTime: t },
      { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t },
      { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: t },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
    ],
    containerStatuses: containers,
    startTime: t,
  };
  return client.patch(R.pods, pod.metadata.namespace, pod.metadata.name!, 'application/merge-patch+json', { status }, 'status');
}

/** Polls `fn` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs?: number): Promise<T> {
  return until(fn, what, timeoutMs);
}

export function podTemplate(labels: Record<string, string>, image = 'nginx:1.24'): Record<string, unknown> {
  return { metadata: { labels }, spec: { containers: [{ name: 'app', image }] } };
}

export function replicaSet(name: string, replicas: number, labels: Record<string, string>, extra: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name },
    spec: { replicas, selector: { matchLabels: labels }, template: podTemplate(labels), ...extra },
  };
}

export function deployment(name: string, replicas: number, labels: Record<string, string>, extra: Record<string, unknown> = {}, image = 'nginx:1.24'): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: { replicas, selector: { matchLabels: labels }, template: podTemplate(labels, image), ...extra },
  };
}

export function controllerUid(o: KObject): string | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller)?.uid;
}

export function image(o: KObject): string {
  const spec = (o.spec as { template?: { spec: { containers: { image: string }[] } }; containers?: { image: string }[] }) ?? {};
  return (spec.template?.spec ?? (spec as { containers: { image: string }[] })).containers[0].image;
}
