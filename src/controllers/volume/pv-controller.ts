// The PersistentVolume controller, after upstream's pkg/controller/volume/persistentvolume: binds
// claims to volumes (a volume pre-bound to the claim, else the smallest Available volume of the
// claim's class whose access modes, volume mode, size, labels and node affinity fit), keeps both
// sides' phases and the claim's status (capacity, access modes), hands claims no volume fits to
// their class's provisioner (the `volume.kubernetes.io/storage-provisioner` annotation; external
// provisioners such as LocalPathProvisioner act on it), releases volumes whose claim is gone and
// reclaims them: Retain keeps them Released, Delete leaves provisioned volumes to their
// provisioner and fails others (no in-tree deleter), Recycle empties a host directory and makes
// the volume Available again. WaitForFirstConsumer classes bind nothing until a pod using the
// claim is scheduled: the controller then writes `volume.kubernetes.io/selected-node` (upstream's
// scheduler does that in its VolumeBinding plugin; Skiff's scheduler does not look at claims).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { StatusError } from '../../machinery/errors.js';
import { deepCopy, jsonEqual, type KObject } from '../../machinery/object.js';
import { R, type ApiClient } from '../../client/client.js';
import { Informer, cacheKey } from '../../client/informer.js';
import { WorkQueue } from '../../client/workqueue.js';
import { clientEventSink, errorMessage, type EventSink } from '../pod-control.js';
import { asObj, asStr, dig } from '../../api/common/shape.js';
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  NO_PROVISIONER,
  STORAGE_CLASSES,
  annotations,
  claimKey,
  claimRefOf,
  classOf,
  findBestMatch,
  hasAnnotation,
  podClaimNames,
  specOf,
  volumeMismatch,
} from './util.js';
import { rfc3339 } from '../../machinery/time.js';

export interface PersistentVolumeControllerOptions {
  /** Concurrent syncs; default 1 (binding decisions are serialized, as upstream's single binder). */
  workers?: number;
  events?: EventSink;
  log?: (line: string) => void;
  /** Re-examine every claim and volume this often (upstream's resync); default 15 s, 0 = never. */
  resyncMs?: number;
  informers?: { volumes?: Informer; claims?: Informer; classes?: Informer; pods?: Informer };
}

const COMPONENT = 'persistentvolume-controller';
const PV = 'pv:';
const PVC = 'pvc:';

function newer(a: KObject | undefined, b: KObject | undefined): KObject | undefined {
  if (!a || !b) return a ?? b;
  if (a.metadata.uid !== b.metadata.uid) return a;
  return Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion) ? b : a;
}

function isConflictOrGone(e: unknown): boolean {
  return e instanceof StatusError && (e.code === 404 || e.code === 409);
}

function phaseOf(o: KObject): string | undefined {
  return asStr(dig(o, 'status', 'phase'));
}

export class PersistentVolumeController {
  readonly volumes: Informer;
  readonly claims: Informer;
  readonly classes: Informer;
  readonly pods: Informer;
  private queue: WorkQueue;
  private events: EventSink;
  private log: (line: string) => void;
  private ready = false;
  private ownInformers: Informer[] = [];
  /** Our own last writes, newer than the informers until their watch catches up. */
  private written = new Map<string, KObject>();
  /** Events already reported (uid/reason/message), so a resync does not repeat them. */
  private reported = new Set<string>();
  private resync?: NodeJS.Timeout;
  private resyncMs: number;

