import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { R } from '../../../src/client/client.js';
import type { KObject } from '../../../src/machinery/object.js';
import { pod, rejection, withPolicy } from './helpers.js';

const NS = 'team';
const pc = (name: string, value: number, extra: Record<string, unknown> = {}) => ({ apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name }, value, ...extra });
const spec = (o: KObject) => o.spec as { priority?: number; priorityClassName?: string; preemptionPolicy?: string };

describe('Priority admission', () => {
  it('resolves priorityClassName to priority and preemptionPolicy', () =>
    withPolicy(async ({ client }) => {
      await client.create(R.priorityclasses, undefined, pc('high', 1000));
      await client.create(R.priorityclasses, undefined, pc('polite', 500, { preemptionPolicy: 'Never' }));
      const a = await client.create(R.pods, NS, pod('a', { spec: { priorityClassName: 'high' } }));
      assert.deepEqual([spec(a).priority, spec(a).preemptionPolicy], [1000, 'PreemptLowerPriority']);
      const b = await client.create(R.pods, NS, pod('b', { spec: { priorityClassName: 'polite' } }));
      assert.deepEqual([spec(b).priority, spec(b).preemptionPolicy], [500, 'Never']);
      const plain = await client.create(R.pods, NS, pod('plain'));
      assert.equal(spec(plain).priority, 0);
      assert.equal(spec(plain).priorityClassName, undefined);
      // Updates keep the admitted priority.
      const again = await client.update(R.pods, NS, { ...a, metadata: { ...a.metadata, labels: { x: 'y' } } });
      assert.equal(spec(again).priority, 1000);
    }));

  it('refuses unknown classes, contradicting priorities and system classes outside kube-system', () =>
    withPolicy(async ({ client }) => {
      await client.create(R.priorityclasses, undefined, pc('high', 1000));
      const unknown = await rejection(client.create(R.pods, NS, pod('x', { spec: { priorityClassName: 'nope' } })));
      assert.equal(unknown.code, 403);
      assert.equal(unknown.message, 'pods "x" is forbidden: no PriorityClass with name nope was found');
      const given = await rejection(client.create(R.pods, NS, pod('y', { spec: { priorityClassName: 'high', priority: 5 } })));
      assert.equal(given.message, 'pods "y" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name');
      const sys = await rejection(client.create(R.pods, NS, pod('z', { spec: { priorityClassName: 'system-node-critical' } })));
      assert.equal(sys.message, 'pods "z" is forbidden: pods with system-node-critical priorityClass is not permitted in team namespace');
      const ok = await client.create(R.pods, 'kube-system', pod('z', { spec: { priorityClassName: 'system-node-critical' } }));
      assert.equal(spec(ok).priority, 2_000_001_000);
    }));

  it('uses the global default class and allows only one', () =>
    withPolicy(async ({ client }) => {
      await client.create(R.priorityclasses, undefined, pc('normal', 100, { globalDefault: true }));
      const e = await rejection(client.create(R.priorityclasses, undefined, pc('other', 200, { globalDefault: true })));
      assert.equal(e.message, 'priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass normal is already marked as default. Only one default can exist');
      const p = await client.create(R.pods, NS, pod('p'));
      assert.deepEqual([spec(p).priorityClassName, spec(p).priority], ['normal', 100]);
      // Re-applying the default class itself is fine.
      const cur = await client.get(R.priorityclasses, undefined, 'normal');
      await client.update(R.priorityclasses, undefined, { ...cur, description: 'x' });
    }));
});
