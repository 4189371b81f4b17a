// Upstream's LimitRanger admission (plugin/pkg/admission/limitranger): every LimitRange of the
// namespace first fills in what containers leave out (type Container: `defaultRequest` becomes a
// missing request, `default` a missing limit, recorded in the pod's `kubernetes.io/limit-ranger`
// annotation), then enforces its bounds — min, max and maxLimitRequestRatio per Container, per Pod
// (the pod's effective requests/limits) and per PersistentVolumeClaim (its storage request) —
// refusing with 403 and upstream's wording. Pods are handled on create only (their resources are
// immutable); claims on create and update (expansion).
import type { KindSpec } from '../../api/types.js';
import { compareQuantities, formatQuantity, parseQuantity, type Quantity } from '../../api/common/quantity.js';
import { asArr, asObj, asStr, dig, type Obj } from '../../api/common/shape.js';
import { errors, StatusError } from '../../machinery/errors.js';
import type { KObject } from '../../machinery/object.js';
import type { RequestContext } from '../context.js';
import type { AdmissionPlugin, Operation, Resources } from '../resources.js';
import { parseResourceList, podResources, type ResourceList } from './resource-quota.js';

export const LIMIT_RANGER_ANNOTATION = 'kubernetes.io/limit-ranger';

const isPods = (spec: KindSpec) => spec.group === '' && spec.plural === 'pods';
const isClaims = (spec: KindSpec) => spec.group === '' && spec.plural === 'persistentvolumeclaims';

interface LimitItem {
  type: string;
  min: ResourceList;
  max: ResourceList;
  default: ResourceList;
  defaultRequest: ResourceList;
  maxLimitRequestRatio: ResourceList;
}

function items(limitRange: KObject): LimitItem[] {
  return asArr(dig(limitRange, 'spec', 'limits'))
    .map(asObj)
    .filter((i): i is Obj => !!i)
    .map((i) => ({
      type: asStr(i.type) ?? '',
      min: parseResourceList(i.min),
      max: parseResourceList(i.max),
      default: parseResourceList(i.default),
      defaultRequest: parseResourceList(i.defaultRequest),
      maxLimitRequestRatio: parseResourceList(i.maxLimitRequestRatio),
    }));
}

const show = (q: Quantity) => formatQuantity(q);
const sortedEntries = (l: ResourceList) => [...l.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

// ---------------------------------------------------------------------------------------------
// Defaults

function containerLists(spec: Obj | undefined, key: 'containers' | 'initContainers'): Obj[] {
  return asArr(spec?.[key])
    .map(asObj)
    .filter((c): c is Obj => !!c);
}

/** Fill one container's missing requests/limits; returns the annotation phrases. */
function defaultContainer(c: Obj, requests: Map<string, unknown>, limits: Map<string, unknown>, what: string): string[] {
  const out: string[] = [];
  if (requests.size === 0 && limits.size === 0) return out;
  let res = asObj(c.resources);
  if (!res) res = c.resources = {};
  const fill = (key: 'requests' | 'limits', from: Map<string, unknown>): string[] => {
    const set: string[] = [];
    if (from.size === 0) return set;
    let target = asObj(res![key]);
    const created = !target;
    if (!target) target = {};
    for (const [k, v] of from) {
      if (target[k] !== undefined) continue;
      target[k] = v;
      set.push(k);
    }
    if (!created || set.length) res![key] = target;
    return set.sort();
  };
  const setLimits = fill('limits', limits);
  const setRequests = fill('requests', requests);
  if (setRequests.length) out.push(`${setRequests.join(', ')} request for ${what} ${asStr(c.name) ?? ''}`);
  if (setLimits.length) out.push(`${setLimits.join(', ')} limit for ${what} ${asStr(c.name) ?? ''}`);
  return out;
}

/** Apply a LimitRange's Container defaults to a pod; sets the annotation when anything was filled. */
export function applyPodDefaults(limitRange: KObject, pod: KObject): void {
  const requests = new Map<string, unknown>();
  const limits = new Map<string, unknown>();
  for (const raw of asArr(dig(limitRange, 'spec', 'limits'))) {
    const item = asObj(raw);
    if (!item || item.type !== 'Container') continue;
    for (const [k, v] of Object.entries(asObj(item.defaultRequest) ?? {})) requests.set(k, canonical(v));
    for (const [k, v] of Object.entries(asObj(item.default) ?? {})) limits.set(k, canonical(v));
  }
  const spec = asObj(pod.spec);
  const notes: string[] = [];
  for (const c of containerLists(spec, 'containers')) notes.push(...defaultContainer(c, requests, limits, 'container'));
  for (const c of containerLists(spec, 'initContainers')) notes.push(...defaultContainer(c, requests, limits, 'init container'));
  if (notes.length) pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [LIMIT_RANGER_ANNOTATION]: `LimitRanger plugin set: ${notes.join('; ')}` };
}

