// Fixtures for the policy admission tests: an in-memory API with the quota, limit-range, priority
// and pod-preset plugins in upstream's order, object builders and a bounded wait.
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient, type ResourceRef } from '../../../src/client/client.js';
import type { KObject } from '../../../src/machinery/object.js';
import { StatusError } from '../../../src/machinery/errors.js';
import { ResourceQuotaAdmission } from '../../../src/apiserver/admission/resource-quota.js';
import { limitRanger } from '../../../src/apiserver/admission/limit-ranger.js';
import { PriorityAdmission } from '../../../src/apiserver/admission/priority.js';
import { PodPresetAdmission } from '../../../src/apiserver/admission/pod-preset.js';
import { settingsV1alpha1Kinds } from '../../../src/api/settings/v1alpha1/index.js';

export const QUOTAS: ResourceRef = { group: '', version: 'v1', resource: 'resourcequotas' };
export const LIMIT_RANGES: ResourceRef = { group: '', version: 'v1', resource: 'limitranges' };
export const PODPRESETS: ResourceRef = { group: 'settings.k8s.io', version: 'v1alpha1', resource: 'podpresets' };

export interface PolicyApi {
  t: TestApi;
  client: ApiClient;
  quota: ResourceQuotaAdmission;
}

export async function withPolicy(fn: (p: PolicyApi) => Promise<void>, namespaces: string[] = ['team']): Promise<void> {
  const t = await startTestApi({ admission: 'minimal' });
  for (const k of settingsV1alpha1Kinds) t.api.registry.add(k);
  const quota = new ResourceQuotaAdmission();
  t.api.resources.use(new PodPresetAdmission());
  t.api.resources.use(limitRanger);
  t.api.resources.use(new PriorityAdmission());
  t.api.resources.use(quota);
  const client = t.client('test');
  for (const name of namespaces) await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  try {
    await fn({ t, client, quota });
  } finally {
    await t.close();
  }
}

export function pod(name: string, opts: { labels?: Record<string, string>; resources?: Record<string, unknown>; spec?: Record<string, unknown>; containers?: Record<string, unknown>[] } = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: opts.labels },
    spec: {
      containers: opts.containers ?? [{ name: 'app', image: 'nginx', ...(opts.resources ? { resources: opts.resources } : {}) }],
      ...(opts.spec ?? {}),
    },
  };
}

export function quota(name: string, hard: Record<string, string>, extra: Record<string, unknown> = {}): KObject {
  return { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name }, spec: { hard, ...extra } };
}

/** The StatusError a promise rejects with (fails when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<StatusError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StatusError) return e;
    throw e;
  }
  throw new Error('expected the request to be refused');
}

/** Poll until `check` returns a value (bounded; for controllers). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
