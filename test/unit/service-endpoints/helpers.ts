// Builders and waits for the endpoints tests, over the in-memory API.
import type { KObject } from '../../../src/machinery/object.js';
import { R, type ApiClient, type ResourceRef } from '../../../src/client/client.js';
import { until } from '../../support/wait.js';

export function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs?: number): Promise<T> {
  return until(fn, what, timeoutMs);
}

/** A client that counts its writes per resource. */
export function countingClient(c: ApiClient): { client: ApiClient; writes: Map<string, number> } {
  const writes = new Map<string, number>();
  const client = new Proxy(c, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function') return v;
      if (['create', 'update', 'patch', 'delete'].includes(prop as string))
        return (r: ResourceRef, ...rest: unknown[]) => {
          writes.set(r.resource, (writes.get(r.resource) ?? 0) + 1);
          return (v as (...a: unknown[]) => unknown).call(target, r, ...rest);
        };
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { client, writes };
}

export function node(name: string, labels: Record<string, string> = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
    spec: {},
    status: { capacity: { cpu: '4', memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

export interface PodOpts {
  labels?: Record<string, string>;
  node?: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  spec?: Record<string, unknown>;
  namespace?: string;
}

export function pod(name: string, o: PodOpts = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: o.namespace ?? 'default', labels: o.labels ?? { app: 'web' } },
    spec: {
      containers: [{ name: 'c', image: 'busybox', ...(o.ports ? { ports: o.ports } : {}) }],
      ...(o.node === undefined ? { nodeName: 'n1' } : o.node ? { nodeName: o.node } : {}),
      ...(o.spec ?? {}),
    },
  };
}

/** Creates a pod and gives it an IP and a Ready condition, as a kubelet would. */
export async function runPod(client: ApiClient, p: KObject, ip: string, ready: boolean): Promise<KObject> {
  const ns = p.metadata.namespace ?? 'default';
  const created = await client.create(R.pods, ns, p);
  return setPodStatus(client, created, ip, ready);
}

export async function setPodStatus(client: ApiClient, p: KObject, ip: string, ready: boolean): Promise<KObject> {
  const ns = p.metadata.namespace ?? 'default';
  const live = await client.get(R.pods, ns, p.metadata.name!);
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  live.status = {
    ...(live.status as object),
    phase: 'Running',
    podIP: ip,
    podIPs: [{ ip }],
    conditions: [
      { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t },
      { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: t },
    ],
  };
  return client.update(R.pods, ns, live, 'status');
}

export function service(name: string, spec: Record<string, unknown>, namespace = 'default'): KObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec };
}