function canonical(v: unknown): unknown {
  const q = parseQuantity(v);
  return q ? formatQuantity(q) : v;
}

// ---------------------------------------------------------------------------------------------
// Bounds (upstream's wording, including its double spaces)

function minConstraint(type: string, name: string, enforced: Quantity, request: ResourceList, limit: ResourceList): string | undefined {
  const req = request.get(name);
  const lim = limit.get(name);
  if (!req) return `minimum ${name} usage per ${type} is ${show(enforced)}.  No request is specified`;
  if (compareQuantities(req, enforced) < 0) return `minimum ${name} usage per ${type} is ${show(enforced)}, but request is ${show(req)}`;
  if (lim && compareQuantities(lim, enforced) < 0) return `minimum ${name} usage per ${type} is ${show(enforced)}, but limit is ${show(lim)}`;
  return undefined;
}

function maxConstraint(type: string, name: string, enforced: Quantity, request: ResourceList, limit: ResourceList): string | undefined {
  const req = request.get(name);
  const lim = limit.get(name);
  if (!lim) return `maximum ${name} usage per ${type} is ${show(enforced)}.  No limit is specified`;
  if (compareQuantities(lim, enforced) > 0) return `maximum ${name} usage per ${type} is ${show(enforced)}, but limit is ${show(lim)}`;
  if (req && compareQuantities(req, enforced) > 0) return `maximum ${name} usage per ${type} is ${show(enforced)}, but request is ${show(req)}`;
  return undefined;
}

function maxRequestConstraint(type: string, name: string, enforced: Quantity, request: ResourceList): string | undefined {
  const req = request.get(name);
  if (!req) return `maximum ${name} usage per ${type} is ${show(enforced)}.  No request is specified`;
  if (compareQuantities(req, enforced) > 0) return `maximum ${name} usage per ${type} is ${show(enforced)}, but request is ${show(req)}`;
  return undefined;
}

function ratioConstraint(type: string, name: string, enforced: Quantity, request: ResourceList, limit: ResourceList): string | undefined {
  const req = request.get(name);
  const lim = limit.get(name);
  if (!req || req.nanos === 0n) return `${name} max limit to request ratio per ${type} is ${show(enforced)}, but no request is specified or request is 0`;
  if (!lim || lim.nanos === 0n) return `${name} max limit to request ratio per ${type} is ${show(enforced)}, but no limit is specified or limit is 0`;
  // lim/req > enforced  ⇔  lim × 1e9 > enforced × req (all in nano-units: exact).
  if (lim.nanos * 1_000_000_000n > enforced.nanos * req.nanos) {
    const ratio = Number(lim.nanos) / Number(req.nanos);
    return `${name} max limit to request ratio per ${type} is ${show(enforced)}, but provided ratio is ${ratio.toFixed(6)}`;
  }
  return undefined;
}

function boundsProblems(item: LimitItem, request: ResourceList, limit: ResourceList, withRatio = true): string[] {
  const out: string[] = [];
  const push = (m: string | undefined) => m && out.push(m);
  for (const [k, v] of sortedEntries(item.min)) push(minConstraint(item.type, k, v, request, limit));
  for (const [k, v] of sortedEntries(item.max)) push(maxConstraint(item.type, k, v, request, limit));
  if (withRatio) for (const [k, v] of sortedEntries(item.maxLimitRequestRatio)) push(ratioConstraint(item.type, k, v, request, limit));
  return out;
}

