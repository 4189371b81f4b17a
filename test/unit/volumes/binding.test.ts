import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { R } from '../../../src/client/client.js';
import { findBestMatch } from '../../../src/controllers/volume/util.js';
import { claim, phase, pv, settle, waitFor, withVolumes } from './helpers.js';

describe('PersistentVolume controller: static binding', () => {
  it('picks the smallest fitting volume of the class and access modes; a claim too big stays Pending', () =>
    withVolumes(async (c) => {
      const { client, ns } = c;
      await client.create(R.persistentvolumes, undefined, pv('small', '1Gi', { cls: 'manual' }));
      await client.create(R.persistentvolumes, undefined, pv('medium', '5Gi', { cls: 'manual' }));
      await client.create(R.persistentvolumes, undefined, pv('large', '10Gi', { cls: 'manual' }));
      await client.create(R.persistentvolumes, undefined, pv('shared', '4Gi', { cls: 'manual', modes: ['ReadWriteMany'] }));
      await client.create(R.persistentvolumes, undefined, pv('other-class', '3Gi', { cls: 'other' }));
      await waitFor('volumes Available', async () => (await client.list(R.persistentvolumes)).items.every((v) => phase(v) === 'Available'));

      await client.create(R.persistentvolumeclaims, ns, claim('want3', '3Gi', { cls: 'manual' }));
      const bound = await waitFor('want3 Bound', async () => { const x = await c.claim('want3'); return phase(x) === 'Bound' && x; });
      assert.equal((bound.spec as { volumeName: string }).volumeName, 'medium');
      assert.deepEqual(bound.status, { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '5Gi' } });
      assert.equal(bound.metadata.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
      assert.equal(bound.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
      const medium = await waitFor('medium Bound', async () => { const v = await c.volume('medium'); return phase(v) === 'Bound' && v; });
      assert.ok((medium.status as { lastPhaseTransitionTime?: string }).lastPhaseTransitionTime);
      const ref = (medium.spec as { claimRef: Record<string, string> }).claimRef;
      assert.equal(ref.name, 'want3');
      assert.equal(ref.namespace, ns);
      assert.equal(ref.uid, bound.metadata.uid);

      await client.create(R.persistentvolumeclaims, ns, claim('rwx', '2Gi', { cls: 'manual', modes: ['ReadWriteMany'] }));
      const rwx = await waitFor('rwx Bound', async () => { const x = await c.claim('rwx'); return phase(x) === 'Bound' && x; });
      assert.equal((rwx.spec as { volumeName: string }).volumeName, 'shared');

      await client.create(R.persistentvolumeclaims, ns, claim('huge', '20Gi', { cls: 'manual' }));
      await client.create(R.persistentvolumeclaims, ns, claim('next', '1Gi', { cls: 'manual' }));
      await waitFor('next Bound', async () => phase(await c.claim('next')) === 'Bound');
      assert.equal(((await c.claim('next')).spec as { volumeName: string }).volumeName, 'small');
      await settle(c);
      const huge = await c.claim('huge');
      assert.equal(phase(huge), 'Pending');
      assert.equal((huge.spec as { volumeName?: string }).volumeName, undefined);
      assert.equal(phase(await c.volume('large')), 'Available');
      assert.equal(phase(await c.volume('other-class')), 'Available');
      // No StorageClass object named "manual": upstream reports exactly this.
      const evs = await c.events('huge');
      assert.ok(evs.some((e) => e.reason === 'ProvisioningFailed' && String(e.message).includes('"manual" not found')), JSON.stringify(evs.map((e) => e.message)));
      assert.deepEqual(c.errors, []);
    }));

  it('honours selectors, claimRef pre-binding and spec.volumeName', () =>
    withVolumes(async (c) => {
      const { client, ns } = c;
      await client.create(R.persistentvolumes, undefined, pv('fast', '2Gi', { cls: '', labels: { tier: 'fast' } }));
      await client.create(R.persistentvolumes, undefined, pv('slow', '1Gi', { cls: '', labels: { tier: 'slow' } }));
      await client.create(R.persistentvolumes, undefined, pv('reserved', '1Gi', { cls: '', claimRef: { namespace: ns, name: 'mine' } }));
      await client.create(R.persistentvolumes, undefined, pv('named', '8Gi', { cls: '' }));
      await client.create(R.persistentvolumeclaims, ns, claim('sel', '1Gi', { cls: '', selector: { matchLabels: { tier: 'fast' } } }));
      await client.create(R.persistentvolumeclaims, ns, claim('mine', '1Gi', { cls: '' }));
      await client.create(R.persistentvolumeclaims, ns, claim('byname', '1Gi', { cls: '', volumeName: 'named' }));
      const vol = async (n: string) => {
        const x = await waitFor(`${n} Bound`, async () => { const o = await c.claim(n); return phase(o) === 'Bound' && o; });
        return (x.spec as { volumeName: string }).volumeName;
      };
      assert.equal(await vol('sel'), 'fast');
      assert.equal(await vol('mine'), 'reserved');
      assert.equal(await vol('byname'), 'named');
      const byname = await c.claim('byname');
      assert.equal(byname.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], undefined);
      // The pre-bound volume is not offered to anyone else, and "slow" is still free.
      await client.create(R.persistentvolumeclaims, ns, claim('any', '1Gi', { cls: '' }));
      assert.equal(await vol('any'), 'slow');
      // A claim naming a volume that is too small waits and says why.
      await client.create(R.persistentvolumes, undefined, pv('tiny', '100Mi', { cls: '' }));
      await client.create(R.persistentvolumeclaims, ns, claim('toobig', '1Gi', { cls: '', volumeName: 'tiny' }));
      await waitFor('VolumeMismatch', async () => (await c.events('toobig')).some((e) => e.reason === 'VolumeMismatch' && String(e.message).includes('too small')));
      assert.equal(phase(await c.claim('toobig')), 'Pending');
    }));

  it('findBestMatch: volume mode, access modes and node affinity', () => {
    const cl = { ...claim('c', '1Gi', { cls: 'x' }), metadata: { name: 'c', namespace: 'ns', uid: 'u1' } };
    const block = pv('block', '1Gi', { cls: 'x', volumeMode: 'Block' });
    const rox = pv('rox', '1Gi', { cls: 'x', modes: ['ReadOnlyMany'] });
    const pinned = pv('pinned', '1Gi', { cls: 'x' });
    (pinned.spec as Record<string, unknown>).nodeAffinity = {
      required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }] }] },
    };
    assert.equal(findBestMatch(cl, [block, rox]), undefined);
    assert.equal(findBestMatch(cl, [block, rox, pinned])?.metadata.name, 'pinned');
    assert.equal(findBestMatch(cl, [pinned], { node: { name: 'n2', labels: { 'kubernetes.io/hostname': 'n2' } } }), undefined);
    assert.equal(findBestMatch(cl, [pinned], { node: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } } })?.metadata.name, 'pinned');
    assert.equal(findBestMatch(cl, [pinned], { preBoundOnly: true }), undefined);
  });
});
