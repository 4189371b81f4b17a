// Builders for Node and Pod objects, and a running scheduler over the in-memory API.
import type { KObject } from '../../../src/machinery/object.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { Scheduler, type SchedulerOptions } from '../../../src/scheduler/index.js';
import { NodeInfo, PodInfo } from '../../../src/scheduler/types.js';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { until } from '../../support/wait.js';

export interface NodeOpts {
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  unschedulable?: boolean;
  extra?: Record<string, string>;
}

export function node(name: string, o: NodeOpts = {}): KObject {
  const alloc = { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110', 'ephemeral-storage': '100Gi', ...(o.extra ?? {}) };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...(o.labels ?? {}) } },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: { capacity: alloc, allocatable: alloc, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

export interface PodOpts {
  cpu?: string;
  memory?: string;
  labels?: Record<string, string>;
  spec?: Record<string, unknown>;
  namespace?: string;
  requests?: Record<string, string>;
}

export function pod(name: string, o: PodOpts = {}): KObject {
  const requests = { ...(o.cpu ? { cpu: o.cpu } : {}), ...(o.memory ? { memory: o.memory } : {}), ...(o.requests ?? {}) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: o.namespace ?? 'default', labels: o.labels ?? {}, uid: `uid-${name}`, creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: {
      containers: [{ name: 'c', image: 'busybox', ...(Object.keys(requests).length ? { resources: { requests } } : {}) }],
      ...(o.spec ?? {}),
    },
  };
}

/** NodeInfos for direct framework tests; `bound` maps node name → pods on it. */
export function nodeInfos(nodes: KObject[], bound: Record<string, KObject[]> = {}): NodeInfo[] {
  return nodes.map((n) => {
    const info = new NodeInfo(n.metadata.name!);
    info.setNode(n);
    for (const p of bound[n.metadata.name!] ?? []) info.addPod(new PodInfo(p, n.metadata.name!));
    return info;
  });
}

export interface Cluster {
  t: TestApi;
  client: ApiClient;
  sched: Scheduler;
  addNodes(...nodes: KObject[]): Promise<void>;
  createPod(p: KObject): Promise<KObject>;
  getPod(name: string, ns?: string): Promise<KObject>;
  waitBound(name: string, ns?: string): Promise<string>;
  close(): Promise<void>;
}

export function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs?: number): Promise<T> {
  return until(fn, what, timeoutMs);
}

export async function cluster(opts: SchedulerOptions = {}, nodes: KObject[] = []): Promise<Cluster> {
  const t = await startTestApi();
  const client = t.client('system:kube-scheduler');
  for (const n of nodes) await client.create(R.nodes, undefined, n);
  const sched = new Scheduler(client, { initialBackoffMs: 10, maxBackoffMs: 50, random: Math.random, ...opts });
  await sched.start();
  const strip = (p: KObject) => {
    const c = structuredClone(p);
    delete c.metadata.uid;
    delete c.metadata.creationTimestamp;
    return c;
  };
  const getPod = (name: string, ns = 'default') => client.get(R.pods, ns, name);
  return {
    t,
    client,
    sched,
    async addNodes(...ns) {
      for (const n of ns) await client.create(R.nodes, undefined, n);
    },
    createPod: (p) => client.create(R.pods, p.metadata.namespace ?? 'default', strip(p)),
    getPod,
    waitBound: (name, ns = 'default') =>
      waitFor(async () => ((await getPod(name, ns)).spec as { nodeName?: string }).nodeName || undefined, `pod ${name} bound`),
    async close() {
      sched.stop();
      await t.close();
    },
  };
}
