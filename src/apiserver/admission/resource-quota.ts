// Upstream's ResourceQuota admission (plugin/pkg/admission/resourcequota) and the usage
// evaluators it shares with the quota controller (pkg/quota/v1/evaluator/core):
//  - pods: `pods` (not terminal), `count/pods` (every stored pod), `requests.cpu`/`cpu`,
//    `requests.memory`/`memory`, `limits.cpu`, `limits.memory`, ephemeral storage, hugepages and
//    extended resources, from the pod's effective requests/limits (init containers, sidecars,
//    overhead); scopes Terminating/NotTerminating/BestEffort/NotBestEffort/PriorityClass/
//    CrossNamespacePodAffinity (spec.scopes and spec.scopeSelector);
//  - services: `services`, `services.nodeports`, `services.loadbalancers`;
//  - persistentvolumeclaims: `persistentvolumeclaims`, `requests.storage` and the per-class
//    `<class>.storageclass.storage.k8s.io/{requests.storage,persistentvolumeclaims}`;
//  - every namespaced resource: `count/<resource>[.<group>]` (and the legacy names configmaps,
//    secrets, replicationcontrollers, resourcequotas).
// A write that would take usage past a quota's hard limit is refused with 403 and upstream's
// message. Usage is computed from the live objects of the namespace (not from quota status, so a
// quota works the moment it exists); admission in one namespace is serialized, and what an
// admitted-but-not-yet-stored write adds is remembered until the object shows up in storage, so
// concurrent creates cannot both take the last unit.
import type { KindSpec } from '../../api/types.js';
import { addQuantities, compareQuantities, formatQuantity, parseQuantity, type Quantity } from '../../api/common/quantity.js';
import { asArr, asNum, asObj, asStr, dig, type Obj } from '../../api/common/shape.js';
import { podQOSClass } from '../../api/core/v1/pod.js';
import { StatusError } from '../../machinery/errors.js';
import type { KObject } from '../../machinery/object.js';
import type { RequestContext } from '../context.js';
import type { AdmissionPlugin, Operation, Resources } from '../resources.js';

// ---------------------------------------------------------------------------------------------
// Resource lists

/** Resource name → quantity (exact nano-units). */
export type ResourceList = Map<string, Quantity>;

const NANO = 1_000_000_000n;
const count = (n: number | bigint): Quantity => ({ nanos: BigInt(n) * NANO, format: 'DecimalSI' });

/** Add to a list entry; a zero entry takes the notation of what is added (`0` + `1Gi` prints `1Gi`). */
function addTo(list: ResourceList, name: string, q: Quantity): void {
  const cur = list.get(name);
  list.set(name, cur && cur.nanos !== 0n ? addQuantities(cur, q) : { nanos: (cur?.nanos ?? 0n) + q.nanos, format: q.format });
}

function maxInto(list: ResourceList, name: string, q: Quantity): void {
  const cur = list.get(name);
  if (!cur || compareQuantities(q, cur) > 0) list.set(name, { ...q });
}

/** `a - b` for every name in either, zeros dropped. */
function subtract(a: ResourceList, b: ResourceList): ResourceList {
  const out: ResourceList = new Map();
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(name);
    const y = b.get(name);
    const nanos = (x?.nanos ?? 0n) - (y?.nanos ?? 0n);
    if (nanos !== 0n) out.set(name, { nanos, format: (x ?? y)!.format });
  }
  return out;
}

/** Parsed `spec.hard`-style map (malformed entries are skipped). */
export function parseResourceList(v: unknown): ResourceList {
  const out: ResourceList = new Map();
  for (const [k, raw] of Object.entries(asObj(v) ?? {})) {
    const q = parseQuantity(raw);
    if (q) out.set(k, q);
  }
  return out;
}

/** `a=1,b=2` sorted by name, as upstream prints resource lists in quota errors. */
function prettyPrint(list: ResourceList, names: string[]): string {
  return [...names]
    .sort()
    .map((n) => `${n}=${formatQuantity(list.get(n) ?? count(0))}`)
    .join(',');
}

// ---------------------------------------------------------------------------------------------
// Which objects a quota resource name counts

export interface GroupResourceRef {
  group: string;
  resource: string;
}

