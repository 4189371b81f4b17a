// Shared input guards. The patch algorithms recurse over the body; a hostile body nested deeper
// than any real object would otherwise overflow the stack, so its depth is checked up front
// (iteratively) and rejected as a bad request.
import { errors } from '../errors.js';

/** Far beyond any Kubernetes object, far below what recursion can survive. */
export const MAX_DEPTH = 1000;

export function assertDepth(value: unknown, what: string): void {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > MAX_DEPTH) throw errors.badRequest(`${what} is nested more than ${MAX_DEPTH} levels deep`);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
}

/** The JSON type name Go's decoder uses in "cannot unmarshal X into ..." messages. */
export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

/** Own-property read: a body key such as `__proto__` must never reach Object.prototype. */
export function getOwn(obj: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

export function hasOwn(obj: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/** Own-property write that treats `__proto__` as the plain data key JSON.parse made it. */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}
