import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestApi } from '../../support/in-memory-api.js';
import { R } from '../../../src/client/client.js';
import {
  createRevision,
  ensureUpdateRevision,
  hashRevisionData,
  newRevision,
  revisionName,
  templateOfRevision,
  templatePatch,
  truncateHistory,
} from '../../../src/controllers/history.js';
import { newControllerRef } from '../../../src/controllers/controller-ref.js';
import type { KObject } from '../../../src/machinery/object.js';

function owner(image: string): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'default', uid: 'u-1' },
    spec: { template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } } },
  };
}

describe('ControllerRevision history', () => {
  it('hashes data and collision count into <owner>-<hash> names; data is a replacing template patch', () => {
    const o = owner('nginx:1');
    const data = templatePatch(o);
    assert.deepEqual(data, { spec: { template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] }, $patch: 'replace' } } });
    assert.deepEqual(templateOfRevision({ apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: {}, data }), (o.spec as { template: unknown }).template);
    const h0 = hashRevisionData(data, 0);
    assert.match(h0, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.equal(hashRevisionData(data, 0), h0);
    assert.notEqual(hashRevisionData(data, 1), h0);
    assert.notEqual(hashRevisionData(templatePatch(owner('nginx:2')), 0), h0);
    assert.equal(revisionName('web', h0), `web-${h0}`);
    assert.equal(revisionName('x'.repeat(300), 'h').length, 225);
    const rev = newRevision({ owner: o, ownerRef: newControllerRef(o, 'apps/v1', 'StatefulSet'), data, revision: 3, collisionCount: 0, labels: { app: 'web' } });
    assert.equal(rev.metadata.name, `web-${h0}`);
    assert.deepEqual(rev.metadata.labels, { app: 'web', 'controller-revision-hash': h0, 'controller.kubernetes.io/hash': h0 });
    assert.equal(rev.revision, 3);
  });

  it('creates, reuses (renumbering after a rollback), survives name collisions and truncates history', async () => {
    const t = await startTestApi();
    try {
      const client = t.client('test');
      const ref = (o: KObject) => newControllerRef(o, 'apps/v1', 'StatefulSet');
      let revs: KObject[] = [];
      let o = owner('nginx:1');
      let r = await ensureUpdateRevision({ client, owner: o, ownerRef: ref(o), revisions: revs, collisionCount: 0 });
      assert.equal(r.update.revision, 1);
      assert.equal(r.changed, true);
      revs = r.revisions;
      r = await ensureUpdateRevision({ client, owner: o, ownerRef: ref(o), revisions: revs, collisionCount: 0 });
      assert.equal(r.changed, false);
      o = owner('nginx:2');
      r = await ensureUpdateRevision({ client, owner: o, ownerRef: ref(o), revisions: revs, collisionCount: 0 });
      assert.equal(r.update.revision, 2);
      revs = r.revisions;
      // Back to the first template: the old revision becomes number 3.
      o = owner('nginx:1');
      r = await ensureUpdateRevision({ client, owner: o, ownerRef: ref(o), revisions: revs, collisionCount: 0 });
      assert.equal(r.update.revision, 3);
      assert.equal(r.revisions.length, 2);

      // A foreign object under the would-be name forces the collision count up.
      const o3 = owner('nginx:3');
      const name = revisionName('web', hashRevisionData(templatePatch(o3), 0));
      await client.create(R.controllerrevisions, 'default', { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name }, data: { other: true }, revision: 1 });
      const made = await createRevision(client, (cc) => newRevision({ owner: o3, ownerRef: ref(o3), data: templatePatch(o3), revision: 4, collisionCount: cc }), 0);
      assert.equal(made.collisionCount, 1);
      assert.equal(made.revision.metadata.name, revisionName('web', hashRevisionData(templatePatch(o3), 1)));

      const all = [...r.revisions, made.revision];
      const deleted = await truncateHistory(client, all, new Set([made.revision.metadata.name!]), 1);
      assert.equal(deleted.length, 1);
      assert.equal(deleted[0], all.find((x) => x.revision === 2)!.metadata.name);
    } finally {
      await t.close();
    }
  });
});
