// autoscaling/v1 HorizontalPodAutoscaler: a CPU-only view of the v2 object that is stored.
// v1 can express a single CPU utilization target; everything else v2 holds (other metrics, their
// current values, conditions, behavior) travels in annotations so a v1 read-modify-write loses nothing.
import type { KObject } from '../../../machinery/object.js';
import type { FieldError } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, type Obj } from '../../common/shape.js';
import { isInt } from '../../apps/v1/fields.js';
import { DEFAULT_CPU_UTILIZATION, defaultCpuMetric, hpaTable, hpaV2Kind } from '../v2/hpa.js';

export const METRIC_SPECS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/metrics';
export const METRIC_STATUSES_ANNOTATION = 'autoscaling.alpha.kubernetes.io/current-metrics';
export const CONDITIONS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/conditions';
/** Upstream marshals Go's internal struct here (capitalised keys); Skiff writes the v2 JSON form and reads either. */
export const BEHAVIOR_ANNOTATION = 'autoscaling.alpha.kubernetes.io/behavior';
const ROUND_TRIP = [METRIC_SPECS_ANNOTATION, METRIC_STATUSES_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION];

const nil = (v: unknown) => v === undefined || v === null;
const or0 = (v: unknown) => (nil(v) ? '0' : v);

/** Copy only the keys that are set (Go's omitempty for pointers). */
function pick(out: Obj, outKey: string, src: Obj | undefined, key: string): void {
  if (src && !nil(src[key])) out[outKey] = src[key];
}

function refOut(r: unknown): Obj {
  const o = asObj(r) ?? {};
  const out: Obj = { kind: o.kind ?? '', name: o.name ?? '' };
  pick(out, 'apiVersion', o, 'apiVersion');
  return out;
}

function identifier(src: Obj, nameKey: string, selectorKey: string): Obj {
  const id: Obj = { name: src[nameKey] ?? '' };
  pick(id, 'selector', src, selectorKey);
  return id;
}

function metricSpecToV1(m: Obj): Obj {
  const out: Obj = { type: m.type ?? '' };
  const o = asObj(m.object);
  if (o) {
    const t = asObj(o.target) ?? {};
    const v: Obj = { target: refOut(o.describedObject), metricName: asObj(o.metric)?.name ?? '', targetValue: or0(t.value) };
    pick(v, 'selector', asObj(o.metric), 'selector');
    pick(v, 'averageValue', t, 'averageValue');
    out.object = v;
  }
  const p = asObj(m.pods);
  if (p) {
    const v: Obj = { metricName: asObj(p.metric)?.name ?? '', targetAverageValue: or0(asObj(p.target)?.averageValue) };
    pick(v, 'selector', asObj(p.metric), 'selector');
    out.pods = v;
  }
  for (const key of ['resource', 'containerResource']) {
    const r = asObj(m[key]);
    if (!r) continue;
    const t = asObj(r.target) ?? {};
    const v: Obj = { name: r.name ?? '' };
    pick(v, 'targetAverageUtilization', t, 'averageUtilization');
    pick(v, 'targetAverageValue', t, 'averageValue');
    if (key === 'containerResource') v.container = r.container ?? '';
    out[key] = v;
  }
  const e = asObj(m.external);
  if (e) {
    const t = asObj(e.target) ?? {};
    const v: Obj = { metricName: asObj(e.metric)?.name ?? '' };
    pick(v, 'metricSelector', asObj(e.metric), 'selector');
    pick(v, 'targetValue', t, 'value');
    pick(v, 'targetAverageValue', t, 'averageValue');
    out.external = v;
  }
  return out;
}

function metricSpecToV2(m: Obj): Obj {
  const out: Obj = { type: m.type ?? '' };
  const o = asObj(m.object);
  if (o) {
    const target: Obj = { type: nil(o.averageValue) ? 'Value' : 'AverageValue', value: or0(o.targetValue) };
    pick(target, 'averageValue', o, 'averageValue');
    out.object = { describedObject: refOut(o.target), metric: identifier(o, 'metricName', 'selector'), target };
  }
  const p = asObj(m.pods);
  if (p) out.pods = { metric: identifier(p, 'metricName', 'selector'), target: { type: 'AverageValue', averageValue: or0(p.targetAverageValue) } };
  for (const key of ['resource', 'containerResource']) {
    const r = asObj(m[key]);
    if (!r) continue;
    const target: Obj = { type: nil(r.targetAverageUtilization) ? 'AverageValue' : 'Utilization' };
    pick(target, 'averageUtilization', r, 'targetAverageUtilization');
    pick(target, 'averageValue', r, 'targetAverageValue');
    out[key] = key === 'containerResource' ? { name: r.name ?? '', container: r.container ?? '', target } : { name: r.name ?? '', target };
  }
  const e = asObj(m.external);
  if (e) {
    const target: Obj = { type: nil(e.targetValue) ? 'AverageValue' : 'Value' };
    pick(target, 'value', e, 'targetValue');
    pick(target, 'averageValue', e, 'targetAverageValue');
    out.external = { metric: identifier(e, 'metricName', 'metricSelector'), target };
  }
  return out;
}

