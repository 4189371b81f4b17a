import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { eventFromCore, eventToCore } from '../../../src/api/events/v1/index.js';
import { T0, cells, fields, kind, meta, problems } from './helpers.js';

const ev = kind('events.k8s.io', 'v1', 'Event');

const newStyle = (): KObject => ({
  apiVersion: 'events.k8s.io/v1',
  kind: 'Event',
  metadata: meta('web.17a'),
  eventTime: '2024-01-01T00:00:00.000000Z',
  regarding: { kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1' },
  related: { kind: 'Node', name: 'node1' },
  note: 'Pulled image',
  reason: 'Pulled',
  type: 'Normal',
  action: 'Pull',
  reportingController: 'skiff.dev/kubelet',
  reportingInstance: 'node1',
  series: { count: 3, lastObservedTime: '2024-01-01T00:01:00.000000Z' },
});

test('events.k8s.io Event is stored as a core Event with renamed fields', () => {
  assert.deepEqual({ group: ev.storedAs?.group, version: ev.storedAs?.version }, { group: '', version: 'v1' });
  assert.deepEqual(ev.shortNames, ['ev']);
  const core = eventToCore(newStyle());
  assert.equal(core.apiVersion, 'v1');
  assert.deepEqual(core.involvedObject, newStyle().regarding);
  assert.equal(core.message, 'Pulled image');
  assert.equal(core.reportingComponent, 'skiff.dev/kubelet');
  assert.equal(core.regarding, undefined);
  assert.deepEqual(eventFromCore(core), newStyle());
});

test('core Event → events.k8s.io → core round-trips, deprecated fields included', () => {
  const core: KObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: meta('web.17b'),
    involvedObject: { kind: 'Pod', name: 'web', namespace: 'default' },
    reason: 'Started',
    message: 'Started container app',
    source: { component: 'kubelet', host: 'node1' },
    firstTimestamp: '2024-01-01T00:00:00Z',
    lastTimestamp: '2024-01-01T00:05:00Z',
    count: 4,
    type: 'Normal',
    eventTime: null,
    reportingComponent: '',
    reportingInstance: '',
  };
  const v1 = eventFromCore(core);
  assert.equal(v1.deprecatedCount, 4);
  assert.deepEqual(v1.deprecatedSource, { component: 'kubelet', host: 'node1' });
  assert.equal(v1.deprecatedFirstTimestamp, '2024-01-01T00:00:00Z');
  assert.deepEqual(eventToCore(v1), core);
});

test('events.k8s.io validation refuses deprecated fields and requires reporting data', () => {
  assert.deepEqual(problems(ev, newStyle()), []);
  const old = { ...newStyle(), deprecatedCount: 2, deprecatedSource: { component: 'x' }, type: 'Bad', eventTime: undefined, reportingController: undefined };
  assert.deepEqual(problems(ev, old), [
    'eventTime: Required value',
    'type: Invalid value: "": has invalid value: Bad',
    'deprecatedCount: Invalid value: "": needs to be unset',
    'deprecatedSource: Invalid value: "": needs to be unset',
    'reportingController: Required value',
  ]);
  const edited = { ...newStyle(), note: 'changed', series: { count: 4, lastObservedTime: '2024-01-01T00:02:00.000000Z' } };
  assert.deepEqual(fields(ev, edited, newStyle()), ['note']);
});

test('events.k8s.io Events print through the core Event columns', () => {
  const core = kind('', 'v1', 'Event');
  const c = cells(ev, newStyle(), T0 + 60_000, true);
  assert.deepEqual(c, cells(core, eventToCore(newStyle()), T0 + 60_000, true));
  assert.ok(Object.keys(c).length >= 5);
});
