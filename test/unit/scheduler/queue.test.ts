// The scheduling queue: order, back-off, and which cluster events move unschedulable pods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PodInfo, SchedulingQueue } from '../../../src/scheduler/index.js';
import { SchedulerCache } from '../../../src/scheduler/cache.js';
import { node, pod } from './helpers.js';

const info = (name: string, priority = 0, created = '2024-01-01T00:00:00Z') => {
  const p = pod(name, { spec: { priority } });
  p.metadata.creationTimestamp = created;
  return new PodInfo(p);
};

test('pops by priority, then by creation time', async () => {
  const q = new SchedulingQueue();
  q.add(info('late', 0, '2024-01-01T00:00:05Z'));
  q.add(info('early', 0, '2024-01-01T00:00:01Z'));
  q.add(info('urgent', 1000, '2024-01-01T00:00:09Z'));
  q.add(info('low', -5, '2024-01-01T00:00:00Z'));
  const order: string[] = [];
  for (let i = 0; i < 4; i++) order.push((await q.pop())!.info.name);
  assert.deepEqual(order, ['urgent', 'early', 'late', 'low']);
  q.close();
});

test('pop waits for a pod; close releases it', async () => {
  const q = new SchedulingQueue();
  const waiting = q.pop();
  q.add(info('a'));
  assert.equal((await waiting)!.info.name, 'a');
  const released = q.pop();
  q.close();
  assert.equal(await released, undefined);
});

test('unschedulable pods move only on events that may help the plugins that rejected them', async () => {
  const q = new SchedulingQueue({
    initialBackoffMs: 0,
    relevant: (event, plugin) => (plugin === 'TaintToleration' ? event === 'NodeAdd' || event === 'NodeUpdate' : true),
  });
  q.add(info('a'));
  const a = (await q.pop())!;
  q.addUnschedulable(a, ['TaintToleration']);
  q.moveAll('AssignedPodDelete');
  assert.deepEqual(q.sizes, { active: 0, backoff: 0, unschedulable: 1 });
  q.moveAll('NodeUpdate');
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(q.sizes.unschedulable, 0);
  assert.equal((await q.pop())!.info.name, 'a');
  q.close();
});

test('a pod that failed waits out its back-off before it is active again', async () => {
  const q = new SchedulingQueue({ initialBackoffMs: 40, maxBackoffMs: 40 });
  q.add(info('a'));
  const a = (await q.pop())!;
  q.addUnschedulable(a, []);
  q.moveAll('NodeAdd');
  assert.deepEqual(q.sizes, { active: 0, backoff: 1, unschedulable: 0 });
  const keepAlive = setTimeout(() => {}, 1000); // the queue's timers do not hold the process open
  assert.equal((await q.pop())!.info.name, 'a'); // released by the back-off timer
  clearTimeout(keepAlive);
  q.delete('default/a');
  q.close();
});

test('a changed unschedulable pod is retried; a deleted one is forgotten', async () => {
  const q = new SchedulingQueue({ initialBackoffMs: 0 });
  q.add(info('a'));
  q.addUnschedulable((await q.pop())!, ['NodeAffinity']);
  q.update(info('a')); // same spec: stays
  assert.equal(q.sizes.unschedulable, 1);
  const changed = pod('a', { spec: { nodeSelector: { x: 'y' } } });
  q.update(new PodInfo(changed));
  assert.equal(q.sizes.unschedulable, 0);
  q.delete('default/a');
  assert.deepEqual(q.sizes, { active: 0, backoff: 0, unschedulable: 0 });
  q.close();
});

test('cache: assumed pods count until confirmed or forgotten', () => {
  const cache = new SchedulerCache();
  const n = cache.setNode(node('n1', { cpu: '2' }));
  const p = new PodInfo(pod('a', { cpu: '1' })).assignedTo('n1');
  cache.assume(p);
  assert.equal(n.requested.cpu, 1000);
  assert.ok(cache.isAssumed('default/a'));
  cache.addPod(new PodInfo({ ...pod('a', { cpu: '1' }), spec: { ...(pod('a', { cpu: '1' }).spec as object), nodeName: 'n1' } }));
  assert.equal(n.requested.cpu, 1000);
  assert.ok(!cache.isAssumed('default/a'));
  cache.forget('default/a'); // confirmed: stays
  assert.equal(n.requested.cpu, 1000);
  cache.removePod('default/a');
  assert.equal(n.requested.cpu, 0);
  cache.assume(new PodInfo(pod('b', { cpu: '1' })).assignedTo('n1'));
  cache.forget('default/b');
  assert.equal(n.requested.cpu, 0);
  assert.equal(n.pods.size, 0);
});