/** Everything a pod violates in one LimitRange (upstream PodValidateLimitFunc). */
export function podProblems(limitRange: KObject, pod: KObject): string[] {
  const out: string[] = [];
  const spec = asObj(pod.spec);
  for (const item of items(limitRange)) {
    if (item.type === 'Container') {
      for (const c of [...containerLists(spec, 'containers'), ...containerLists(spec, 'initContainers')])
        out.push(...boundsProblems(item, parseResourceList(dig(c, 'resources', 'requests')), parseResourceList(dig(c, 'resources', 'limits'))));
    } else if (item.type === 'Pod') {
      out.push(...boundsProblems(item, podResources(spec, 'requests'), podResources(spec, 'limits')));
    }
  }
  return out;
}

/** Everything a claim violates in one LimitRange (limits on a claim are not user input). */
export function claimProblems(limitRange: KObject, pvc: KObject): string[] {
  const out: string[] = [];
  const requests = parseResourceList(dig(pvc, 'spec', 'resources', 'requests'));
  for (const item of items(limitRange)) {
    if (item.type !== 'PersistentVolumeClaim') continue;
    for (const [k, v] of sortedEntries(item.min)) {
      const m = minConstraint(item.type, k, v, requests, new Map());
      if (m) out.push(m);
    }
    for (const [k, v] of sortedEntries(item.max)) {
      const m = maxRequestConstraint(item.type, k, v, requests);
      if (m) out.push(m);
    }
  }
  return out;
}

/** utilerrors.NewAggregate's text: one message alone, several deduplicated in brackets. */
export function aggregate(messages: string[]): string {
  const seen = [...new Set(messages)];
  return seen.length === 1 ? seen[0] : `[${seen.join(', ')}]`;
}

export function forbidden(spec: KindSpec, obj: KObject, why: string): StatusError {
  const name = obj.metadata.name ?? obj.metadata.generateName ?? '';
  const resource = spec.group ? `${spec.plural}.${spec.group}` : spec.plural;
  return new StatusError(403, 'Forbidden', `${resource} "${name}" is forbidden: ${why}`, { name, group: spec.group || undefined, kind: spec.plural });
}

export const limitRanger: AdmissionPlugin = {
  name: 'LimitRanger',
  async admit(op: Operation, spec: KindSpec, obj: KObject, old: KObject | undefined, _ctx: RequestContext, svc: Resources) {
    const pod = isPods(spec);
    if (pod ? op !== 'CREATE' : !isClaims(spec) || op === 'DELETE') return;
    const ns = obj.metadata.namespace;
    const lrSpec = svc.registry.lookup('', 'v1', 'limitranges');
    if (!ns || !lrSpec) return;
    const ranges = (await svc.list(lrSpec, ns)).items.sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
    if (ranges.length === 0) return;
    const problems: string[] = [];
    if (pod) {
      for (const lr of ranges) applyPodDefaults(lr, obj);
      // Defaults are filled before validation ran on the request: the result must still be a valid pod.
      const errs = spec.validate?.(obj, undefined) ?? [];
      if (errs.length) throw errors.invalid({ group: spec.group, kind: spec.kind }, obj.metadata.name ?? '', errs);
      for (const lr of ranges) problems.push(...podProblems(lr, obj));
    } else {
      // An update that leaves the request alone is not re-judged (a range added later must not block status writes).
      if (op === 'UPDATE' && old && JSON.stringify(dig(old, 'spec', 'resources', 'requests')) === JSON.stringify(dig(obj, 'spec', 'resources', 'requests'))) return;
      for (const lr of ranges) problems.push(...claimProblems(lr, obj));
    }
    if (problems.length) throw forbidden(spec, obj, aggregate(problems));
  },
};
