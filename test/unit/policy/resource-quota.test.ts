import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { R } from '../../../src/client/client.js';
import { ResourceQuotaController } from '../../../src/controllers/resourcequota.js';
import { quotaCells } from '../../../src/api/core/v1/resourcequota.js';
import { podResources, quotaTarget, usageOf, formatResourceList } from '../../../src/apiserver/admission/resource-quota.js';
import { QUOTAS, eventually, pod, quota, rejection, withPolicy } from './helpers.js';

const NS = 'team';

describe('ResourceQuota admission', () => {
  it('refuses the pod that would exceed `pods: 2`, with upstream\'s message', () =>
    withPolicy(async ({ client }) => {
      await client.create(QUOTAS, NS, quota('pod-count', { pods: '2' }));
      await client.create(R.pods, NS, pod('p1'));
      await client.create(R.pods, NS, pod('p2'));
      const e = await rejection(client.create(R.pods, NS, pod('p3')));
      assert.equal(e.code, 403);
      assert.equal(e.reason, 'Forbidden');
      assert.equal(e.message, 'pods "p3" is forbidden: exceeded quota: pod-count, requested: pods=1, used: pods=2, limited: pods=2');
      // Room again once a pod is gone; terminal pods do not count either.
      await client.delete(R.pods, NS, 'p1', { gracePeriodSeconds: 0 });
      await client.create(R.pods, NS, pod('p3'));
      const p2 = await client.get(R.pods, NS, 'p2');
      await client.update(R.pods, NS, { ...p2, status: { phase: 'Succeeded' } }, 'status');
      await client.create(R.pods, NS, pod('p4'));
      // Quotas in other namespaces do not apply.
      await client.create(R.pods, 'default', pod('elsewhere'));
    }));

  it('totals requests.cpu and demands that containers state what a quota tracks', () =>
    withPolicy(async ({ client }) => {
      await client.create(QUOTAS, NS, quota('compute-resources', { 'requests.cpu': '1', 'limits.memory': '1Gi' }));
      const bare = await rejection(client.create(R.pods, NS, pod('bare')));
      assert.equal(bare.message, 'pods "bare" is forbidden: failed quota: compute-resources: must specify limits.memory for: app; requests.cpu for: app');
      const res = { requests: { cpu: '600m' }, limits: { memory: '256Mi' } };
      await client.create(R.pods, NS, pod('a', { resources: res }));
      const e = await rejection(client.create(R.pods, NS, pod('b', { resources: res })));
      assert.equal(e.message, 'pods "b" is forbidden: exceeded quota: compute-resources, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1');
      await client.create(R.pods, NS, pod('c', { resources: { requests: { cpu: '400m' }, limits: { memory: '768Mi' } } }));
      const m = await rejection(client.create(R.pods, NS, pod('d', { resources: { requests: { cpu: '0' }, limits: { memory: '1Mi' } } })));
      assert.equal(m.message, 'pods "d" is forbidden: exceeded quota: compute-resources, requested: limits.memory=1Mi, used: limits.memory=1Gi, limited: limits.memory=1Gi');
    }));

  it('counts configmaps, secrets, services, node ports, claims and count/<resource>.<group>', () =>
    withPolicy(async ({ client }) => {
      await client.create(
        QUOTAS,
        NS,
        quota('objects', {
          configmaps: '1',
          'count/secrets': '1',
          services: '2',
          'services.nodeports': '1',
          'requests.storage': '1Gi',
          'count/deployments.apps': '1',
        }),
      );
      const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: 'b' } });
      await client.create(R.configmaps, NS, cm('one'));
      assert.equal((await rejection(client.create(R.configmaps, NS, cm('two')))).message, 'configmaps "two" is forbidden: exceeded quota: objects, requested: configmaps=1, used: configmaps=1, limited: configmaps=1');
      const secret = (name: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { a: 'b' } });
      await client.create(R.secrets, NS, secret('s1'));
      assert.match((await rejection(client.create(R.secrets, NS, secret('s2')))).message, /requested: count\/secrets=1, used: count\/secrets=1, limited: count\/secrets=1$/);

      const svc = (name: string, type = 'ClusterIP') => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type, selector: { a: 'b' }, ports: [{ port: 80 }] } });
      await client.create(R.services, NS, svc('web', 'NodePort'));
      const cluster = await client.create(R.services, NS, svc('api'));
      // Turning the second into a NodePort would take a second node port.
      const e = await rejection(client.update(R.services, NS, { ...cluster, spec: { ...(cluster.spec as object), type: 'NodePort' } }));
      assert.equal(e.message, 'services "api" is forbidden: exceeded quota: objects, requested: services.nodeports=1, used: services.nodeports=1, limited: services.nodeports=1');
      assert.match((await rejection(client.create(R.services, NS, svc('third')))).message, /requested: services=1, used: services=2, limited: services=2$/);

      const claim = (name: string, size: string) => ({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } } },
      });
      await client.create(R.persistentvolumeclaims, NS, claim('small', '512Mi'));
      assert.match((await rejection(client.create(R.persistentvolumeclaims, NS, claim('big', '1Gi')))).message, /requested: requests.storage=1Gi, used: requests.storage=512Mi, limited: requests.storage=1Gi$/);

      const deploy = (name: string) => ({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name },
        spec: { selector: { matchLabels: { a: name } }, template: { metadata: { labels: { a: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
      });
      await client.create(R.deployments, NS, deploy('d1'));
      assert.equal((await rejection(client.create(R.deployments, NS, deploy('d2')))).message, 'deployments.apps "d2" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1');
    }));

  it('lets exactly the allowed number of concurrent creates through', () =>
    withPolicy(async ({ client }) => {
      await client.create(QUOTAS, NS, quota('pods', { pods: '3' }));
      const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => client.create(R.pods, NS, pod(`p${i}`))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
      assert.equal((await client.list(R.pods, NS)).items.length, 3);
    }));

  it('applies scoped quotas only to the pods they select', () =>
    withPolicy(async ({ client }) => {
      await client.create(QUOTAS, NS, quota('best-effort', { pods: '1' }, { scopes: ['BestEffort'] }));
      await client.create(QUOTAS, NS, quota('high', { pods: '1' }, { scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }] } }));
      await client.create(R.priorityclasses, undefined, { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'high' }, value: 1000 });
      await client.create(R.pods, NS, pod('be1'));
      assert.match((await rejection(client.create(R.pods, NS, pod('be2')))).message, /exceeded quota: best-effort/);
      const burstable = { requests: { cpu: '100m' } };
      await client.create(R.pods, NS, pod('b1', { resources: burstable }));
      await client.create(R.pods, NS, pod('b2', { resources: burstable }));
      await client.create(R.pods, NS, pod('h1', { resources: burstable, spec: { priorityClassName: 'high' } }));
      assert.match((await rejection(client.create(R.pods, NS, pod('h2', { resources: burstable, spec: { priorityClassName: 'high' } })))).message, /exceeded quota: high, requested: pods=1/);
    }));

  it('does not charge dry runs', () =>
    withPolicy(async ({ t }) => {
      const r = t.api.resources;
      const ctx = () => ({ user: { name: 'admin', groups: ['system:masters'] }, warnings: [] as string[] });
      await r.create(r.spec('', 'v1', 'resourcequotas'), NS, quota('one', { pods: '1' }), ctx());
      for (let i = 0; i < 3; i++) await r.create(r.spec('', 'v1', 'pods'), NS, pod(`dry${i}`), { ...ctx(), dryRun: true });
      await r.create(r.spec('', 'v1', 'pods'), NS, pod('real'), ctx());
    }));
});

