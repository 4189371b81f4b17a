// StatefulSet helpers, after upstream's stateful_set_utils.go: ordinal identities, the claims a
// pod owns (`<claim>-<set>-<ordinal>`), the pod of one ordinal at one revision, and pod health.
import { deepCopy, type KObject, type OwnerReference } from '../../machinery/object.js';
import { isPodAvailable, isPodReady, podFromTemplate, podPhase } from '../pod-control.js';
import { CONTROLLER_REVISION_HASH } from '../history.js';

type Obj = Record<string, unknown>;

export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

export function setSpec(set: KObject): Obj {
  return (set.spec as Obj | undefined) ?? {};
}

export function specReplicas(set: KObject): number {
  const n = setSpec(set).replicas;
  return typeof n === 'number' ? n : 1;
}

export function startOrdinal(set: KObject): number {
  const n = (setSpec(set).ordinals as Obj | undefined)?.start;
  return typeof n === 'number' ? n : 0;
}

export function minReadySeconds(set: KObject): number {
  const n = setSpec(set).minReadySeconds;
  return typeof n === 'number' ? n : 0;
}

export function isParallel(set: KObject): boolean {
  return setSpec(set).podManagementPolicy === 'Parallel';
}

export function updateStrategy(set: KObject): { type: string; partition: number; maxUnavailable: unknown } {
  const us = (setSpec(set).updateStrategy as Obj | undefined) ?? {};
  const ru = (us.rollingUpdate as Obj | undefined) ?? {};
  return {
    type: typeof us.type === 'string' && us.type ? us.type : 'RollingUpdate',
    partition: typeof ru.partition === 'number' ? ru.partition : 0,
    maxUnavailable: ru.maxUnavailable,
  };
}

export function retentionPolicy(set: KObject): { whenDeleted: string; whenScaled: string } {
  const p = (setSpec(set).persistentVolumeClaimRetentionPolicy as Obj | undefined) ?? {};
  return { whenDeleted: p.whenDeleted === 'Delete' ? 'Delete' : 'Retain', whenScaled: p.whenScaled === 'Delete' ? 'Delete' : 'Retain' };
}

/** `<parent>-<ordinal>` split; undefined when the name has no ordinal suffix. */
export function parentAndOrdinal(name: string): { parent: string; ordinal: number } | undefined {
  const m = /^(.*)-(\d+)$/.exec(name);
  return m ? { parent: m[1], ordinal: Number(m[2]) } : undefined;
}

export function podName(set: KObject, ordinal: number): string {
  return `${set.metadata.name}-${ordinal}`;
}

/** Named as one of this set's pods. */
export function isMemberOf(set: KObject, pod: KObject): boolean {
  return parentAndOrdinal(pod.metadata.name ?? '')?.parent === set.metadata.name;
}

export function ordinalOf(pod: KObject): number {
  return parentAndOrdinal(pod.metadata.name ?? '')?.ordinal ?? -1;
}

export function claimTemplates(set: KObject): Obj[] {
  const list = setSpec(set).volumeClaimTemplates;
  return Array.isArray(list) ? (list as Obj[]) : [];
}

export function claimName(template: Obj, set: KObject, ordinal: number): string {
  return `${(template.metadata as Obj | undefined)?.name as string}-${set.metadata.name}-${ordinal}`;
}

/** The claims (not yet created) of one ordinal: the templates' spec and labels plus the set's matchLabels. */
export function claimsFor(set: KObject, ordinal: number): KObject[] {
  const match = ((setSpec(set).selector as Obj | undefined)?.matchLabels as Record<string, string> | undefined) ?? {};
  return claimTemplates(set).map((t) => {
    const meta = (t.metadata as Obj | undefined) ?? {};
    const claim: KObject = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: claimName(t, set, ordinal),
        namespace: set.metadata.namespace,
        labels: { ...((meta.labels as Record<string, string> | undefined) ?? {}), ...match },
      },
      spec: deepCopy((t.spec as Obj | undefined) ?? {}),
    };
    if (meta.annotations) claim.metadata.annotations = deepCopy(meta.annotations as Record<string, string>);
    return claim;
  });
}

