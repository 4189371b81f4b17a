// A dynamic provisioner in the manner of rancher's local-path-provisioner (what kind and k3s ship
// as their default `standard`/`local-path` class): for a claim the PersistentVolume controller
// handed to it (`volume.kubernetes.io/storage-provisioner`), and, for WaitForFirstConsumer
// classes, once a node is selected, it creates `<baseDir>/pvc-<uid>_<namespace>_<name>` and a
// PersistentVolume `pvc-<uid>` of the requested size pre-bound to the claim (claimRef with uid),
// with the class's reclaim policy and mount options. The volume is a hostPath (DirectoryOrCreate)
// — all nodes of the process runtime share the host — with node affinity to the selected node as
// local-path sets it; a class parameter `volumeType: local` makes it a `local` volume instead.
// When one of its volumes is Released with reclaim policy Delete it removes the directory (never
// anything outside baseDir) and then the PersistentVolume.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { StatusError } from '../../machinery/errors.js';
import type { KObject } from '../../machinery/object.js';
import { R, type ApiClient } from '../../client/client.js';
import { Informer, cacheKey } from '../../client/informer.js';
import { WorkQueue } from '../../client/workqueue.js';
import { clientEventSink, errorMessage, type EventSink } from '../pod-control.js';
import { asObj, asStr, dig } from '../../api/common/shape.js';
import { formatQuantity } from '../../api/common/quantity.js';
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  STORAGE_CLASSES,
  annotations,
  classOf,
  requestedStorage,
  specOf,
} from './util.js';

export interface LocalPathProvisionerOptions {
  /** Where volume directories go: the cluster's state dir + '/volumes'. */
  baseDir: string;
  /** The provisioner name classes refer to, e.g. 'rancher.io/local-path'. */
  provisionerName: string;
  /**
   * Other provisioner names served the same way (e.g. 'k8s.io/minikube-hostpath',
   * 'docker.io/hostpath', 'microk8s.io/hostpath' from tutorials written for those clusters).
   */
  aliases?: string[];
  log?: (line: string) => void;
  events?: EventSink;
  informers?: { volumes?: Informer; claims?: Informer; classes?: Informer };
}

const CLAIM = 'pvc:';
const VOLUME = 'pv:';

export class LocalPathProvisioner {
  readonly volumes: Informer;
  readonly claims: Informer;
  readonly classes: Informer;
  private queue: WorkQueue;
  private names: Set<string>;
  private baseDir: string;
  private events: EventSink;
  private log: (line: string) => void;
  private ready = false;
  private ownInformers: Informer[] = [];
  private failed = new Set<string>();

  constructor(
    private client: ApiClient,
    private opts: LocalPathProvisionerOptions,
  ) {
    this.baseDir = path.resolve(opts.baseDir);
    this.names = new Set([opts.provisionerName, ...(opts.aliases ?? [])]);
    this.log = opts.log ?? (() => {});
    this.events = opts.events ?? clientEventSink(client, `${opts.provisionerName}_skiff`);
    this.volumes = opts.informers?.volumes ?? this.own(new Informer(client, R.persistentvolumes));
    this.claims = opts.informers?.claims ?? this.own(new Informer(client, R.persistentvolumeclaims));
    this.classes = opts.informers?.classes ?? this.own(new Informer(client, STORAGE_CLASSES));
    this.queue = new WorkQueue((k) => this.sync(k), 2, 50, 30_000, (k, e) => {
      if (!(e instanceof StatusError && (e.code === 409 || e.code === 404))) this.log(`local-path-provisioner: ${k}: ${errorMessage(e)}`);
    });
    this.claims.on({ onAdd: (c) => this.enqueue(CLAIM + cacheKey(c)), onUpdate: (c) => this.enqueue(CLAIM + cacheKey(c)) });
    this.volumes.on({ onAdd: (v) => this.enqueue(VOLUME + v.metadata.name), onUpdate: (v) => this.enqueue(VOLUME + v.metadata.name) });
    this.classes.on({ onAdd: () => this.enqueueClaims(), onUpdate: () => this.enqueueClaims() });
  }

  private own(i: Informer): Informer {
    this.ownInformers.push(i);
    return i;
  }

  async start(): Promise<void> {
    await fs.mkdir(this.baseDir, { recursive: true });
    await Promise.all(this.ownInformers.map((i) => i.start()));
    this.ready = true;
    this.enqueueClaims();
    for (const v of this.volumes.list()) this.enqueue(VOLUME + v.metadata.name);
  }

  stop(): void {
    this.ready = false;
    this.queue.stop();
    for (const i of this.ownInformers) i.stop();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** The directory of a claim's volume (local-path's naming). */
  volumeDir(claim: KObject): string {
    return path.join(this.baseDir, `pvc-${claim.metadata.uid}_${claim.metadata.namespace}_${claim.metadata.name}`);
  }

  private enqueue(k: string): void {
    if (this.ready) this.queue.add(k);
  }

  private enqueueClaims(): void {
    for (const c of this.claims.list()) this.enqueue(CLAIM + cacheKey(c));
  }

