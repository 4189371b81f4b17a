import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { R } from '../../../src/client/client.js';
import { EndpointsController, LAST_CHANGE_TRIGGER_TIME, LABEL_HEADLESS } from '../../../src/controllers/endpoints.js';
import { startTestApi } from '../../support/in-memory-api.js';
import { countingClient, node, pod, runPod, service, setPodStatus, waitFor } from './helpers.js';

async function setup() {
  const t = await startTestApi();
  const admin = t.client('admin');
  await admin.create(R.nodes, undefined, node('n1'));
  const { client, writes } = countingClient(t.client('system:endpoint-controller'));
  const ctrl = new EndpointsController(client);
  await ctrl.start();
  const getEp = (name: string, ns = 'default') => admin.get(R.endpoints, ns, name).catch(() => undefined);
  return {
    admin,
    ctrl,
    writes,
    getEp,
    async close() {
      ctrl.stop();
      await t.close();
    },
  };
}

const ips = (ss: any, key = 'addresses') => (ss?.[key] ?? []).map((a: any) => a.ip);

test('ready and not-ready pods, then readiness flips at once', async () => {
  const c = await setup();
  try {
    await c.admin.create(R.services, 'default', service('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }));
    await runPod(c.admin, pod('a'), '127.1.0.2', true);
    await runPod(c.admin, pod('b'), '127.1.0.10', true);
    const notReady = await runPod(c.admin, pod('c'), '127.1.0.3', false);
    await runPod(c.admin, pod('other', { labels: { app: 'db' } }), '127.1.0.4', true);
    await runPod(c.admin, pod('pending'), '', true).catch(() => undefined); // no IP: never listed

    let ep = await waitFor(async () => {
      const e = await c.getEp('web');
      const ss = (e?.subsets as any[]) ?? [];
      return ss.length === 1 && ips(ss[0]).length === 2 && ips(ss[0], 'notReadyAddresses').length === 1 ? e : undefined;
    }, 'endpoints with 2 ready + 1 not ready');
    const ss = (ep.subsets as any[])[0];
    assert.deepEqual(ips(ss), ['127.1.0.2', '127.1.0.10']); // numeric IP order
    assert.deepEqual(ips(ss, 'notReadyAddresses'), ['127.1.0.3']);
    assert.deepEqual(ss.ports, [{ port: 8080, protocol: 'TCP' }]);
    const a = ss.addresses[0];
    assert.equal(a.nodeName, 'n1');
    assert.deepEqual(Object.keys(a.targetRef).sort(), ['kind', 'name', 'namespace', 'uid']);
    assert.equal(a.targetRef.kind, 'Pod');
    assert.equal(a.targetRef.name, 'a');
    assert.match(ep.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Unready: moves to notReadyAddresses; ready again: back.
    await setPodStatus(c.admin, await c.admin.get(R.pods, 'default', 'a'), '127.1.0.2', false);
    ep = await waitFor(async () => {
      const e = await c.getEp('web');
      return ips((e?.subsets as any[])?.[0], 'notReadyAddresses').includes('127.1.0.2') ? e : undefined;
    }, 'pod a not ready');
    assert.deepEqual(ips((ep.subsets as any[])[0]), ['127.1.0.10']);
    await setPodStatus(c.admin, notReady, '127.1.0.3', true);
    await waitFor(async () => ips(((await c.getEp('web'))?.subsets as any[])?.[0]).includes('127.1.0.3'), 'pod c ready');
  } finally {
    await c.close();
  }
});

test('named targetPort resolved per pod, multi-port services', async () => {
  const c = await setup();
  try {
    await c.admin.create(
      R.services,
      'default',
      service('multi', {
        selector: { app: 'web' },
        ports: [
          { name: 'http', port: 80, targetPort: 'http' },
          { name: 'metrics', port: 9100, targetPort: 9100 },
        ],
      }),
    );
    await runPod(c.admin, pod('a', { ports: [{ name: 'http', containerPort: 8080 }] }), '127.1.0.2', true);
    await runPod(c.admin, pod('b', { ports: [{ name: 'http', containerPort: 9090 }] }), '127.1.0.3', true);
    await runPod(c.admin, pod('c'), '127.1.0.4', true); // no port named http: serves only metrics
    // Upstream's repacking: each port maps to the set of addresses serving it; equal sets share a subset.
    const ep = await waitFor(async () => {
      const e = await c.getEp('multi');
      return JSON.stringify(e?.subsets ?? []).includes('127.1.0.4') && (e?.subsets as any[]).length === 3 ? e : undefined;
    }, 'three subsets');
    const view = (ep.subsets as any[]).map((ss) => ({ ips: ips(ss), ports: ss.ports.map((p: any) => `${p.name}:${p.port}`) }));
    assert.deepEqual(view, [
      { ips: ['127.1.0.2'], ports: ['http:8080'] },
      { ips: ['127.1.0.2', '127.1.0.3', '127.1.0.4'], ports: ['metrics:9100'] },
      { ips: ['127.1.0.3'], ports: ['http:9090'] },
    ]);
  } finally {
    await c.close();
  }
});

test('pods deleted are removed; service deleted removes its Endpoints', async () => {
  const c = await setup();
  try {
    await c.admin.create(R.services, 'default', service('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    await runPod(c.admin, pod('a'), '127.1.0.2', true);
    await runPod(c.admin, pod('b'), '127.1.0.3', true);
    await waitFor(async () => ips(((await c.getEp('web'))?.subsets as any[])?.[0]).length === 2, 'two addresses');
    await c.admin.delete(R.pods, 'default', 'a');
    await waitFor(async () => {
      const ss = ((await c.getEp('web'))?.subsets as any[]) ?? [];
      return ss.length === 1 && ips(ss[0]).join() === '127.1.0.3';
    }, 'pod a removed');
    await c.admin.delete(R.pods, 'default', 'b', { gracePeriodSeconds: 0 });
    await waitFor(async () => {
      const e = await c.getEp('web');
      return e && !e.subsets;
    }, 'no subsets');
    await c.admin.delete(R.services, 'default', 'web');
    await waitFor(async () => (await c.getEp('web')) === undefined, 'endpoints deleted');
  } finally {
    await c.close();
  }
});

test('terminating pods leave Endpoints unless publishNotReadyAddresses; that makes all ready', async () => {
  const c = await setup();
  try {
    await c.admin.create(R.services, 'default', service('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    await c.admin.create(R.services, 'default', service('all', { selector: { app: 'web' }, ports: [{ port: 80 }], publishNotReadyAddresses: true }));
    const p = pod('a');
    p.metadata.finalizers = ['example.com/hold'];
    await runPod(c.admin, p, '127.1.0.2', true);
    await runPod(c.admin, pod('b'), '127.1.0.3', false);
    await waitFor(async () => ips(((await c.getEp('all'))?.subsets as any[])?.[0]).length === 2, 'publishNotReady lists both as ready');
    await waitFor(async () => ips(((await c.getEp('web'))?.subsets as any[])?.[0]).join() === '127.1.0.2', 'web lists a');
    await c.admin.delete(R.pods, 'default', 'a');
    await waitFor(async () => !ips(((await c.getEp('web'))?.subsets as any[])?.[0]).includes('127.1.0.2'), 'terminating pod dropped');
    const all = await c.getEp('all');
    assert.deepEqual(ips((all!.subsets as any[])[0]), ['127.1.0.2', '127.1.0.3']);
    const live = await c.admin.get(R.pods, 'default', 'a');
    live.metadata.finalizers = [];
    await c.admin.update(R.pods, 'default', live);
  } finally {
    await c.close();
  }
});

test('headless hostnames; selectorless, ExternalName and default/kubernetes are left alone', async () => {
  const c = await setup();
  try {
    const before = await c.getEp('kubernetes');
    await c.admin.create(R.services, 'default', service('db', { clusterIP: 'None', selector: { app: 'db' } }));
    await runPod(c.admin, pod('db-0', { labels: { app: 'db' }, spec: { hostname: 'db-0', subdomain: 'db' } }), '127.1.0.5', true);
    const ep = await waitFor(async () => {
      const e = await c.getEp('db');
      return (e?.subsets as any[])?.length ? e : undefined;
    }, 'headless endpoints');
    assert.equal(ep.metadata.labels?.[LABEL_HEADLESS], '');
    assert.deepEqual(ep.subsets, [{ addresses: [{ ip: '127.1.0.5', hostname: 'db-0', nodeName: 'n1', targetRef: (ep.subsets as any)[0].addresses[0].targetRef }] }]);

    await c.admin.create(R.services, 'default', service('manual', { ports: [{ port: 80 }] }));
    const manual: KObject = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'manual', namespace: 'default' }, subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }] };
    await c.admin.create(R.endpoints, 'default', manual);
    await c.admin.create(R.services, 'default', service('ext', { type: 'ExternalName', externalName: 'example.com' }));
    await c.ctrl.idle();
    await new Promise((r) => setTimeout(r, 50));
    await c.ctrl.idle();
    assert.deepEqual(((await c.getEp('manual'))!.subsets as any[])[0].addresses, [{ ip: '10.0.0.1' }]);
    assert.equal(await c.getEp('ext'), undefined);
    const after = await c.getEp('kubernetes');
    assert.equal(after?.metadata.resourceVersion, before?.metadata.resourceVersion);
  } finally {
    await c.close();
  }
});

test('no write when nothing that matters changed', async () => {
  const c = await setup();
  try {
    await c.admin.create(R.services, 'default', service('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    for (let i = 0; i < 5; i++) await runPod(c.admin, pod(`p${i}`), `127.1.0.${i + 2}`, true);
    await waitFor(async () => ips(((await c.getEp('web'))?.subsets as any[])?.[0]).length === 5, 'five addresses');
    await c.ctrl.idle();
    const settled = c.writes.get('endpoints') ?? 0;
    const rv = (await c.getEp('web'))!.metadata.resourceVersion;
    // Irrelevant changes: pod annotations and extra labels, container restarts, service annotations.
    for (let i = 0; i < 5; i++) {
      const p = await c.admin.get(R.pods, 'default', `p${i}`);
      p.metadata.annotations = { touched: String(i) };
      p.metadata.labels = { ...p.metadata.labels, extra: 'x' };
      await c.admin.update(R.pods, 'default', p);
      const s = await c.admin.get(R.pods, 'default', `p${i}`);
      (s.status as any).containerStatuses = [{ name: 'c', ready: true, restartCount: i, image: 'busybox', imageID: '', state: { running: {} } }];
      await c.admin.update(R.pods, 'default', s, 'status');
    }
    const svc = await c.admin.get(R.services, 'default', 'web');
    svc.metadata.annotations = { note: 'x' };
    await c.admin.update(R.services, 'default', svc);
    await new Promise((r) => setTimeout(r, 50));
    await c.ctrl.idle();
    assert.equal(c.writes.get('endpoints') ?? 0, settled);
    assert.equal((await c.getEp('web'))!.metadata.resourceVersion, rv);
    // A user editing the Endpoints gets it put back.
    const ep = (await c.getEp('web'))!;
    ep.subsets = [];
    await c.admin.update(R.endpoints, 'default', ep);
    await waitFor(async () => ips(((await c.getEp('web'))?.subsets as any[])?.[0]).length === 5, 'restored');
  } finally {
    await c.close();
  }
});

test('leftover Endpoints of a deleted Service are removed at start', async () => {
  const t = await startTestApi();
  const admin = t.client('admin');
  try {
    await admin.create(R.endpoints, 'default', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'gone', namespace: 'default' } });
    const ctrl = new EndpointsController(t.client('system:endpoint-controller'));
    await ctrl.start();
    await waitFor(async () => (await admin.get(R.endpoints, 'default', 'gone').catch(() => undefined)) === undefined, 'leftover deleted');
    assert.ok(await admin.get(R.endpoints, 'default', 'kubernetes').catch(() => true));
    ctrl.stop();
  } finally {
    await t.close();
  }
});
