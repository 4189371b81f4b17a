import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { existsSync } from 'node:fs';
import { R } from '../../../src/client/client.js';
import { claim, createClass, phase, podUsing, pv, settle, storageClass, waitFor, withVolumes } from './helpers.js';

describe('storage object in-use protection', () => {
  it('a deleted claim stays Terminating while a pod uses it; its volume and data go only after the pod', () =>
    withVolumes(
      async (c) => {
        const { client, ns } = c;
        await createClass(client, storageClass('local'));
        const created = await client.create(R.persistentvolumeclaims, ns, claim('busy', '1Gi', { cls: 'local' }));
        assert.deepEqual(created.metadata.finalizers, ['kubernetes.io/pvc-protection']);
        const pvName = `pvc-${created.metadata.uid}`;
        await waitFor('busy Bound', async () => phase(await c.claim('busy')) === 'Bound');
        const vol = (await c.volume(pvName))!;
        assert.deepEqual(vol.metadata.finalizers, ['kubernetes.io/pv-protection']);
        const dir = ((vol.spec as { hostPath: { path: string } }).hostPath).path;
        await client.create(R.pods, ns, podUsing('user', 'busy', 'n1'));

        await client.delete(R.persistentvolumeclaims, ns, 'busy');
        await settle(c);
        const terminating = await c.claim('busy');
        assert.ok(terminating.metadata.deletionTimestamp);
        assert.equal(phase(await c.volume(pvName)), 'Bound');
        assert.ok(existsSync(dir));

        await client.delete(R.pods, ns, 'user', { gracePeriodSeconds: 0 });
        await waitFor('claim gone', async () => !(await c.claim('busy').catch(() => undefined)));
        await waitFor('volume gone', async () => !(await c.volume(pvName)));
        await waitFor('directory gone', () => !existsSync(dir));
      },
      { protection: true },
    ));

  it('a deleted volume stays while Bound and goes once released', () =>
    withVolumes(
      async (c) => {
        const { client, ns } = c;
        await client.create(R.persistentvolumes, undefined, pv('held', '1Gi', { cls: 'manual' }));
        await client.create(R.persistentvolumeclaims, ns, claim('holder', '1Gi', { cls: 'manual' }));
        await waitFor('holder Bound', async () => phase(await c.claim('holder')) === 'Bound');
        await client.delete(R.persistentvolumes, undefined, 'held');
        await settle(c);
        const held = (await c.volume('held'))!;
        assert.ok(held.metadata.deletionTimestamp);
        assert.equal(phase(held), 'Bound');
        await client.delete(R.persistentvolumeclaims, ns, 'holder');
        await waitFor('volume gone', async () => !(await c.volume('held')));
      },
      { protection: true },
    ));
});
