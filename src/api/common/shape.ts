// Tolerant readers for untyped request bodies. Kind code runs on whatever JSON a client sent, so
// every access goes through these instead of casts: a wrong type reads as "absent", never throws.
import { isPlainObject } from '../../machinery/object.js';

export type Obj = Record<string, unknown>;

/** The value as a plain object, or undefined when it is anything else (null, array, scalar). */
export function asObj(v: unknown): Obj | undefined {
  return isPlainObject(v) ? v : undefined;
}

/** The value as an array, or an empty array when it is not one. */
export function asArr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The value as a string, or undefined. */
export function asStr(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The value as a finite number, or undefined. */
export function asNum(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Read a nested field through objects only (arrays and scalars on the way yield undefined). */
export function dig(v: unknown, ...path: string[]): unknown {
  let cur: unknown = v;
  for (const p of path) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

/** Set `obj[key] = value` only when the key is absent (undefined); the defaulting primitive. */
export function setDefault(obj: Obj, key: string, value: unknown): void {
  if (obj[key] === undefined) obj[key] = value;
}