function metricStatusToV1(m: Obj): Obj {
  const out: Obj = { type: m.type ?? '' };
  const o = asObj(m.object);
  if (o) {
    const c = asObj(o.current) ?? {};
    const v: Obj = { target: refOut(o.describedObject), metricName: asObj(o.metric)?.name ?? '', currentValue: or0(c.value) };
    pick(v, 'selector', asObj(o.metric), 'selector');
    pick(v, 'averageValue', c, 'averageValue');
    out.object = v;
  }
  const p = asObj(m.pods);
  if (p) {
    const v: Obj = { metricName: asObj(p.metric)?.name ?? '', currentAverageValue: or0(asObj(p.current)?.averageValue) };
    pick(v, 'selector', asObj(p.metric), 'selector');
    out.pods = v;
  }
  for (const key of ['resource', 'containerResource']) {
    const r = asObj(m[key]);
    if (!r) continue;
    const c = asObj(r.current) ?? {};
    const v: Obj = { name: r.name ?? '' };
    pick(v, 'currentAverageUtilization', c, 'averageUtilization');
    v.currentAverageValue = or0(c.averageValue);
    if (key === 'containerResource') v.container = r.container ?? '';
    out[key] = v;
  }
  const e = asObj(m.external);
  if (e) {
    const c = asObj(e.current) ?? {};
    const v: Obj = { metricName: asObj(e.metric)?.name ?? '', currentValue: or0(c.value) };
    pick(v, 'metricSelector', asObj(e.metric), 'selector');
    pick(v, 'currentAverageValue', c, 'averageValue');
    out.external = v;
  }
  return out;
}

function metricStatusToV2(m: Obj): Obj {
  const out: Obj = { type: m.type ?? '' };
  const o = asObj(m.object);
  if (o) {
    const current: Obj = { value: or0(o.currentValue) };
    pick(current, 'averageValue', o, 'averageValue');
    out.object = { describedObject: refOut(o.target), metric: identifier(o, 'metricName', 'selector'), current };
  }
  const p = asObj(m.pods);
  if (p) out.pods = { metric: identifier(p, 'metricName', 'selector'), current: { averageValue: or0(p.currentAverageValue) } };
  for (const key of ['resource', 'containerResource']) {
    const r = asObj(m[key]);
    if (!r) continue;
    const current: Obj = { averageValue: or0(r.currentAverageValue) };
    pick(current, 'averageUtilization', r, 'currentAverageUtilization');
    out[key] = key === 'containerResource' ? { name: r.name ?? '', container: r.container ?? '', current } : { name: r.name ?? '', current };
  }
  const e = asObj(m.external);
  if (e) {
    const current: Obj = { value: or0(e.currentValue) };
    pick(current, 'averageValue', e, 'currentAverageValue');
    out.external = { metric: identifier(e, 'metricName', 'metricSelector'), current };
  }
  return out;
}

const isCpuResource = (m: Obj | undefined) => m?.type === 'Resource' && asObj(m.resource)?.name === 'cpu';

function parseJson(s: unknown): unknown {
  if (typeof s !== 'string') return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** Accept Go's capitalised field names (what upstream writes into the behavior annotation) as well. */
function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  const o = asObj(v);
  if (!o) return v;
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k.charAt(0).toLowerCase() + k.slice(1), camelKeys(x)]));
}

/** autoscaling/v1 → autoscaling/v2 (storage). */
export function hpaV1ToV2(obj: KObject): KObject {
  const meta = structuredClone(obj.metadata ?? {});
  const ann = asObj(meta.annotations) ? { ...(meta.annotations as Record<string, string>) } : undefined;
  const spec = asObj(obj.spec) ?? {};
  const status = asObj(obj.status);
  const outSpec: Obj = {};
  pick(outSpec, 'scaleTargetRef', spec, 'scaleTargetRef');
  pick(outSpec, 'minReplicas', spec, 'minReplicas');
  pick(outSpec, 'maxReplicas', spec, 'maxReplicas');
  let metrics: Obj[] = isInt(spec.targetCPUUtilizationPercentage) ? [defaultCpuMetric(spec.targetCPUUtilizationPercentage)] : [];
  const outStatus: Obj = {};
  if (status) {
    for (const k of ['observedGeneration', 'lastScaleTime', 'currentReplicas', 'desiredReplicas']) pick(outStatus, k, status, k);
    if (isInt(status.currentCPUUtilizationPercentage))
      outStatus.currentMetrics = [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: status.currentCPUUtilizationPercentage } } }];
  }
  if (ann) {
    const other = parseJson(ann[METRIC_SPECS_ANNOTATION]);
    if (Array.isArray(other)) {
      // The annotation holds the non-CPU-utilization metrics; the CPU one (if any) goes last.
      metrics = [...other.map((m) => metricSpecToV2(asObj(m) ?? {})), ...metrics];
      delete ann[METRIC_SPECS_ANNOTATION];
    }
    const current = parseJson(ann[METRIC_STATUSES_ANNOTATION]);
    if (Array.isArray(current)) {
      outStatus.currentMetrics = current.map((m) => metricStatusToV2(asObj(m) ?? {}));
      delete ann[METRIC_STATUSES_ANNOTATION];
    }
    const conditions = parseJson(ann[CONDITIONS_ANNOTATION]);
    if (Array.isArray(conditions)) {
      outStatus.conditions = conditions;
      delete ann[CONDITIONS_ANNOTATION];
    }
    const behavior = parseJson(ann[BEHAVIOR_ANNOTATION]);
    if (asObj(behavior)) {
      outSpec.behavior = camelKeys(behavior);
      delete ann[BEHAVIOR_ANNOTATION];
    }
    if (Object.keys(ann).length) meta.annotations = ann;
    else delete meta.annotations;
  }
  // v1 always meant "80% CPU" when no target was given; v2 states it.
  outSpec.metrics = metrics.length ? metrics : [defaultCpuMetric(DEFAULT_CPU_UTILIZATION)];
  const out: KObject = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: meta, spec: outSpec };
  if (status) out.status = outStatus;
  return out;
}

