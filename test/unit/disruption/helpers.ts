// Test-only helpers for disruption and preemption: a fake kubelet that marks pods Running and
// Ready (unless held back) and ends graceful deletions (unless held back), bounded waits, and
// Node / Deployment / PDB fixtures.
import type { ApiClient } from '../../../src/client/client.js';
import { R } from '../../../src/client/client.js';
import { Informer } from '../../../src/client/informer.js';
import { StatusError } from '../../../src/machinery/errors.js';
import type { KObject } from '../../../src/machinery/object.js';
import { until } from '../../support/wait.js';

export interface FakeKubeletOptions {
  /** Pods for which this returns false stay Pending (not ready) until `recheck()`. */
  readyIf?: (pod: KObject) => boolean;
  /** Only pods bound to a node are started (default false: any pod). */
  boundOnly?: boolean;
}

export function isReady(pod: KObject): boolean {
  const conds = (pod.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
  return conds.some((c) => c.type === 'Ready' && c.status === 'True');
}

export class FakeKubelet {
  readonly informer: Informer;
  /** While false, pods being deleted gracefully stay Terminating. */
  finishDeletions = true;
  private started = new Set<string>();
  private finishing = new Set<string>();

  constructor(
    private client: ApiClient,
    private opts: FakeKubeletOptions = {},
  ) {
    this.informer = new Informer(client, R.pods);
    const consider = (pod: KObject) => void this.consider(pod);
    this.informer.on({ onAdd: consider, onUpdate: consider });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): void {
    this.informer.stop();
  }

  /** Look at every pod again (after a gate opened). */
  recheck(): void {
    for (const p of this.informer.list()) void this.consider(p);
  }

  private async consider(pod: KObject): Promise<void> {
    const uid = pod.metadata.uid!;
    const nodeName = (pod.spec as { nodeName?: string }).nodeName;
    if (pod.metadata.deletionTimestamp) {
      if (!this.finishDeletions || this.finishing.has(uid)) return;
      this.finishing.add(uid);
      await this.client.delete(R.pods, pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid } }).catch(() => {});
      return;
    }
    if (this.started.has(uid) || isReady(pod)) return;
    if (this.opts.boundOnly && !nodeName) return;
    if (this.opts.readyIf && !this.opts.readyIf(pod)) return;
    this.started.add(uid);
    await markReady(this.client, pod).catch(() => this.started.delete(uid));
  }
}

export async function markReady(client: ApiClient, pod: KObject, ready = true): Promise<KObject> {
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const status = {
    phase: 'Running',
    startTime: t,
    conditions: [
      { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t },
      { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: t },
    ],
  };
  return client.patch(R.pods, pod.metadata.namespace, pod.metadata.name!, 'application/strategic-merge-patch+json', { status }, 'status');
}

/** Polls `fn` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs?: number): Promise<T> {
  return until(fn, what, timeoutMs);
}

export function node(name: string, cpu = '4', extra: Record<string, unknown> = {}): KObject {
  const alloc = { cpu, memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: { ...extra },
    status: { capacity: alloc, allocatable: alloc, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

export function deployment(name: string, replicas: number, labels: Record<string, string>): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'app', image: 'nginx:1.24' }] } },
    },
  };
}

export function pdb(name: string, labels: Record<string, string>, spec: Record<string, unknown>): KObject {
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name }, spec: { selector: { matchLabels: labels }, ...spec } };
}

export function eviction(name: string, ns: string, deleteOptions?: Record<string, unknown>): KObject {
  return { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns }, ...(deleteOptions ? { deleteOptions } : {}) };
}

/** POST pods/eviction; resolves to the HTTP code (201, or the StatusError's). */
export async function evict(client: ApiClient, ns: string, name: string, deleteOptions?: Record<string, unknown>): Promise<{ code: number; error?: StatusError }> {
  try {
    await client.createSubresource(R.pods, ns, name, 'eviction', eviction(name, ns, deleteOptions));
    return { code: 201 };
  } catch (e) {
    if (e instanceof StatusError) return { code: e.code, error: e };
    throw e;
  }
}

export async function createNs(client: ApiClient, name: string): Promise<void> {
  await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

export async function livePods(client: ApiClient, ns: string, labels: Record<string, string>): Promise<KObject[]> {
  const sel = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return (await client.list(R.pods, ns, { labelSelector: sel })).items.filter((p) => !p.metadata.deletionTimestamp);
}

export type PdbStatus = {
  currentHealthy?: number;
  desiredHealthy?: number;
  expectedPods?: number;
  disruptionsAllowed?: number;
  observedGeneration?: number;
  disruptedPods?: Record<string, string>;
  conditions?: { type: string; status: string; reason: string; message: string; observedGeneration?: number }[];
};

export async function pdbStatus(client: ApiClient, ns: string, name: string): Promise<PdbStatus> {
  return ((await client.get(R.poddisruptionbudgets, ns, name)).status ?? {}) as PdbStatus;
}