  private sync(key: string): Promise<void> {
    if (key.startsWith(VOLUME)) return this.syncVolume(key.slice(VOLUME.length));
    const rest = key.slice(CLAIM.length);
    const i = rest.indexOf('/');
    return this.syncClaim(rest.slice(0, i), rest.slice(i + 1));
  }

  // -------------------------------------------------------------------------------------------
  // Provisioning

  private async syncClaim(namespace: string, name: string): Promise<void> {
    const claim = this.claims.get(namespace, name);
    if (!claim || claim.metadata.deletionTimestamp || asStr(specOf(claim).volumeName)) return;
    const ann = annotations(claim);
    const wanted = ann[ANN_STORAGE_PROVISIONER] ?? ann[ANN_BETA_STORAGE_PROVISIONER];
    if (!wanted || !this.names.has(wanted)) return;
    const cls = this.classes.get(undefined, classOf(claim));
    if (!cls || !this.names.has(asStr(cls.provisioner) ?? '')) return;
    const pvName = `pvc-${claim.metadata.uid}`;
    if (this.volumes.get(undefined, pvName)) return;
    const delay = asStr(cls.volumeBindingMode) === 'WaitForFirstConsumer';
    const node = asStr(ann[ANN_SELECTED_NODE]);
    if (delay && !node) return; // the PersistentVolume controller reports WaitForFirstConsumer

    const fail = (why: string) => {
      const msg = `failed to provision volume with StorageClass "${cls.metadata.name}": ${why}`;
      const k = `${claim.metadata.uid}/${msg}`;
      if (!this.failed.has(k)) {
        this.failed.add(k);
        this.events(claim, 'Warning', 'ProvisioningFailed', msg);
      }
    };
    if (asObj(specOf(claim).selector)) return fail('claim.Spec.Selector is not supported');
    if ((asStr(specOf(claim).volumeMode) ?? 'Filesystem') !== 'Filesystem') return fail('only volumeMode Filesystem is supported');
    const size = requestedStorage(claim);
    if (!size) return fail('claim has no storage request');

    this.events(claim, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${namespace}/${name}"`);
    const dir = this.volumeDir(claim);
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o777 });
      await fs.chmod(dir, 0o777);
    } catch (e) {
      fail(errorMessage(e));
      throw e;
    }
    const params = (asObj(cls.parameters) ?? {}) as Record<string, string>;
    const useLocal = (ann.volumeType ?? params.volumeType) === 'local' && !!node;
    const pv: KObject = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName, annotations: { [ANN_PROVISIONED_BY]: wanted } },
      spec: {
        storageClassName: cls.metadata.name,
        persistentVolumeReclaimPolicy: asStr(cls.reclaimPolicy) ?? 'Delete',
        accessModes: [...((specOf(claim).accessModes as string[] | undefined) ?? ['ReadWriteOnce'])],
        capacity: { storage: formatQuantity(size) },
        volumeMode: 'Filesystem',
        claimRef: {
          kind: 'PersistentVolumeClaim',
          apiVersion: 'v1',
          namespace,
          name,
          uid: claim.metadata.uid,
          resourceVersion: claim.metadata.resourceVersion,
        },
        ...(useLocal ? { local: { path: dir } } : { hostPath: { path: dir, type: 'DirectoryOrCreate' } }),
        ...(node
          ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } } }
          : {}),
        ...(Array.isArray(cls.mountOptions) ? { mountOptions: [...(cls.mountOptions as string[])] } : {}),
      },
    };
    try {
      await this.client.create(R.persistentvolumes, undefined, pv);
    } catch (e) {
      if (e instanceof StatusError && e.code === 409) return; // created by an earlier attempt
      fail(errorMessage(e));
      throw e;
    }
    this.log(`local-path-provisioner: provisioned ${pvName} at ${dir} for ${namespace}/${name}`);
    this.events(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`);
  }

  // -------------------------------------------------------------------------------------------
  // Deleting

  private async syncVolume(name: string): Promise<void> {
    const pv = this.volumes.get(undefined, name);
    if (!pv) return;
    if (!this.names.has(annotations(pv)[ANN_PROVISIONED_BY] ?? '')) return;
    if (asStr(dig(pv, 'status', 'phase')) !== 'Released' || asStr(specOf(pv).persistentVolumeReclaimPolicy) !== 'Delete') return;
    const dir = asStr(dig(pv, 'spec', 'hostPath', 'path')) ?? asStr(dig(pv, 'spec', 'local', 'path'));
    if (dir) {
      const resolved = path.resolve(dir);
      if (resolved.startsWith(this.baseDir + path.sep)) await fs.rm(resolved, { recursive: true, force: true });
      else this.log(`local-path-provisioner: ${name}: ${dir} is outside ${this.baseDir}; left in place`);
    }
    if (pv.metadata.deletionTimestamp) return; // already going (pv-protection lets it go now it is Released)
    try {
      await this.client.delete(R.persistentvolumes, undefined, name, { preconditions: { uid: pv.metadata.uid } });
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return;
      this.events(pv, 'Warning', 'VolumeFailedDelete', errorMessage(e));
      throw e;
    }
    this.log(`local-path-provisioner: deleted ${name} and ${dir ?? '(no directory)'}`);
  }
}
