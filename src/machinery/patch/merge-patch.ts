// RFC 7386 JSON merge patch (`application/merge-patch+json`): objects merge recursively, `null`
// deletes, everything else (arrays included) replaces. kubectl uses it for label/annotate/scale
// and for client-side apply of kinds it has no Go types for (CRDs).
import { errors } from '../errors.js';
import { deepCopy, isPlainObject, type KObject } from '../object.js';
import { assertDepth, getOwn, setOwn } from './guard.js';

export function applyMergePatch(live: KObject, body: unknown): KObject {
  // Upstream (evanphx/json-patch) rejects a null patch with this text; a non-object patch would
  // replace the whole object, which can never decode as one, so it is refused the same way.
  if (!isPlainObject(body)) throw errors.badRequest('Invalid JSON Patch');
  assertDepth(body, 'the patch');
  const target = deepCopy(live) as Record<string, unknown>;
  mergeInto(target, body);
  return target as KObject;
}

/** Merges `patch` into `target` in place; `target` must be caller-owned. */
function mergeInto(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete target[k];
    } else if (isPlainObject(v)) {
      const cur = getOwn(target, k);
      const next = isPlainObject(cur) ? cur : {};
      mergeInto(next, v);
      setOwn(target, k, next);
    } else {
      setOwn(target, k, deepCopy(v));
    }
  }
}