const CORE = (resource: string): GroupResourceRef => ({ group: '', resource });
const PODS = CORE('pods');
const SERVICES = CORE('services');
const PVCS = CORE('persistentvolumeclaims');
/** Plain names that count objects of a core resource (before `count/` existed). */
const LEGACY_COUNTS = new Set(['pods', 'services', 'persistentvolumeclaims', 'configmaps', 'secrets', 'replicationcontrollers', 'resourcequotas']);
const STORAGE_CLASS_SUFFIX = '.storageclass.storage.k8s.io/';
const POD_COMPUTE = new Set(['cpu', 'memory', 'ephemeral-storage']);

export function objectCountName(gr: GroupResourceRef): string {
  return `count/${gr.resource}${gr.group ? `.${gr.group}` : ''}`;
}

/** The resource whose objects a quota resource name measures (undefined: nothing Skiff tracks). */
export function quotaTarget(name: string): GroupResourceRef | undefined {
  if (name.startsWith('count/')) {
    const rest = name.slice('count/'.length);
    const dot = rest.indexOf('.');
    if (!rest) return undefined;
    return dot < 0 ? CORE(rest) : { group: rest.slice(dot + 1), resource: rest.slice(0, dot) };
  }
  if (name.includes(STORAGE_CLASS_SUFFIX)) return PVCS;
  if (name === 'requests.storage') return PVCS;
  if (LEGACY_COUNTS.has(name)) return CORE(name);
  if (name === 'services.nodeports' || name === 'services.loadbalancers') return SERVICES;
  if (POD_COMPUTE.has(name) || name.startsWith('hugepages-') || name.startsWith('requests.') || name.startsWith('limits.')) return PODS;
  return undefined;
}

const sameResource = (a: GroupResourceRef, b: GroupResourceRef) => a.group === b.group && a.resource === b.resource;

/** The hard resource names of a quota that measure objects of `gr`. */
export function matchingResources(hard: Iterable<string>, gr: GroupResourceRef): string[] {
  return [...hard].filter((n) => {
    const t = quotaTarget(n);
    return !!t && sameResource(t, gr);
  });
}

// ---------------------------------------------------------------------------------------------
// Usage of one object

function containers(spec: Obj | undefined, key: 'containers' | 'initContainers'): Obj[] {
  return asArr(spec?.[key])
    .map(asObj)
    .filter((c): c is Obj => !!c);
}

function containerList(c: Obj, which: 'requests' | 'limits'): ResourceList {
  return parseResourceList(dig(c, 'resources', which));
}

/**
 * A pod's effective requests or limits: the regular containers and sidecars (restartable init
 * containers) run together; each other init container runs alone next to the sidecars started
 * before it; the pod needs the larger of the two, plus its overhead.
 */
export function podResources(spec: unknown, which: 'requests' | 'limits'): ResourceList {
  const s = asObj(spec);
  const sum: ResourceList = new Map();
  for (const c of containers(s, 'containers')) for (const [k, q] of containerList(c, which)) addTo(sum, k, q);
  const sidecars: ResourceList = new Map();
  const initMax: ResourceList = new Map();
  for (const c of containers(s, 'initContainers')) {
    const own = containerList(c, which);
    if (c.restartPolicy === 'Always') {
      for (const [k, q] of own) {
        addTo(sum, k, q);
        addTo(sidecars, k, q);
      }
      continue;
    }
    const alone: ResourceList = new Map(sidecars);
    for (const [k, q] of own) addTo(alone, k, q);
    for (const [k, q] of alone) maxInto(initMax, k, q);
  }
  for (const [k, q] of initMax) maxInto(sum, k, q);
  for (const [k, q] of parseResourceList(dig(s, 'overhead'))) if (sum.has(k) || which === 'requests') addTo(sum, k, q);
  return sum;
}

/** Pods in a terminal phase, or deleted and past their grace period, no longer use compute quota. */
export function podCountsTowardQuota(pod: KObject, now: number): boolean {
  const phase = dig(pod, 'status', 'phase');
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  const deletion = pod.metadata.deletionTimestamp;
  const grace = pod.metadata.deletionGracePeriodSeconds;
  if (deletion && typeof grace === 'number') {
    const t = Date.parse(deletion);
    if (!Number.isNaN(t) && now > t + grace * 1000) return false;
  }
  return true;
}