  constructor(
    private client: ApiClient,
    opts: PersistentVolumeControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.events = opts.events ?? clientEventSink(client, COMPONENT);
    this.resyncMs = opts.resyncMs ?? 15_000;
    this.volumes = opts.informers?.volumes ?? this.own(new Informer(client, R.persistentvolumes));
    this.claims = opts.informers?.claims ?? this.own(new Informer(client, R.persistentvolumeclaims));
    this.classes = opts.informers?.classes ?? this.own(new Informer(client, STORAGE_CLASSES));
    this.pods = opts.informers?.pods ?? this.own(new Informer(client, R.pods));
    this.queue = new WorkQueue((k) => this.sync(k), opts.workers ?? 1, 20, 10_000, (k, e) => {
      if (!isConflictOrGone(e)) this.log(`${COMPONENT}: sync ${k}: ${errorMessage(e)}`);
    });
    this.volumes.on({
      onAdd: (v) => this.volumeChanged(v),
      onUpdate: (v) => this.volumeChanged(v),
      onDelete: (v) => {
        this.written.delete(PV + v.metadata.name);
        this.forget(v);
        this.volumeChanged(v);
      },
    });
    this.claims.on({
      onAdd: (c) => this.enqueue(PVC + cacheKey(c)),
      onUpdate: (c) => this.enqueue(PVC + cacheKey(c)),
      onDelete: (c) => {
        this.written.delete(PVC + cacheKey(c));
        this.forget(c);
        // Its volume is released: find it by name and by claimRef (a half-finished binding).
        const vol = asStr(specOf(c).volumeName);
        if (vol) this.enqueue(PV + vol);
        for (const v of this.volumes.list()) {
          const ref = claimRefOf(v);
          if (ref && asStr(ref.name) === c.metadata.name && asStr(ref.namespace) === c.metadata.namespace) this.enqueue(PV + v.metadata.name);
        }
      },
    });
    this.classes.on({ onAdd: () => this.enqueuePendingClaims(), onUpdate: () => this.enqueuePendingClaims() });
    this.pods.on({ onAdd: (p) => this.podChanged(p), onUpdate: (p) => this.podChanged(p) });
  }

  private own(i: Informer): Informer {
    this.ownInformers.push(i);
    return i;
  }

  async start(): Promise<void> {
    await Promise.all(this.ownInformers.map((i) => i.start()));
    this.ready = true;
    this.enqueueAll();
    if (this.resyncMs > 0) {
      this.resync = setInterval(() => this.enqueueAll(), this.resyncMs);
      this.resync.unref?.();
    }
  }

  stop(): void {
    this.ready = false;
    if (this.resync) clearInterval(this.resync);
    this.queue.stop();
    for (const i of this.ownInformers) i.stop();
  }

  /** Resolves when no sync is queued or running (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private enqueueAll(): void {
    for (const v of this.volumes.list()) this.enqueue(PV + v.metadata.name);
    for (const c of this.claims.list()) this.enqueue(PVC + cacheKey(c));
  }

  private enqueue(key: string): void {
    if (this.ready) this.queue.add(key);
  }

  private enqueuePendingClaims(): void {
    for (const c of this.claims.list()) if (!hasAnnotation(c, ANN_BIND_COMPLETED)) this.enqueue(PVC + cacheKey(c));
  }

  private volumeChanged(v: KObject): void {
    this.enqueue(PV + v.metadata.name);
    const ref = claimRefOf(v);
    if (ref && asStr(ref.name)) this.enqueue(PVC + claimKey(asStr(ref.namespace) ?? '', asStr(ref.name)!));
  }

  private podChanged(pod: KObject): void {
    for (const name of podClaimNames(pod)) this.enqueue(PVC + claimKey(pod.metadata.namespace ?? '', name));
  }

  private forget(o: KObject): void {
    const prefix = `${o.metadata.uid}/`;
    for (const k of this.reported) if (k.startsWith(prefix)) this.reported.delete(k);
  }

  /** One event per object, reason and message (a resync does not repeat it). */
  private event(o: KObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const k = `${o.metadata.uid}/${reason}/${message}`;
    if (this.reported.has(k)) return;
    this.reported.add(k);
    this.events(o, type, reason, message);
  }

  private volume(name: string): KObject | undefined {
    return newer(this.volumes.get(undefined, name), this.written.get(PV + name));
  }

