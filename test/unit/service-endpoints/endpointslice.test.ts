import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { R } from '../../../src/client/client.js';
import { CONTROLLER_NAME, EndpointSliceController, LABEL_MANAGED_BY, LABEL_SERVICE_NAME } from '../../../src/controllers/endpointslice.js';
import { backendsFromSlices, usableBackends } from '../../../src/controllers/service-backends.js';
import { startTestApi } from '../../support/in-memory-api.js';
import { countingClient, node, pod, runPod, service, setPodStatus, waitFor } from './helpers.js';

async function setup(max?: number) {
  const t = await startTestApi();
  const admin = t.client('admin');
  await admin.create(R.nodes, undefined, node('n1', { 'topology.kubernetes.io/zone': 'zone-a' }));
  const { client, writes } = countingClient(t.client('system:endpointslice-controller'));
  const ctrl = new EndpointSliceController(client, { maxEndpointsPerSlice: max });
  await ctrl.start();
  const slices = async (svc: string, ns = 'default') =>
    (await admin.list(R.endpointslices, ns, { labelSelector: `${LABEL_SERVICE_NAME}=${svc}` })).items.sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
  return {
    admin,
    ctrl,
    writes,
    slices,
    async close() {
      ctrl.stop();
      await t.close();
    },
  };
}

const allEndpoints = (ss: KObject[]) => ss.flatMap((s) => (s.endpoints as any[]) ?? []);
const addrs = (ss: KObject[], pred: (e: any) => boolean = () => true) =>
  allEndpoints(ss)
    .filter(pred)
    .map((e) => e.addresses[0])
    .sort();