const isNativeResource = (name: string) => !name.includes('/') || name.startsWith('kubernetes.io/');

/** The quota names a pod's requests/limits fill (upstream podComputeUsageHelper). */
function podComputeUsage(requests: ResourceList, limits: ResourceList): ResourceList {
  const out: ResourceList = new Map([['pods', count(1)]]);
  for (const r of POD_COMPUTE) {
    const req = requests.get(r);
    if (req) {
      out.set(r, req);
      out.set(`requests.${r}`, req);
    }
    const lim = limits.get(r);
    if (lim) out.set(`limits.${r}`, lim);
  }
  for (const [r, q] of requests) {
    if (r.startsWith('hugepages-')) out.set(`requests.${r}`, q);
    else if (!POD_COMPUTE.has(r) && !isNativeResource(r)) out.set(`requests.${r}`, q);
  }
  return out;
}

function podUsage(pod: KObject, now: number): ResourceList {
  const base: ResourceList = new Map([['count/pods', count(1)]]);
  if (!podCountsTowardQuota(pod, now)) return base;
  for (const [k, q] of podComputeUsage(podResources(pod.spec, 'requests'), podResources(pod.spec, 'limits'))) base.set(k, q);
  return base;
}

function serviceUsage(svc: KObject): ResourceList {
  const out: ResourceList = new Map([
    ['count/services', count(1)],
    ['services', count(1)],
  ]);
  const spec = asObj(svc.spec) ?? {};
  const ports = asArr(spec.ports).filter((p) => asObj(p));
  if (spec.type === 'NodePort') out.set('services.nodeports', count(ports.length));
  if (spec.type === 'LoadBalancer') {
    // With node-port allocation suppressed, only ports that name one explicitly hold a node port.
    const n = spec.allocateLoadBalancerNodePorts === false ? ports.filter((p) => (asNum(asObj(p)?.nodePort) ?? 0) > 0).length : ports.length;
    out.set('services.nodeports', count(n));
    out.set('services.loadbalancers', count(1));
  }
  return out;
}

function pvcClass(pvc: KObject): string | undefined {
  return asStr(dig(pvc, 'spec', 'storageClassName')) ?? pvc.metadata.annotations?.['volume.beta.kubernetes.io/storage-class'];
}

function pvcUsage(pvc: KObject): ResourceList {
  const out: ResourceList = new Map([
    ['count/persistentvolumeclaims', count(1)],
    ['persistentvolumeclaims', count(1)],
  ]);
  const cls = pvcClass(pvc);
  if (cls) out.set(`${cls}${STORAGE_CLASS_SUFFIX}persistentvolumeclaims`, count(1));
  // A claim being expanded is charged what it asks for or what it already holds, whichever is more.
  let storage = parseQuantity(dig(pvc, 'spec', 'resources', 'requests', 'storage'));
  const allocated = parseQuantity(dig(pvc, 'status', 'allocatedResources', 'storage'));
  if (allocated && (!storage || compareQuantities(allocated, storage) > 0)) storage = allocated;
  if (storage) {
    out.set('requests.storage', storage);
    if (cls) out.set(`${cls}${STORAGE_CLASS_SUFFIX}requests.storage`, storage);
  }
  return out;
}

