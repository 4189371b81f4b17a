import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { R } from '../../../src/client/client.js';
import type { KObject } from '../../../src/machinery/object.js';
import { setupVolumes } from '../../../src/kubelet/pods/volumes.js';
import type { PodFacts } from '../../../src/kubelet/pods/env.js';
import { defaultStorageClass } from '../../../src/controllers/volume/default-storage-class.js';
import { claim, createClass, phase, podUsing, pv, storageClass, waitFor, withVolumes } from './helpers.js';

function facts(pod: KObject): PodFacts {
  return { pod, podIP: '127.0.0.9', hostIP: '127.0.0.1', capacity: { cpu: 1, memory: 1 << 30 } } as unknown as PodFacts;
}

describe('kubelet: persistentVolumeClaim volumes', () => {
  it('waits while the claim is unbound, then mounts the volume; a replacement pod reads what the first wrote', () =>
    withVolumes(async (c) => {
      const { client, ns } = c;
      const nodeRoot = path.join(c.tmp, 'node');
      await createClass(client, storageClass('local'));
      // The pod exists before its claim: FailedMount until the claim is created and bound.
      const first = await client.create(R.pods, ns, podUsing('app-1', 'store', 'n1'));
      let res = await setupVolumes(client, facts(first), nodeRoot);
      assert.match(res.errors[0], /MountVolume\.SetUp failed for volume "data" : persistentvolumeclaim "store" not found/);

      await client.create(R.persistentvolumeclaims, ns, claim('store', '1Gi', { cls: 'local' }));
      const cl = await waitFor('store Bound', async () => { const x = await c.claim('store'); return phase(x) === 'Bound' && x; });
      res = await setupVolumes(client, facts(first), nodeRoot);
      assert.deepEqual(res.errors, []);
      const v1 = res.volumes.get('data')!;
      assert.equal(v1.kind, 'persistentVolumeClaim');
      assert.equal(v1.readOnly, false);
      assert.equal(v1.hostPath, path.join(c.baseDir, `pvc-${cl.metadata.uid}_${ns}_store`));
      await writeFile(path.join(v1.hostPath, 'index.html'), 'written by app-1');

      // The first pod goes; its replacement (another uid) resolves the same claim.
      await client.delete(R.pods, ns, 'app-1', { gracePeriodSeconds: 0 });
      const second = await client.create(R.pods, ns, podUsing('app-2', 'store', 'n2'));
      assert.notEqual(second.metadata.uid, first.metadata.uid);
      const res2 = await setupVolumes(client, facts(second), nodeRoot);
      assert.deepEqual(res2.errors, []);
      assert.equal(await readFile(path.join(res2.volumes.get('data')!.hostPath, 'index.html'), 'utf8'), 'written by app-1');
    }));

  it('reports a Pending claim as upstream does, honours readOnly, and stands in for non-host volume types', () =>
    withVolumes(async (c) => {
      const { client, ns } = c;
      const nodeRoot = path.join(c.tmp, 'node');
      await client.create(R.persistentvolumeclaims, ns, claim('nowhere', '1Gi', { cls: 'absent' }));
      const pod = await client.create(R.pods, ns, podUsing('waits', 'nowhere', 'n1'));
      const res = await setupVolumes(client, facts(pod), nodeRoot);
      assert.match(res.errors[0], /PVC vol\/nowhere has non-bound phase \("Pending"\) or empty pvc\.Spec\.VolumeName \(""\)/);

      const nfs = pv('nfs-pv', '1Gi', { cls: 'nfs', modes: ['ReadWriteMany'] });
      delete (nfs.spec as Record<string, unknown>).hostPath;
      (nfs.spec as Record<string, unknown>).nfs = { server: 'nfs.example', path: '/exports' };
      await client.create(R.persistentvolumes, undefined, nfs);
      await client.create(R.persistentvolumeclaims, ns, claim('shared', '1Gi', { cls: 'nfs', modes: ['ReadWriteMany'] }));
      await waitFor('shared Bound', async () => phase(await c.claim('shared')) === 'Bound');
      const ro = podUsing('reader', 'shared', 'n1');
      ((ro.spec as { volumes: { persistentVolumeClaim: Record<string, unknown> }[] }).volumes[0].persistentVolumeClaim).readOnly = true;
      const reader = await client.create(R.pods, ns, ro);
      const r2 = await setupVolumes(client, facts(reader), nodeRoot);
      assert.deepEqual(r2.errors, []);
      const v = r2.volumes.get('data')!;
      assert.equal(v.readOnly, true);
      assert.equal(v.hostPath, path.join(nodeRoot, 'persistentvolumes', 'nfs-pv'));
      assert.match(r2.unsupported[0], /PersistentVolume "nfs-pv", nfs/);
    }));
});

describe('DefaultStorageClass admission', () => {
  it('gives claims without a class the default class; an explicit "" or class is kept', () =>
    withVolumes(
      async (c) => {
        const { client, ns } = c;
        const before = await client.create(R.persistentvolumeclaims, ns, claim('early', '1Gi'));
        assert.equal((before.spec as Record<string, unknown>).storageClassName, undefined); // no default yet
        await createClass(client, storageClass('plain'));
        await createClass(client, defaultStorageClass());
        const got = await client.create(R.persistentvolumeclaims, ns, claim('defaulted', '1Gi'));
        assert.equal((got.spec as Record<string, unknown>).storageClassName, 'standard');
        const none = await client.create(R.persistentvolumeclaims, ns, claim('classless', '1Gi', { cls: '' }));
        assert.equal((none.spec as Record<string, unknown>).storageClassName, '');
        const own = await client.create(R.persistentvolumeclaims, ns, claim('own', '1Gi', { cls: 'plain' }));
        assert.equal((own.spec as Record<string, unknown>).storageClassName, 'plain');
        const list = await client.list({ group: 'storage.k8s.io', version: 'v1', resource: 'storageclasses' });
        const std = list.items.find((s) => s.metadata.name === 'standard')!;
        assert.equal(std.provisioner, 'rancher.io/local-path');
        assert.equal(std.volumeBindingMode, 'WaitForFirstConsumer');
        assert.equal(std.reclaimPolicy, 'Delete');
      },
      { admission: true },
    ));
});
