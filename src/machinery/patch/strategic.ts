// Strategic merge patch (`application/strategic-merge-patch+json`), the flavour kubectl sends for
// built-in kinds: client-side `apply` (three-way patches with `$setElementOrder` and `$patch:
// delete` elements), `patch` (default type), `set image`, `rollout restart/pause/resume`, `edit`.
//
// Semantics follow k8s.io/apimachinery/pkg/util/strategicpatch (mergeMap / mergeSlice):
// * maps merge, `null` deletes; lists without `merge` strategy are replaced;
// * merge lists of maps match elements by merge key: matched ones merge, new ones join the list;
//   merge lists of scalars become a union;
// * order: patch elements keep the patch's order, live-only elements keep theirs, interleaved by
//   their live positions (so a new element lands *before* the live ones, as upstream);
//   `$setElementOrder/<list>` fixes the order of the elements it names;
// * directives `$patch` (replace/delete/merge), `$retainKeys`, `$setElementOrder/<list>` and
//   `$deleteFromPrimitiveList/<list>` are consumed — no `$` key ever reaches the result.
// Where no schema is known for a field, maps still merge and lists are replaced.
//
// Error codes follow the upstream handler's interpretStrategicMergePatchError: malformed
// directives (including patch content outside `$retainKeys`) → 400; lists of lists → 422. Errors upstream
// leaves as 500s (missing merge key, unknown `$patch` value, mismatched element types) are
// client mistakes, so they are 400s here.
import { StatusError, errors } from '../errors.js';
import { deepCopy, isPlainObject, jsonEqual, type KObject } from '../object.js';
import type { SchemaNode, SchemaResolver } from '../schema.js';
import { assertDepth, getOwn, hasOwn, jsonTypeName, setOwn } from './guard.js';
import { SchemaView, patchMetaOf, type PatchMeta } from './schema-view.js';

type Obj = Record<string, unknown>;

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE = '$deleteFromPrimitiveList/';

// Upstream's mergepatch error texts.
const BAD_RETAIN_KEYS = 'invalid patch format of retainKeys';
const BAD_SET_ORDER = 'invalid patch format of setElementOrder list';
const BAD_PRIMITIVE_LIST = 'invalid patch format of primitive list';

/** Returned by a map merge whose patch said `$patch: delete`: the parent drops the key. */
const DELETE = Symbol('delete');
type Merged = unknown | typeof DELETE;

export function applyStrategicMergePatch(live: KObject, body: unknown, schema: SchemaNode, resolve?: SchemaResolver): KObject {
  if (!isPlainObject(body)) throw errors.badRequest(`json: cannot unmarshal ${jsonTypeName(body)} into Go value of type map[string]interface {}`);
  assertDepth(body, 'the patch');
  // Both copies are ours: the merge consumes the patch and rewrites the original in place.
  const result = mergeMap(deepCopy(live) as Obj, deepCopy(body), SchemaView.of(schema, resolve));
  if (result === DELETE) throw errors.badRequest('a strategic merge patch cannot delete the whole object');
  return result as KObject;
}

function mergeMap(original: Obj, patch: Obj, s: SchemaView | undefined): Obj | typeof DELETE {
  if (hasOwn(patch, DIRECTIVE)) {
    const directive = patch[DIRECTIVE];
    delete patch[DIRECTIVE];
    if (directive === 'delete') return DELETE;
    // Replace: the map becomes the rest of the patch, itself cleaned of directives and nulls.
    if (directive === 'replace') return mergeMap({}, patch, s);
    if (directive !== 'merge') throw badPatchType(directive, patch);
  }
  applyRetainKeys(original, patch);
  applySetElementOrder(original, patch, s);

  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (key.startsWith(DELETE_FROM_PRIMITIVE)) {
      const field = key.slice(DELETE_FROM_PRIMITIVE.length);
      if (!field || !Array.isArray(value)) throw errors.badRequest(BAD_PRIMITIVE_LIST);
      const current = getOwn(original, field);
      if (Array.isArray(current)) setOwn(original, field, current.filter((x) => !value.some((d) => jsonEqual(d, x))));
      continue;
    }
    if (key.startsWith('$')) throw errors.badRequest(`unknown strategic merge patch directive ${JSON.stringify(key)}`);
    if (value === null) {
      delete original[key];
      continue;
    }
    const fieldSchema = s?.field(key);
    const current = getOwn(original, key);
    const next = current === undefined ? fresh(value, fieldSchema) : mergeValue(current, value, fieldSchema);
    if (next === DELETE) delete original[key];
    else setOwn(original, key, next);
  }
  return original;
}

