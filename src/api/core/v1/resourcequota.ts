// ResourceQuota (hard limits per namespace) and LimitRange (per-object defaults and bounds).
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, dig, type Obj } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { canonicalQuantity, compareQuantities, type Quantity } from '../../common/quantity.js';
import { validateResourceList } from './podspec.js';
import { rfc3339 } from '../../../machinery/time.js';

// ---------------------------------------------------------------------------------------------
// ResourceQuota

const QUOTA_RESOURCES = new Set([
  'pods', 'services', 'replicationcontrollers', 'resourcequotas', 'secrets', 'configmaps', 'persistentvolumeclaims',
  'services.nodeports', 'services.loadbalancers', 'cpu', 'memory', 'storage', 'ephemeral-storage',
  'requests.cpu', 'requests.memory', 'requests.storage', 'requests.ephemeral-storage',
  'limits.cpu', 'limits.memory', 'limits.ephemeral-storage',
]);

/** Quota names: the standard ones, hugepages, or anything domain-qualified (`count/deployments.apps`). */
function isStandardQuotaResource(name: string): boolean {
  return QUOTA_RESOURCES.has(name) || /^(requests\.)?hugepages-/.test(name);
}

const QUOTA_SCOPES = ['BestEffort', 'CrossNamespacePodAffinity', 'NotBestEffort', 'NotTerminating', 'PriorityClass', 'Terminating'];

function validateQuota(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = obj.spec;
  if (spec === undefined || spec === null) return errs;
  if (!asObj(spec)) return [fieldErr.invalid('spec', spec, 'must be a map')];
  validateResourceList(errs, (spec as Obj).hard, 'spec.hard', isStandardQuotaResource);
  const scopes = (spec as Obj).scopes;
  if (scopes !== undefined && scopes !== null) {
    if (!Array.isArray(scopes)) errs.push(fieldErr.invalid('spec.scopes', scopes, 'must be a list of scopes'));
    else scopes.forEach((s, i) => {
      if (!QUOTA_SCOPES.includes(s as string)) errs.push(fieldErr.notSupported(`spec.scopes[${i}]`, s, QUOTA_SCOPES));
    });
  }
  return errs;
}

function validateQuotaStatus(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  validateResourceList(errs, dig(obj, 'status', 'hard'), 'status.hard', isStandardQuotaResource);
  validateResourceList(errs, dig(obj, 'status', 'used'), 'status.used', isStandardQuotaResource);
  return errs;
}

/** `resource: used/hard` pairs (sorted by resource), split into the REQUEST and LIMIT columns as upstream. */
export function quotaCells(quota: KObject): { request: string; limit: string } {
  const hard = asObj(dig(quota, 'status', 'hard')) ?? {};
  const used = asObj(dig(quota, 'status', 'used')) ?? {};
  const request: string[] = [];
  const limit: string[] = [];
  for (const name of Object.keys(hard).sort()) {
    const text = `${name}: ${canonicalQuantity(used[name]) ?? '0'}/${canonicalQuantity(hard[name]) ?? '0'}`;
    (name.split('.')[0] === 'limits' && name.includes('.') ? limit : request).push(text);
  }
  return { request: request.join(', '), limit: limit.join(', ') };
}

export const resourceQuotaKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'ResourceQuota',
  plural: 'resourcequotas',
  singular: 'resourcequota',
  shortNames: ['quota'],
  namespaced: true,
  subresources: { status: true },
  validate: (obj) => validateQuota(obj),
  validateStatus: (obj) => validateQuotaStatus(obj),
  table: [
    nameColumn,
    ageColumn,
    column('Request', (o) => quotaCells(o).request, { description: 'Request represents a minimum amount of cpu/memory that a container may consume.' }),
    column('Limit', (o) => quotaCells(o).limit, { description: 'Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.' }),
  ],
};

// ---------------------------------------------------------------------------------------------
// LimitRange

const LIMIT_MAPS = ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio'] as const;