test('slices for a selector service: metadata, conditions, readiness flips at once', async () => {
  const c = await setup();
  try {
    const svc = await c.admin.create(R.services, 'default', service('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
    await runPod(c.admin, pod('a'), '127.1.0.2', true);
    await runPod(c.admin, pod('b'), '127.1.0.3', false);
    let ss = await waitFor(async () => {
      const s = await c.slices('web');
      return allEndpoints(s).length === 2 ? s : undefined;
    }, 'two endpoints');
    assert.equal(ss.length, 1);
    const s = ss[0];
    assert.match(s.metadata.name!, /^web-[a-z0-9]{5}$/);
    assert.equal(s.metadata.labels?.[LABEL_SERVICE_NAME], 'web');
    assert.equal(s.metadata.labels?.[LABEL_MANAGED_BY], CONTROLLER_NAME);
    assert.deepEqual(s.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(s.addressType, 'IPv4');
    assert.deepEqual(s.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    const a = (s.endpoints as any[]).find((e) => e.addresses[0] === '127.1.0.2');
    assert.deepEqual(a.conditions, { ready: true, serving: true, terminating: false });
    assert.equal(a.nodeName, 'n1');
    assert.equal(a.zone, 'zone-a');
    assert.equal(a.targetRef.kind, 'Pod');
    assert.equal(a.targetRef.name, 'a');
    const b = (s.endpoints as any[]).find((e) => e.addresses[0] === '127.1.0.3');
    assert.deepEqual(b.conditions, { ready: false, serving: false, terminating: false });

    // The shared reader sees the same thing.
    const view = backendsFromSlices(ss).get('http')!;
    assert.deepEqual(usableBackends(view).map((x) => `${x.ip}:${x.port}`), ['127.1.0.2:8080']);

    await setPodStatus(c.admin, await c.admin.get(R.pods, 'default', 'a'), '127.1.0.2', false);
    ss = await waitFor(async () => {
      const s2 = await c.slices('web');
      return addrs(s2, (e) => e.conditions.ready).length === 0 ? s2 : undefined;
    }, 'a not ready');
    assert.equal(ss.length, 1);
    assert.equal(ss[0].metadata.name, s.metadata.name); // updated in place
  } finally {
    await c.close();
  }
});

test('terminating pods stay as serving+terminating, not ready', async () => {
  const c = await setup();
  try {
    await c.admin.create(R.services, 'default', service('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    const p = pod('a');
    p.metadata.finalizers = ['example.com/hold'];
    await runPod(c.admin, p, '127.1.0.2', true);
    await waitFor(async () => addrs(await c.slices('web')).length === 1, 'one endpoint');
    await c.admin.delete(R.pods, 'default', 'a');
    const ss = await waitFor(async () => {
      const s = await c.slices('web');
      return allEndpoints(s)[0]?.conditions.terminating ? s : undefined;
    }, 'terminating');
    assert.deepEqual(allEndpoints(ss)[0].conditions, { ready: false, serving: true, terminating: true });
    const live = await c.admin.get(R.pods, 'default', 'a');
    live.metadata.finalizers = [];
    await c.admin.update(R.pods, 'default', live);
    await c.admin.delete(R.pods, 'default', 'a', { gracePeriodSeconds: 0 }).catch(() => undefined);
    await waitFor(async () => addrs(await c.slices('web')).length === 0, 'gone');
  } finally {
    await c.close();
  }
});

test('named targetPorts resolving differently get their own slices; multi-port', async () => {
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
    await runPod(c.admin, pod('a2', { ports: [{ name: 'http', containerPort: 8080 }] }), '127.1.0.5', true);
    await runPod(c.admin, pod('b', { ports: [{ name: 'http', containerPort: 9090 }] }), '127.1.0.3', true);
    const ss = await waitFor(async () => {
      const s = await c.slices('multi');
      return allEndpoints(s).length === 3 ? s : undefined;
    }, 'three endpoints');
    const byPorts = ss.map((s) => ({ ports: (s.ports as any[]).map((p) => `${p.name}:${p.port}`).join(','), ips: addrs([s]) })).sort((x, y) => x.ports.localeCompare(y.ports));
    assert.deepEqual(byPorts, [
      { ports: 'http:8080,metrics:9100', ips: ['127.1.0.2', '127.1.0.5'] },
      { ports: 'http:9090,metrics:9100', ips: ['127.1.0.3'] },
    ]);
    const view = backendsFromSlices(ss);
    assert.deepEqual(view.get('http')!.map((b) => `${b.ip}:${b.port}`), ['127.1.0.2:8080', '127.1.0.3:9090', '127.1.0.5:8080']);
    assert.deepEqual(view.get('metrics')!.map((b) => `${b.ip}:${b.port}`), ['127.1.0.2:9100', '127.1.0.3:9100', '127.1.0.5:9100']);
  } finally {
    await c.close();
  }
});

test('max endpoints per slice, minimal churn, placeholder, service deletion', async () => {
  const c = await setup(3);
  try {
    await c.admin.create(R.services, 'default', service('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    // No pods: one empty placeholder slice.
    let ss = await waitFor(async () => {
      const s = await c.slices('web');
      return s.length === 1 ? s : undefined;
    }, 'placeholder');
    assert.deepEqual([ss[0].endpoints ?? [], ss[0].ports ?? []], [[], []]);
    for (let i = 0; i < 7; i++) await runPod(c.admin, pod(`p${i}`), `127.1.0.${i + 2}`, true);
    ss = await waitFor(async () => {
      const s = await c.slices('web');
      return allEndpoints(s).length === 7 ? s : undefined;
    }, 'seven endpoints');
    assert.ok(ss.every((s) => (s.endpoints as any[]).length <= 3));
    assert.equal(ss.length, 3);
    await c.ctrl.idle();
    const before = new Map(ss.map((s) => [s.metadata.name!, s.metadata.resourceVersion]));
    const writes = c.writes.get('endpointslices') ?? 0;

    // One pod goes: exactly one slice is rewritten, the others untouched.
    const full = ss.find((s) => (s.endpoints as any[]).length === 3)!;
    const victim = allEndpoints([full])[0].targetRef.name;
    await c.admin.delete(R.pods, 'default', victim, { gracePeriodSeconds: 0 });
    ss = await waitFor(async () => {
      const s = await c.slices('web');
      return allEndpoints(s).length === 6 ? s : undefined;
    }, 'six endpoints');
    await c.ctrl.idle();
    assert.equal((c.writes.get('endpointslices') ?? 0) - writes, 1);
    const changed = ss.filter((s) => before.get(s.metadata.name!) !== s.metadata.resourceVersion);
    assert.deepEqual(changed.map((s) => s.metadata.name), [full.metadata.name]);

    // A new pod fills the slice with room rather than creating one.
    await runPod(c.admin, pod('p9'), '127.1.0.20', true);
    ss = await waitFor(async () => {
      const s = await c.slices('web');
      return allEndpoints(s).length === 7 ? s : undefined;
    }, 'seven again');
    assert.equal(ss.length, 3);

    // Nothing changed: no writes.
    await c.ctrl.idle();
    const settled = c.writes.get('endpointslices') ?? 0;
    const p = await c.admin.get(R.pods, 'default', 'p1');
    p.metadata.annotations = { x: 'y' };
    await c.admin.update(R.pods, 'default', p);
    const svc = await c.admin.get(R.services, 'default', 'web');
    svc.metadata.annotations = { note: 'x' };
    await c.admin.update(R.services, 'default', svc);
    await new Promise((r) => setTimeout(r, 50));
    await c.ctrl.idle();
    assert.equal(c.writes.get('endpointslices') ?? 0, settled);

    // Service labels propagate (an update, not a recreate).
    svc.metadata.labels = { tier: 'front' };
    await c.admin.update(R.services, 'default', await c.admin.get(R.services, 'default', 'web').then((s) => ({ ...s, metadata: { ...s.metadata, labels: { tier: 'front' } } })));
    await waitFor(async () => (await c.slices('web')).every((s) => s.metadata.labels?.tier === 'front'), 'labels copied');

    // Every pod gone: back to a single placeholder.
    for (const name of ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p9']) await c.admin.delete(R.pods, 'default', name, { gracePeriodSeconds: 0 }).catch(() => undefined);
    await waitFor(async () => {
      const s = await c.slices('web');
      return s.length === 1 && allEndpoints(s).length === 0;
    }, 'placeholder again');

    await c.admin.delete(R.services, 'default', 'web');
    await waitFor(async () => (await c.slices('web')).length === 0, 'slices deleted');
  } finally {
    await c.close();
  }
});

test('pods on an unknown node wait for it; ExternalName and selectorless services get no slices', async () => {
  const c = await setup();
  try {
    await c.admin.create(R.services, 'default', service('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }));
    await c.admin.create(R.services, 'default', service('manual', { ports: [{ port: 80 }] }));
    await c.admin.create(R.services, 'default', service('ext', { type: 'ExternalName', externalName: 'example.com' }));
    await runPod(c.admin, pod('a'), '127.1.0.2', true);
    await runPod(c.admin, pod('b', { node: 'n2' }), '127.1.0.3', true);
    await waitFor(async () => addrs(await c.slices('web')).join() === '127.1.0.2', 'only a');
    await c.admin.create(R.nodes, undefined, node('n2'));
    await waitFor(async () => addrs(await c.slices('web')).join() === '127.1.0.2,127.1.0.3', 'b after its node');
    await c.ctrl.idle();
    assert.equal((await c.slices('manual')).length, 0);
    assert.equal((await c.slices('ext')).length, 0);
    assert.equal((await c.slices('kubernetes')).filter((s) => s.metadata.labels?.[LABEL_MANAGED_BY] === CONTROLLER_NAME).length, 0);
  } finally {
    await c.close();
  }
});
