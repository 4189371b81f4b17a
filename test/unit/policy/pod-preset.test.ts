import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { R } from '../../../src/client/client.js';
import type { KObject } from '../../../src/machinery/object.js';
import { PODPRESETS, pod, rejection, withPolicy } from './helpers.js';

const NS = 'sigma';

/** The seed's slide-76 preset (K8s-lambda-cart-setup-podpresets-def.yaml). */
const allowDatabase = {
  apiVersion: 'settings.k8s.io/v1alpha1',
  kind: 'PodPreset',
  metadata: { name: 'allow-database', namespace: NS },
  spec: {
    selector: { matchLabels: { role: 'backend' } },
    env: [{ name: 'DB_PORT', value: '6379' }],
    volumeMounts: [{ mountPath: '/cache', name: 'cache-volume' }],
    volumes: [{ name: 'cache-volume', emptyDir: {} }],
  },
};

type Container = { name: string; env?: unknown[]; envFrom?: unknown[]; volumeMounts?: unknown[] };
const podSpec = (p: KObject) => p.spec as { containers: Container[]; initContainers?: Container[]; volumes?: unknown[] };

describe('PodPreset', () => {
  it('injects env, volumes and mounts into new matching pods only, and records itself', () =>
    withPolicy(
      async ({ client }) => {
        const preset = await client.create(PODPRESETS, NS, allowDatabase);
        const created = await client.create(
          R.pods,
          NS,
          pod('backend', {
            labels: { role: 'backend' },
            containers: [
              { name: 'app', image: 'redis', env: [{ name: 'MODE', value: 'x' }] },
              { name: 'helper', image: 'busybox' },
            ],
          }),
        );
        const s = podSpec(created);
        for (const c of s.containers) {
          assert.deepEqual(c.env?.at(-1), { name: 'DB_PORT', value: '6379' });
          assert.deepEqual(c.volumeMounts, [{ mountPath: '/cache', name: 'cache-volume' }]);
        }
        assert.deepEqual(s.containers[0].env?.[0], { name: 'MODE', value: 'x' });
        assert.deepEqual(s.volumes, [{ name: 'cache-volume', emptyDir: {} }]);
        assert.equal(created.metadata.annotations?.['podpreset.admission.kubernetes.io/podpreset-allow-database'], preset.metadata.resourceVersion);

        const other = await client.create(R.pods, NS, pod('frontend', { labels: { role: 'frontend' } }));
        assert.equal(podSpec(other).containers[0].env, undefined);
        assert.equal(podSpec(other).volumes, undefined);
        assert.equal(other.metadata.annotations?.['podpreset.admission.kubernetes.io/podpreset-allow-database'], undefined);

        // Pods in other namespaces and pods that opt out are left alone.
        const away = await client.create(R.pods, 'default', pod('backend', { labels: { role: 'backend' } }));
        assert.equal(podSpec(away).containers[0].env, undefined);
        const excluded = pod('excluded', { labels: { role: 'backend' } });
        excluded.metadata.annotations = { 'podpreset.admission.kubernetes.io/exclude': 'true' };
        assert.equal(podSpec(await client.create(R.pods, NS, excluded)).containers[0].env, undefined);

        // Injection happens at creation only: a preset created later does not touch existing pods.
        const fetched = await client.get(R.pods, NS, 'frontend');
        assert.equal(podSpec(fetched).containers[0].env, undefined);
      },
      [NS],
    ));

  it('skips a conflicting preset with a Warning event and still applies the others', () =>
    withPolicy(
      async ({ client }) => {
        await client.create(PODPRESETS, NS, allowDatabase);
        await client.create(PODPRESETS, NS, {
          apiVersion: 'settings.k8s.io/v1alpha1',
          kind: 'PodPreset',
          metadata: { name: 'proxy' },
          spec: { selector: {}, env: [{ name: 'HTTP_PROXY', value: 'http://proxy:3128' }], envFrom: [{ configMapRef: { name: 'common' } }] },
        });
        const created = await client.create(
          R.pods,
          NS,
          pod('clash', { labels: { role: 'backend' }, containers: [{ name: 'app', image: 'redis', env: [{ name: 'DB_PORT', value: '1234' }] }] }),
        );
        const c = podSpec(created).containers[0];
        assert.deepEqual(c.env, [
          { name: 'DB_PORT', value: '1234' },
          { name: 'HTTP_PROXY', value: 'http://proxy:3128' },
        ]);
        assert.deepEqual(c.envFrom, [{ configMapRef: { name: 'common' } }]);
        assert.equal(c.volumeMounts, undefined, 'the conflicting preset is skipped as a whole');
        const notes = created.metadata.annotations ?? {};
        assert.ok(notes['podpreset.admission.kubernetes.io/podpreset-proxy']);
        assert.equal(notes['podpreset.admission.kubernetes.io/podpreset-allow-database'], undefined);
        const events = (await client.list(R.events, NS)).items.filter((e) => (e.involvedObject as { name?: string }).name === 'clash');
        assert.equal(events.length, 1);
        assert.equal(events[0].type, 'Warning');
        assert.match(String(events[0].message), /allow-database.*conflict on DB_PORT/);

        // An identical entry is not a conflict.
        const same = await client.create(
          R.pods,
          NS,
          pod('same', { labels: { role: 'backend' }, containers: [{ name: 'app', image: 'redis', env: [{ name: 'DB_PORT', value: '6379' }] }] }),
        );
        assert.deepEqual(podSpec(same).containers[0].env, [
          { name: 'DB_PORT', value: '6379' },
          { name: 'HTTP_PROXY', value: 'http://proxy:3128' },
        ]);
        assert.ok(same.metadata.annotations?.['podpreset.admission.kubernetes.io/podpreset-allow-database']);

        // A volume of the same name with a different source conflicts too.
        const vol = await client.create(
          R.pods,
          NS,
          pod('vol', {
            labels: { role: 'backend' },
            spec: { volumes: [{ name: 'cache-volume', hostPath: { path: '/tmp' } }] },
          }),
        );
        assert.deepEqual(podSpec(vol).volumes, [{ name: 'cache-volume', hostPath: { path: '/tmp', type: '' } }]);
      },
      [NS],
    ));

  it('validates presets', () =>
    withPolicy(
      async ({ client }) => {
        const empty = await rejection(client.create(PODPRESETS, NS, { apiVersion: 'settings.k8s.io/v1alpha1', kind: 'PodPreset', metadata: { name: 'empty' }, spec: { selector: {} } }));
        assert.equal(empty.code, 422);
        assert.equal(empty.message, 'PodPreset.settings.k8s.io "empty" is invalid: spec.volumes.env.envFrom.volumeMounts: Required value: must specify at least one');
        const bad = await rejection(
          client.create(PODPRESETS, NS, {
            apiVersion: 'settings.k8s.io/v1alpha1',
            kind: 'PodPreset',
            metadata: { name: 'bad' },
            spec: {
              selector: { matchExpressions: [{ key: 'role', operator: 'Near' }] },
              env: [{ name: '' }],
              volumeMounts: [{ name: 'missing', mountPath: '/m' }],
            },
          }),
        );
        assert.match(bad.message, /spec\.selector\.matchExpressions\[0\]\.operator: Unsupported value: "Near"/);
        assert.match(bad.message, /spec\.env\[0\]\.name: Required value/);
        assert.match(bad.message, /spec\.volumeMounts\[0\]\.name/);
        const list = await client.list(PODPRESETS, NS);
        assert.equal(list.items.length, 0);
      },
      [NS],
    ));
});