  private claim(namespace: string, name: string): KObject | undefined {
    return newer(this.claims.get(namespace, name), this.written.get(PVC + claimKey(namespace, name)));
  }

  private allVolumes(): KObject[] {
    return this.volumes.list().map((v) => this.volume(v.metadata.name!)!);
  }

  private async sync(key: string): Promise<void> {
    if (key.startsWith(PV)) return this.syncVolume(key.slice(PV.length));
    const rest = key.slice(PVC.length);
    const i = rest.indexOf('/');
    return this.syncClaim(rest.slice(0, i), rest.slice(i + 1));
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  private async writeVolume(pv: KObject): Promise<KObject> {
    const out = await this.client.update(R.persistentvolumes, undefined, pv);
    this.written.set(PV + out.metadata.name, out);
    return out;
  }

  private async setVolumePhase(pv: KObject, phase: string, message?: string, reason?: string): Promise<KObject> {
    const status = asObj(pv.status) ?? {};
    if (status.phase === phase && status.message === message && status.reason === reason) return pv;
    const copy = deepCopy(pv);
    const next: Record<string, unknown> = { ...status, phase };
    if (status.phase !== phase) next.lastPhaseTransitionTime = rfc3339();
    if (message) next.message = message;
    else delete next.message;
    if (reason) next.reason = reason;
    else delete next.reason;
    copy.status = next;
    const out = await this.client.update(R.persistentvolumes, undefined, copy, 'status');
    this.written.set(PV + out.metadata.name, out);
    return out;
  }

  private async writeClaim(claim: KObject): Promise<KObject> {
    const out = await this.client.update(R.persistentvolumeclaims, claim.metadata.namespace, claim);
    this.written.set(PVC + cacheKey(out), out);
    return out;
  }

  private async setClaimStatus(claim: KObject, phase: string, pv?: KObject): Promise<KObject> {
    const status = asObj(claim.status) ?? {};
    const next: Record<string, unknown> = { ...status, phase };
    if (pv) {
      next.accessModes = deepCopy(specOf(pv).accessModes);
      next.capacity = deepCopy(specOf(pv).capacity);
    } else if (phase === 'Pending') {
      delete next.accessModes;
      delete next.capacity;
    }
    if (jsonEqual(next, status)) return claim;
    const copy = deepCopy(claim);
    copy.status = next;
    const out = await this.client.update(R.persistentvolumeclaims, claim.metadata.namespace, copy, 'status');
    this.written.set(PVC + cacheKey(out), out);
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Binding (upstream's bind(): volume first, then its phase, then the claim, then its status)

  private async bind(pv: KObject, claim: KObject): Promise<void> {
    let volume = pv;
    const ref = claimRefOf(volume);
    const wantRef = {
      kind: 'PersistentVolumeClaim',
      namespace: claim.metadata.namespace,
      name: claim.metadata.name,
      uid: claim.metadata.uid,
      apiVersion: 'v1',
      resourceVersion: claim.metadata.resourceVersion,
    };
    if (!ref || asStr(ref.uid) !== claim.metadata.uid) {
      const copy = deepCopy(volume);
      const spec = specOf(copy);
      spec.claimRef = { ...(ref ?? {}), ...wantRef };
      copy.spec = spec;
      if (!ref) copy.metadata.annotations = { ...annotations(copy), [ANN_BOUND_BY_CONTROLLER]: 'yes' };
      volume = await this.writeVolume(copy);
    }
    volume = await this.setVolumePhase(volume, 'Bound');

    let c = claim;
    const boundByUs = !asStr(specOf(c).volumeName);
    if (asStr(specOf(c).volumeName) !== volume.metadata.name || !hasAnnotation(c, ANN_BIND_COMPLETED)) {
      const copy = deepCopy(c);
      const spec = specOf(copy);
      spec.volumeName = volume.metadata.name;
      copy.spec = spec;
      const ann: Record<string, string> = { ...annotations(copy), [ANN_BIND_COMPLETED]: 'yes' };
      if (boundByUs) ann[ANN_BOUND_BY_CONTROLLER] = 'yes';
      copy.metadata.annotations = ann;
      c = await this.writeClaim(copy);
    }
    await this.setClaimStatus(c, 'Bound', volume);
  }

  // -------------------------------------------------------------------------------------------
  // Claims

  private async syncClaim(namespace: string, name: string): Promise<void> {
    const claim = this.claim(namespace, name);
    if (!claim) return;
    if (!hasAnnotation(claim, ANN_BIND_COMPLETED)) return this.syncUnboundClaim(claim);
    return this.syncBoundClaim(claim);
  }

  private storageClass(name: string): KObject | undefined {
    return name ? this.classes.get(undefined, name) : undefined;
  }

  private isDelayBinding(claim: KObject): boolean {
    return asStr(this.storageClass(classOf(claim))?.volumeBindingMode) === 'WaitForFirstConsumer';
  }

  private async nodeLabels(nodeName: string): Promise<Record<string, string>> {
    try {
      const node = await this.client.get(R.nodes, undefined, nodeName);
      return { ...((node.metadata.labels ?? {}) as Record<string, string>) };
    } catch {
      return { 'kubernetes.io/hostname': nodeName };
    }
  }

  private async syncUnboundClaim(claim: KObject): Promise<void> {
    const volumeName = asStr(specOf(claim).volumeName);
    if (volumeName) return this.syncPreBoundClaim(claim, volumeName);

    const delay = this.isDelayBinding(claim);
    let selectedNode = asStr(annotations(claim)[ANN_SELECTED_NODE]);
    if (delay && !selectedNode) {
      selectedNode = await this.selectNodeFromPods(claim);
      if (selectedNode) claim = this.claim(claim.metadata.namespace!, claim.metadata.name!) ?? claim;
    }
    const node = delay && selectedNode ? { name: selectedNode, labels: await this.nodeLabels(selectedNode) } : undefined;
    const pv = findBestMatch(claim, this.allVolumes(), { preBoundOnly: delay && !selectedNode, node });
    if (pv) return this.bind(pv, claim);

    const fresh = this.claim(claim.metadata.namespace!, claim.metadata.name!) ?? claim;
    await this.setClaimStatus(fresh, 'Pending');
    if (delay && !selectedNode) {
      const users = this.podsUsing(claim);
      if (users.length) this.event(claim, 'Normal', 'WaitForPodScheduled', `waiting for pod ${users[0].metadata.name} to be scheduled`);
      else this.event(claim, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
      return;
    }
    const className = classOf(claim);
    if (!className) {
      this.event(claim, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
      return;
    }
    const cls = this.storageClass(className);
    if (!cls) {
      this.event(claim, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${className}" not found`);
      return;
    }
    const provisioner = asStr(cls.provisioner) ?? '';
    if (!provisioner || provisioner === NO_PROVISIONER) {
      this.event(claim, 'Normal', 'FailedBinding', `no persistent volumes available for this claim and storage class "${className}" has no provisioner`);
      return;
    }
    // Hand the claim to the class's (external) provisioner.
    if (annotations(fresh)[ANN_STORAGE_PROVISIONER] !== provisioner || annotations(fresh)[ANN_BETA_STORAGE_PROVISIONER] !== provisioner) {
      const copy = deepCopy(fresh);
      copy.metadata.annotations = { ...annotations(copy), [ANN_STORAGE_PROVISIONER]: provisioner, [ANN_BETA_STORAGE_PROVISIONER]: provisioner };
      await this.writeClaim(copy);
    }
    this.event(
      claim,
      'Normal',
      'ExternalProvisioning',
      `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
    );
  }

  private podsUsing(claim: KObject): KObject[] {
    return this.pods
      .list(claim.metadata.namespace)
      .filter((p) => !p.metadata.deletionTimestamp && podClaimNames(p).includes(claim.metadata.name!))
      .filter((p) => !['Succeeded', 'Failed'].includes(asStr(dig(p, 'status', 'phase')) ?? ''));
  }

  /**
   * The scheduler's half of WaitForFirstConsumer: the first scheduled pod using the claim picks
   * its node, recorded on the claim as `volume.kubernetes.io/selected-node`.
   */
  private async selectNodeFromPods(claim: KObject): Promise<string | undefined> {
    const scheduled = this.podsUsing(claim).filter((p) => asStr(dig(p, 'spec', 'nodeName')));
    if (!scheduled.length) return undefined;
    scheduled.sort((a, b) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')));
    const node = asStr(dig(scheduled[0], 'spec', 'nodeName'))!;
    const copy = deepCopy(this.claim(claim.metadata.namespace!, claim.metadata.name!) ?? claim);
    copy.metadata.annotations = { ...annotations(copy), [ANN_SELECTED_NODE]: node };
    await this.writeClaim(copy);
    return node;
  }

  /** The user named the volume (spec.volumeName): bind if it is free, or already ours, and fits. */
  private async syncPreBoundClaim(claim: KObject, volumeName: string): Promise<void> {
    const pv = this.volume(volumeName);
    if (!pv) {
      await this.setClaimStatus(claim, 'Pending');
      return;
    }
    const ref = claimRefOf(pv);
    if (!ref) {
      const why = volumeMismatch(claim, pv);
      if (why) {
        this.event(claim, 'Warning', 'VolumeMismatch', `Cannot bind to requested volume "${volumeName}": ${why}`);
        await this.setClaimStatus(claim, 'Pending');
        return;
      }
      return this.bind(pv, claim);
    }
    if (asStr(ref.name) === claim.metadata.name && asStr(ref.namespace) === claim.metadata.namespace && (!asStr(ref.uid) || asStr(ref.uid) === claim.metadata.uid))
      return this.bind(pv, claim);
    this.event(claim, 'Warning', 'FailedBinding', `volume "${volumeName}" already bound to a different claim.`);
    await this.setClaimStatus(claim, 'Pending');
  }

  private async syncBoundClaim(claim: KObject): Promise<void> {
    const volumeName = asStr(specOf(claim).volumeName);
    if (!volumeName) {
      this.event(claim, 'Warning', 'ClaimLost', 'Bound claim has lost reference to PersistentVolume. Data on the volume is lost!');
      await this.setClaimStatus(claim, 'Lost');
      return;
    }
    const pv = this.volume(volumeName);
    if (!pv) {
      // Double-check with the API: the cache may not have seen a volume created a moment ago.
      const live = await this.client.get(R.persistentvolumes, undefined, volumeName).catch(() => undefined);
      if (live) return this.syncBoundClaim(claim);
      this.event(claim, 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      await this.setClaimStatus(claim, 'Lost');
      return;
    }
    const ref = claimRefOf(pv);
    if (!ref || asStr(ref.uid) === claim.metadata.uid || (!asStr(ref.uid) && asStr(ref.name) === claim.metadata.name && asStr(ref.namespace) === claim.metadata.namespace))
      return this.bind(pv, claim);
    this.event(claim, 'Warning', 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly');
    await this.setClaimStatus(claim, 'Lost');
  }

  // -------------------------------------------------------------------------------------------
  // Volumes

  private async syncVolume(name: string): Promise<void> {
    // A volume being deleted is still synced: it must become Released for pv-protection to let go.
    const pv = this.volume(name);
    if (!pv) return;
    const ref = claimRefOf(pv);
    if (!ref) {
      await this.setVolumePhase(pv, 'Available');
      return;
    }
    const ns = asStr(ref.namespace) ?? '';
    const claimName = asStr(ref.name) ?? '';
    if (!asStr(ref.uid)) {
      // Pre-bound by a user to a claim that may not exist yet: available to that claim only.
      await this.setVolumePhase(pv, 'Available');
      this.enqueue(PVC + claimKey(ns, claimName));
      return;
    }
    let claim = this.claim(ns, claimName);
    if (!claim || claim.metadata.uid !== asStr(ref.uid)) {
      // The cache may lag behind a claim created a moment ago: ask the API before releasing.
      claim = await this.client.get(R.persistentvolumeclaims, ns, claimName).catch((e) => {
        if (e instanceof StatusError && e.code === 404) return undefined;
        throw e;
      });
    }
    if (!claim || claim.metadata.uid !== asStr(ref.uid)) return this.releaseAndReclaim(pv);
    const volumeName = asStr(specOf(claim).volumeName);
    if (!volumeName) {
      // Half-way through binding (or freshly provisioned for the claim): the claim's sync finishes it.
      this.enqueue(PVC + claimKey(ns, claimName));
      return;
    }
    if (volumeName === pv.metadata.name) {
      await this.setVolumePhase(pv, 'Bound');
      return;
    }
    // The claim is bound to another volume: undo our side of the binding.
    const copy = deepCopy(pv);
    const spec = specOf(copy);
    if (hasAnnotation(copy, ANN_BOUND_BY_CONTROLLER)) {
      delete spec.claimRef;
      const ann = { ...annotations(copy) };
      delete ann[ANN_BOUND_BY_CONTROLLER];
      copy.metadata.annotations = ann;
    } else {
      const kept = { ...ref };
      delete kept.uid;
      delete kept.resourceVersion;
      spec.claimRef = kept;
    }
    copy.spec = spec;
    await this.setVolumePhase(await this.writeVolume(copy), 'Available');
  }

  private async releaseAndReclaim(pv: KObject): Promise<void> {
    let volume = pv;
    const phase = phaseOf(volume);
    if (phase === 'Failed') return;
    if (phase !== 'Released') volume = await this.setVolumePhase(volume, 'Released');
    const policy = asStr(specOf(volume).persistentVolumeReclaimPolicy) ?? 'Retain';
    if (policy === 'Retain') return;
    if (policy === 'Delete') {
      const by = asStr(annotations(volume)[ANN_PROVISIONED_BY]);
      // Provisioned volumes are deleted by their provisioner (the external protocol); Skiff has
      // no in-tree deleter for anything else.
      if (by) return;
      const msg = `error getting deleter volume plugin for volume "${volume.metadata.name}": no deletable volume plugin matched`;
      this.event(volume, 'Warning', 'VolumeFailedDelete', msg);
      await this.setVolumePhase(volume, 'Failed', msg);
      return;
    }
    if (policy === 'Recycle') {
      const dir = asStr(dig(volume, 'spec', 'hostPath', 'path')) ?? asStr(dig(volume, 'spec', 'local', 'path'));
      if (!dir) {
        const msg = `No recycler plugin found for the volume!`;
        this.event(volume, 'Warning', 'VolumeFailedRecycle', msg);
        await this.setVolumePhase(volume, 'Failed', msg);
        return;
      }
      try {
        for (const entry of await fs.readdir(dir)) await fs.rm(path.join(dir, entry), { recursive: true, force: true });
      } catch (e) {
        const msg = `Recycle failed: ${errorMessage(e)}`;
        this.event(volume, 'Warning', 'VolumeFailedRecycle', msg);
        await this.setVolumePhase(volume, 'Failed', msg);
        return;
      }
      const copy = deepCopy(volume);
      const spec = specOf(copy);
      delete spec.claimRef;
      copy.spec = spec;
      const ann = { ...annotations(copy) };
      delete ann[ANN_BOUND_BY_CONTROLLER];
      copy.metadata.annotations = ann;
      const out = await this.writeVolume(copy);
      this.event(out, 'Normal', 'VolumeRecycled', `Volume recycled`);
      await this.setVolumePhase(out, 'Available');
    }
  }
}
