// Schema-aware walks over objects for field ownership (what sigs.k8s.io/structured-merge-diff's
// typed package does): the field set a configuration specifies, the paths that differ between
// two objects, the merge of an applied configuration into a live object, and the pruning of
// fields an applier stopped specifying.
//
// Node kinds come from the schema: objects are structs (declared properties), granular maps
// (additionalProperties or no schema) or atomic (`x-kubernetes-map-type: atomic`); lists are
// associative (list-type map, or merge strategy with a merge key), sets, or atomic (the default,
// and always without schema); everything else is a leaf.
import { errors } from '../errors.js';
import { deepCopy, isPlainObject, jsonEqual } from '../object.js';
import { FieldSet, pathElement } from './fieldpath.js';
import { getOwn, setOwn } from './guard.js';
import type { SchemaView } from './schema-view.js';

type Obj = Record<string, unknown>;

interface Element {
  pe: string;
  value: unknown;
}

/** Thrown for data the walk cannot key; the caller decides what status it deserves. */
export class StructureError extends Error {}

/** Path elements of a non-atomic list's items, or undefined when the list is atomic. */
function listElements(list: unknown[], s: SchemaView | undefined): Element[] | undefined {
  const kind = s?.listKind();
  if (!kind || kind.type === 'atomic') return undefined;
  if (kind.type === 'set') return list.map((value) => ({ pe: pathElement.value(value), value }));
  const items = s?.items();
  return list.map((value, i) => {
    if (!isPlainObject(value)) throw new StructureError(`associative list with keys has an element that is not a map (index ${i})`);
    const key: Obj = {};
    for (const k of kind.keys) {
      const v = getOwn(value, k) ?? items?.fieldDefault(k);
      if (v !== undefined) key[k] = v;
    }
    // Upstream rejects elements without their key fields; a live object written before the
    // schema knew its keys must not make every later write fail, so fall back to the position.
    return { pe: Object.keys(key).length ? pathElement.key(key) : pathElement.index(i), value };
  });
}

function isGranularObject(v: unknown, s: SchemaView | undefined): v is Obj {
  return isPlainObject(v) && !s?.atomicMap;
}

/** The fields a configuration specifies: leaves, list elements and explicit nulls/empty maps. */
export function toFieldSet(value: unknown, s: SchemaView | undefined): FieldSet {
  const set = new FieldSet();
  collect(value, s, set);
  return set;
}

function collect(value: unknown, s: SchemaView | undefined, node: FieldSet): void {
  if (isGranularObject(value, s)) {
    for (const [k, v] of Object.entries(value)) {
      const child = node.child(pathElement.field(k));
      collect(v, s?.field(k), child);
      // Struct fields are owned through their leaves; map keys, nulls and `{}` are owned themselves.
      if (v === null || (isPlainObject(v) && Object.keys(v).length === 0) || !s?.declares(k)) child.member = true;
    }
    return;
  }
  if (Array.isArray(value)) {
    const elements = listElements(value, s);
    if (!elements) {
      node.member = true;
      return;
    }
    const seen = new Set<string>();
    for (const el of elements) {
      if (seen.has(el.pe)) throw new StructureError(`duplicate entries for key ${el.pe}`);
      seen.add(el.pe);
      const child = node.child(el.pe);
      collect(el.value, s?.items(), child);
      child.member = true;
    }
    return;
  }
  node.member = true;
}

export interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

/** Paths added, modified or removed going from `lhs` to `rhs` (the root itself is never listed). */
export function compare(lhs: unknown, rhs: unknown, s: SchemaView | undefined): Comparison {
  const out: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  compareAt(lhs, rhs, s, [], out);
  return out;
}

const isEmptyValue = (v: unknown) => v === undefined || (Array.isArray(v) ? v.length === 0 : Object.keys(v as Obj).length === 0);

