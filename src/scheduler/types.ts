// The scheduler's view of pods and nodes: each object parsed once into what the plugins need
// (requests, tolerations, affinity terms with compiled selectors), and per-node aggregates kept
// up to date incrementally, so a scheduling cycle costs O(nodes), not O(pods × nodes).
import type { KObject } from '../machinery/object.js';
import { compileLabelSelector, type LabelMatcher, type LabelSelector } from '../machinery/selectors.js';
import { addRes, emptyRes, podRequests, resFromList, type Res } from './resources.js';

type Obj = Record<string, unknown>;
export const asObj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
export const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const asStr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

/** Does this toleration tolerate the taint? (upstream's Toleration.ToleratesTaint) */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  const op = t.operator || 'Equal';
  if (op === 'Exists') return true; // an empty key with Exists tolerates everything
  if (op === 'Equal') return (t.value ?? '') === (taint.value ?? '');
  return false;
}

export function toleratedBy(tolerations: Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => tolerates(t, taint));
}

/** One required/preferred pod (anti-)affinity term, with its selectors compiled. */
export interface AffinityTerm {
  topologyKey: string;
  selector: LabelMatcher;
  /** Namespaces the term looks at (explicit list, or the owning pod's own). */
  namespaces: Set<string>;
  /** A namespaceSelector: `{}` matches every namespace; undefined when absent. */
  nsSelector?: LabelMatcher;
  weight: number;
  /** Identifies what the term selects (for per-node count caching). */
  key: string;
}

function safeSelector(sel: unknown): LabelMatcher {
  try {
    return compileLabelSelector(sel as LabelSelector | null | undefined);
  } catch {
    return () => false;
  }
}

/** The label selector of a term, extended with matchLabelKeys/mismatchLabelKeys against `labels`. */
function termSelector(term: Obj, labels: Record<string, string>): LabelMatcher {
  const base = safeSelector(term.labelSelector);
  const match = asArr(term.matchLabelKeys).filter((k): k is string => typeof k === 'string' && k in labels);
  const mismatch = asArr(term.mismatchLabelKeys).filter((k): k is string => typeof k === 'string' && k in labels);
  if (!match.length && !mismatch.length) return base;
  return (l) => !!l && base(l) && match.every((k) => l[k] === labels[k]) && mismatch.every((k) => l[k] !== labels[k]);
}

function parseTerms(list: unknown, ns: string, labels: Record<string, string>, weighted: boolean): AffinityTerm[] {
  const out: AffinityTerm[] = [];
  for (const item of asArr(list)) {
    const o = asObj(item);
    const term = weighted ? asObj(o?.podAffinityTerm) : o;
    if (!term) continue;
    const names = asArr(term.namespaces).filter((n): n is string => typeof n === 'string');
    const nsSel = term.namespaceSelector;
    const resolved = [...asArr(term.matchLabelKeys), ...asArr(term.mismatchLabelKeys)].map((k) => `${String(k)}=${labels[String(k)] ?? ''}`);
    out.push({
      key: JSON.stringify([names.length ? names : nsSel ? [] : [ns], term.labelSelector ?? null, nsSel ?? null, resolved, asArr(term.mismatchLabelKeys).length]),
      topologyKey: asStr(term.topologyKey) ?? '',
      selector: termSelector(term, labels),
      namespaces: new Set(names.length || (nsSel !== undefined && nsSel !== null) ? names : [ns]),
      nsSelector: nsSel !== undefined && nsSel !== null ? safeSelector(nsSel) : undefined,
      weight: weighted ? Number(o?.weight) || 0 : 1,
    });
  }
  return out;
}

export interface SpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  hard: boolean;
  minDomains?: number;
  matches: (p: PodInfo) => boolean;
  /** Matches the pod itself (counts as one more in the candidate domain). */
  selfMatch: boolean;
  /** Identifies the (namespace, selector) for per-node count caching. */
  cacheKey: string;
  nodeAffinityPolicy: 'Honor' | 'Ignore';
  nodeTaintsPolicy: 'Honor' | 'Ignore';
  /** One of the scheduler's default constraints (not written in the pod). */
  system?: boolean;
}

