// What the PersistentVolume controller, the local-path provisioner and the kubelet agree on: the
// annotations of upstream's binding protocol, how a claim's class, size and access modes are read,
// and whether a volume fits a claim (upstream's findMatchingVolume / checkVolumeSatisfyClaim).
import type { ResourceRef } from '../../client/client.js';
import type { KObject } from '../../machinery/object.js';
import { asArr, asObj, asStr, dig, type Obj } from '../../api/common/shape.js';
import { compareQuantities, parseQuantity, type Quantity } from '../../api/common/quantity.js';
import { compileLabelSelector, type LabelSelector } from '../../machinery/selectors.js';
import { rfc3339 } from '../../machinery/time.js';

export const STORAGE_CLASSES: ResourceRef = { group: 'storage.k8s.io', version: 'v1', resource: 'storageclasses' };

/** Set on a claim once its binding is complete (the claim side of the handshake). */
export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
/** Set on a claim or volume when the controller (not a user) made the binding. */
export const ANN_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller';
/** Names the provisioner expected to create a volume for a claim. */
export const ANN_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner';
export const ANN_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner';
/** The node a WaitForFirstConsumer claim's first pod was scheduled to. */
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
/** Which provisioner created a volume (and so must delete it). */
export const ANN_PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
export const ANN_BETA_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class';
export const NO_PROVISIONER = 'kubernetes.io/no-provisioner';

export function annotations(obj: KObject): Record<string, string> {
  return (obj.metadata.annotations ?? {}) as Record<string, string>;
}

export function hasAnnotation(obj: KObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(annotations(obj), key);
}

/** The class of a claim or volume: the beta annotation still wins over the field, as upstream. */
export function classOf(obj: KObject): string {
  return asStr(annotations(obj)[ANN_BETA_STORAGE_CLASS]) ?? asStr(dig(obj, 'spec', 'storageClassName')) ?? '';
}

export function specOf(obj: KObject): Obj {
  return asObj(obj.spec) ?? {};
}

export function accessModes(obj: KObject): string[] {
  return asArr(specOf(obj).accessModes).filter((m): m is string => typeof m === 'string');
}

export function volumeMode(obj: KObject): string {
  return asStr(specOf(obj).volumeMode) ?? 'Filesystem';
}

export function requestedStorage(claim: KObject): Quantity | undefined {
  return parseQuantity(dig(claim, 'spec', 'resources', 'requests', 'storage'));
}

export function capacityOf(pv: KObject): Quantity | undefined {
  return parseQuantity(dig(pv, 'spec', 'capacity', 'storage'));
}

export function claimRefOf(pv: KObject): Obj | undefined {
  return asObj(specOf(pv).claimRef);
}

export function claimKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The volume's claimRef names this claim (by namespace/name, and by uid when the ref has one). */
export function isVolumeBoundToClaim(pv: KObject, claim: KObject): boolean {
  const ref = claimRefOf(pv);
  if (!ref) return false;
  if (asStr(ref.name) !== claim.metadata.name || (asStr(ref.namespace) ?? '') !== (claim.metadata.namespace ?? '')) return false;
  const uid = asStr(ref.uid);
  return !uid || uid === claim.metadata.uid;
}

/** Every mode the claim asks for is one the volume offers. */
export function accessModesSatisfied(claim: KObject, pv: KObject): boolean {
  const offered = new Set(accessModes(pv));
  return accessModes(claim).every((m) => offered.has(m));
}

function matchNodeRequirement(r: Obj, labels: Record<string, string>): boolean {
  const key = asStr(r.key) ?? '';
  const has = Object.prototype.hasOwnProperty.call(labels, key);
  const v = labels[key];
  const values = asArr(r.values).map(String);
  switch (asStr(r.operator)) {
    case 'In':
      return has && values.includes(v);
    case 'NotIn':
      return !has || !values.includes(v);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt':
      if (!has || values.length !== 1 || !/^-?\d+$/.test(v) || !/^-?\d+$/.test(values[0])) return false;
      return asStr(r.operator) === 'Gt' ? BigInt(v) > BigInt(values[0]) : BigInt(v) < BigInt(values[0]);
    default:
      return false;
  }
}

