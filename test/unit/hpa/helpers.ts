// Test-only helpers for the HPA controller: a fake metrics source, a fake clock, pods with
// requests and a Ready status written through the status subresource, bounded waits, fixtures.
import type { ApiClient } from '../../../src/client/client.js';
import { R } from '../../../src/client/client.js';
import type { KObject } from '../../../src/machinery/object.js';
import type { PodMetric, PodMetricsSource } from '../../../src/controllers/hpa/index.js';
import { until } from '../../support/wait.js';

/** Usage per pod, set by the test: `set(ns, pod, { cpu: '50m' })`; pods never set have no metrics. */
export class FakeMetrics implements PodMetricsSource {
  private usage = new Map<string, Map<string, Record<string, string>>>();
  calls = 0;
  failWith?: Error;

  set(ns: string, pod: string, usage: Record<string, string>): void {
    if (!this.usage.has(ns)) this.usage.set(ns, new Map());
    this.usage.get(ns)!.set(pod, usage);
  }

  clear(ns: string, pod?: string): void {
    if (pod) this.usage.get(ns)?.delete(pod);
    else this.usage.delete(ns);
  }

  async podMetrics(namespace: string): Promise<PodMetric[]> {
    this.calls++;
    if (this.failWith) throw this.failWith;
    return [...(this.usage.get(namespace) ?? new Map<string, Record<string, string>>())].map(([name, usage]) => ({
      metadata: { name, namespace },
      containers: [{ name: 'app', usage }],
    }));
  }
}

export class FakeClock {
  constructor(public t: number) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

const TEN_MIN = 10 * 60_000;

function ts(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

export async function createNs(client: ApiClient, name: string): Promise<void> {
  await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

export interface PodOptions {
  requests?: Record<string, string>;
  /** 'ready' (default): Running and Ready since ten minutes; 'pending': Pending; 'unready': Running, never Ready. */
  state?: 'ready' | 'pending' | 'unready';
}

/** A pod with one container `app` and the given requests, in the given state. */
export async function createPod(client: ApiClient, ns: string, name: string, labels: Record<string, string>, o: PodOptions = {}): Promise<KObject> {
  const pod = await client.create(R.pods, ns, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { containers: [{ name: 'app', image: 'busybox', resources: { requests: o.requests ?? { cpu: '100m', memory: '64Mi' } } }] },
  });
  const state = o.state ?? 'ready';
  const since = ts(Date.now() - TEN_MIN);
  const status =
    state === 'pending'
      ? { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: since }] }
      : {
          phase: 'Running',
          startTime: since,
          conditions: [
            { type: 'Initialized', status: 'True', lastTransitionTime: since },
            { type: 'Ready', status: state === 'ready' ? 'True' : 'False', lastTransitionTime: since },
            { type: 'ContainersReady', status: state === 'ready' ? 'True' : 'False', lastTransitionTime: since },
            { type: 'PodScheduled', status: 'True', lastTransitionTime: since },
          ],
        };
  return client.patch(R.pods, ns, name, 'application/merge-patch+json', { status }, 'status');
}

export function deployment(name: string, replicas: number, labels: Record<string, string>): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'busybox', resources: { requests: { cpu: '100m' } } }] } },
    },
  };
}

export function statefulSet(name: string, replicas: number, labels: Record<string, string>): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'busybox' }] } },
    },
  };
}

export function hpa(name: string, target: { kind: string; name: string; apiVersion?: string }, spec: Record<string, unknown>): KObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', ...target }, ...spec },
  };
}

export function cpuMetric(utilization: number): Record<string, unknown> {
  return { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: utilization } } };
}

export function condition(obj: KObject, type: string): { type: string; status: string; reason?: string; message?: string } | undefined {
  const conds = ((obj.status as { conditions?: { type: string; status: string; reason?: string; message?: string }[] } | undefined)?.conditions ?? []);
  return conds.find((c) => c.type === type);
}

export async function eventsFor(client: ApiClient, ns: string, name: string, reason?: string): Promise<KObject[]> {
  const { items } = await client.list(R.events, ns);
  return items.filter((e) => (e.involvedObject as { name?: string }).name === name && (!reason || e.reason === reason));
}

/** Polls `fn` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs?: number): Promise<T> {
  return until(fn, what, timeoutMs);
}
