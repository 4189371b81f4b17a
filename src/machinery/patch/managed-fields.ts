// metadata.managedFields: who owns which fields, kept up to date on every write.
//
// Entries are grouped by manager identity as upstream builds it (BuildManagerIdentifier):
// (manager, operation, apiVersion, subresource) for Update entries, and without apiVersion for
// Apply entries, so an applier keeps one entry across versions. An ordinary write (create,
// update, non-apply patch) gives its manager every field it added or changed and takes those
// fields from everyone else; fields the write removed leave every set; empty entries disappear.
import { isPlainObject, type KObject, type ManagedFieldsEntry } from '../object.js';
import type { SchemaNode, SchemaResolver } from '../schema.js';
import { FieldSet } from './fieldpath.js';
import { SchemaView } from './schema-view.js';
import { StructureError, compare } from './structured.js';

export interface Manager {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  time?: string;
  fields: FieldSet;
}

export interface UpdateManagedFieldsOptions {
  manager: string;
  operation: 'Update';
  subresource?: string;
  /** RFC 3339 timestamp recorded on the manager's entry when it takes fields. */
  now: string;
  /** The group/version the request was made in (e.g. `apps/v1`). */
  apiVersion: string;
  schema?: SchemaNode;
  resolve?: SchemaResolver;
  /** The main resource of a kind with a status subresource: `status` is not tracked. */
  ignoreStatus?: boolean;
}

export function managerIdentity(m: Pick<Manager, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  const id: Record<string, string> = { manager: m.manager, operation: m.operation };
  if (m.operation !== 'Apply') id.apiVersion = m.apiVersion;
  if (m.subresource) id.subresource = m.subresource;
  return JSON.stringify(id);
}

/** Entries that cannot be decoded are dropped; entries sharing an identity are merged. */
export function decodeManagedFields(entries: unknown): Manager[] {
  if (!Array.isArray(entries)) return [];
  const byId = new Map<string, Manager>();
  for (const e of entries) {
    if (!isPlainObject(e)) continue;
    const { manager, operation, apiVersion, subresource, time, fieldsV1, fieldsType } = e;
    if (typeof manager !== 'string' || (operation !== 'Apply' && operation !== 'Update')) continue;
    if (fieldsType !== undefined && fieldsType !== 'FieldsV1') continue;
    let fields: FieldSet;
    try {
      fields = FieldSet.fromFieldsV1(fieldsV1 ?? {});
    } catch {
      continue;
    }
    const m: Manager = {
      manager,
      operation,
      apiVersion: typeof apiVersion === 'string' ? apiVersion : '',
      subresource: typeof subresource === 'string' && subresource ? subresource : undefined,
      time: typeof time === 'string' ? time : undefined,
      fields,
    };
    const id = managerIdentity(m);
    const prev = byId.get(id);
    if (prev) prev.fields = prev.fields.union(fields);
    else byId.set(id, m);
  }
  return [...byId.values()];
}

/** Upstream's order: Apply before Update, then by time, manager, apiVersion, subresource. */
export function encodeManagedFields(managers: Manager[]): ManagedFieldsEntry[] {
  const seconds = (t?: string) => {
    const ms = t ? Date.parse(t) : NaN;
    return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
  };
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return managers
    .filter((m) => !m.fields.isEmpty())
    .sort(
      (p, q) =>
        cmp(p.operation, q.operation) ||
        seconds(p.time) - seconds(q.time) ||
        cmp(p.manager, q.manager) ||
        cmp(p.apiVersion, q.apiVersion) ||
        cmp(p.subresource ?? '', q.subresource ?? ''),
    )
    .map((m) => {
      const entry: ManagedFieldsEntry = { manager: m.manager, operation: m.operation, apiVersion: m.apiVersion };
      if (m.time) entry.time = m.time;
      entry.fieldsType = 'FieldsV1';
      entry.fieldsV1 = m.fields.toFieldsV1();
      if (m.subresource) entry.subresource = m.subresource;
      return entry;
    });
}

