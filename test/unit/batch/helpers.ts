// Test-only helpers for the Job and CronJob controllers: a fake kubelet that runs pods to an exit
// code (or holds them Running), tracks how many of a Job's pods run at once, a fake clock with
// timers, bounded waits and fixtures.
import type { ApiClient } from '../../../src/client/client.js';
import { R } from '../../../src/client/client.js';
import { Informer } from '../../../src/client/informer.js';
import type { KObject } from '../../../src/machinery/object.js';
import { until } from '../../support/wait.js';

/** What the fake kubelet does with a pod: exit with a code, or stay Running until told. */
export type Outcome = { exitCode: number } | 'hold';

export interface FakeKubeletOptions {
  /** Decides each new pod's fate; default exit 0. */
  outcome?: (pod: KObject) => Outcome;
  /** Time a pod spends Running before it exits; default 15 ms. */
  runMs?: number;
}

function ts(ms = Date.now()): string {
  return new Date(ms).toISOString();
}

function phaseOf(pod: KObject): string {
  return (pod.status as { phase?: string } | undefined)?.phase ?? '';
}

export class FakeKubelet {
  private informer: Informer;
  private timers = new Set<NodeJS.Timeout>();
  private seen = new Set<string>();
  private stopped = false;
  /** Per owner uid: pods currently running (created, not terminal, not deleted). */
  private running = new Map<string, Set<string>>();
  /** Per owner uid: the most pods that ran at once. */
  readonly maxConcurrent = new Map<string, number>();

  constructor(
    private client: ApiClient,
    private opts: FakeKubeletOptions = {},
  ) {
    this.informer = new Informer(client, R.pods);
    this.informer.on({
      onAdd: (p) => this.consider(p),
      onUpdate: (p) => this.consider(p),
      onDelete: (p) => this.forget(p),
    });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): void {
    this.stopped = true;
    this.informer.stop();
    for (const t of this.timers) clearTimeout(t);
  }

  private owner(pod: KObject): string {
    return pod.metadata.ownerReferences?.find((r) => r.controller)?.uid ?? '';
  }

  private forget(pod: KObject): void {
    this.running.get(this.owner(pod))?.delete(pod.metadata.uid!);
  }

  private consider(pod: KObject): void {
    const phase = phaseOf(pod);
    if (pod.metadata.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed') {
      this.forget(pod);
      return;
    }
    const uid = pod.metadata.uid!;
    if (this.seen.has(uid)) return;
    this.seen.add(uid);
    const owner = this.owner(pod);
    const set = this.running.get(owner) ?? new Set<string>();
    this.running.set(owner, set);
    set.add(uid);
    this.maxConcurrent.set(owner, Math.max(this.maxConcurrent.get(owner) ?? 0, set.size));
    const outcome = this.opts.outcome?.(pod) ?? { exitCode: 0 };
    this.later(0, () => setRunning(this.client, pod));
    if (outcome !== 'hold') this.later(this.opts.runMs ?? 15, () => finishPod(this.client, pod, outcome.exitCode));
  }

  private later(ms: number, fn: () => Promise<unknown>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn().catch(() => {});
    }, ms);
    this.timers.add(t);
  }
}

function containers(pod: KObject): { name: string; image: string }[] {
  return ((pod.spec as { containers?: { name: string; image: string }[] }).containers ?? []).map((c) => ({ name: c.name, image: c.image }));
}

export async function setRunning(client: ApiClient, pod: KObject): Promise<KObject> {
  const t = ts();
  const status = {
    phase: 'Running',
    startTime: t,
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: t }],
    containerStatuses: containers(pod).map((c) => ({ ...c, ready: true, restartCount: 0, started: true, state: { running: { startedAt: t } } })),
  };
  return client.patch(R.pods, pod.metadata.namespace, pod.metadata.name!, 'application/merge-patch+json', { status }, 'status');
}

/** Ends a pod's container with `exitCode`: Succeeded for 0, Failed otherwise. */
export async function finishPod(client: ApiClient, pod: KObject, exitCode: number): Promise<KObject> {
  const t = ts();
  const status = {
    phase: exitCode === 0 ? 'Succeeded' : 'Failed',
    conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: t, reason: 'PodCompleted' }],
    containerStatuses: containers(pod).map((c) => ({
      ...c,
      ready: false,
      restartCount: 0,
      started: false,
      state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: t, finishedAt: t } },
    })),
  };
  return client.patch(R.pods, pod.metadata.namespace, pod.metadata.name!, 'application/merge-patch+json', { status }, 'status');
}

/** Polls `fn` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs?: number): Promise<T> {
  return until(fn, what, timeoutMs);
}

export function jobTemplateSpec(extra: Record<string, unknown> = {}, command = ['sh', '-c', 'true']): Record<string, unknown> {
  return {
    template: { spec: { restartPolicy: 'Never', containers: [{ name: 'work', image: 'busybox', command }] } },
    ...extra,
  };
}

export function job(name: string, extra: Record<string, unknown> = {}): KObject {
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: { name }, spec: jobTemplateSpec(extra) };
}

export function cronJob(name: string, schedule: string, extra: Record<string, unknown> = {}, jobExtra: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name },
    spec: { schedule, jobTemplate: { metadata: { labels: { app: name } }, spec: jobTemplateSpec(jobExtra) }, ...extra },
  };
}

export function condition(obj: KObject, type: string): { type: string; status: string; reason?: string; message?: string } | undefined {
  const conds = (obj.status as { conditions?: { type: string; status: string; reason?: string; message?: string }[] } | undefined)?.conditions ?? [];
  return conds.find((c) => c.type === type);
}

export function ownerUid(o: KObject): string | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller)?.uid;
}

export async function createNs(client: ApiClient, name: string): Promise<void> {
  await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

export async function podsOf(client: ApiClient, ns: string, owner: KObject): Promise<KObject[]> {
  const { items } = await client.list(R.pods, ns);
  return items.filter((p) => ownerUid(p) === owner.metadata.uid);
}

export async function eventsFor(client: ApiClient, ns: string, name: string, reason?: string): Promise<KObject[]> {
  const { items } = await client.list(R.events, ns);
  return items.filter((e) => (e.involvedObject as { name?: string }).name === name && (reason === undefined || e.reason === reason));
}

/** A settable clock whose timers fire when it is advanced past them. */
export class FakeClock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;
  /** While paused, advancing moves time but fires nothing (a controller that was down). */
  paused = false;

  constructor(public t: number) {}

  now = (): number => this.t;

  setTimer = (fn: () => void, ms: number): (() => void) => {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  };

  advanceTo(t: number): void {
    this.t = Math.max(this.t, t);
    if (this.paused) return;
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const d of due) d.fn();
  }

  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  pending(): number[] {
    return this.timers.map((x) => x.at).sort((a, b) => a - b);
  }
}
