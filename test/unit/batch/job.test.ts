import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { JobController, TTLAfterFinishedController, JOB_TRACKING_FINALIZER, COMPLETION_INDEX_KEY } from '../../../src/controllers/job/index.js';
import { formatIndexes, parseIndexes, nextBackoffRecord, backoffRemaining } from '../../../src/controllers/job/util.js';
import type { KObject } from '../../../src/machinery/object.js';
import { FakeKubelet, condition, createNs, eventsFor, job, podsOf, waitFor, type Outcome } from './helpers.js';

function st(j: KObject): Record<string, unknown> {
  return (j.status as Record<string, unknown>) ?? {};
}

describe('Job controller', () => {
  let t: TestApi;
  let client: ApiClient;
  let ctrl: JobController;
  let ttl: TTLAfterFinishedController;
  let kubelet: FakeKubelet;
  // Each test names its namespace; the kubelet asks this map what a pod does.
  const outcomes = new Map<string, (pod: KObject) => Outcome>();

  before(async () => {
    t = await startTestApi();
    client = t.client('test');
    ctrl = new JobController(t.client('job-controller'), { backoffBaseMs: 20, backoffMaxMs: 200 });
    ttl = new TTLAfterFinishedController(t.client('ttl-controller'));
    kubelet = new FakeKubelet(t.client('kubelet'), { outcome: (p) => outcomes.get(p.metadata.namespace!)?.(p) ?? { exitCode: 0 } });
    await Promise.all([ctrl.start(), ttl.start(), kubelet.start()]);
  });

  after(async () => {
    kubelet.stop();
    ttl.stop();
    ctrl.stop();
    await t.close();
  });

  async function finished(ns: string, name: string, type: 'Complete' | 'Failed'): Promise<KObject> {
    return waitFor(`job ${name} ${type}`, async () => {
      const j = await client.get(R.jobs, ns, name);
      return condition(j, type)?.status === 'True' && j;
    });
  }

  it('runs 5 completions with parallelism 2: exactly 5 successful pods, never more than 2 at once', async () => {
    await createNs(client, 'j1');
    const created = await client.create(R.jobs, 'j1', job('five', { completions: 5, parallelism: 2 }));
    const done = await finished('j1', 'five', 'Complete');
    const s = st(done);
    assert.equal(s.succeeded, 5);
    assert.equal(s.failed, undefined);
    assert.equal(s.active, undefined);
    assert.equal(s.ready, 0);
    assert.deepEqual(s.uncountedTerminatedPods, {});
    assert.ok(s.startTime && s.completionTime);
    assert.equal(condition(done, 'SuccessCriteriaMet')?.reason, 'CompletionsReached');
    assert.equal(condition(done, 'Complete')?.reason, 'CompletionsReached');
    await ctrl.idle();
    const pods = await podsOf(client, 'j1', created);
    assert.equal(pods.length, 5);
    for (const p of pods) {
      assert.equal((p.status as { phase: string }).phase, 'Succeeded');
      // Tracking finalizer added on create, removed once counted.
      assert.ok(!(p.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER));
      assert.equal(p.metadata.labels?.['batch.kubernetes.io/job-name'], 'five');
      assert.equal(p.metadata.labels?.['job-name'], 'five');
      assert.equal(p.metadata.labels?.['batch.kubernetes.io/controller-uid'], created.metadata.uid);
      assert.equal(p.metadata.labels?.['controller-uid'], created.metadata.uid);
      assert.deepEqual(p.metadata.ownerReferences, [
        { apiVersion: 'batch/v1', kind: 'Job', name: 'five', uid: created.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      assert.match(p.metadata.name!, /^five-[a-z0-9]{5}$/);
    }
    const max = kubelet.maxConcurrent.get(created.metadata.uid!) ?? 0;
    assert.ok(max >= 1 && max <= 2, `at most 2 pods at once, saw ${max}`);
    assert.equal((await eventsFor(client, 'j1', 'five', 'SuccessfulCreate')).length, 5);
    assert.equal((await eventsFor(client, 'j1', 'five', 'Completed')).length, 1);
  });

  it('creates pods with the tracking finalizer and counts a pod only after removing it', async () => {
    await createNs(client, 'j2');
    outcomes.set('j2', () => 'hold');
    const created = await client.create(R.jobs, 'j2', job('held'));
    const [pod] = await waitFor('a running pod', async () => {
      const p = await podsOf(client, 'j2', created);
      return p.length === 1 && (p[0].status as { phase?: string })?.phase === 'Running' && p;
    });
    assert.deepEqual(pod.metadata.finalizers, [JOB_TRACKING_FINALIZER]);
    const running = await waitFor('active 1 ready 1', async () => {
      const j = await client.get(R.jobs, 'j2', 'held');
      return st(j).active === 1 && st(j).ready === 1 && j;
    });
    assert.equal(st(running).succeeded, undefined);
    const { finishPod } = await import('./helpers.js');
    await finishPod(client, pod, 0);
    const done = await finished('j2', 'held', 'Complete');
    assert.equal(st(done).succeeded, 1);
    const after = await client.get(R.pods, 'j2', pod.metadata.name!);
    assert.equal((after.metadata.finalizers ?? []).length, 0);
  });

  it('stops a failing Job at its backoffLimit with BackoffLimitExceeded', async () => {
    await createNs(client, 'j3');
    outcomes.set('j3', () => ({ exitCode: 1 }));
    const created = await client.create(R.jobs, 'j3', job('fails', { backoffLimit: 2 }));
    const failed = await finished('j3', 'fails', 'Failed');
    assert.equal(condition(failed, 'Failed')?.reason, 'BackoffLimitExceeded');
    assert.equal(condition(failed, 'Failed')?.message, 'Job has reached the specified backoff limit');
    assert.equal(condition(failed, 'FailureTarget')?.reason, 'BackoffLimitExceeded');
    assert.equal(condition(failed, 'Complete'), undefined);
    assert.equal(st(failed).failed, 3);
    assert.equal(st(failed).active, undefined);
    await ctrl.idle();
    const pods = await podsOf(client, 'j3', created);
    assert.equal(pods.length, 3, 'backoffLimit 2: the first try and two retries');
    assert.ok(pods.every((p) => !(p.metadata.finalizers ?? []).length));
    const ev = await eventsFor(client, 'j3', 'fails', 'BackoffLimitExceeded');
    assert.equal(ev.length, 1);
    assert.equal(ev[0].type, 'Warning');
  });

  it('gives an Indexed Job indexes 0..n-1 with index annotation, label, hostname and env', async () => {
    await createNs(client, 'j4');
    outcomes.set('j4', () => 'hold');
    const created = await client.create(R.jobs, 'j4', job('idx', { completions: 3, parallelism: 3, completionMode: 'Indexed' }));
    const pods = await waitFor('3 running pods', async () => {
      const p = await podsOf(client, 'j4', created);
      return p.length === 3 && p.every((x) => (x.status as { phase?: string })?.phase === 'Running') && p;
    });
    const byIndex = new Map(pods.map((p) => [p.metadata.annotations?.[COMPLETION_INDEX_KEY], p]));
    assert.deepEqual([...byIndex.keys()].sort(), ['0', '1', '2']);
    for (const [ix, p] of byIndex) {
      assert.equal(p.metadata.labels?.[COMPLETION_INDEX_KEY], ix);
      assert.equal((p.spec as { hostname?: string }).hostname, `idx-${ix}`);
      assert.match(p.metadata.name!, new RegExp(`^idx-${ix}-[a-z0-9]{5}$`));
      const env = (p.spec as { containers: { env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] }[] }).containers[0].env ?? [];
      assert.deepEqual(env.find((e) => e.name === 'JOB_COMPLETION_INDEX')?.valueFrom?.fieldRef?.fieldPath, `metadata.labels['${COMPLETION_INDEX_KEY}']`);
    }
    const { finishPod } = await import('./helpers.js');
    // Index 1 fails once and is re-created with the same index.
    await finishPod(client, byIndex.get('1')!, 1);
    await finishPod(client, byIndex.get('0')!, 0);
    await finishPod(client, byIndex.get('2')!, 0);
    const partial = await waitFor('completedIndexes 0,2', async () => {
      const j = await client.get(R.jobs, 'j4', 'idx');
      return st(j).completedIndexes === '0,2' && st(j).failed === 1 && j;
    });
    assert.equal(st(partial).succeeded, 2);
    const retry = await waitFor('a new pod for index 1', async () => {
      const p = (await podsOf(client, 'j4', created)).filter((x) => x.metadata.annotations?.[COMPLETION_INDEX_KEY] === '1' && x.metadata.uid !== byIndex.get('1')!.metadata.uid);
      return p.length === 1 && p[0];
    });
    await waitFor('retry running', async () => (((await client.get(R.pods, 'j4', retry.metadata.name!)).status as { phase?: string })?.phase === 'Running'));
    await finishPod(client, await client.get(R.pods, 'j4', retry.metadata.name!), 0);
    const done = await finished('j4', 'idx', 'Complete');
    assert.equal(st(done).completedIndexes, '0-2');
    assert.equal(st(done).succeeded, 3);
    assert.equal(st(done).failed, 1);
  });

  it('fails a Job past activeDeadlineSeconds with DeadlineExceeded and deletes its pods', async () => {
    await createNs(client, 'j5');
    outcomes.set('j5', () => 'hold');
    const created = await client.create(R.jobs, 'j5', job('slow', { activeDeadlineSeconds: 1, parallelism: 2, completions: 4 }));
    await waitFor('2 pods', async () => (await podsOf(client, 'j5', created)).length === 2);
    const failed = await finished('j5', 'slow', 'Failed');
    assert.equal(condition(failed, 'Failed')?.reason, 'DeadlineExceeded');
    assert.equal(condition(failed, 'Failed')?.message, 'Job was active longer than specified deadline');
    assert.equal(st(failed).active, undefined);
    assert.equal(st(failed).failed, 2, 'pods deleted at the deadline count as failed');
    await waitFor('pods gone', async () => (await podsOf(client, 'j5', created)).length === 0);
    assert.equal((await eventsFor(client, 'j5', 'slow', 'DeadlineExceeded')).length, 1);
  });

  it('suspends (deleting active pods, not counting them as failed) and resumes', async () => {
    await createNs(client, 'j6');
    outcomes.set('j6', () => 'hold');
    const created = await client.create(R.jobs, 'j6', job('sus', { suspend: true, parallelism: 2, completions: 2 }));
    const suspended = await waitFor('Suspended', async () => {
      const j = await client.get(R.jobs, 'j6', 'sus');
      return condition(j, 'Suspended')?.status === 'True' && j;
    });
    assert.equal(condition(suspended, 'Suspended')?.reason, 'JobSuspended');
    assert.equal(st(suspended).startTime, undefined);
    await ctrl.idle();
    assert.equal((await podsOf(client, 'j6', created)).length, 0);

    await client.patch(R.jobs, 'j6', 'sus', 'application/merge-patch+json', { spec: { suspend: false } });
    const resumed = await waitFor('resumed with 2 active', async () => {
      const j = await client.get(R.jobs, 'j6', 'sus');
      return condition(j, 'Suspended')?.status === 'False' && st(j).active === 2 && j;
    });
    assert.equal(condition(resumed, 'Suspended')?.reason, 'JobResumed');
    assert.ok(st(resumed).startTime);

    await client.patch(R.jobs, 'j6', 'sus', 'application/merge-patch+json', { spec: { suspend: true } });
    const again = await waitFor('suspended, no active pods', async () => {
      const j = await client.get(R.jobs, 'j6', 'sus');
      return condition(j, 'Suspended')?.status === 'True' && st(j).active === undefined && (await podsOf(client, 'j6', created)).length === 0 && j;
    });
    assert.equal(st(again).failed, undefined, 'pods deleted by suspension are not failures');
    assert.equal((await eventsFor(client, 'j6', 'sus', 'Resumed')).length, 1);
    assert.equal((await eventsFor(client, 'j6', 'sus', 'Suspended')).length, 2);
  });

  it('deletes a finished Job after ttlSecondsAfterFinished', async () => {
    await createNs(client, 'j7');
    await client.create(R.jobs, 'j7', job('short', { ttlSecondsAfterFinished: 0 }));
    await waitFor('job deleted', async () => {
      try {
        await client.get(R.jobs, 'j7', 'short');
        return false;
      } catch (e) {
        return (e as { code?: number }).code === 404;
      }
    });
  });

  it('removes the tracking finalizer from pods whose Job is gone', async () => {
    await createNs(client, 'j8');
    outcomes.set('j8', () => 'hold');
    const created = await client.create(R.jobs, 'j8', job('gone'));
    const [pod] = await waitFor('pod', async () => {
      const p = await podsOf(client, 'j8', created);
      return p.length === 1 && p;
    });
    // Orphan the pod: no garbage collector runs here, so it stays, owned by a missing Job.
    await client.delete(R.jobs, 'j8', 'gone', { propagationPolicy: 'Orphan' });
    await waitFor('finalizer removed', async () => {
      const p = await client.get(R.pods, 'j8', pod.metadata.name!);
      return !(p.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER);
    });
  });

  it('completes a Job without completions when one pod succeeds and none run', async () => {
    await createNs(client, 'j9');
    const created = await client.create(R.jobs, 'j9', job('queue', { parallelism: 3 }));
    const done = await finished('j9', 'queue', 'Complete');
    assert.ok((st(done).succeeded as number) >= 1);
    assert.ok((await podsOf(client, 'j9', created)).length <= 3 + 0);
  });

  it('fails the Job at once on a podFailurePolicy FailJob rule', async () => {
    await createNs(client, 'j10');
    outcomes.set('j10', () => ({ exitCode: 42 }));
    await client.create(
      R.jobs,
      'j10',
      job('policy', { backoffLimit: 6, podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [42] } }] } }),
    );
    const failed = await finished('j10', 'policy', 'Failed');
    assert.equal(condition(failed, 'Failed')?.reason, 'PodFailurePolicy');
    assert.match(condition(failed, 'Failed')?.message ?? '', /failed with exit code 42 matching FailJob rule at index 0/);
    assert.equal(st(failed).failed, 1);
  });
});

