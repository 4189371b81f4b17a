// Small helpers for the api-groups tests: find a kind, run its hooks, read error fields and cells.
import type { KObject } from '../../../src/machinery/object.js';
import type { KindSpec } from '../../../src/api/types.js';
import { builtinKinds } from '../../../src/api/builtin.js';

const all = builtinKinds();

export function kind(group: string, version: string, k: string): KindSpec {
  const s = all.find((x) => x.group === group && x.version === version && x.kind === k);
  if (!s) throw new Error(`no kind ${group}/${version} ${k}`);
  return s;
}

export function allKinds(): KindSpec[] {
  return all;
}

/** Defaulted copy of an object. */
export function defaulted(spec: KindSpec, obj: KObject): KObject {
  const o = structuredClone(obj);
  spec.defaults?.(o);
  return o;
}

/** "field: message" strings of a validation run. */
export function problems(spec: KindSpec, obj: KObject, old?: KObject): string[] {
  return (spec.validate?.(obj, old) ?? []).map((e) => e.toString());
}

export function fields(spec: KindSpec, obj: KObject, old?: KObject): string[] {
  return (spec.validate?.(obj, old) ?? []).map((e) => e.field);
}

/** Table row cells; `wide` includes priority-1 columns. */
export function cells(spec: KindSpec, obj: KObject, now: number, wide = false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of spec.table ?? []) if (wide || !c.priority) out[c.name] = c.cell(obj, now);
  return out;
}

export const T0 = Date.parse('2024-01-01T00:00:00Z');
export const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z', ...extra });
export const container = { name: 'app', image: 'nginx:1.25' };
