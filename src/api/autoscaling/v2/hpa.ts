// autoscaling/v2 HorizontalPodAutoscaler: the storage version of HPAs (v1 converts to it).
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr, checkName, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr, dig, type Obj } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { canonicalQuantity, parseQuantity } from '../../common/quantity.js';
import { isInt, oneOf, optionalList, optionalObject, validateLabelSelector } from '../../apps/v1/fields.js';

/** The CPU target an HPA gets when it names no metric (autoscaling.DefaultCPUUtilization). */
export const DEFAULT_CPU_UTILIZATION = 80;
const SOURCE_TYPES = ['Object', 'Pods', 'Resource', 'External', 'ContainerResource'];
const SOURCE_FIELD: Record<string, string> = {
  Object: 'object',
  Pods: 'pods',
  Resource: 'resource',
  External: 'external',
  ContainerResource: 'containerResource',
};
const nil = (v: unknown) => v === undefined || v === null;

export function defaultCpuMetric(utilization = DEFAULT_CPU_UTILIZATION): Obj {
  return { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: utilization } } };
}

/** Fill each unset part of a scaling rule from the upstream default rule. */
function fillRules(rules: unknown, def: Obj): Obj | unknown {
  if (nil(rules)) return structuredClone(def);
  const r = asObj(rules);
  if (!r) return rules;
  for (const [k, v] of Object.entries(def)) if (nil(r[k])) r[k] = structuredClone(v);
  return r;
}

const SCALE_UP: Obj = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};
const SCALE_DOWN: Obj = { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };

function defaults(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  if (nil(spec.minReplicas)) spec.minReplicas = 1;
  if (nil(spec.metrics) || (Array.isArray(spec.metrics) && spec.metrics.length === 0)) spec.metrics = [defaultCpuMetric()];
  // Only a behavior the user asked for is completed; absent behavior means "controller defaults".
  const behavior = asObj(spec.behavior);
  if (behavior) {
    behavior.scaleUp = fillRules(behavior.scaleUp, SCALE_UP);
    behavior.scaleDown = fillRules(behavior.scaleDown, SCALE_DOWN);
  }
}

export function validateCrossVersionRef(errs: FieldError[], raw: unknown, f: string): void {
  const r = asObj(raw);
  if (!r) return void errs.push(nil(raw) ? fieldErr.required(f) : fieldErr.invalid(f, raw, 'must be an object'));
  for (const k of ['kind', 'name']) {
    const v = r[k];
    if (nil(v) || v === '') errs.push(fieldErr.required(`${f}.${k}`));
    else if (typeof v !== 'string') errs.push(fieldErr.invalid(`${f}.${k}`, v, 'must be a string'));
    else checkName(errs, `${f}.${k}`, v, names.pathSegment);
  }
}

