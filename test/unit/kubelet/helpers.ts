// Shared set-up for the pod lifecycle tests: an in-memory API, the fake runtime and a PodManager
// with short back-off and probe periods.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import type { KObject } from '../../../src/machinery/object.js';
import { PodManager, type PodManagerOptions } from '../../../src/kubelet/pods/pod-manager.js';
import { FakeRuntime } from './fake-runtime.js';

export const NODE = 'node-1';

export interface Env {
  t: TestApi;
  client: ApiClient;
  rt: FakeRuntime;
  pm: PodManager;
  root: string;
  newManager(extra?: Partial<PodManagerOptions>): PodManager;
  close(): Promise<void>;
}

/** Pods on a node end gracefully (the kubelet finishes the deletion): make sure the API says so in these tests. */
function ensureGracefulPods(t: TestApi): void {
  const spec = t.api.resources.spec('', 'v1', 'pods') as { gracefulDeleteSeconds?: (o: KObject, r: number | undefined) => number | undefined };
  if (spec.gracefulDeleteSeconds) return;
  spec.gracefulDeleteSeconds = (obj, requested) => {
    if (!(obj.spec as { nodeName?: string } | undefined)?.nodeName) return undefined;
    return requested ?? (obj.spec as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds ?? 30;
  };
}

export async function setup(extra: Partial<PodManagerOptions> = {}): Promise<Env> {
  const t = await startTestApi();
  ensureGracefulPods(t);
  const client = t.client(`system:node:${NODE}`);
  const rt = new FakeRuntime();
  const root = await mkdtemp(path.join(os.tmpdir(), 'skiff-kubelet-'));
  const managers: PodManager[] = [];
  const newManager = (more: Partial<PodManagerOptions> = {}) => {
    const pm = new PodManager({
      client,
      runtime: rt,
      nodeName: NODE,
      podCIDR: '127.244.1.0/24',
      rootDir: root,
      clusterDNS: ['127.96.0.10'],
      backoff: { initialMs: 300, maxMs: 1200 },
      probeSecondMs: 40,
      ...extra,
      ...more,
    });
    managers.push(pm);
    return pm;
  };
  const pm = newManager();
  await pm.start();
  return {
    t,
    client,
    rt,
    pm,
    root,
    newManager,
    async close() {
      for (const m of managers) await m.stop();
      await t.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export function podObj(name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}): KObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', ...meta }, spec: { nodeName: NODE, ...spec } };
}

/** Poll until fn returns something truthy (bounded; fails with `what`). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false | null> | T | undefined | false | null, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

export async function getPod(client: ApiClient, name: string): Promise<KObject> {
  return client.get(R.pods, 'default', name);
}

/** Wait until the pod's status satisfies pred; returns the pod. */
export function waitPod(client: ApiClient, name: string, what: string, pred: (status: any, pod: KObject) => boolean, ms?: number): Promise<KObject> {
  return waitFor(
    what,
    async () => {
      const p = await getPod(client, name);
      return pred((p.status ?? {}) as any, p) ? p : undefined;
    },
    ms,
  );
}

export async function events(client: ApiClient, podName: string): Promise<{ reason: string; message: string; type: string }[]> {
  const list = await client.list(R.events, 'default');
  return list.items.filter((e) => (e.involvedObject as { name?: string }).name === podName).map((e) => e as unknown as { reason: string; message: string; type: string });
}

export function cond(status: any, type: string): any {
  return (status.conditions ?? []).find((c: any) => c.type === type);
}

export function cs(status: any, name: string, init = false): any {
  return ((init ? status.initContainerStatuses : status.containerStatuses) ?? []).find((c: any) => c.name === name);
}