describe('quota usage evaluators', () => {
  it('computes effective pod requests with init containers, sidecars and overhead', () => {
    const spec = {
      containers: [{ name: 'a', resources: { requests: { cpu: '100m', memory: '64Mi' } } }, { name: 'b', resources: { requests: { cpu: '200m' } } }],
      initContainers: [
        { name: 'sidecar', restartPolicy: 'Always', resources: { requests: { cpu: '50m' } } },
        { name: 'init', resources: { requests: { cpu: '1', memory: '32Mi' } } },
      ],
      overhead: { cpu: '10m' },
    };
    assert.deepEqual(formatResourceList(podResources(spec, 'requests')), { cpu: '1060m', memory: '64Mi' });
    const usage = formatResourceList(usageOf({ group: '', resource: 'pods' }, { metadata: {}, spec }, Date.now()));
    assert.equal(usage['requests.cpu'], '1060m');
    assert.equal(usage.cpu, '1060m');
    assert.equal(usage.pods, '1');
    assert.equal(usage['count/pods'], '1');
  });

  it('maps quota names to the resources they measure', () => {
    assert.deepEqual(quotaTarget('count/deployments.apps'), { group: 'apps', resource: 'deployments' });
    assert.deepEqual(quotaTarget('count/pods'), { group: '', resource: 'pods' });
    assert.deepEqual(quotaTarget('limits.memory'), { group: '', resource: 'pods' });
    assert.deepEqual(quotaTarget('gold.storageclass.storage.k8s.io/requests.storage'), { group: '', resource: 'persistentvolumeclaims' });
    assert.deepEqual(quotaTarget('services.loadbalancers'), { group: '', resource: 'services' });
    assert.equal(quotaTarget('storage'), undefined);
  });
});