/** `path` is the walk's position, pushed and popped in place (sets copy what they keep). */
function compareAt(l: unknown, r: unknown, s: SchemaView | undefined, path: string[], out: Comparison): void {
  if (l === undefined && r === undefined) return;
  // One side missing: every node of the other side is added (or removed).
  if (l === undefined) return markAll(r, s, path.length ? out.added.node(path) : out.added, path.length > 0);
  if (r === undefined) return markAll(l, s, path.length ? out.removed.node(path) : out.removed, path.length > 0);
  let descended = false;
  if (isGranularObject(l, s) && isGranularObject(r, s) && !(isEmptyValue(l) && isEmptyValue(r))) {
    for (const k of Object.keys(l)) {
      path.push(pathElement.field(k));
      compareAt(getOwn(l, k), getOwn(r, k), s?.field(k), path, out);
      path.pop();
    }
    for (const k of Object.keys(r)) {
      if (Object.prototype.hasOwnProperty.call(l, k)) continue;
      path.push(pathElement.field(k));
      compareAt(undefined, getOwn(r, k), s?.field(k), path, out);
      path.pop();
    }
    descended = true;
  } else if (Array.isArray(l) && Array.isArray(r) && !(isEmptyValue(l) && isEmptyValue(r))) {
    const le = listElements(l, s);
    const re = listElements(r, s);
    if (le && re) {
      const lm = new Map(le.map((e) => [e.pe, e.value]));
      const rm = new Map(re.map((e) => [e.pe, e.value]));
      const items = s?.items();
      for (const [pe, v] of lm) {
        path.push(pe);
        compareAt(v, rm.get(pe), items, path, out);
        path.pop();
      }
      for (const [pe, v] of rm) {
        if (lm.has(pe)) continue;
        path.push(pe);
        compareAt(undefined, v, items, path, out);
        path.pop();
      }
      descended = true;
    }
  }
  if (path.length && !descended && !jsonEqual(l, r)) out.modified.insert(path);
}

/** Every node of `v` becomes a member under `node`, and `node` itself when `self`. */
function markAll(v: unknown, s: SchemaView | undefined, node: FieldSet, self: boolean): void {
  if (isGranularObject(v, s)) {
    for (const k of Object.keys(v)) {
      const c = v[k];
      if (c !== undefined) markAll(c, s?.field(k), node.child(pathElement.field(k)), true);
    }
  } else if (Array.isArray(v) && v.length) {
    const elements = listElements(v, s);
    if (elements) {
      const items = s?.items();
      for (const el of elements) markAll(el.value, items, node.child(el.pe), true);
    }
  }
  if (self) node.member = true;
}

/**
 * The live object with an applied configuration merged in: granular maps merge by key, associative
 * lists by element key, sets by value; atomic values and type changes take the applied value;
 * `null` removes. `live` must be a caller-owned copy (it is reused, not copied).
 */
export function mergeApplied(live: unknown, applied: unknown, s: SchemaView | undefined): unknown {
  if (applied === null) return undefined;
  if (isGranularObject(applied, s)) {
    const out: Obj = isGranularObject(live, s) ? live : {};
    for (const [k, v] of Object.entries(applied)) {
      const merged = mergeApplied(getOwn(out, k), v, s?.field(k));
      if (merged === undefined) delete out[k];
      else setOwn(out, k, merged);
    }
    return out;
  }
  if (Array.isArray(applied)) {
    const re = listElements(applied, s);
    if (!re) return deepCopy(applied);
    const le = Array.isArray(live) ? listElements(live, s)! : [];
    return mergeListElements(le, re, s?.items());
  }
  return deepCopy(applied);
}

/**
 * structured-merge-diff's list merge order: live-only elements stay where they are, applied
 * elements follow the applied order, and a live element the config also names moves to the
 * config's position.
 */