function mergeValue(current: unknown, value: unknown, s: SchemaView | undefined): Merged {
  const meta = patchMetaOf(s);
  if (isPlainObject(value) && isPlainObject(current)) return meta.replace ? mergeMap({}, value, s) : mergeMap(current, value, s);
  if (Array.isArray(value) && Array.isArray(current)) return mergeList(current, value, meta, s?.items());
  // A new field, or a type change: the patch value wins, minus its directives.
  return fresh(value, s);
}

/** A patch value with nothing to merge into, processed against an empty value. */
function fresh(value: unknown, s: SchemaView | undefined): Merged {
  if (isPlainObject(value)) return mergeMap({}, value, s);
  if (Array.isArray(value)) return mergeList([], value, patchMetaOf(s), s?.items());
  return value;
}

function mergeList(original: unknown[], patch: unknown[], meta: PatchMeta, items: SchemaView | undefined): unknown[] {
  if (!meta.merge) return replaceList(patch, items);
  if (original.length === 0 && patch.length === 0) return original;

  if (elementKind(original, patch) === 'scalar') {
    const merged = dedupe([...original, ...patch]);
    const [fromPatch, serverOnly] = partition(merged, patch, undefined);
    return normalizeOrder(fromPatch, serverOnly, patch, original, undefined);
  }

  const mk = meta.mergeKey;
  if (!mk) throw errors.badRequest('cannot merge lists without merge key');
  let base = original.slice();
  const elements: Obj[] = [];
  let replace = false;
  for (const el of patch as Obj[]) {
    if (!hasOwn(el, DIRECTIVE)) {
      elements.push(el);
      continue;
    }
    const directive = el[DIRECTIVE];
    if (directive === 'delete') {
      if (!hasOwn(el, mk)) throw noMergeKey(el, mk);
      base = base.filter((o) => !sameElement(o, el, mk));
    } else if (directive === 'replace') {
      replace = true;
    } else if (directive === 'merge') {
      delete el[DIRECTIVE];
      elements.push(el);
    } else {
      throw badPatchType(directive, el);
    }
  }
  if (replace) return replaceList(elements, items);

  const serverOrder = base.slice();
  for (const el of elements) {
    if (!hasOwn(el, mk)) throw noMergeKey(el, mk);
    const i = base.findIndex((o) => sameElement(o, el, mk));
    const merged = i >= 0 ? mergeMap(base[i] as Obj, el, items) : mergeMap({}, el, items);
    if (merged === DELETE) {
      if (i >= 0) base.splice(i, 1);
    } else if (i >= 0) base[i] = merged;
    else base.push(merged);
  }
  const [fromPatch, serverOnly] = partition(base, elements, mk);
  return normalizeOrder(fromPatch, serverOnly, elements, serverOrder, mk);
}

/** A list taken from the patch as a whole; element maps are still cleaned of directives. */
function replaceList(patch: unknown[], items: SchemaView | undefined): unknown[] {
  const out: unknown[] = [];
  for (const el of patch) {
    if (isPlainObject(el)) {
      const merged = mergeMap({}, el, items);
      if (merged !== DELETE) out.push(merged);
    } else if (Array.isArray(el)) {
      out.push(replaceList(el, undefined));
    } else {
      out.push(el);
    }
  }
  return out;
}

function elementKind(...lists: unknown[][]): 'map' | 'scalar' {
  let kind: 'map' | 'scalar' | undefined;
  for (const list of lists) {
    for (const v of list) {
      if (Array.isArray(v)) throw new StatusError(422, 'Invalid', 'lists of lists are not supported');
      const k = isPlainObject(v) ? 'map' : 'scalar';
      if (kind && k !== kind) throw errors.badRequest('list element types are not identical');
      kind = k;
    }
  }
  return kind ?? 'scalar';
}

function applyRetainKeys(original: Obj, patch: Obj): void {
  if (!hasOwn(patch, RETAIN_KEYS)) return;
  const retain = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retain)) throw errors.badRequest(BAD_RETAIN_KEYS);
  const keep = new Set(retain.filter((k): k is string => typeof k === 'string'));
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_FROM_PRIMITIVE) || k.startsWith(SET_ORDER)) continue;
    if (!keep.has(k)) throw errors.badRequest(BAD_RETAIN_KEYS);
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