/** autoscaling/v2 (storage) → autoscaling/v1. */
export function hpaV2ToV1(obj: KObject): KObject {
  const meta = structuredClone(obj.metadata ?? {});
  const ann: Record<string, string> = { ...((asObj(meta.annotations) as Record<string, string> | undefined) ?? {}) };
  for (const k of ROUND_TRIP) delete ann[k];
  const spec = asObj(obj.spec) ?? {};
  const status = asObj(obj.status) ?? {};
  const outSpec: Obj = {};
  pick(outSpec, 'scaleTargetRef', spec, 'scaleTargetRef');
  pick(outSpec, 'minReplicas', spec, 'minReplicas');
  pick(outSpec, 'maxReplicas', spec, 'maxReplicas');
  const metrics = asArr(spec.metrics).map((m) => asObj(m) ?? {});
  const cpu = metrics.find(isCpuResource);
  const cpuTarget = asObj(asObj(cpu?.resource)?.target)?.averageUtilization;
  if (isInt(cpuTarget)) outSpec.targetCPUUtilizationPercentage = cpuTarget;
  const other = metrics.filter((m) => !(isCpuResource(m) && !nil(asObj(asObj(m.resource)?.target)?.averageUtilization)));
  if (other.length) ann[METRIC_SPECS_ANNOTATION] = JSON.stringify(other.map(metricSpecToV1));
  const current = asArr(status.currentMetrics).map((m) => asObj(m) ?? {});
  if (current.length) ann[METRIC_STATUSES_ANNOTATION] = JSON.stringify(current.map(metricStatusToV1));
  const conditions = asArr(status.conditions);
  if (conditions.length) ann[CONDITIONS_ANNOTATION] = JSON.stringify(conditions);
  if (asObj(spec.behavior)) ann[BEHAVIOR_ANNOTATION] = JSON.stringify(spec.behavior);
  if (Object.keys(ann).length) meta.annotations = ann;
  else delete meta.annotations;
  // currentReplicas/desiredReplicas are plain ints in v1, so they always appear.
  const outStatus: Obj = { currentReplicas: isInt(status.currentReplicas) ? status.currentReplicas : 0, desiredReplicas: isInt(status.desiredReplicas) ? status.desiredReplicas : 0 };
  for (const k of ['observedGeneration', 'lastScaleTime']) pick(outStatus, k, status, k);
  for (const m of current) {
    const u = asObj(asObj(m.resource)?.current)?.averageUtilization;
    if (isCpuResource(m) && isInt(u)) outStatus.currentCPUUtilizationPercentage = u;
  }
  return { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: meta, spec: outSpec, status: outStatus };
}

function defaults(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (spec && nil(spec.minReplicas)) spec.minReplicas = 1;
}

/** Upstream validates the converted object, so v1 errors name v2 paths (e.g. spec.metrics[0]...). */
function validate(obj: KObject, old?: KObject): FieldError[] {
  return hpaV2Kind.validate!(hpaV1ToV2(obj), old && hpaV1ToV2(old));
}

export const hpaV1Kind: KindSpec = {
  group: 'autoscaling',
  version: 'v1',
  kind: 'HorizontalPodAutoscaler',
  plural: 'horizontalpodautoscalers',
  singular: 'horizontalpodautoscaler',
  shortNames: ['hpa'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  // v2 is the preferred version of the group.
  versionPriority: 1,
  storedAs: { group: 'autoscaling', version: 'v2', toStorage: hpaV1ToV2, fromStorage: hpaV2ToV1 },
  defaults,
  validate,
  // Cells read the v1 shape through the v2 columns.
  table: hpaTable.map((c) => ({ ...c, cell: (obj: KObject, now: number) => c.cell(obj.apiVersion === 'autoscaling/v1' ? hpaV1ToV2(obj) : obj, now) })),
};