/**
 * The pod of `ordinal` from `template` (the set's, or an older revision's): its stable name,
 * identity labels, the revision it runs, hostname/subdomain for the governing service, and one
 * persistentVolumeClaim volume per claim template (replacing a template volume of that name).
 */
export function newStatefulPod(set: KObject, template: Obj, revisionName: string, ordinal: number, ref: OwnerReference): KObject {
  const pod = podFromTemplate(template, set.metadata.name!, ref);
  const name = podName(set, ordinal);
  delete pod.metadata.generateName;
  pod.metadata.name = name;
  pod.metadata.labels = { ...(pod.metadata.labels ?? {}), [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ordinal), [CONTROLLER_REVISION_HASH]: revisionName };
  const spec = (pod.spec as Obj | undefined) ?? {};
  spec.hostname = name;
  const svc = setSpec(set).serviceName;
  if (typeof svc === 'string' && svc) spec.subdomain = svc;
  const claims = claimTemplates(set);
  if (claims.length) {
    const claimVolumes = claims.map((t) => ({
      name: (t.metadata as Obj | undefined)?.name as string,
      persistentVolumeClaim: { claimName: claimName(t, set, ordinal) },
    }));
    const names = new Set(claimVolumes.map((v) => v.name));
    const rest = (Array.isArray(spec.volumes) ? (spec.volumes as Obj[]) : []).filter((v) => !names.has(v.name as string));
    spec.volumes = [...claimVolumes, ...rest];
  }
  pod.spec = spec;
  return pod;
}

export function podRevision(pod: KObject): string | undefined {
  return pod.metadata.labels?.[CONTROLLER_REVISION_HASH];
}

export function isTerminating(pod: KObject): boolean {
  return !!pod.metadata.deletionTimestamp;
}

/** Phase set: the pod has been accepted (upstream's isCreated). */
export function isCreated(pod: KObject): boolean {
  return podPhase(pod) !== '';
}

export function isFinished(pod: KObject): boolean {
  const phase = podPhase(pod);
  return phase === 'Failed' || phase === 'Succeeded';
}

export function isRunningAndReady(pod: KObject): boolean {
  return podPhase(pod) === 'Running' && isPodReady(pod);
}

export function isRunningAndAvailable(pod: KObject, minReady: number, now = Date.now()): boolean {
  return podPhase(pod) === 'Running' && isPodAvailable(pod, minReady, now);
}

/** Running, ready (for minReadySeconds) and not terminating. */
export function isHealthy(pod: KObject, minReady: number, now = Date.now()): boolean {
  return isRunningAndAvailable(pod, minReady, now) && !isTerminating(pod);
}

/** The ownerReferences a claim should have under the retention policy (upstream's claim owner matching). */
export function desiredClaimOwners(claim: KObject, set: KObject, pod: KObject | undefined, condemned: boolean): OwnerReference[] | undefined {
  const policy = retentionPolicy(set);
  const refs = [...(claim.metadata.ownerReferences ?? [])];
  const setUid = set.metadata.uid;
  const podUid = pod?.metadata.uid;
  const next = refs.filter((r) => r.uid !== setUid && !(r.kind === 'Pod' && pod && r.name === pod.metadata.name));
  if (policy.whenDeleted === 'Delete') next.push({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata.name!, uid: setUid!, blockOwnerDeletion: true });
  if (policy.whenScaled === 'Delete' && condemned && pod && podUid)
    next.push({ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name!, uid: podUid, blockOwnerDeletion: true });
  const key = (l: OwnerReference[]) => JSON.stringify(l.map((r) => r.uid).sort());
  return key(next) === key(refs) ? undefined : next;
}
