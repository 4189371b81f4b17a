import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { R } from '../../../src/client/client.js';
import type { KObject } from '../../../src/machinery/object.js';
import { StatefulSetController } from '../../../src/controllers/statefulset/index.js';
import { defaultStorageClass } from '../../../src/controllers/volume/default-storage-class.js';
import { claim, createClass, phase, podUsing, pv, settle, storageClass, waitFor, withVolumes, type VolumeCluster } from './helpers.js';

type Spec = Record<string, unknown>;
const specOf = (o: KObject) => o.spec as Spec;

async function bound(c: VolumeCluster, name: string): Promise<KObject> {
  return waitFor(`${name} Bound`, async () => {
    const x = await c.claim(name);
    return phase(x) === 'Bound' && x;
  });
}

describe('dynamic provisioning (local-path)', () => {
  it('creates a directory and a PersistentVolume bound to the claim, with the class reclaim policy', () =>
    withVolumes(async (c) => {
      await createClass(c.client, storageClass('local', { policy: 'Retain' }));
      const created = await c.client.create(R.persistentvolumeclaims, c.ns, claim('data', '2Gi', { cls: 'local', modes: ['ReadWriteMany'] }));
      const cl = await bound(c, 'data');
      const pvName = `pvc-${created.metadata.uid}`;
      assert.equal(specOf(cl).volumeName, pvName);
      assert.equal(cl.metadata.annotations?.['volume.kubernetes.io/storage-provisioner'], 'rancher.io/local-path');
      assert.deepEqual(cl.status, { phase: 'Bound', accessModes: ['ReadWriteMany'], capacity: { storage: '2Gi' } });
      const vol = (await c.volume(pvName))!;
      const s = specOf(vol);
      const dir = path.join(c.baseDir, `pvc-${created.metadata.uid}_${c.ns}_data`);
      assert.deepEqual(s.hostPath, { path: dir, type: 'DirectoryOrCreate' });
      assert.equal(s.persistentVolumeReclaimPolicy, 'Retain');
      assert.equal(s.storageClassName, 'local');
      assert.deepEqual(s.capacity, { storage: '2Gi' });
      assert.equal(vol.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'rancher.io/local-path');
      assert.equal((s.claimRef as Spec).uid, created.metadata.uid);
      assert.ok(existsSync(dir));
      await waitFor('PV Bound', async () => phase(await c.volume(pvName)) === 'Bound');
      // Events are written without waiting (as client-go's recorder does): they may trail the binding.
      const want = ['ExternalProvisioning', 'Provisioning', 'ProvisioningSucceeded'];
      const reasons = await waitFor('the provisioning events', async () => {
        const rs = (await c.events('data')).map((e) => e.reason);
        return want.every((r) => rs.includes(r)) && rs;
      }).catch(async () => (await c.events('data')).map((e) => e.reason));
      for (const r of want) assert.ok(reasons.includes(r), `${r} in ${reasons}`);
      assert.deepEqual(c.errors, []);
    }));

  it('prefers a fitting static volume of the class over provisioning one', () =>
    withVolumes(async (c) => {
      await createClass(c.client, storageClass('local'));
      await c.client.create(R.persistentvolumes, undefined, pv('static', '5Gi', { cls: 'local' }));
      await waitFor('static Available', async () => phase(await c.volume('static')) === 'Available');
      await c.client.create(R.persistentvolumeclaims, c.ns, claim('s', '1Gi', { cls: 'local' }));
      assert.equal(specOf(await bound(c, 's')).volumeName, 'static');
      await settle(c);
      assert.equal((await c.client.list(R.persistentvolumes)).items.length, 1);
    }));
});

describe('reclaim policies', () => {
  it('Retain keeps a released volume (and its data); Delete removes the provisioned volume and its directory', () =>
    withVolumes(async (c) => {
      const { client, ns } = c;
      const keepDir = path.join(c.tmp, 'keep');
      await mkdir(keepDir);
      await writeFile(path.join(keepDir, 'precious'), 'x');
      await client.create(R.persistentvolumes, undefined, pv('keep', '1Gi', { cls: 'manual', hostPath: keepDir, policy: 'Retain' }));
      await client.create(R.persistentvolumeclaims, ns, claim('keeper', '1Gi', { cls: 'manual' }));
      await bound(c, 'keeper');
      await client.delete(R.persistentvolumeclaims, ns, 'keeper');
      const released = await waitFor('keep Released', async () => { const v = await c.volume('keep'); return phase(v) === 'Released' && v; });
      assert.equal((specOf(released).claimRef as Spec).name, 'keeper'); // still names its old claim
      // A Released volume is not offered to a new claim.
      await client.create(R.persistentvolumeclaims, ns, claim('newcomer', '1Gi', { cls: 'manual' }));
      await settle(c);
      assert.equal(phase(await c.claim('newcomer')), 'Pending');
      assert.ok(existsSync(path.join(keepDir, 'precious')));

      await createClass(client, storageClass('local', { policy: 'Delete' }));
      const tmpClaim = await client.create(R.persistentvolumeclaims, ns, claim('scratch', '1Gi', { cls: 'local' }));
      const pvName = `pvc-${tmpClaim.metadata.uid}`;
      await bound(c, 'scratch');
      const dir = ((specOf((await c.volume(pvName))!).hostPath) as Spec).path as string;
      await writeFile(path.join(dir, 'file'), 'gone soon');
      await client.delete(R.persistentvolumeclaims, ns, 'scratch');
      await waitFor('provisioned PV deleted', async () => !(await c.volume(pvName)));
      await waitFor('directory removed', () => !existsSync(dir));
      assert.ok(existsSync(c.baseDir));
    }));

  it('Delete on a volume no provisioner made fails it, as upstream (no in-tree deleter)', () =>
    withVolumes(async (c) => {
      await c.client.create(R.persistentvolumes, undefined, pv('manual-del', '1Gi', { cls: 'manual', policy: 'Delete' }));
      await c.client.create(R.persistentvolumeclaims, c.ns, claim('m', '1Gi', { cls: 'manual' }));
      await bound(c, 'm');
      await c.client.delete(R.persistentvolumeclaims, c.ns, 'm');
      const failed = await waitFor('Failed', async () => { const v = await c.volume('manual-del'); return phase(v) === 'Failed' && v; });
      assert.match(String((failed.status as Spec).message), /no deletable volume plugin matched/);
    }));
});