function mergeListElements(lhs: Element[], rhs: Element[], items: SchemaView | undefined): unknown[] {
  const lMap = new Map<string, unknown>();
  for (const e of lhs) if (!lMap.has(e.pe)) lMap.set(e.pe, e.value);
  const rSet = new Set(rhs.map((e) => e.pe));
  const shared = rhs.filter((e) => lMap.has(e.pe)).map((e) => e.pe);
  let nextShared = 0;
  const emitted = new Set<string>();
  const out: unknown[] = [];
  const emit = (pe: string, l: unknown, r: unknown) => {
    emitted.add(pe);
    const merged = r === undefined ? l : mergeApplied(l, r, items);
    if (merged !== undefined) out.push(merged);
    if (shared[nextShared] === pe) nextShared++;
  };
  let li = 0;
  let ri = 0;
  while (li < lhs.length || ri < rhs.length) {
    if (li < lhs.length) {
      const pe = lhs[li].pe;
      if (!rSet.has(pe)) {
        emit(pe, lhs[li].value, undefined);
        li++;
        continue;
      }
      if (emitted.has(pe)) {
        li++;
        continue;
      }
      if (ri < rhs.length && rhs[ri].pe === pe) {
        emit(pe, lhs[li].value, rhs[ri].value);
        li++;
        ri++;
        continue;
      }
      // A shared element whose turn has not come: it is emitted at the config's position.
      if (shared[nextShared] !== pe) {
        li++;
        continue;
      }
    }
    if (ri < rhs.length) {
      const pe = rhs[ri].pe;
      if (!emitted.has(pe)) emit(pe, lMap.get(pe), rhs[ri].value);
      ri++;
    } else {
      li++;
    }
  }
  return out;
}

/**
 * Removes from `obj` (in place) what the applier owned before (`last`) and nobody owns now
 * (`keep`); a map or list emptied by the removal goes too. Key fields of surviving
 * associative-list elements are never removed.
 */
export function prune(obj: unknown, last: FieldSet, keep: FieldSet, s: SchemaView | undefined): void {
  pruneChildren(obj, last, keep, s, []);
}

function pruneChildren(value: unknown, last: FieldSet, keep: FieldSet | undefined, s: SchemaView | undefined, protectedKeys: string[]): void {
  const decide = (child: unknown, l: FieldSet, k: FieldSet | undefined, cs: SchemaView | undefined, keys: string[]): boolean => {
    if (k?.member) {
      pruneChildren(child, l, k, cs, keys);
      return true;
    }
    if (l.member && (!k || k.isEmpty())) return false;
    const container = isPlainObject(child) || Array.isArray(child);
    if (!container) return !l.member;
    const wasEmpty = isEmptyContainer(child);
    pruneChildren(child, l, k, cs, keys);
    return !(isEmptyContainer(child) && (!wasEmpty || l.member));
  };

  if (isGranularObject(value, s)) {
    for (const key of Object.keys(value)) {
      if (protectedKeys.includes(key)) continue;
      const pe = pathElement.field(key);
      const l = last.children.get(pe);
      if (!l) continue;
      if (!decide(value[key], l, keep?.children.get(pe), s?.field(key), [])) delete value[key];
    }
  } else if (Array.isArray(value)) {
    const elements = listElements(value, s);
    if (!elements) return;
    const kind = s?.listKind();
    const keys = kind?.type === 'map' ? kind.keys : [];
    const survivors = elements.filter((el) => {
      const l = last.children.get(el.pe);
      return !l || decide(el.value, l, keep?.children.get(el.pe), s?.items(), keys);
    });
    value.splice(0, value.length, ...survivors.map((el) => el.value));
  }
}

function isEmptyContainer(v: unknown): boolean {
  return Array.isArray(v) ? v.length === 0 : isPlainObject(v) && Object.keys(v).length === 0;
}

/** Turns a StructureError into the 400 a client deserves for its applied configuration. */
export function badConfiguration(e: unknown): never {
  if (e instanceof StructureError) throw errors.badRequest(`failed to create typed patch object: ${e.message}`);
  throw e;
}