/** Everything one object of `gr` contributes to quota usage. */
export function usageOf(gr: GroupResourceRef, obj: KObject, now: number): ResourceList {
  if (sameResource(gr, PODS)) return podUsage(obj, now);
  if (sameResource(gr, SERVICES)) return serviceUsage(obj);
  if (sameResource(gr, PVCS)) return pvcUsage(obj);
  const out: ResourceList = new Map([[objectCountName(gr), count(1)]]);
  if (gr.group === '' && LEGACY_COUNTS.has(gr.resource)) out.set(gr.resource, count(1));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scopes

export interface ScopeSelector {
  scopeName: string;
  operator: string;
  values: string[];
}

/** spec.scopes (each meaning "Exists") and spec.scopeSelector.matchExpressions, together. */
export function quotaScopes(quota: KObject): ScopeSelector[] {
  const out: ScopeSelector[] = [];
  for (const s of asArr(dig(quota, 'spec', 'scopes'))) if (typeof s === 'string') out.push({ scopeName: s, operator: 'Exists', values: [] });
  for (const raw of asArr(dig(quota, 'spec', 'scopeSelector', 'matchExpressions'))) {
    const e = asObj(raw);
    const scopeName = asStr(e?.scopeName);
    if (!e || !scopeName) continue;
    out.push({ scopeName, operator: asStr(e.operator) ?? 'Exists', values: asArr(e.values).filter((v): v is string => typeof v === 'string') });
  }
  return out;
}

function isTerminating(pod: KObject): boolean {
  const d = asNum(dig(pod, 'spec', 'activeDeadlineSeconds'));
  return d !== undefined && d >= 0;
}

function usesCrossNamespaceAffinity(pod: KObject): boolean {
  const affinity = asObj(dig(pod, 'spec', 'affinity'));
  if (!affinity) return false;
  for (const kind of ['podAffinity', 'podAntiAffinity']) {
    const a = asObj(affinity[kind]);
    if (!a) continue;
    const terms = [
      ...asArr(a.requiredDuringSchedulingIgnoredDuringExecution),
      ...asArr(a.preferredDuringSchedulingIgnoredDuringExecution).map((w) => asObj(w)?.podAffinityTerm),
    ];
    for (const t of terms) {
      const term = asObj(t);
      if (term && (asArr(term.namespaces).length > 0 || (term.namespaceSelector !== undefined && term.namespaceSelector !== null))) return true;
    }
  }
  return false;
}

function podMatchesScope(sel: ScopeSelector, pod: KObject): boolean {
  switch (sel.scopeName) {
    case 'Terminating':
      return isTerminating(pod);
    case 'NotTerminating':
      return !isTerminating(pod);
    case 'BestEffort':
      return podQOSClass(pod.spec) === 'BestEffort';
    case 'NotBestEffort':
      return podQOSClass(pod.spec) !== 'BestEffort';
    case 'CrossNamespacePodAffinity':
      return usesCrossNamespaceAffinity(pod);
    case 'PriorityClass': {
      const pc = asStr(dig(pod, 'spec', 'priorityClassName')) ?? '';
      switch (sel.operator) {
        case 'Exists':
          return pc !== '';
        case 'DoesNotExist':
          return pc === '';
        case 'In':
          return sel.values.includes(pc);
        case 'NotIn':
          return !sel.values.includes(pc);
        default:
          return false;
      }
    }
    default:
      return false;
  }
}

/** Whether a quota's scopes select the object (scopes apply to pods only; unscoped quotas take everything). */
export function scopesMatch(scopes: ScopeSelector[], gr: GroupResourceRef, obj: KObject): boolean {
  if (scopes.length === 0) return true;
  if (!sameResource(gr, PODS)) return false;
  return scopes.every((s) => podMatchesScope(s, obj));
}

/** A quota's usage of its hard resources that measure `gr`, over the given objects. */
export function quotaUsage(quota: KObject, gr: GroupResourceRef, objects: Iterable<KObject>, now: number): ResourceList {
  const hard = parseResourceList(dig(quota, 'spec', 'hard'));
  const names = matchingResources(hard.keys(), gr);
  const used: ResourceList = new Map(names.map((n) => [n, count(0)]));
  if (names.length === 0) return used;
  const scopes = quotaScopes(quota);
  for (const o of objects) {
    if (!scopesMatch(scopes, gr, o)) continue;
    const u = usageOf(gr, o, now);
    for (const n of names) {
      const q = u.get(n);
      if (q) addTo(used, n, q);
    }
  }
  return used;
}

// ---------------------------------------------------------------------------------------------
// Pod constraints: a quota on cpu/memory makes every container state them

const CONSTRAINED = new Set(['cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory']);

/** Upstream's message for containers lacking what a quota tracks, or undefined when all is stated. */
export function podConstraintProblem(required: string[], pod: KObject): string | undefined {
  const req = required.filter((r) => CONSTRAINED.has(r));
  if (req.length === 0) return undefined;
  const missing = new Map<string, Set<string>>();
  const spec = asObj(pod.spec);
  for (const c of [...containers(spec, 'containers'), ...containers(spec, 'initContainers')]) {
    const has = podComputeUsage(containerList(c, 'requests'), containerList(c, 'limits'));
    for (const r of req) {
      if (has.has(r)) continue;
      if (!missing.has(r)) missing.set(r, new Set());
      missing.get(r)!.add(asStr(c.name) ?? '');
    }
  }
  if (missing.size === 0) return undefined;
  const parts = [...missing.keys()].sort().map((r) => `${r} for: ${[...missing.get(r)!].sort().join(',')}`);
  return `must specify ${parts.join('; ')}`;
}

// ---------------------------------------------------------------------------------------------
// The admission plugin

function qualifiedResource(spec: KindSpec): string {
  return spec.group ? `${spec.plural}.${spec.group}` : spec.plural;
}

/** admission.NewForbidden: `<resource> "<name>" is forbidden: <why>`. */
function forbidden(spec: KindSpec, obj: KObject, why: string): StatusError {
  const name = obj.metadata.name ?? obj.metadata.generateName ?? '';
  return new StatusError(403, 'Forbidden', `${qualifiedResource(spec)} "${name}" is forbidden: ${why}`, {
    name,
    group: spec.group || undefined,
    kind: spec.plural,
  });
}

/** Storage identity of a kind (a version that is stored as another counts as that one). */
function groupResourceOf(spec: KindSpec): GroupResourceRef {
  return { group: spec.storedAs?.group ?? spec.group, resource: spec.plural };
}

/** Kinds whose updates can change usage (the others are charged on create only). */
function chargesUpdates(gr: GroupResourceRef): boolean {
  return sameResource(gr, SERVICES) || sameResource(gr, PVCS);
}

const IGNORED = new Set(['/events', 'events.k8s.io/events']);

interface Reservation {
  gr: GroupResourceRef;
  uid: string;
  /** For updates: the revision the change was made against (a newer one means it is stored). */
  fromRV?: string;
  delta: ResourceList;
  obj: KObject;
  expires: number;
}

export interface ResourceQuotaAdmissionOptions {
  /** How long an admitted write is charged while it does not show up in storage (default 10 s). */
  reservationMs?: number;
  now?: () => number;
}

export class ResourceQuotaAdmission implements AdmissionPlugin {
  readonly name = 'ResourceQuota';
  private locks = new Map<string, Promise<void>>();
  private reservations = new Map<string, Reservation[]>();
  private reservationMs: number;
  private now: () => number;

  constructor(opts: ResourceQuotaAdmissionOptions = {}) {
    this.reservationMs = opts.reservationMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  async admit(op: Operation, spec: KindSpec, obj: KObject, old: KObject | undefined, ctx: RequestContext, svc: Resources): Promise<void> {
    if (op === 'DELETE' || !spec.namespaced || spec.virtual) return;
    const gr = groupResourceOf(spec);
    if (IGNORED.has(`${gr.group}/${gr.resource}`)) return;
    if (op === 'UPDATE' && !chargesUpdates(gr)) return;
    const ns = obj.metadata.namespace;
    if (!ns) return;
    // What this write adds (an update only its difference); writes that add nothing pass at once.
    const now = this.now();
    const after = usageOf(gr, obj, now);
    const before = op === 'UPDATE' && old ? usageOf(gr, old, now) : new Map<string, Quantity>();
    const delta = subtract(after, before);
    if (![...delta.values()].some((q) => q.nanos > 0n)) return;
    const quotaSpec = svc.registry.lookup('', 'v1', 'resourcequotas');
    if (!quotaSpec) return;
    // Quotas come from a watch-fed cache, as upstream's come from an informer.
    const quotas = (await svc.cached(quotaSpec))
      .list(ns)
      .filter((q) => matchingResources(Object.keys(asObj(dig(q, 'spec', 'hard')) ?? {}), gr).length > 0)
      .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
    if (quotas.length === 0) return;

    const release = await this.lock(ns);
    try {
      await this.check(op, spec, gr, obj, old, delta, ctx, svc, quotas);
    } finally {
      release();
    }
  }

  deleted(_spec: KindSpec, obj: KObject): void {
    const ns = obj.metadata.namespace;
    const list = ns ? this.reservations.get(ns) : undefined;
    if (!list) return;
    const rest = list.filter((r) => r.uid !== obj.metadata.uid);
    if (rest.length) this.reservations.set(ns!, rest);
    else this.reservations.delete(ns!);
  }

  private async check(
    op: Operation,
    spec: KindSpec,
    gr: GroupResourceRef,
    obj: KObject,
    old: KObject | undefined,
    delta: ResourceList,
    ctx: RequestContext,
    svc: Resources,
    quotas: KObject[],
  ): Promise<void> {
    const now = this.now();
    const isPod = sameResource(gr, PODS);
    // Quotas that apply to this object; a pod must state what they track (upstream checks this first).
    const applicable: KObject[] = [];
    for (const q of quotas) {
      if (!scopesMatch(quotaScopes(q), gr, obj)) continue;
      const hardNames = Object.keys(asObj(dig(q, 'spec', 'hard')) ?? {});
      if (isPod) {
        const problem = podConstraintProblem(matchingResources(hardNames, gr), obj);
        if (problem) throw forbidden(spec, obj, `failed quota: ${q.metadata.name}: ${problem}`);
      }
      applicable.push(q);
    }
    if (applicable.length === 0) return;

    const increases = [...delta].filter(([, q]) => q.nanos > 0n).map(([n]) => n);

    // The namespace's current objects of this kind, plus writes admitted but not stored yet.
    const live = (await svc.list(spec, obj.metadata.namespace)).items;
    const pending = this.pendingFor(obj.metadata.namespace!, gr, live, now);

    for (const q of applicable) {
      const hard = parseResourceList(dig(q, 'spec', 'hard'));
      const scopes = quotaScopes(q);
      const used = quotaUsage(q, gr, live, now);
      for (const r of pending) {
        if (!scopesMatch(scopes, gr, r.obj)) continue;
        for (const [n, d] of r.delta) if (used.has(n)) addTo(used, n, d);
      }
      const exceeded = increases.filter((n) => {
        const limit = hard.get(n);
        if (!limit) return false;
        const next = (used.get(n)?.nanos ?? 0n) + delta.get(n)!.nanos;
        return next > limit.nanos;
      });
      if (exceeded.length)
        throw forbidden(
          spec,
          obj,
          `exceeded quota: ${q.metadata.name}, requested: ${prettyPrint(delta, exceeded)}, used: ${prettyPrint(used, exceeded)}, limited: ${prettyPrint(hard, exceeded)}`,
        );
    }
    if (ctx.dryRun) return;
    const list = this.reservations.get(obj.metadata.namespace!) ?? [];
    list.push({ gr, uid: obj.metadata.uid ?? '', fromRV: op === 'UPDATE' ? old?.metadata.resourceVersion : undefined, delta, obj, expires: now + this.reservationMs });
    this.reservations.set(obj.metadata.namespace!, list);
  }

  /** Reservations of `gr` still in flight; those now visible in storage (or expired) are dropped. */
  private pendingFor(ns: string, gr: GroupResourceRef, live: KObject[], now: number): Reservation[] {
    const list = this.reservations.get(ns);
    if (!list) return [];
    const byUid = new Map(live.map((o) => [o.metadata.uid, o]));
    const keep: Reservation[] = [];
    const out: Reservation[] = [];
    for (const r of list) {
      if (r.expires <= now) continue;
      if (sameResource(r.gr, gr)) {
        const stored = byUid.get(r.uid);
        if (r.fromRV === undefined ? !!stored : !stored || stored.metadata.resourceVersion !== r.fromRV) continue;
        out.push(r);
      }
      keep.push(r);
    }
    if (keep.length) this.reservations.set(ns, keep);
    else this.reservations.delete(ns);
    return out;
  }

  /** Serialize admission per namespace: resolves with the release function once it is our turn. */
  private async lock(ns: string): Promise<() => void> {
    const prev = this.locks.get(ns) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.locks.set(ns, tail);
    await prev;
    return () => {
      release();
      if (this.locks.get(ns) === tail) this.locks.delete(ns);
    };
  }
}

/** Canonical text of a resource list (what status.used/status.hard hold). */
export function formatResourceList(list: ResourceList): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...list.keys()].sort()) out[k] = formatQuantity(list.get(k)!);
  return out;
}
