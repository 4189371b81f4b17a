import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { CronJobController, SCHEDULED_TIMESTAMP_ANNOTATION, INSTANTIATE_ANNOTATION, parseSchedule, formatInZone } from '../../../src/controllers/cronjob/index.js';
import type { KObject } from '../../../src/machinery/object.js';
import { FakeClock, createNs, cronJob, eventsFor, ownerUid, waitFor } from './helpers.js';

const MIN = 60_000;

function active(cj: KObject): { name: string; uid: string }[] {
  return ((cj.status as { active?: { name: string; uid: string }[] } | undefined)?.active ?? []) as { name: string; uid: string }[];
}

function nextMinute(t: number): number {
  return Math.floor(t / MIN) * MIN + MIN;
}

describe('CronJob controller', () => {
  let t: TestApi;
  let client: ApiClient;
  let clock: FakeClock;
  let ctrl: CronJobController;

  before(async () => {
    t = await startTestApi();
    client = t.client('test');
    // The API stamps creationTimestamp with the real time, so the fake clock starts there.
    clock = new FakeClock(Date.now());
    ctrl = new CronJobController(t.client('cronjob-controller'), { now: clock.now, setTimer: clock.setTimer });
    await ctrl.start();
  });

  after(async () => {
    ctrl.stop();
    await t.close();
  });

  async function jobsOf(ns: string, cj: KObject): Promise<KObject[]> {
    const { items } = await client.list(R.jobs, ns);
    return items.filter((j) => ownerUid(j) === cj.metadata.uid).sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
  }

  /**
   * Back to the real time (the API stamps creationTimestamp with it, and a CronJob catches up on
   * runs missed since its creation), away from a minute boundary so none falls in between.
   */
  async function resetClock(): Promise<void> {
    const toBoundary = MIN - (Date.now() % MIN);
    if (toBoundary < 2500) await new Promise((r) => setTimeout(r, toBoundary + 50));
    clock.t = Date.now();
  }

  /** Waits until the timer for `key` is set (for `at`, if given) and returns when it fires. */
  async function armed(key: string, at?: number): Promise<number> {
    return waitFor(`timer for ${key}${at ? ` at ${new Date(at).toISOString()}` : ''}`, () => {
      const w = ctrl.nextWakeup.get(key);
      return w !== undefined && (at === undefined || w === at) && w;
    });
  }

  async function finishJob(ns: string, name: string, type: 'Complete' | 'Failed', startMs: number): Promise<void> {
    const now = new Date(clock.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    const status: Record<string, unknown> = {
      startTime: new Date(startMs).toISOString().replace(/\.\d+Z$/, 'Z'),
      conditions: [{ type, status: 'True', lastTransitionTime: now }],
    };
    if (type === 'Complete') status.completionTime = now;
    await client.patch(R.jobs, ns, name, 'application/merge-patch+json', { status }, 'status');
  }

  it('fires at the schedule time (a timer set for the next run, not polling) and creates <name>-<minutes>', async () => {
    await createNs(client, 'c1');
    await resetClock();
    const cj = await client.create(R.cronjobs, 'c1', cronJob('tick', '* * * * *'));
    const due = nextMinute(clock.now());
    assert.equal(await armed('c1/tick', due), due);
    await ctrl.idle();
    assert.equal((await jobsOf('c1', cj)).length, 0, 'nothing before the schedule');
    clock.advanceTo(due);
    const [j] = await waitFor('a job', async () => {
      const js = await jobsOf('c1', cj);
      return js.length === 1 && js;
    });
    assert.equal(j.metadata.name, `tick-${due / MIN}`);
    assert.equal(j.metadata.annotations?.[SCHEDULED_TIMESTAMP_ANNOTATION], new Date(due).toISOString().replace(/\.\d+Z$/, 'Z'));
    assert.equal(j.metadata.labels?.app, 'tick');
    assert.deepEqual(j.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'tick', uid: cj.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    const cur = await waitFor('status', async () => {
      const c = await client.get(R.cronjobs, 'c1', 'tick');
      return active(c).length === 1 && c;
    });
    assert.equal(active(cur)[0].name, j.metadata.name);
    assert.equal((cur.status as { lastScheduleTime?: string }).lastScheduleTime, new Date(due).toISOString().replace(/\.\d+Z$/, 'Z'));
    assert.equal(await armed('c1/tick', due + MIN), due + MIN);
    assert.equal((await eventsFor(client, 'c1', 'tick', 'SuccessfulCreate')).length, 1);

    // A finished job leaves the active list and sets lastSuccessfulTime.
    await finishJob('c1', j.metadata.name!, 'Complete', due);
    const done = await waitFor('inactive', async () => {
      const c = await client.get(R.cronjobs, 'c1', 'tick');
      return active(c).length === 0 && (c.status as { lastSuccessfulTime?: string }).lastSuccessfulTime && c;
    });
    assert.ok(done);
    await client.patch(R.cronjobs, 'c1', 'tick', 'application/merge-patch+json', { spec: { suspend: true } });
  });

  it('Forbid skips a run while one is active; Jobs made by `create job --from=cronjob` do not block it', async () => {
    await createNs(client, 'c2');
    await resetClock();
    const cj = await client.create(R.cronjobs, 'c2', cronJob('solo', '* * * * *', { concurrencyPolicy: 'Forbid' }));
    const first = await armed('c2/solo');
    clock.advanceTo(first);
    await waitFor('first job', async () => (await jobsOf('c2', cj)).length === 1);
    const second = await armed('c2/solo', first + MIN);
    clock.advanceTo(second);
    await waitFor('JobAlreadyActive', async () => (await eventsFor(client, 'c2', 'solo', 'JobAlreadyActive')).length === 1);
    await ctrl.idle();
    assert.equal((await jobsOf('c2', cj)).length, 1);

    // Finish it; a manual Job (as kubectl create job --from=cronjob makes it) stays running.
    const [j1] = await jobsOf('c2', cj);
    const manual: KObject = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'solo-manual',
        annotations: { [INSTANTIATE_ANNOTATION]: 'manual' },
        labels: { app: 'solo' },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'solo', uid: cj.metadata.uid!, controller: true }],
      },
      spec: ((cj.spec as { jobTemplate: { spec: unknown } }).jobTemplate.spec) as Record<string, unknown>,
    };
    await client.create(R.jobs, 'c2', manual);
    await finishJob('c2', j1.metadata.name!, 'Complete', first);
    // As upstream, the run skipped by Forbid starts late once the active Job is done (lastScheduleTime
    // still points at the first run and there is no startingDeadlineSeconds), while the manual Job
    // still runs: it never counts as active.
    const late = `solo-${second / MIN}`;
    await waitFor('the skipped run starts', async () => (await jobsOf('c2', cj)).some((j) => j.metadata.name === late));
    const cur = await waitFor('one active', async () => {
      const c = await client.get(R.cronjobs, 'c2', 'solo');
      return active(c).length === 1 && c;
    });
    assert.equal(active(cur)[0].name, late, 'the manual job is never in status.active');
    await waitFor('UnexpectedJob', async () => (await eventsFor(client, 'c2', 'solo', 'UnexpectedJob')).length >= 1);
    assert.equal((await eventsFor(client, 'c2', 'solo', 'SawCompletedJob')).length, 1);
    await client.patch(R.cronjobs, 'c2', 'solo', 'application/merge-patch+json', { spec: { suspend: true } });
  });

  it('Replace deletes the active Job and creates the next one', async () => {
    await createNs(client, 'c3');
    await resetClock();
    const cj = await client.create(R.cronjobs, 'c3', cronJob('swap', '* * * * *', { concurrencyPolicy: 'Replace' }));
    const first = await armed('c3/swap');
    clock.advanceTo(first);
    await waitFor('first job', async () => (await jobsOf('c3', cj)).length === 1);
    const second = await armed('c3/swap', first + MIN);
    clock.advanceTo(second);
    const js = await waitFor('only the second job', async () => {
      const j = await jobsOf('c3', cj);
      return j.length === 1 && j[0].metadata.name === `swap-${second / MIN}` && j;
    });
    const cur = await waitFor('active is the new job', async () => {
      const c = await client.get(R.cronjobs, 'c3', 'swap');
      return active(c).length === 1 && active(c)[0].uid === js[0].metadata.uid && c;
    });
    assert.ok(cur);
    const del = await eventsFor(client, 'c3', 'swap', 'SuccessfulDelete');
    assert.deepEqual(
      del.map((e) => e.message),
      [`Deleted job swap-${first / MIN}`],
    );
    await client.patch(R.cronjobs, 'c3', 'swap', 'application/merge-patch+json', { spec: { suspend: true } });
  });

  it('prunes finished Jobs beyond successfulJobsHistoryLimit and failedJobsHistoryLimit', async () => {
    await createNs(client, 'c4');
    await resetClock();
    const cj = await client.create(R.cronjobs, 'c4', cronJob('hist', '* * * * *', { successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1 }));
    const names: string[] = [];
    let at = await armed('c4/hist');
    for (let i = 0; i < 4; i++) {
      clock.advanceTo(at);
      const name = `hist-${at / MIN}`;
      await waitFor(name, async () => (await jobsOf('c4', cj)).some((j) => j.metadata.name === name));
      names.push(name);
      at = await armed('c4/hist', at + MIN);
    }
    // Two succeed, two fail, oldest first.
    const start = clock.now() - 10 * MIN;
    await finishJob('c4', names[0], 'Complete', start);
    await finishJob('c4', names[1], 'Failed', start + MIN);
    await finishJob('c4', names[2], 'Complete', start + 2 * MIN);
    await finishJob('c4', names[3], 'Failed', start + 3 * MIN);
    const left = await waitFor('two jobs kept', async () => {
      const j = await jobsOf('c4', cj);
      return j.length === 2 && j;
    });
    assert.deepEqual(
      left.map((j) => j.metadata.name),
      [names[2], names[3]],
    );
    await waitFor('no active', async () => active(await client.get(R.cronjobs, 'c4', 'hist')).length === 0);
    await client.patch(R.cronjobs, 'c4', 'hist', 'application/merge-patch+json', { spec: { suspend: true } });
  });

  it('counts manual Jobs in history cleanup as upstream does (they are finished children)', async () => {
    await createNs(client, 'c5');
    await resetClock();
    const cj = await client.create(R.cronjobs, 'c5', cronJob('man', '0 0 1 1 *', { successfulJobsHistoryLimit: 1 }));
    const mk = (name: string): KObject => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        annotations: { [INSTANTIATE_ANNOTATION]: 'manual' },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'man', uid: cj.metadata.uid!, controller: true }],
      },
      spec: ((cj.spec as { jobTemplate: { spec: unknown } }).jobTemplate.spec) as Record<string, unknown>,
    });
    await client.create(R.jobs, 'c5', mk('man-a'));
    await client.create(R.jobs, 'c5', mk('man-b'));
    await finishJob('c5', 'man-a', 'Complete', clock.now() - 2 * MIN);
    await finishJob('c5', 'man-b', 'Complete', clock.now() - MIN);
    const left = await waitFor('oldest manual job pruned', async () => {
      const j = await jobsOf('c5', cj);
      return j.length === 1 && j;
    });
    assert.equal(left[0].metadata.name, 'man-b');
    const cur = await client.get(R.cronjobs, 'c5', 'man');
    assert.equal(active(cur).length, 0);
  });

  it('skips runs older than startingDeadlineSeconds and warns about more than 100 missed', async () => {
    await createNs(client, 'c6');
    await resetClock();
    const cj = await client.create(R.cronjobs, 'c6', cronJob('late', '* * * * *', { startingDeadlineSeconds: 10 }));
    const due = await armed('c6/late');
    // The controller "was down" across the schedule: it wakes 30 s late.
    clock.paused = true;
    clock.advanceTo(due + 30_000);
    clock.paused = false;
    await client.patch(R.cronjobs, 'c6', 'late', 'application/merge-patch+json', { metadata: { labels: { poke: '1' } } });
    // The stale run is outside the window upstream looks at (now − startingDeadlineSeconds): skipped.
    await armed('c6/late', due + MIN);
    await ctrl.idle();
    assert.equal((await jobsOf('c6', cj)).length, 0);
    // Within the deadline it runs.
    clock.advanceTo(due + MIN + 5_000);
    await waitFor('job within deadline', async () => (await jobsOf('c6', cj)).some((j) => j.metadata.name === `late-${(due + MIN) / MIN}`));

    // Without a deadline, 150 missed minutes: a warning, and the most recent one runs.
    await client.patch(R.cronjobs, 'c6', 'late', 'application/merge-patch+json', { spec: { suspend: true } });
    await resetClock();
    const many = await client.create(R.cronjobs, 'c6', cronJob('many', '* * * * *'));
    await armed('c6/many');
    clock.paused = true;
    clock.advance(150 * MIN);
    clock.paused = false;
    await client.patch(R.cronjobs, 'c6', 'many', 'application/merge-patch+json', { metadata: { labels: { poke: '1' } } });
    await waitFor('TooManyMissedTimes', async () => (await eventsFor(client, 'c6', 'many', 'TooManyMissedTimes')).length >= 1);
    const latest = Math.floor(clock.now() / MIN);
    await waitFor('most recent run', async () => (await jobsOf('c6', many)).some((j) => j.metadata.name === `many-${latest}`));
    assert.equal((await jobsOf('c6', many)).length, 1);
    for (const n of ['many']) await client.patch(R.cronjobs, 'c6', n, 'application/merge-patch+json', { spec: { suspend: true } });
  });

  it('does nothing while suspended, and schedules in spec.timeZone', async () => {
    await createNs(client, 'c7');
    await resetClock();
    const cj = await client.create(R.cronjobs, 'c7', cronJob('tz', '30 9 * * *', { timeZone: 'Asia/Tokyo', suspend: true }));
    await ctrl.idle();
    assert.equal(ctrl.nextWakeup.get('c7/tz'), undefined, 'no timer while suspended');
    await client.patch(R.cronjobs, 'c7', 'tz', 'application/merge-patch+json', { spec: { suspend: false } });
    const at = await armed('c7/tz');
    // 09:30 in Tokyo (UTC+9) is 00:30 UTC.
    const d = new Date(at);
    assert.equal(d.getUTCHours(), 0);
    assert.equal(d.getUTCMinutes(), 30);
    assert.ok(at > clock.now() && at - clock.now() <= 24 * 60 * MIN);
    clock.advanceTo(at);
    const [j] = await waitFor('tz job', async () => {
      const js = await jobsOf('c7', cj);
      return js.length === 1 && js;
    });
    assert.equal(j.metadata.annotations?.[SCHEDULED_TIMESTAMP_ANNOTATION], `${new Date(at + 9 * 60 * MIN).toISOString().slice(0, 10)}T09:30:00+09:00`);
    await client.patch(R.cronjobs, 'c7', 'tz', 'application/merge-patch+json', { spec: { suspend: true } });
  });
});