/** A volume's required node affinity admits a node with these labels (no affinity admits all). */
export function volumeFitsNode(pv: KObject, nodeName: string, nodeLabels: Record<string, string>): boolean {
  const required = asObj(dig(pv, 'spec', 'nodeAffinity', 'required'));
  if (!required) return true;
  const terms = asArr(required.nodeSelectorTerms).map(asObj).filter((t): t is Obj => !!t);
  return terms.some((t) => {
    const exprs = asArr(t.matchExpressions).map(asObj).filter((e): e is Obj => !!e);
    const fields = asArr(t.matchFields).map(asObj).filter((e): e is Obj => !!e);
    if (!exprs.length && !fields.length) return false;
    return exprs.every((e) => matchNodeRequirement(e, nodeLabels)) && fields.every((f) => asStr(f.key) === 'metadata.name' && matchNodeRequirement(f, { 'metadata.name': nodeName }));
  });
}

/** Why a volume cannot serve a claim (upstream's checkVolumeSatisfyClaim), or undefined when it can. */
export function volumeMismatch(claim: KObject, pv: KObject): string | undefined {
  const want = requestedStorage(claim);
  const have = capacityOf(pv);
  if (want && (!have || compareQuantities(have, want) < 0)) return 'requested PV is too small';
  if (classOf(claim) !== classOf(pv)) return 'storageClassName does not match';
  if (volumeMode(claim) !== volumeMode(pv)) return 'incompatible volumeMode';
  if (!accessModesSatisfied(claim, pv)) return 'incompatible accessMode';
  return undefined;
}

export interface MatchOptions {
  /** WaitForFirstConsumer without a selected node yet: only volumes pre-bound to the claim qualify. */
  preBoundOnly?: boolean;
  /** The selected node (WaitForFirstConsumer): volumes whose node affinity excludes it are skipped. */
  node?: { name: string; labels: Record<string, string> };
}

/**
 * The volume a claim should bind to (upstream's findMatchingVolume): a volume pre-bound to the
 * claim first; otherwise the smallest Available volume of the claim's class whose access modes,
 * volume mode, capacity, labels (the claim's selector) and node affinity fit.
 */
export function findBestMatch(claim: KObject, volumes: Iterable<KObject>, opts: MatchOptions = {}): KObject | undefined {
  const want = requestedStorage(claim);
  const cls = classOf(claim);
  const selector = asObj(specOf(claim).selector) as LabelSelector | undefined;
  const matches = selector ? compileLabelSelector(selector) : () => true;
  let best: KObject | undefined;
  let bestQty: Quantity | undefined;
  for (const pv of volumes) {
    if (pv.metadata.deletionTimestamp) continue;
    if (volumeMode(pv) !== volumeMode(claim)) continue;
    if (!accessModesSatisfied(claim, pv)) continue;
    const fitsNode = !opts.node || volumeFitsNode(pv, opts.node.name, opts.node.labels);
    if (isVolumeBoundToClaim(pv, claim)) return fitsNode ? pv : undefined;
    if (opts.preBoundOnly) continue;
    if (claimRefOf(pv)) continue; // bound, released or pre-bound to someone else
    const phase = asStr(dig(pv, 'status', 'phase'));
    if (phase === 'Released' || phase === 'Failed') continue;
    if (!matches(pv.metadata.labels ?? {})) continue;
    if (classOf(pv) !== cls) continue;
    if (!fitsNode) continue;
    const have = capacityOf(pv);
    if (!have || (want && compareQuantities(have, want) < 0)) continue;
    if (!bestQty || compareQuantities(have, bestQty) < 0 || (compareQuantities(have, bestQty) === 0 && pv.metadata.name! < best!.metadata.name!)) {
      best = pv;
      bestQty = have;
    }
  }
  return best;
}

/** Claim names a pod's volumes refer to (persistentVolumeClaim sources). */
export function podClaimNames(pod: KObject): string[] {
  const out: string[] = [];
  for (const v of asArr(dig(pod, 'spec', 'volumes')).map(asObj)) {
    const name = asStr(asObj(v?.persistentVolumeClaim)?.claimName);
    if (name) out.push(name);
  }
  return out;
}

