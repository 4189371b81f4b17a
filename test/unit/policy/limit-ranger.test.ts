import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { R } from '../../../src/client/client.js';
import { LIMIT_RANGES, QUOTAS, pod, quota, rejection, withPolicy } from './helpers.js';

const NS = 'team';

function limitRange(name: string, limits: Record<string, unknown>[]) {
  return { apiVersion: 'v1', kind: 'LimitRange', metadata: { name }, spec: { limits } };
}

describe('LimitRanger admission', () => {
  it('fills container requests and limits from the defaults and says so in an annotation', () =>
    withPolicy(async ({ client }) => {
      await client.create(LIMIT_RANGES, NS, limitRange('cpu-mem', [{ type: 'Container', default: { cpu: '500m', memory: '256Mi' }, defaultRequest: { cpu: '250m', memory: '128Mi' } }]));
      const created = await client.create(
        R.pods,
        NS,
        pod('web', {
          containers: [
            { name: 'app', image: 'nginx' },
            { name: 'side', image: 'busybox', resources: { requests: { cpu: '100m' }, limits: { cpu: '200m' } } },
          ],
        }),
      );
      const [app, side] = (created.spec as { containers: { resources: unknown }[] }).containers;
      assert.deepEqual(app.resources, { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '250m', memory: '128Mi' } });
      assert.deepEqual(side.resources, { limits: { cpu: '200m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
      assert.equal(
        created.metadata.annotations?.['kubernetes.io/limit-ranger'],
        'LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app; memory request for container side; memory limit for container side',
      );
      // A LimitRange's `max` alone becomes the default limit (LimitRange defaulting), hence the request too.
      await client.create(LIMIT_RANGES, 'default', limitRange('max-only', [{ type: 'Container', max: { memory: '1Gi' } }]));
      const p = await client.create(R.pods, 'default', pod('m'));
      assert.deepEqual((p.spec as { containers: { resources: unknown }[] }).containers[0].resources, { limits: { memory: '1Gi' }, requests: { memory: '1Gi' } });
    }));

  it('makes filled-in requests count against a quota', () =>
    withPolicy(async ({ client }) => {
      await client.create(LIMIT_RANGES, NS, limitRange('defaults', [{ type: 'Container', default: { cpu: '1' }, defaultRequest: { cpu: '600m' } }]));
      await client.create(QUOTAS, NS, quota('cpu', { 'requests.cpu': '1', 'limits.cpu': '2' }));
      await client.create(R.pods, NS, pod('a'));
      assert.match((await rejection(client.create(R.pods, NS, pod('b')))).message, /exceeded quota: cpu, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1$/);
    }));

  it('refuses containers, pods and claims outside min/max/maxLimitRequestRatio with upstream\'s words', () =>
    withPolicy(async ({ client }) => {
      await client.create(
        LIMIT_RANGES,
        NS,
        limitRange('bounds', [
          { type: 'Container', max: { cpu: '1' }, min: { memory: '64Mi' }, maxLimitRequestRatio: { memory: '2' } },
          { type: 'Pod', max: { cpu: '1500m' } },
          { type: 'PersistentVolumeClaim', max: { storage: '1Gi' }, min: { storage: '100Mi' } },
        ]),
      );
      const over = await rejection(client.create(R.pods, NS, pod('big', { resources: { limits: { cpu: '2', memory: '100Mi' } } })));
      assert.equal(over.code, 403);
      assert.equal(over.message, 'pods "big" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, maximum cpu usage per Pod is 1500m, but limit is 2]');
      const small = await rejection(client.create(R.pods, NS, pod('small', { resources: { limits: { cpu: '1', memory: '32Mi' } } })));
      assert.equal(small.message, 'pods "small" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi');
      const ratio = await rejection(client.create(R.pods, NS, pod('ratio', { resources: { requests: { memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } } })));
      assert.equal(ratio.message, 'pods "ratio" is forbidden: memory max limit to request ratio per Container is 2, but provided ratio is 4.000000');
      const two = [
        { name: 'a', image: 'x', resources: { limits: { cpu: '1', memory: '64Mi' } } },
        { name: 'b', image: 'x', resources: { limits: { cpu: '1', memory: '64Mi' } } },
      ];
      assert.equal((await rejection(client.create(R.pods, NS, pod('pair', { containers: two })))).message, 'pods "pair" is forbidden: maximum cpu usage per Pod is 1500m, but limit is 2');
      await client.create(R.pods, NS, pod('fits', { resources: { limits: { cpu: '1', memory: '100Mi' } } }));

      const claim = (name: string, size: string) => ({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } } },
      });
      assert.equal(
        (await rejection(client.create(R.persistentvolumeclaims, NS, claim('huge', '2Gi')))).message,
        'persistentvolumeclaims "huge" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi',
      );
      assert.equal(
        (await rejection(client.create(R.persistentvolumeclaims, NS, claim('tiny', '10Mi')))).message,
        'persistentvolumeclaims "tiny" is forbidden: minimum storage usage per PersistentVolumeClaim is 100Mi, but request is 10Mi',
      );
      await client.create(R.persistentvolumeclaims, NS, claim('ok', '500Mi'));
    }));

  it('refuses a pod that the defaults would make invalid (a default limit below its request)', () =>
    withPolicy(async ({ client }) => {
      await client.create(LIMIT_RANGES, NS, limitRange('d', [{ type: 'Container', default: { cpu: '100m' }, defaultRequest: { cpu: '50m' } }]));
      const e = await rejection(client.create(R.pods, NS, pod('greedy', { resources: { requests: { cpu: '500m' } } })));
      assert.equal(e.code, 422);
      assert.match(e.message, /^Pod "greedy" is invalid: spec\.containers\[0\]\.resources\.requests\[cpu\]: Invalid value: "500m": must be less than or equal to cpu limit of 100m$/);
      // A limit that only states a limit gets it as its request (pod defaulting), so nothing is filled.
      const p = await client.create(R.pods, NS, pod('lim', { resources: { limits: { cpu: '80m' } } }));
      assert.deepEqual((p.spec as { containers: { resources: unknown }[] }).containers[0].resources, { limits: { cpu: '80m' }, requests: { cpu: '80m' } });
      assert.equal(p.metadata.annotations?.['kubernetes.io/limit-ranger'], undefined);
    }));
});