describe('WaitForFirstConsumer', () => {
  it('binds nothing until a pod using the claim is scheduled, then provisions on the selected node', () =>
    withVolumes(async (c) => {
      const { client, ns } = c;
      await client.create(R.nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'worker1', labels: { 'kubernetes.io/hostname': 'worker1' } } });
      await createClass(client, defaultStorageClass());
      await client.create(R.persistentvolumeclaims, ns, claim('late', '1Gi', { cls: 'standard' }));
      await waitFor('WaitForFirstConsumer event', async () => (await c.events('late')).some((e) => e.reason === 'WaitForFirstConsumer'));
      await client.create(R.pods, ns, podUsing('consumer', 'late'));
      await settle(c);
      assert.equal(phase(await c.claim('late')), 'Pending');
      assert.equal((await client.list(R.persistentvolumes)).items.length, 0);
      assert.ok((await c.events('late')).some((e) => e.reason === 'WaitForPodScheduled' && String(e.message).includes('consumer')));

      await client.createSubresource(R.pods, ns, 'consumer', 'binding', {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: 'consumer' },
        target: { apiVersion: 'v1', kind: 'Node', name: 'worker1' },
      });
      const cl = await bound(c, 'late');
      assert.equal(cl.metadata.annotations?.['volume.kubernetes.io/selected-node'], 'worker1');
      const vol = (await c.volume(specOf(cl).volumeName as string))!;
      assert.deepEqual(specOf(vol).nodeAffinity, {
        required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['worker1'] }] }] },
      });
      assert.equal(specOf(vol).persistentVolumeReclaimPolicy, 'Delete');
    }));

  it('binds a static volume whose node affinity admits the selected node', () =>
    withVolumes(async (c) => {
      const { client, ns } = c;
      await client.create(R.nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } } });
      await createClass(client, storageClass('local-storage', { provisioner: 'kubernetes.io/no-provisioner', mode: 'WaitForFirstConsumer', policy: 'Retain' }));
      const onN2 = pv('on-n2', '1Gi', { cls: 'local-storage' });
      const onN1 = pv('on-n1', '2Gi', { cls: 'local-storage' });
      const pin = (v: KObject, n: string) =>
        ((v.spec as Spec).nodeAffinity = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [n] }] }] } });
      pin(onN2, 'n2');
      pin(onN1, 'n1');
      await client.create(R.persistentvolumes, undefined, onN2);
      await client.create(R.persistentvolumes, undefined, onN1);
      await client.create(R.persistentvolumeclaims, ns, claim('local-claim', '1Gi', { cls: 'local-storage' }));
      await settle(c);
      assert.equal(phase(await c.claim('local-claim')), 'Pending');
      await client.create(R.pods, ns, podUsing('user', 'local-claim', 'n1'));
      assert.equal(specOf(await bound(c, 'local-claim')).volumeName, 'on-n1');
    }));
});

describe('StatefulSet claims', () => {
  it('claims www-web-0 and www-web-1 of a StatefulSet get the default class and are provisioned once their pods are scheduled', () =>
    withVolumes(
      async (c) => {
        const { client, ns } = c;
        await createClass(client, defaultStorageClass());
        const ssc = new StatefulSetController(c.t.client('statefulset-controller'));
        await ssc.start();
        try {
          await client.create(R.statefulsets, ns, {
            apiVersion: 'apps/v1',
            kind: 'StatefulSet',
            metadata: { name: 'web' },
            spec: {
              serviceName: 'nginx',
              replicas: 2,
              podManagementPolicy: 'Parallel',
              selector: { matchLabels: { app: 'nginx' } },
              template: { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'nginx', volumeMounts: [{ name: 'www', mountPath: '/usr/share/nginx/html' }] }] } },
              volumeClaimTemplates: [{ metadata: { name: 'www' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
            },
          });
          for (const i of [0, 1]) {
            const name = `www-web-${i}`;
            const cl = await waitFor(name, () => c.claim(name));
            assert.equal(specOf(cl).storageClassName, 'standard');
            await waitFor(`pod web-${i}`, () => client.get(R.pods, ns, `web-${i}`));
            await client.createSubresource(R.pods, ns, `web-${i}`, 'binding', {
              apiVersion: 'v1',
              kind: 'Binding',
              metadata: { name: `web-${i}` },
              target: { apiVersion: 'v1', kind: 'Node', name: 'kind-worker' },
            });
          }
          for (const i of [0, 1]) {
            const cl = await bound(c, `www-web-${i}`);
            const dir = path.join(c.baseDir, `pvc-${cl.metadata.uid}_${ns}_www-web-${i}`);
            assert.equal(specOf(cl).volumeName, `pvc-${cl.metadata.uid}`);
            assert.ok(existsSync(dir), dir);
          }
        } finally {
          ssc.stop();
        }
      },
      { admission: true },
    ));
});