/** Container limits: default ← max, defaultRequest ← default, then ← min (upstream's order). */
function defaultLimitRange(obj: KObject): void {
  for (const raw of asArr(dig(obj, 'spec', 'limits'))) {
    const item = asObj(raw);
    if (!item || item.type !== 'Container') continue;
    const fill = (target: 'default' | 'defaultRequest', from: unknown) => {
      const src = asObj(from);
      if (!src || Object.keys(src).length === 0) return;
      if (item[target] === undefined || item[target] === null) item[target] = {};
      const dst = asObj(item[target]);
      if (!dst) return;
      for (const [k, v] of Object.entries(src)) if (dst[k] === undefined) dst[k] = v;
    };
    fill('default', item.max);
    fill('defaultRequest', item.default);
    fill('defaultRequest', item.min);
  }
}

function validateLimitRange(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const limits = dig(obj, 'spec', 'limits');
  if (obj.spec !== undefined && !asObj(obj.spec)) return [fieldErr.invalid('spec', obj.spec, 'must be a map')];
  if (limits !== undefined && limits !== null && !Array.isArray(limits)) return [fieldErr.invalid('spec.limits', limits, 'must be a list')];
  asArr(limits).forEach((raw, i) => {
    const f = `spec.limits[${i}]`;
    const item = asObj(raw);
    if (!item) return void errs.push(fieldErr.invalid(f, raw, 'must be a map'));
    if (typeof item.type !== 'string' || item.type === '') errs.push(fieldErr.required(`${f}.type`));
    const q: Record<string, Map<string, Quantity>> = {};
    for (const k of LIMIT_MAPS) q[k] = validateResourceList(errs, item[k], `${f}.${k}`, () => true);
    if (item.type === 'Pod') {
      for (const k of ['default', 'defaultRequest'] as const)
        if (q[k].size > 0) errs.push(fieldErr.forbidden(`${f}.${k}`, "may not be specified when `type` is 'Pod'"));
    }
    const show = (k: string, name: string) => String((item[k] as Obj)[name]);
    // Each bound must sit inside the next wider one: min ≤ defaultRequest ≤ default ≤ max. The error
    // lands on the field named by `on`, worded as upstream words it.
    const rules: { lo: string; hi: string; on: string; words: [string, string] }[] = [
      { lo: 'min', hi: 'max', on: 'min', words: ['min value', 'max value'] },
      { lo: 'min', hi: 'defaultRequest', on: 'defaultRequest', words: ['min value', 'default request value'] },
      { lo: 'defaultRequest', hi: 'max', on: 'defaultRequest', words: ['default request value', 'max value'] },
      { lo: 'defaultRequest', hi: 'default', on: 'defaultRequest', words: ['default request value', 'default limit value'] },
      { lo: 'min', hi: 'default', on: 'default', words: ['min value', 'default value'] },
      { lo: 'default', hi: 'max', on: 'default', words: ['default value', 'max value'] },
    ];
    for (const { lo, hi, on, words } of rules) {
      for (const [name, loQ] of q[lo]) {
        const hiQ = q[hi].get(name);
        if (hiQ && compareQuantities(loQ, hiQ) > 0)
          errs.push(fieldErr.invalid(`${f}.${on}[${name}]`, show(on, name), `${words[0]} ${show(lo, name)} is greater than ${words[1]} ${show(hi, name)}`));
      }
    }
    for (const [name, ratio] of q.maxLimitRequestRatio)
      if (ratio.nanos < 1_000_000_000n) errs.push(fieldErr.invalid(`${f}.maxLimitRequestRatio[${name}]`, show('maxLimitRequestRatio', name), 'ratio must be greater than or equal to 1'));
  });
  return errs;
}

export const limitRangeKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'LimitRange',
  plural: 'limitranges',
  singular: 'limitrange',
  shortNames: ['limits'],
  namespaced: true,
  defaults: defaultLimitRange,
  validate: (obj) => validateLimitRange(obj),
  table: [
    nameColumn,
    column(
      'Created At',
      (o) => {
        const t = Date.parse(String(dig(o, 'metadata', 'creationTimestamp') ?? ''));
        return Number.isNaN(t) ? '' : rfc3339(t);
      },
      { type: 'date', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' },
    ),
  ],
};