function positiveQuantity(errs: FieldError[], v: unknown, f: string): void {
  if (nil(v)) return;
  const q = parseQuantity(v);
  if (!q) errs.push(fieldErr.invalid(f, v, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
  else if (q.nanos <= 0n) errs.push(fieldErr.invalid(f, v, 'must be positive'));
}

function validateTarget(errs: FieldError[], t: Obj, f: string): void {
  if (nil(t.type) || t.type === '') errs.push(fieldErr.required(`${f}.type`, 'must specify a metric target type'));
  else if (!['Utilization', 'Value', 'AverageValue'].includes(t.type as string))
    errs.push(fieldErr.invalid(`${f}.type`, t.type, 'must be either Utilization, Value, or AverageValue'));
  positiveQuantity(errs, t.value, `${f}.value`);
  positiveQuantity(errs, t.averageValue, `${f}.averageValue`);
  if (!nil(t.averageUtilization) && (!isInt(t.averageUtilization) || t.averageUtilization < 1))
    errs.push(fieldErr.invalid(`${f}.averageUtilization`, t.averageUtilization, 'must be greater than 0'));
}

function validateMetricIdentifier(errs: FieldError[], src: Obj, f: string): void {
  const m = asObj(src.metric) ?? {};
  if (nil(m.name) || m.name === '') errs.push(fieldErr.required(`${f}.metric.name`, 'must specify a metric name'));
  else if (typeof m.name !== 'string') errs.push(fieldErr.invalid(`${f}.metric.name`, m.name, 'must be a string'));
  errs.push(...validateLabelSelector(m.selector, `${f}.metric.selector`));
}

function validateMetric(errs: FieldError[], raw: unknown, f: string): void {
  const m = asObj(raw);
  if (!m) return void errs.push(fieldErr.invalid(f, raw, 'must be an object'));
  const type = m.type;
  if (nil(type) || type === '') errs.push(fieldErr.required(`${f}.type`, 'must specify a metric source type'));
  else if (!SOURCE_TYPES.includes(type as string)) errs.push(fieldErr.notSupported(`${f}.type`, type, SOURCE_TYPES));
  const present = Object.values(SOURCE_FIELD).filter((k) => !nil(m[k]));
  const expected = SOURCE_FIELD[type as string];
  if (expected && nil(m[expected])) errs.push(fieldErr.required(`${f}.${expected}`, 'must populate information for the given metric source'));
  for (const k of present) if (k !== expected && expected) errs.push(fieldErr.forbidden(`${f}.${k}`, 'must populate the given metric source only'));
  if (!expected) return;
  const src = asObj(m[expected]);
  if (!src) return void (nil(m[expected]) || errs.push(fieldErr.invalid(`${f}.${expected}`, m[expected], 'must be an object')));
  const sf = `${f}.${expected}`;
  const target = asObj(src.target) ?? {};
  validateTarget(errs, target, `${sf}.target`);
  switch (type) {
    case 'Resource':
    case 'ContainerResource':
      if (nil(src.name) || src.name === '') errs.push(fieldErr.required(`${sf}.name`, 'must specify a resource name'));
      if (type === 'ContainerResource' && (nil(src.container) || src.container === ''))
        errs.push(fieldErr.required(`${sf}.container`, 'must specify a container'));
      if (nil(target.averageUtilization) && nil(target.averageValue))
        errs.push(fieldErr.required(`${sf}.target.averageUtilization`, 'must set either a target raw value or a target utilization'));
      else if (!nil(target.averageUtilization) && !nil(target.averageValue))
        errs.push(fieldErr.forbidden(`${sf}.target.averageValue`, 'may not set both a target raw value and a target utilization'));
      break;
    case 'Pods':
      validateMetricIdentifier(errs, src, sf);
      if (nil(target.averageValue)) errs.push(fieldErr.required(`${sf}.target.averageValue`, 'must specify a positive target averageValue'));
      break;
    case 'Object':
      validateCrossVersionRef(errs, src.describedObject, `${sf}.describedObject`);
      validateMetricIdentifier(errs, src, sf);
      if (nil(target.value) && nil(target.averageValue)) errs.push(fieldErr.required(`${sf}.target.value`, 'must set either a target value or averageValue'));
      break;
    case 'External':
      validateMetricIdentifier(errs, src, sf);
      if (nil(target.value) && nil(target.averageValue)) errs.push(fieldErr.required(`${sf}.target.value`, 'must set either a target value for metric or a per-pod target'));
      break;
  }
}

function validateRules(errs: FieldError[], raw: unknown, f: string): void {
  const r = optionalObject(errs, raw, f);
  if (!r) return;
  const w = r.stabilizationWindowSeconds;
  if (!nil(w)) {
    if (!isInt(w) || w < 0) errs.push(fieldErr.invalid(`${f}.stabilizationWindowSeconds`, w, 'must be greater than or equal to zero'));
    else if (w > 3600) errs.push(fieldErr.invalid(`${f}.stabilizationWindowSeconds`, w, 'must be less than or equal to 3600'));
  }
  oneOf(errs, r.selectPolicy, `${f}.selectPolicy`, ['Max', 'Min', 'Disabled']);
  const policies = optionalList(errs, r.policies, `${f}.policies`);
  if (policies.length === 0) errs.push(fieldErr.required(`${f}.policies`, 'must specify at least one Policy'));
  policies.forEach((raw, i) => {
    const pf = `${f}.policies[${i}]`;
    const p = asObj(raw);
    if (!p) return errs.push(fieldErr.invalid(pf, raw, 'must be an object'));
    oneOf(errs, p.type, `${pf}.type`, ['Pods', 'Percent'], true);
    if (!isInt(p.value) || p.value <= 0) errs.push(fieldErr.invalid(`${pf}.value`, p.value, 'must be greater than zero'));
    if (!isInt(p.periodSeconds) || p.periodSeconds <= 0) errs.push(fieldErr.invalid(`${pf}.periodSeconds`, p.periodSeconds, 'must be greater than zero'));
    else if (p.periodSeconds > 1800) errs.push(fieldErr.invalid(`${pf}.periodSeconds`, p.periodSeconds, 'must be less than or equal to 1800'));
  });
}

/** Replica bounds and target ref: the part of the spec both versions share. */
export function validateReplicaBounds(errs: FieldError[], spec: Obj): void {
  validateCrossVersionRef(errs, spec.scaleTargetRef, 'spec.scaleTargetRef');
  const min = spec.minReplicas;
  const max = spec.maxReplicas;
  if (!nil(min) && (!isInt(min) || min < 1)) errs.push(fieldErr.invalid('spec.minReplicas', min, 'must be greater than or equal to 1'));
  if (!isInt(max) || max < 1) errs.push(fieldErr.invalid('spec.maxReplicas', max ?? 0, 'must be greater than 0'));
  else if (isInt(min) && min > max) errs.push(fieldErr.invalid('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'));
}

function validate(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec') ?? {};
  validateReplicaBounds(errs, spec);
  optionalList(errs, spec.metrics, 'spec.metrics').forEach((m, i) => validateMetric(errs, m, `spec.metrics[${i}]`));
  const behavior = optionalObject(errs, spec.behavior, 'spec.behavior');
  if (behavior) {
    validateRules(errs, behavior.scaleUp, 'spec.behavior.scaleUp');
    validateRules(errs, behavior.scaleDown, 'spec.behavior.scaleDown');
  }
  return errs;
}

const q = (v: unknown) => canonicalQuantity(v) ?? String(v ?? '');

/** printers.go formatHPAMetrics: `current/target` per metric, at most two, then "+ N more...". */
export function hpaTargetsCell(obj: KObject): string {
  const specs = asArr(dig(obj, 'spec', 'metrics'));
  const statuses = asArr(dig(obj, 'status', 'currentMetrics'));
  if (specs.length === 0) return '<none>';
  const list = specs.map((raw, i) => {
    const m = asObj(raw) ?? {};
    const st = asObj(statuses[i]);
    switch (m.type) {
      case 'External':
      case 'Object': {
        const key = m.type === 'External' ? 'external' : 'object';
        const target = asObj(dig(m, key, 'target')) ?? {};
        const cur = asObj(dig(st, key, 'current'));
        if (!nil(target.averageValue)) return `${cur && !nil(cur.averageValue) ? q(cur.averageValue) : '<unknown>'}/${q(target.averageValue)} (avg)`;
        return `${cur ? q(cur.value ?? '0') : '<unknown>'}/${q(target.value ?? '0')}`;
      }
      case 'Pods': {
        const cur = asObj(dig(st, 'pods', 'current'));
        return `${cur ? q(cur.averageValue ?? '0') : '<unknown>'}/${q(dig(m, 'pods', 'target', 'averageValue') ?? '0')}`;
      }
      case 'Resource':
      case 'ContainerResource': {
        const key = m.type === 'Resource' ? 'resource' : 'containerResource';
        const name = asStr(dig(m, key, 'name')) ?? '';
        const target = asObj(dig(m, key, 'target')) ?? {};
        const cur = asObj(dig(st, key, 'current'));
        if (!nil(target.averageValue)) return `${name}: ${cur ? q(cur.averageValue ?? '0') : '<unknown>'}/${q(target.averageValue)}`;
        const current = cur && isInt(cur.averageUtilization) ? `${cur.averageUtilization}%` : '<unknown>';
        const tgt = isInt(target.averageUtilization) ? `${target.averageUtilization}%` : '<auto>';
        return `${name}: ${current}/${tgt}`;
      }
      default:
        return '<unknown type>';
    }
  });
  return list.length > 2 ? `${list.slice(0, 2).join(', ')} + ${list.length - 2} more...` : list.join(', ');
}

export const hpaTable = [
  nameColumn,
  column('Reference', (obj: KObject) => `${asStr(dig(obj, 'spec', 'scaleTargetRef', 'kind')) ?? ''}/${asStr(dig(obj, 'spec', 'scaleTargetRef', 'name')) ?? ''}`),
  column('Targets', hpaTargetsCell),
  column('MinPods', (obj: KObject) => {
    const v = dig(obj, 'spec', 'minReplicas');
    return isInt(v) ? String(v) : '<unset>';
  }),
  column('MaxPods', (obj: KObject) => (isInt(dig(obj, 'spec', 'maxReplicas')) ? (dig(obj, 'spec', 'maxReplicas') as number) : 0), { type: 'integer' }),
  column('Replicas', (obj: KObject) => (isInt(dig(obj, 'status', 'currentReplicas')) ? (dig(obj, 'status', 'currentReplicas') as number) : 0), {
    type: 'integer',
  }),
  ageColumn,
];

export const hpaV2Kind: KindSpec = {
  group: 'autoscaling',
  version: 'v2',
  kind: 'HorizontalPodAutoscaler',
  generation: true,
  plural: 'horizontalpodautoscalers',
  singular: 'horizontalpodautoscaler',
  shortNames: ['hpa'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  versionPriority: 0,
  defaults,
  validate,
  table: hpaTable,
};