/** Merges every list named by a `$setElementOrder/<list>` directive, then orders it. */
function applySetElementOrder(original: Obj, patch: Obj, s: SchemaView | undefined): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    const field = key.slice(SET_ORDER.length);
    if (!field || !Array.isArray(order)) throw errors.badRequest(BAD_SET_ORDER);
    const patchValue = getOwn(patch, field);
    if (patchValue === null) continue; // the list itself is deleted by the main merge
    if (patchValue !== undefined && !Array.isArray(patchValue)) throw errors.badRequest(BAD_SET_ORDER);

    const fieldSchema = s?.field(field);
    const meta = patchMetaOf(fieldSchema);
    const mk = meta.mergeKey;
    const current = getOwn(original, field);
    const live = Array.isArray(current) ? current : undefined;
    const patchList = patchValue as unknown[] | undefined;
    validateAgainstOrder(patchList ?? [], order, mk);

    let merged: unknown[];
    if (live && patchList) merged = mergeList(live, patchList, meta, fieldSchema?.items());
    else if (patchList) merged = mergeList([], patchList, meta, fieldSchema?.items());
    else if (live) merged = live;
    else continue;

    const [named, unnamed] = partition(merged, order, mk);
    setOwn(original, field, normalizeOrder(named, unnamed, order, live ?? [], mk));
    delete patch[field];
  }
}

/** The non-deleting patch elements must appear in `$setElementOrder` in the same relative order. */
function validateAgainstOrder(patchList: unknown[], order: unknown[], mk: string | undefined): void {
  if (order.length === 0 || patchList.length === 0) return;
  const elements = patchList.filter((el) => !(isPlainObject(el) && hasOwn(el, DIRECTIVE)));
  let pi = 0;
  for (let oi = 0; pi < elements.length && oi < order.length; oi++) {
    const el = elements[pi];
    if (mk && isPlainObject(el) && !hasOwn(el, mk)) throw noMergeKey(el, mk);
    if (sameItem(el, order[oi], mk)) pi++;
  }
  if (pi < elements.length)
    throw errors.badRequest(
      `The order in patch list:\n${JSON.stringify(patchList)}\n doesn't match $setElementOrder list:\n${JSON.stringify(order)}\n`,
    );
}

function sameElement(a: unknown, b: Obj, mk: string): boolean {
  return isPlainObject(a) && hasOwn(a, mk) && jsonEqual(a[mk], b[mk]);
}

/** Identity of list items: by merge key for maps, by value for scalars. */
function sameItem(a: unknown, b: unknown, mk: string | undefined): boolean {
  if (mk && isPlainObject(a) && isPlainObject(b)) return hasOwn(a, mk) && hasOwn(b, mk) && jsonEqual(a[mk], b[mk]);
  return jsonEqual(a, b);
}

function indexIn(list: unknown[], item: unknown, mk: string | undefined): number {
  return list.findIndex((x) => sameItem(item, x, mk));
}

function dedupe(list: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const v of list) if (!out.some((o) => jsonEqual(o, v))) out.push(v);
  return out;
}

/** Splits `list` into the items present in `by` and the rest, each keeping its order. */
function partition(list: unknown[], by: unknown[], mk: string | undefined): [unknown[], unknown[]] {
  const inBy: unknown[] = [];
  const rest: unknown[] = [];
  for (const item of list) (indexIn(by, item, mk) >= 0 ? inBy : rest).push(item);
  return [inBy, rest];
}

/** Stable sort of `items` by position in `order`; items `order` does not name stay last. */
function sortByOrder(items: unknown[], order: unknown[], mk: string | undefined): unknown[] {
  const ranked = items.map((item, i) => ({ item, i, at: indexIn(order, item, mk) }));
  const named = ranked.filter((r) => r.at >= 0).sort((a, b) => a.at - b.at || a.i - b.i);
  return [...named, ...ranked.filter((r) => r.at < 0)].map((r) => r.item);
}

/**
 * Upstream's normalizeElementOrder: patch items in patch order, server-only items in live order,
 * then interleaved — a server-only item goes first only when both are live and it came first.
 */
function normalizeOrder(patchItems: unknown[], serverOnly: unknown[], patchOrder: unknown[], serverOrder: unknown[], mk: string | undefined): unknown[] {
  const right = sortByOrder(patchItems, patchOrder, mk);
  const left = sortByOrder(serverOnly, serverOrder, mk);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i], mk);
      const ri = indexIn(serverOrder, right[j], mk);
      out.push(li >= 0 && ri >= 0 && li < ri ? left[i++] : right[j++]);
    }
  }
  return out;
}

function noMergeKey(el: Obj, mk: string): StatusError {
  return errors.badRequest(`map: ${JSON.stringify(el)} does not contain declared merge key: ${mk}`);
}

function badPatchType(directive: unknown, m: Obj): StatusError {
  return errors.badRequest(`unknown patch type: ${JSON.stringify(directive)} in map: ${JSON.stringify(m)}`);
}