describe('ResourceQuota controller', () => {
  it('keeps status.hard and status.used current (what kubectl get/describe quota print)', () =>
    withPolicy(async ({ t, client }) => {
      const ctl = new ResourceQuotaController(t.client('system:controller:resourcequota-controller'), { resyncMs: 200 });
      await ctl.start();
      try {
        await client.create(QUOTAS, NS, quota('compute-resources', { pods: '2', 'requests.cpu': '2', 'limits.cpu': '4', 'count/configmaps': '5' }));
        const res = { requests: { cpu: '500m' }, limits: { cpu: '1' } };
        await client.create(R.pods, NS, pod('a', { resources: res }));
        await client.create(R.configmaps, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } });
        const q = await eventually(async () => {
          const cur = await client.get(QUOTAS, NS, 'compute-resources');
          const used = (cur.status as { used?: Record<string, string> } | undefined)?.used;
          return used?.pods === '1' && used['count/configmaps'] === '1' ? cur : undefined;
        }, 'status.used');
        assert.deepEqual(q.status, {
          hard: { 'count/configmaps': '5', 'limits.cpu': '4', pods: '2', 'requests.cpu': '2' },
          used: { 'count/configmaps': '1', 'limits.cpu': '1', pods: '1', 'requests.cpu': '500m' },
        });
        assert.deepEqual(quotaCells(q), { request: 'count/configmaps: 1/5, pods: 1/2, requests.cpu: 500m/2', limit: 'limits.cpu: 1/4' });

        await client.create(R.pods, NS, pod('b', { resources: res }));
        await eventually(async () => ((await client.get(QUOTAS, NS, 'compute-resources')).status as { used: Record<string, string> }).used['requests.cpu'] === '1' || undefined, 'second pod counted');
        await client.delete(R.pods, NS, 'a', { gracePeriodSeconds: 0 });
        await eventually(async () => ((await client.get(QUOTAS, NS, 'compute-resources')).status as { used: Record<string, string> }).used.pods === '1' || undefined, 'deleted pod uncounted');

        // A changed spec.hard is reflected in status.hard.
        const cur = await client.get(QUOTAS, NS, 'compute-resources');
        await client.update(QUOTAS, NS, { ...cur, spec: { hard: { pods: '10' } } });
        await eventually(async () => {
          const s = (await client.get(QUOTAS, NS, 'compute-resources')).status as { hard: Record<string, string>; used: Record<string, string> };
          return s.hard.pods === '10' && Object.keys(s.hard).length === 1 && s.used.pods === '1' ? true : undefined;
        }, 'new hard');
      } finally {
        ctl.stop();
      }
    }));
});