describe('Job helpers', () => {
  it('formats and parses completed indexes', () => {
    assert.equal(formatIndexes([0, 1, 2, 4, 6, 7]), '0-2,4,6,7');
    assert.equal(formatIndexes([3, 1, 2]), '1-3');
    assert.equal(formatIndexes([]), '');
    assert.deepEqual([...parseIndexes('0-2,4,6,7', 7)].sort(), [0, 1, 2, 4, 6]);
  });

  it('backs off 10 s doubling per failure since the last success, capped', () => {
    const failAt = (ms: number) => ({ metadata: { name: 'p' }, status: { phase: 'Failed', containerStatuses: [{ state: { terminated: { finishedAt: new Date(ms).toISOString() } } }] } });
    const r1 = nextBackoffRecord(undefined, [], [failAt(1000)], 5000);
    assert.deepEqual(r1, { failuresAfterLastSuccess: 1, lastFailureTime: 1000 });
    assert.equal(backoffRemaining(r1, 1000, 10_000, 360_000), 10_000);
    const r3 = nextBackoffRecord(r1, [], [failAt(2000), failAt(3000)], 5000);
    assert.equal(backoffRemaining(r3, 3000, 10_000, 360_000), 40_000);
    const r10 = { failuresAfterLastSuccess: 10, lastFailureTime: 0 };
    assert.equal(backoffRemaining(r10, 0, 10_000, 360_000), 360_000);
    const ok = { metadata: { name: 'q' }, status: { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { finishedAt: new Date(4000).toISOString() } } }] } };
    assert.deepEqual(nextBackoffRecord(r3, [ok], [], 5000), { failuresAfterLastSuccess: 0 });
  });
});
