import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { cronScheduleProblems, isValidTimeZone } from '../../../src/api/batch/v1/cron.js';
import { T0, cells, container, defaulted, fields, kind, meta, problems } from './helpers.js';

const job = kind('batch', 'v1', 'Job');
const cj = kind('batch', 'v1', 'CronJob');
const UID = '0b6c4d5e-1111-2222-3333-444455556666';

const pi = (): KObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: meta('pi', { uid: UID }),
  spec: { template: { spec: { containers: [container], restartPolicy: 'Never' } } },
});

test('Job defaults generate the selector and labels from the uid', () => {
  const j = defaulted(job, pi());
  const spec = j.spec as any;
  assert.equal(spec.completions, 1);
  assert.equal(spec.parallelism, 1);
  assert.equal(spec.backoffLimit, 6);
  assert.equal(spec.completionMode, 'NonIndexed');
  assert.equal(spec.suspend, false);
  assert.equal(spec.podReplacementPolicy, 'TerminatingOrFailed');
  assert.deepEqual(spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': UID } });
  const labels = { 'batch.kubernetes.io/controller-uid': UID, 'batch.kubernetes.io/job-name': 'pi', 'controller-uid': UID, 'job-name': 'pi' };
  assert.deepEqual(spec.template.metadata.labels, labels);
  assert.deepEqual(j.metadata.labels, labels);
  assert.deepEqual(problems(job, j), []);
  // Idempotent: defaulting again (on update) changes nothing.
  assert.deepEqual(defaulted(job, j), j);
});

test('Job parallelism alone leaves completions unset', () => {
  const j = defaulted(job, { ...pi(), spec: { ...(pi().spec as object), parallelism: 3 } });
  assert.equal((j.spec as any).completions, undefined);
  assert.equal((j.spec as any).parallelism, 3);
});

test('Job validation: restartPolicy, manual selector, forged selector', () => {
  const always = defaulted(job, pi());
  (always.spec as any).template.spec.restartPolicy = 'Always';
  assert.deepEqual(problems(job, always), ['spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"']);
  const manual = defaulted(job, { ...pi(), spec: { ...(pi().spec as object), manualSelector: true } });
  assert.deepEqual(problems(job, manual), ['spec.selector: Required value']);
  const forged = pi();
  (forged.spec as any).selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': 'someone-else' } };
  const f = defaulted(job, forged);
  assert.deepEqual(fields(job, f), ['spec.template.metadata.labels', 'spec.selector']);
  const neg = defaulted(job, { ...pi(), spec: { ...(pi().spec as object), backoffLimit: -1, completionMode: 'Indexed', parallelism: 2 } });
  assert.deepEqual(fields(job, neg), ['spec.backoffLimit', 'spec.completions']);
});

test('Job template is immutable', () => {
  const old = defaulted(job, pi());
  const changed = structuredClone(old);
  (changed.spec as any).template.spec.containers[0].image = 'busybox';
  assert.deepEqual(fields(job, changed, old), ['spec.template']);
  const suspended = structuredClone(old);
  (suspended.spec as any).suspend = true;
  assert.deepEqual(problems(job, suspended, old), []);
});

test('Job table: status, completions and duration', () => {
  const j = defaulted(job, pi());
  j.status = { succeeded: 1, startTime: '2024-01-01T00:00:00Z', completionTime: '2024-01-01T00:00:42Z', conditions: [{ type: 'Complete', status: 'True' }] };
  assert.deepEqual(cells(job, j, T0 + 3_600_000, true), {
    Name: 'pi',
    Status: 'Complete',
    Completions: '1/1',
    Duration: '42s',
    Age: '60m',
    Containers: 'app',
    Images: 'nginx:1.25',
    Selector: `batch.kubernetes.io/controller-uid=${UID}`,
  });
  const running: KObject = { metadata: meta('p'), spec: { parallelism: 3 }, status: { startTime: '2024-01-01T00:00:00Z' } };
  assert.deepEqual(cells(job, running, T0 + 10_000), { Name: 'p', Status: 'Running', Completions: '0/1 of 3', Duration: '10s', Age: '10s' });
});

test('cron schedules: fields, ranges, names, steps and descriptors', () => {
  for (const ok of ['*/5 * * * *', '0 0 1 jan-mar MON-FRI', '@hourly', '@every 1h30m', '15,45 9-17 * * 1-5', '5/15 * * * *', 'CRON_TZ=UTC 0 * * * *'])
    assert.deepEqual(cronScheduleProblems(ok), [], ok);
  assert.deepEqual(cronScheduleProblems('bad'), ['expected exactly 5 fields, found 1: [bad]']);
  assert.deepEqual(cronScheduleProblems('60 * * * *'), ['end of range (60) above maximum (59): 60']);
  assert.deepEqual(cronScheduleProblems('* * 0 * *'), ['beginning of range (0) below minimum (1): 0']);
  assert.deepEqual(cronScheduleProblems('@fortnightly'), ['unrecognized descriptor: @fortnightly']);
  assert.deepEqual(cronScheduleProblems('*/0 * * * *'), ['step of range should be a positive number: */0']);
  assert.equal(isValidTimeZone('Europe/Berlin'), true);
  assert.equal(isValidTimeZone('europe/berlin'), false);
  assert.equal(isValidTimeZone('Mars/Olympus'), false);
  assert.equal(isValidTimeZone('Local'), false);
});

test('CronJob defaults, validation and table', () => {
  const c = defaulted(cj, {
    metadata: meta('tick'),
    spec: { schedule: '*/1 * * * *', jobTemplate: { spec: { template: { spec: { containers: [container], restartPolicy: 'OnFailure' } } } } },
  });
  const spec = c.spec as any;
  assert.equal(spec.concurrencyPolicy, 'Allow');
  assert.equal(spec.suspend, false);
  assert.equal(spec.successfulJobsHistoryLimit, 3);
  assert.equal(spec.failedJobsHistoryLimit, 1);
  assert.equal(spec.jobTemplate.spec.completions, undefined);
  assert.equal(spec.jobTemplate.spec.template.spec.dnsPolicy, 'ClusterFirst');
  assert.deepEqual(problems(cj, c), []);
  const bad = structuredClone(c);
  Object.assign(bad.spec as object, { schedule: '* * *', timeZone: 'Nowhere/City', concurrencyPolicy: 'Sometimes' });
  (bad.spec as any).jobTemplate.spec.template.spec.restartPolicy = 'Always';
  assert.deepEqual(problems(cj, bad), [
    'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]',
    'spec.timeZone: Invalid value: "Nowhere/City": unknown time zone Nowhere/City',
    'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
    'spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
  ]);
  assert.deepEqual(problems(cj, { ...c, spec: { ...spec, schedule: 'TZ=UTC * * * * *' } }), [
    'spec.schedule: Invalid value: "TZ=UTC * * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead',
  ]);
  assert.deepEqual(cj.nameValidator!('a'.repeat(53)), ['must be no more than 52 characters']);
  c.status = { active: [{ name: 'tick-1' }], lastScheduleTime: '2024-01-01T00:00:00Z' };
  assert.deepEqual(cells(cj, c, T0 + 30_000), {
    Name: 'tick',
    Schedule: '*/1 * * * *',
    Timezone: '<none>',
    Suspend: 'False',
    Active: 1,
    'Last Schedule': '30s',
    Age: '30s',
  });
});