const UNTRACKED_METADATA = ['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'clusterName'];

/**
 * Drops what is never owned: identity and system metadata, and `status` when it is reset.
 * `set` is a temporary of the caller's and is changed in place (returned for chaining).
 */
export function withoutUntracked(set: FieldSet, ignoreStatus: boolean): FieldSet {
  set.removeMember(['f:metadata']).removeSubtree(['f:apiVersion']).removeSubtree(['f:kind']);
  const metadata = set.at(['f:metadata']);
  if (metadata) for (const f of UNTRACKED_METADATA) metadata.children.delete(`f:${f}`);
  if (ignoreStatus) set.removeSubtree(['f:status']);
  return set.pruned();
}

/** A shallow view of an object without metadata.managedFields, for comparisons. */
export function withoutManagedFields(obj: KObject): KObject {
  if (!isPlainObject(obj.metadata) || !('managedFields' in obj.metadata)) return obj;
  // Copied key by key (no spread, no delete): both leave V8 a slow object to walk.
  const metadata: Record<string, unknown> = {};
  for (const k of Object.keys(obj.metadata)) if (k !== 'managedFields') metadata[k] = (obj.metadata as Record<string, unknown>)[k];
  const out: KObject = Object.assign({}, obj);
  out.metadata = metadata;
  return out;
}

// managedFields lists produced by server-side apply for the object being written. The write
// path runs updateManagedFields on every update; for an apply its ownership is already settled.
const settledByApply = new WeakSet<object>();

export function writeManagedFields(obj: KObject, managers: Manager[], settled: boolean): void {
  const encoded = encodeManagedFields(managers);
  if (settled) settledByApply.add(encoded);
  if (encoded.length || settled) obj.metadata.managedFields = encoded;
  else delete obj.metadata.managedFields;
}

/**
 * Records an ordinary write in `updated.metadata.managedFields` (mutated). `old` is the stored
 * object (undefined on create); managedFields sent by the client in `updated` are ignored. When
 * the object cannot be walked (malformed list keys), managedFields are dropped, as upstream does.
 * An object whose managedFields were just computed by serverSideApply is left as it is.
 */
export function updateManagedFields(old: KObject | undefined, updated: KObject, opts: UpdateManagedFieldsOptions): void {
  if (!isPlainObject(updated.metadata)) return;
  const current = updated.metadata.managedFields;
  if (Array.isArray(current) && settledByApply.has(current)) {
    if (current.length === 0) delete updated.metadata.managedFields;
    return;
  }
  const ignoreStatus = !!opts.ignoreStatus;
  const managers = old ? decodeManagedFields(old.metadata?.managedFields) : [];
  let changed: FieldSet;
  let removed: FieldSet;
  try {
    const cmp = compare(withoutManagedFields(old ?? ({ metadata: {} } as KObject)), withoutManagedFields(updated), SchemaView.of(opts.schema, opts.resolve));
    changed = withoutUntracked(cmp.added.union(cmp.modified), ignoreStatus);
    removed = withoutUntracked(cmp.removed, ignoreStatus);
  } catch (e) {
    if (!(e instanceof StructureError)) throw e;
    delete updated.metadata.managedFields;
    return;
  }

  const self: Manager = { manager: opts.manager, operation: 'Update', apiVersion: opts.apiVersion, subresource: opts.subresource, fields: new FieldSet() };
  const id = managerIdentity(self);
  const existing = managers.length ? managers.find((m) => managerIdentity(m) === id) : undefined;
  for (const m of managers) {
    if (m !== existing) m.fields = m.fields.difference(changed);
    m.fields = m.fields.difference(removed);
  }
  if (!changed.isEmpty()) {
    const mine = existing ?? self;
    if (!existing) managers.push(self);
    mine.fields = existing ? mine.fields.union(changed) : changed;
    mine.time = opts.now;
  }
  writeManagedFields(updated, managers, false);
}