function parseSpread(spec: Obj, pod: PodInfo): SpreadConstraint[] {
  const out: SpreadConstraint[] = [];
  for (const item of asArr(spec.topologySpreadConstraints)) {
    const c = asObj(item);
    if (!c) continue;
    const sel = asObj(c.labelSelector);
    const keys = asArr(c.matchLabelKeys).filter((k): k is string => typeof k === 'string' && k in pod.labels);
    const base = safeSelector(c.labelSelector);
    const matcher: LabelMatcher = keys.length ? (l) => !!l && base(l) && keys.every((k) => l[k] === pod.labels[k]) : base;
    const ns = pod.namespace;
    out.push({
      maxSkew: Number(c.maxSkew) || 1,
      topologyKey: asStr(c.topologyKey) ?? '',
      hard: c.whenUnsatisfiable !== 'ScheduleAnyway',
      minDomains: typeof c.minDomains === 'number' ? c.minDomains : undefined,
      matches: (p) => p.namespace === ns && matcher(p.labels),
      selfMatch: matcher(pod.labels),
      cacheKey: `${ns}\u0000${JSON.stringify(sel ?? null)}\u0000${keys.map((k) => `${k}=${pod.labels[k]}`).join(',')}`,
      nodeAffinityPolicy: c.nodeAffinityPolicy === 'Ignore' ? 'Ignore' : 'Honor',
      nodeTaintsPolicy: c.nodeTaintsPolicy === 'Honor' ? 'Honor' : 'Ignore',
    });
  }
  // Upstream's system default spreading (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway) for
  // pods a controller owns, over the pods of the same owner.
  if (!out.length && pod.ownerUid) {
    const uid = pod.ownerUid;
    const ns = pod.namespace;
    for (const [key, skew] of [
      ['kubernetes.io/hostname', 3],
      ['topology.kubernetes.io/zone', 5],
    ] as const) {
      out.push({
        maxSkew: skew,
        topologyKey: key,
        hard: false,
        matches: (p) => p.ownerUid === uid && p.namespace === ns,
        selfMatch: true,
        cacheKey: `owner\u0000${uid}`,
        nodeAffinityPolicy: 'Honor',
        nodeTaintsPolicy: 'Ignore',
        system: true,
      });
    }
  }
  return out;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

/** A pod, parsed for scheduling. Immutable once built; a changed pod gets a new PodInfo. */
export class PodInfo {
  readonly key: string;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly nodeName: string;
  readonly priority: number;
  readonly req: Res;
  readonly nonZero: Res;
  readonly tolerations: Toleration[];
  readonly nodeSelector?: Record<string, string>;
  readonly requiredNodeTerms?: NodeSelectorTerm[];
  readonly preferredNodeTerms: { weight: number; term: NodeSelectorTerm }[];
  readonly requiredAffinity: AffinityTerm[];
  readonly requiredAntiAffinity: AffinityTerm[];
  readonly preferredAffinity: AffinityTerm[];
  readonly preferredAntiAffinity: AffinityTerm[];
  readonly spread: SpreadConstraint[];
  readonly hostPorts: { protocol: string; ip: string; port: number }[];
  readonly ownerUid?: string;
  readonly terminating: boolean;
  readonly created: number;
  readonly preemptionPolicy: string;

  constructor(readonly pod: KObject, nodeName?: string) {
    const m = pod.metadata;
    const spec = asObj(pod.spec) ?? {};
    this.namespace = m.namespace ?? 'default';
    this.name = m.name ?? '';
    this.key = `${this.namespace}/${this.name}`;
    this.uid = m.uid ?? '';
    this.labels = m.labels ?? {};
    this.nodeName = nodeName ?? asStr(spec.nodeName) ?? '';
    this.priority = typeof spec.priority === 'number' ? spec.priority : 0;
    this.preemptionPolicy = asStr(spec.preemptionPolicy) ?? 'PreemptLowerPriority';
    const { req, nonZero } = podRequests(spec);
    this.req = req;
    this.nonZero = nonZero;
    this.tolerations = asArr(spec.tolerations).filter((t) => asObj(t)) as Toleration[];
    this.nodeSelector = asObj(spec.nodeSelector) as Record<string, string> | undefined;
    const affinity = asObj(spec.affinity) ?? {};
    const na = asObj(affinity.nodeAffinity);
    const required = asObj(na?.requiredDuringSchedulingIgnoredDuringExecution);
    this.requiredNodeTerms = required ? (asArr(required.nodeSelectorTerms) as NodeSelectorTerm[]) : undefined;
    this.preferredNodeTerms = asArr(na?.preferredDuringSchedulingIgnoredDuringExecution)
      .map((p) => asObj(p))
      .filter((p): p is Obj => !!p && !!asObj(p.preference))
      .map((p) => ({ weight: Number(p.weight) || 0, term: p.preference as NodeSelectorTerm }));
    const pa = asObj(affinity.podAffinity);
    const paa = asObj(affinity.podAntiAffinity);
    const ns = this.namespace;
    this.requiredAffinity = parseTerms(pa?.requiredDuringSchedulingIgnoredDuringExecution, ns, this.labels, false);
    this.preferredAffinity = parseTerms(pa?.preferredDuringSchedulingIgnoredDuringExecution, ns, this.labels, true);
    this.requiredAntiAffinity = parseTerms(paa?.requiredDuringSchedulingIgnoredDuringExecution, ns, this.labels, false);
    this.preferredAntiAffinity = parseTerms(paa?.preferredDuringSchedulingIgnoredDuringExecution, ns, this.labels, true);
    this.hostPorts = [];
    for (const c of [...asArr(spec.initContainers), ...asArr(spec.containers)]) {
      for (const p of asArr(asObj(c)?.ports)) {
        const port = asObj(p);
        const hp = Number(port?.hostPort);
        if (!port || !hp) continue;
        this.hostPorts.push({ protocol: asStr(port.protocol) ?? 'TCP', ip: asStr(port.hostIP) || '0.0.0.0', port: hp });
      }
    }
    const owner = (m.ownerReferences ?? []).find((o) => o.controller);
    this.ownerUid = owner?.uid;
    this.terminating = !!m.deletionTimestamp;
    const t = m.creationTimestamp ? Date.parse(m.creationTimestamp) : NaN;
    this.created = Number.isNaN(t) ? 0 : t;
    this.spread = parseSpread(spec, this);
  }

  /** The same pod placed on `nodeName` (what the cache assumes while binding). */
  assignedTo(nodeName: string): PodInfo {
    return Object.assign(Object.create(PodInfo.prototype) as PodInfo, this, { nodeName });
  }

  get hasAffinity(): boolean {
    return this.requiredAffinity.length + this.requiredAntiAffinity.length + this.preferredAffinity.length + this.preferredAntiAffinity.length > 0;
  }
}

/** Does an affinity term (owned by a pod in `ownerNs`) select pod `p`? */
export function termMatches(term: AffinityTerm, p: PodInfo, nsLabels: (ns: string) => Record<string, string> | undefined): boolean {
  if (!term.namespaces.has(p.namespace) && !(term.nsSelector && term.nsSelector(nsLabels(p.namespace)))) return false;
  return term.selector(p.labels);
}

/** A node and what is already on it (bound and assumed pods). */
export class NodeInfo {
  node?: KObject;
  labels: Record<string, string> = {};
  taints: Taint[] = [];
  unschedulable = false;
  allocatable: Res = emptyRes();
  allowedPods = 0;
  readonly requested: Res = emptyRes();
  readonly nonZeroRequested: Res = emptyRes();
  readonly pods = new Map<string, PodInfo>();
  readonly podsWithAffinity = new Set<PodInfo>();
  readonly podsWithRequiredAnti = new Set<PodInfo>();
  readonly usedPorts: { protocol: string; ip: string; port: number }[] = [];
  /** Per-(namespace, selector) counts of matching pods, dropped when the node's pods change. */
  matchCounts = new Map<string, number>();
  /** Bumped on every change (pods or the node itself). */
  generation = 0;

  constructor(readonly name: string) {}

  setNode(node: KObject): void {
    this.node = node;
    this.labels = node.metadata.labels ?? {};
    const spec = asObj(node.spec) ?? {};
    this.taints = asArr(spec.taints).filter((t) => asObj(t)) as Taint[];
    this.unschedulable = spec.unschedulable === true;
    const status = asObj(node.status) ?? {};
    const alloc = asObj(status.allocatable) ?? asObj(status.capacity);
    this.allocatable = resFromList(alloc);
    const pods = Number(alloc?.pods);
    this.allowedPods = Number.isFinite(pods) ? pods : 0;
    this.generation++;
  }

  addPod(p: PodInfo): void {
    this.pods.set(p.key, p);
    addRes(this.requested, p.req);
    addRes(this.nonZeroRequested, p.nonZero);
    if (p.hasAffinity) this.podsWithAffinity.add(p);
    if (p.requiredAntiAffinity.length) this.podsWithRequiredAnti.add(p);
    for (const hp of p.hostPorts) this.usedPorts.push(hp);
    this.matchCounts.clear();
    this.generation++;
  }

  removePod(key: string): PodInfo | undefined {
    const p = this.pods.get(key);
    if (!p) return undefined;
    this.pods.delete(key);
    addRes(this.requested, p.req, -1);
    addRes(this.nonZeroRequested, p.nonZero, -1);
    this.podsWithAffinity.delete(p);
    this.podsWithRequiredAnti.delete(p);
    for (const hp of p.hostPorts) {
      const i = this.usedPorts.indexOf(hp);
      if (i >= 0) this.usedPorts.splice(i, 1);
    }
    this.matchCounts.clear();
    this.generation++;
    return p;
  }

  /** Pods on this node matching `pred`, cached under `cacheKey` until the node's pods change. */
  countMatching(cacheKey: string, pred: (p: PodInfo) => boolean): number {
    const hit = this.matchCounts.get(cacheKey);
    if (hit !== undefined) return hit;
    let n = 0;
    for (const p of this.pods.values()) if (!p.terminating && pred(p)) n++;
    this.matchCounts.set(cacheKey, n);
    return n;
  }
}