describe('cron schedules', () => {
  const at = (s: string) => Date.parse(s);
  const iso = (ms: number) => new Date(ms).toISOString();

  it('computes next runs for fields, steps, names and descriptors', () => {
    assert.equal(iso(parseSchedule('*/15 * * * *').next(at('2024-03-01T10:07:00Z'))), '2024-03-01T10:15:00.000Z');
    assert.equal(iso(parseSchedule('0 9-17/4 * * mon-fri').next(at('2024-03-01T17:00:00Z'))), '2024-03-04T09:00:00.000Z');
    assert.equal(iso(parseSchedule('@hourly').next(at('2024-03-01T10:00:00Z'))), '2024-03-01T11:00:00.000Z');
    assert.equal(iso(parseSchedule('@yearly').next(at('2024-03-01T10:00:00Z'))), '2025-01-01T00:00:00.000Z');
    assert.equal(iso(parseSchedule('0 0 29 2 *').next(at('2024-03-01T00:00:00Z'))), '2028-02-29T00:00:00.000Z');
    // Day-of-month and day-of-week both restricted: either matches (1st of the month or a Sunday).
    assert.equal(iso(parseSchedule('0 0 1 * sun').next(at('2024-03-01T00:00:00Z'))), '2024-03-03T00:00:00.000Z');
    assert.equal(iso(parseSchedule('@every 1h30m').next(at('2024-03-01T00:00:00Z'))), '2024-03-01T01:30:00.000Z');
  });

  it('follows time zones, including daylight saving time', () => {
    // New York: EST (UTC-5) in January, EDT (UTC-4) in July.
    assert.equal(iso(parseSchedule('0 9 * * *', 'America/New_York').next(at('2024-01-10T00:00:00Z'))), '2024-01-10T14:00:00.000Z');
    assert.equal(iso(parseSchedule('0 9 * * *', 'America/New_York').next(at('2024-07-10T00:00:00Z'))), '2024-07-10T13:00:00.000Z');
    // Across the spring-forward night (10 March 2024): 09:00 EDT.
    assert.equal(iso(parseSchedule('0 9 * * *', 'America/New_York').next(at('2024-03-10T00:00:00Z'))), '2024-03-10T13:00:00.000Z');
    assert.equal(formatInZone(at('2024-07-10T13:00:00Z'), 'America/New_York'), '2024-07-10T09:00:00-04:00');
    assert.equal(formatInZone(at('2024-07-10T13:00:00Z'), 'UTC'), '2024-07-10T13:00:00Z');
    assert.equal(formatInZone(at('2024-07-10T13:00:00Z'), 'Asia/Kolkata'), '2024-07-10T18:30:00+05:30');
  });
});
