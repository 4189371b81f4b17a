// Test fixtures for the volume tests: an in-memory API with the PersistentVolume controller, the
// local-path provisioner (in a temporary directory) and optionally the DefaultStorageClass
// admission; object builders; bounded waits.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import type { KObject } from '../../../src/machinery/object.js';
import { PersistentVolumeController } from '../../../src/controllers/volume/pv-controller.js';
import { LocalPathProvisioner } from '../../../src/controllers/volume/local-path-provisioner.js';
import { defaultStorageClassAdmission } from '../../../src/controllers/volume/default-storage-class.js';
import { STORAGE_CLASSES } from '../../../src/controllers/volume/util.js';
import { StorageProtectionController, storageObjectInUseProtection } from '../../../src/controllers/volume/protection.js';

export interface VolumeCluster {
  t: TestApi;
  client: ApiClient;
  ns: string;
  baseDir: string;
  tmp: string;
  pvc: PersistentVolumeController;
  provisioner: LocalPathProvisioner;
  errors: string[];
  claim(name: string): Promise<KObject>;
  volume(name: string): Promise<KObject | undefined>;
  events(name: string): Promise<KObject[]>;
}

export async function withVolumes(fn: (c: VolumeCluster) => Promise<void>, opts: { admission?: boolean; protection?: boolean } = {}): Promise<void> {
  const t = await startTestApi({ admission: 'minimal' });
  if (opts.admission) t.api.resources.use(defaultStorageClassAdmission);
  if (opts.protection) t.api.resources.use(storageObjectInUseProtection);
  const client = t.client('test');
  const ns = 'vol';
  await client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'skiff-volumes-'));
  const baseDir = path.join(tmp, 'volumes');
  const errors: string[] = [];
  const log = (l: string) => {
    if (!l.includes('provisioned') && !l.includes('deleted')) errors.push(l);
  };
  const pvc = new PersistentVolumeController(t.client('system:controller:persistent-volume-binder'), { log, resyncMs: 200 });
  const provisioner = new LocalPathProvisioner(t.client('local-path-provisioner'), { baseDir, provisionerName: 'rancher.io/local-path', log });
  const protection = opts.protection ? new StorageProtectionController(t.client('system:controller:pvc-protection-controller'), { log }) : undefined;
  await pvc.start();
  await provisioner.start();
  await protection?.start();
  try {
    await fn({
      t,
      client,
      ns,
      baseDir,
      tmp,
      pvc,
      provisioner,
      errors,
      claim: (name) => client.get(R.persistentvolumeclaims, ns, name),
      volume: (name) => client.get(R.persistentvolumes, undefined, name).catch(() => undefined),
      events: async (name) => (await client.list(R.events, ns)).items.filter((e) => (e.involvedObject as { name?: string }).name === name),
    });
  } finally {
    pvc.stop();
    provisioner.stop();
    protection?.stop();
    await t.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Poll until `fn` returns something truthy (a bound on the wait, not a timing assertion). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false | null> | T | undefined | false | null, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Let the controllers settle, then give them a little more time to do (wrongly) anything else. */
export async function settle(c: VolumeCluster): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await c.pvc.idle();
    await c.provisioner.idle();
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function pv(name: string, size: string, opts: { cls?: string; modes?: string[]; policy?: string; hostPath?: string; labels?: Record<string, string>; claimRef?: Record<string, string>; volumeMode?: string } = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: {
      capacity: { storage: size },
      accessModes: opts.modes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: opts.policy ?? 'Retain',
      ...(opts.cls !== undefined ? { storageClassName: opts.cls } : {}),
      ...(opts.claimRef ? { claimRef: opts.claimRef } : {}),
      ...(opts.volumeMode ? { volumeMode: opts.volumeMode } : {}),
      hostPath: { path: opts.hostPath ?? `/tmp/skiff-test-${name}` },
    },
  };
}

export function claim(name: string, size: string, opts: { cls?: string | null; modes?: string[]; selector?: unknown; volumeName?: string } = {}): KObject {
  const spec: Record<string, unknown> = { accessModes: opts.modes ?? ['ReadWriteOnce'], resources: { requests: { storage: size } } };
  if (opts.cls !== null && opts.cls !== undefined) spec.storageClassName = opts.cls;
  if (opts.selector) spec.selector = opts.selector;
  if (opts.volumeName) spec.volumeName = opts.volumeName;
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec };
}

export function storageClass(name: string, opts: { provisioner?: string; policy?: string; mode?: string; isDefault?: boolean } = {}): KObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name, ...(opts.isDefault ? { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } : {}) },
    provisioner: opts.provisioner ?? 'rancher.io/local-path',
    reclaimPolicy: opts.policy ?? 'Delete',
    volumeBindingMode: opts.mode ?? 'Immediate',
  };
}

export async function createClass(client: ApiClient, sc: KObject): Promise<KObject> {
  return client.create(STORAGE_CLASSES, undefined, sc);
}

export function phase(o: KObject | undefined): string | undefined {
  return (o?.status as { phase?: string } | undefined)?.phase;
}

export function podUsing(name: string, claimName: string, nodeName?: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'sleep 3600'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName } }],
    },
  };
}
