// DaemonSet helpers, after upstream's pkg/controller/daemon/util and the eligibility part of
// daemon_controller.go: which nodes should run a daemon pod (the scheduler's own node-name,
// node-affinity/selector and taint checks, with the tolerations every daemon pod gets), the node
// affinity that pins a daemon pod to its node, and which pods run the current template.
import { deepCopy, jsonEqual, type KObject } from '../../machinery/object.js';
import { NodeInfo, PodInfo, toleratedBy } from '../../scheduler/index.js';
import type { Toleration } from '../../scheduler/types.js';
import { matchesNodeAffinity } from '../../scheduler/plugins/basic.js';
import { CONTROLLER_REVISION_HASH } from '../history.js';

type Obj = Record<string, unknown>;

/** Label with the DaemonSet's template generation on its pods (upstream's deprecated key). */
export const POD_TEMPLATE_GENERATION = 'pod-template-generation';
/** The DaemonSet annotation holding the template generation (apps/v1's home for spec.templateGeneration). */
export const TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';

/** Tolerations every daemon pod gets (upstream's AddOrUpdateDaemonPodTolerations). */
export function daemonTolerations(hostNetwork: boolean): Toleration[] {
  const t = (key: string, effect: string): Toleration => ({ key, operator: 'Exists', effect });
  const out = [
    t('node.kubernetes.io/not-ready', 'NoExecute'),
    t('node.kubernetes.io/unreachable', 'NoExecute'),
    t('node.kubernetes.io/disk-pressure', 'NoSchedule'),
    t('node.kubernetes.io/memory-pressure', 'NoSchedule'),
    t('node.kubernetes.io/pid-pressure', 'NoSchedule'),
    t('node.kubernetes.io/unschedulable', 'NoSchedule'),
  ];
  if (hostNetwork) out.push(t('node.kubernetes.io/network-unavailable', 'NoSchedule'));
  return out;
}

function sameToleration(a: Toleration, b: Toleration): boolean {
  return (a.key ?? '') === (b.key ?? '') && (a.operator || 'Equal') === (b.operator || 'Equal') && (a.value ?? '') === (b.value ?? '') && (a.effect ?? '') === (b.effect ?? '');
}

/** `spec.tolerations` with the daemon tolerations added, or replacing a matching one (tolerationSeconds dropped). */
export function withDaemonTolerations(spec: Obj): Toleration[] {
  const list = (Array.isArray(spec.tolerations) ? (spec.tolerations as Toleration[]) : []).map((t) => deepCopy(t));
  for (const add of daemonTolerations(spec.hostNetwork === true)) {
    const i = list.findIndex((t) => sameToleration(t, add));
    if (i >= 0) list[i] = add;
    else list.push(add);
  }
  return list;
}

/** Required node affinity to exactly `node` (upstream's ReplaceDaemonSetPodNodeNameNodeAffinity). */
export function pinToNode(affinity: Obj | undefined, node: string): Obj {
  const out = deepCopy(affinity ?? {});
  const na = (out.nodeAffinity as Obj | undefined) ?? {};
  na.requiredDuringSchedulingIgnoredDuringExecution = {
    nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
  };
  out.nodeAffinity = na;
  return out;
}

/** The node a daemon pod is for: its nodeName, or the node its required affinity pins it to. */
export function targetNode(pod: KObject): string | undefined {
  const spec = (pod.spec as Obj | undefined) ?? {};
  if (typeof spec.nodeName === 'string' && spec.nodeName) return spec.nodeName;
  const terms = ((((spec.affinity as Obj | undefined)?.nodeAffinity as Obj | undefined)?.requiredDuringSchedulingIgnoredDuringExecution as Obj | undefined)
    ?.nodeSelectorTerms ?? []) as { matchFields?: { key?: string; operator?: string; values?: string[] }[] }[];
  if (terms.length !== 1) return undefined;
  const f = terms[0]?.matchFields?.find((r) => r.key === 'metadata.name' && r.operator === 'In' && r.values?.length === 1);
  return f?.values?.[0];
}

export interface Eligibility {
  /** A daemon pod should be created here. */
  shouldRun: boolean;
  /** An existing daemon pod may stay (only NoExecute taints, node name and affinity evict). */
  shouldContinueRunning: boolean;
}

