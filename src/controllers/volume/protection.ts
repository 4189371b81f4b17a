// Storage object in-use protection, after upstream's StorageObjectInUseProtection admission and
// the pvc-protection / pv-protection controllers: claims get the `kubernetes.io/pvc-protection`
// finalizer and volumes `kubernetes.io/pv-protection` when created; a deleted claim stays
// Terminating while a pod that is not finished still uses it, and a deleted volume while it is
// Bound to a claim. Then the finalizer goes and the deletion completes — so `kubectl delete pvc`
// never pulls the data out from under a running pod. The admission and the controller belong
// together: without the controller, protected objects would stay Terminating.
import type { KindSpec } from '../../api/types.js';
import { StatusError } from '../../machinery/errors.js';
import { deepCopy, type KObject } from '../../machinery/object.js';
import type { AdmissionPlugin, Operation } from '../../apiserver/resources.js';
import { R, type ApiClient } from '../../client/client.js';
import { Informer, cacheKey } from '../../client/informer.js';
import { WorkQueue } from '../../client/workqueue.js';
import { errorMessage } from '../pod-control.js';
import { asStr, dig } from '../../api/common/shape.js';
import { claimRefOf, podClaimNames } from './util.js';

export const PVC_PROTECTION = 'kubernetes.io/pvc-protection';
export const PV_PROTECTION = 'kubernetes.io/pv-protection';

export const storageObjectInUseProtection: AdmissionPlugin = {
  name: 'StorageObjectInUseProtection',
  async admit(op: Operation, spec: KindSpec, obj: KObject) {
    if (op !== 'CREATE' || spec.group !== '') return;
    const finalizer = spec.plural === 'persistentvolumeclaims' ? PVC_PROTECTION : spec.plural === 'persistentvolumes' ? PV_PROTECTION : undefined;
    if (!finalizer) return;
    const list = Array.isArray(obj.metadata.finalizers) ? obj.metadata.finalizers : [];
    if (!list.includes(finalizer)) obj.metadata.finalizers = [...list, finalizer];
  },
};

const CLAIM = 'pvc:';
const VOLUME = 'pv:';

function isFinished(pod: KObject): boolean {
  const phase = asStr(dig(pod, 'status', 'phase'));
  return phase === 'Succeeded' || phase === 'Failed';
}

export class StorageProtectionController {
  readonly claims: Informer;
  readonly volumes: Informer;
  readonly pods: Informer;
  private queue: WorkQueue;
  private ready = false;
  private ownInformers: Informer[] = [];

  constructor(
    private client: ApiClient,
    opts: { log?: (line: string) => void; informers?: { claims?: Informer; volumes?: Informer; pods?: Informer } } = {},
  ) {
    const log = opts.log ?? (() => {});
    this.claims = opts.informers?.claims ?? this.own(new Informer(client, R.persistentvolumeclaims));
    this.volumes = opts.informers?.volumes ?? this.own(new Informer(client, R.persistentvolumes));
    this.pods = opts.informers?.pods ?? this.own(new Informer(client, R.pods));
    this.queue = new WorkQueue((k) => this.sync(k), 1, 50, 10_000, (k, e) => {
      if (!(e instanceof StatusError && (e.code === 404 || e.code === 409))) log(`storage-protection: ${k}: ${errorMessage(e)}`);
    });
    this.claims.on({ onAdd: (c) => this.enqueue(CLAIM + cacheKey(c)), onUpdate: (c) => this.enqueue(CLAIM + cacheKey(c)) });
    this.volumes.on({ onAdd: (v) => this.enqueue(VOLUME + v.metadata.name), onUpdate: (v) => this.enqueue(VOLUME + v.metadata.name) });
    const podGone = (p: KObject) => {
      for (const n of podClaimNames(p)) this.enqueue(CLAIM + `${p.metadata.namespace}/${n}`);
    };
    this.pods.on({ onUpdate: (p) => isFinished(p) && podGone(p), onDelete: podGone });
  }

  private own(i: Informer): Informer {
    this.ownInformers.push(i);
    return i;
  }

  async start(): Promise<void> {
    await Promise.all(this.ownInformers.map((i) => i.start()));
    this.ready = true;
    for (const c of this.claims.list()) this.enqueue(CLAIM + cacheKey(c));
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

  private enqueue(k: string): void {
    if (this.ready) this.queue.add(k);
  }

  private async sync(key: string): Promise<void> {
    if (key.startsWith(VOLUME)) {
      const pv = this.volumes.get(undefined, key.slice(VOLUME.length));
      if (!pv?.metadata.deletionTimestamp || !(pv.metadata.finalizers ?? []).includes(PV_PROTECTION)) return;
      if (claimRefOf(pv) && asStr(dig(pv, 'status', 'phase')) === 'Bound') return; // in use
      return this.dropFinalizer(R.persistentvolumes, pv, PV_PROTECTION);
    }
    const rest = key.slice(CLAIM.length);
    const i = rest.indexOf('/');
    const ns = rest.slice(0, i);
    const claim = this.claims.get(ns, rest.slice(i + 1));
    if (!claim?.metadata.deletionTimestamp || !(claim.metadata.finalizers ?? []).includes(PVC_PROTECTION)) return;
    // Ask the API rather than the cache (as upstream does): a pod created a moment ago counts.
    const { items } = await this.client.list(R.pods, ns);
    if (items.some((p) => !isFinished(p) && podClaimNames(p).includes(claim.metadata.name!))) return;
    return this.dropFinalizer(R.persistentvolumeclaims, claim, PVC_PROTECTION);
  }

  private async dropFinalizer(r: typeof R.pods, obj: KObject, finalizer: string): Promise<void> {
    const copy = deepCopy(obj);
    copy.metadata.finalizers = (copy.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    await this.client.update(r, obj.metadata.namespace, copy);
  }
}
