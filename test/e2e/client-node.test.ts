// @kubernetes/client-node, unmodified, against a Skiff cluster: typed CRUD, list with
// selectors, watch, and server-side errors surfaced as ApiExceptions.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { TestCluster, eventually } from './harness.js';

let c: TestCluster;
let kc: k8s.KubeConfig;

before(async () => {
  c = await TestCluster.create('clientnode');
  kc = new k8s.KubeConfig();
  kc.loadFromFile(c.kubeconfig);
});
after(async () => {
  await c?.destroy();
});

describe('@kubernetes/client-node', () => {
  it('creates, reads, lists by label, patches and deletes', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cn', labels: { from: 'client-node' } }, data: { a: '1' } } });
    const got = await core.readNamespacedConfigMap({ namespace: 'default', name: 'cn' });
    assert.equal(got.data?.a, '1');
    const list = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'from=client-node' });
    assert.deepEqual(list.items.map((i) => i.metadata?.name), ['cn']);
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'cn-web' },
        spec: { selector: { matchLabels: { app: 'cn' } }, template: { metadata: { labels: { app: 'cn' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
      },
    });
    const d = await apps.readNamespacedDeployment({ namespace: 'default', name: 'cn-web' });
    assert.equal(d.spec?.replicas, 1, 'defaulted');
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'cn' });
    await assert.rejects(core.readNamespacedConfigMap({ namespace: 'default', name: 'cn' }), (e: unknown) => (e as { code?: number }).code === 404);
  });

  it('reports a 422 with the invalid field', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await assert.rejects(
      core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'Bad_Name' } } }),
      (e: unknown) => (e as { code?: number }).code === 422 && /metadata\.name/.test(String((e as { body?: unknown }).body)),
    );
  });

  it('watches changes', async () => {
    const events: string[] = [];
    const watch = new k8s.Watch(kc);
    const req = await watch.watch(
      '/api/v1/namespaces/default/configmaps',
      {},
      (type, obj: k8s.V1ConfigMap) => events.push(`${type} ${obj.metadata?.name}`),
      () => {},
    );
    try {
      const core = kc.makeApiClient(k8s.CoreV1Api);
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'watched' } } });
      await eventually(async () => events.includes('ADDED watched'), 'the ADDED event');
    } finally {
      req.abort();
    }
  });
});