/** Upstream's NodeShouldRunDaemonPod, through the scheduler's own filters. */
export function nodeShouldRunDaemonPod(node: KObject, ds: KObject): Eligibility {
  const template = (((ds.spec as Obj | undefined)?.template as Obj | undefined) ?? {}) as Obj;
  const spec = deepCopy((template.spec as Obj | undefined) ?? {});
  spec.tolerations = withDaemonTolerations(spec);
  const wantName = typeof spec.nodeName === 'string' ? spec.nodeName : '';
  const name = node.metadata.name!;
  const pod = new PodInfo({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace: ds.metadata.namespace }, spec });
  const info = new NodeInfo(name);
  info.setNode(node);
  if ((wantName && wantName !== name) || !matchesNodeAffinity(pod, info)) return { shouldRun: false, shouldContinueRunning: false };
  let fits = true;
  let noExecute = false;
  for (const taint of info.taints) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (toleratedBy(pod.tolerations, taint)) continue;
    fits = false;
    if (taint.effect === 'NoExecute') noExecute = true;
  }
  return { shouldRun: fits, shouldContinueRunning: fits || !noExecute };
}

/** The pod template for one node: revision labels, daemon tolerations, pinned to the node. */
export function podTemplateForNode(ds: KObject, node: string, hash: string, templateGeneration: string | undefined): Obj {
  const template = deepCopy((((ds.spec as Obj | undefined)?.template as Obj | undefined) ?? {}) as Obj);
  const meta = ((template.metadata as Obj | undefined) ?? {}) as Obj;
  const labels = { ...((meta.labels as Record<string, string> | undefined) ?? {}) };
  labels[CONTROLLER_REVISION_HASH] = hash;
  if (templateGeneration) labels[POD_TEMPLATE_GENERATION] = templateGeneration;
  meta.labels = labels;
  template.metadata = meta;
  const spec = ((template.spec as Obj | undefined) ?? {}) as Obj;
  spec.tolerations = withDaemonTolerations(spec);
  spec.affinity = pinToNode(spec.affinity as Obj | undefined, node);
  template.spec = spec;
  return template;
}

/** Runs the current template: its hash label matches, or (older pods) its template generation. */
export function isPodUpdated(pod: KObject, hash: string, templateGeneration: string | undefined): boolean {
  const labels = pod.metadata.labels ?? {};
  if (labels[CONTROLLER_REVISION_HASH] !== undefined) return labels[CONTROLLER_REVISION_HASH] === hash;
  return templateGeneration !== undefined && labels[POD_TEMPLATE_GENERATION] === templateGeneration;
}

/** A value that is an int or a percentage of `total`, rounded up (as the DaemonSet rounds both fenceposts). */
export function scaledUp(v: unknown, total: number): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const m = /^(\d+)%$/.exec(v);
    if (m) return Math.ceil((Number(m[1]) * total) / 100);
    const n = Number.parseInt(v, 10);
    if (Number.isFinite(n)) return n;
  }
  return 0;
}

/** [maxSurge, maxUnavailable] for `desired` scheduled pods; both 0 means 1 unavailable. */
export function daemonFenceposts(ds: KObject, desired: number): [number, number] {
  const ru = ((((ds.spec as Obj | undefined)?.updateStrategy as Obj | undefined)?.rollingUpdate as Obj | undefined) ?? {}) as Obj;
  const surge = scaledUp(ru.maxSurge ?? 0, desired);
  let unavailable = scaledUp(ru.maxUnavailable ?? 1, desired);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, unavailable];
}

export function isRollingUpdate(ds: KObject): boolean {
  const t = ((ds.spec as Obj | undefined)?.updateStrategy as Obj | undefined)?.type;
  return (t ?? 'RollingUpdate') === 'RollingUpdate';
}

/** The node-relevant parts of a Node changed (what can change a daemon pod's eligibility). */
export function nodeChanged(a: KObject, b: KObject): boolean {
  const pick = (n: KObject) => [n.metadata.labels ?? {}, (n.spec as Obj | undefined)?.taints ?? [], (n.spec as Obj | undefined)?.unschedulable ?? false];
  return !jsonEqual(pick(a), pick(b));
}
