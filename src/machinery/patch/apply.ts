// Server-side apply (`application/apply-patch+yaml`, `kubectl apply --server-side`).
//
// The applied configuration is merged into the live object; fields the applier specified last
// time but not now are removed unless another manager still owns them; changing a field another
// manager owns is a 409 Conflict naming each field (`details.causes[].reason:
// FieldManagerConflict`), unless `force` moves ownership to the applier. The applier's Apply
// entry then owns exactly the fields of this configuration. Messages follow upstream
// (apiserver managedfields internal/conflict.go).
import { StatusError, errors } from '../errors.js';
import { deepCopy, isPlainObject, type KObject } from '../object.js';
import { fieldErr } from '../validation.js';
import type { SchemaNode, SchemaResolver } from '../schema.js';
import { FieldSet, pathString } from './fieldpath.js';
import { assertDepth } from './guard.js';
import { decodeManagedFields, managerIdentity, withoutManagedFields, withoutUntracked, writeManagedFields, type Manager } from './managed-fields.js';
import { SchemaView } from './schema-view.js';
import { badConfiguration, compare, mergeApplied, prune, toFieldSet } from './structured.js';
import { rfc3339 } from '../time.js';

export interface ApplyOptions {
  manager: string;
  force: boolean;
  schema?: SchemaNode;
  resolve?: SchemaResolver;
  /** RFC 3339 timestamp for the Apply entry. */
  now: string;
  /** The group/version of the request; the configuration must be in it. */
  apiVersion: string;
  /** The main resource of a kind with a status subresource: `status` is not tracked. */
  ignoreStatus?: boolean;
  subresource?: string;
}

/** Upstream's name for the owner of everything an object held before its first apply. */
export const BEFORE_FIRST_APPLY = 'before-first-apply';

export function serverSideApply(live: KObject | undefined, applied: KObject, opts: ApplyOptions): KObject {
  validateConfiguration(live, applied, opts);
  const ignoreStatus = !!opts.ignoreStatus;
  const view = SchemaView.of(opts.schema, opts.resolve);
  const liveView: KObject = live ? withoutManagedFields(live) : { metadata: {} };

  const managers = live ? decodeManagedFields(live.metadata?.managedFields) : [];
  if (live && managers.length === 0) {
    // Objects that never had managedFields: what they hold belongs to a stand-in manager, so an
    // apply that changes it conflicts instead of silently taking it over.
    const held = withoutUntracked(compare({ metadata: {} }, liveView, view).added, ignoreStatus);
    managers.push({ manager: BEFORE_FIRST_APPLY, operation: 'Update', apiVersion: opts.apiVersion, time: opts.now, fields: held });
  }

  let configSet: FieldSet;
  let merged: KObject;
  try {
    configSet = withoutUntracked(toFieldSet(applied, view), ignoreStatus);
    merged = mergeApplied(deepCopy(liveView), applied, view) as KObject;
  } catch (e) {
    badConfiguration(e);
  }
  if (!isPlainObject(merged.metadata)) merged.metadata = {};

  const self: Manager = { manager: opts.manager, operation: 'Apply', apiVersion: opts.apiVersion, subresource: opts.subresource, fields: configSet };
  const id = managerIdentity(self);
  const previous = managers.find((m) => managerIdentity(m) === id);
  const others = managers.filter((m) => m !== previous);

  if (previous) {
    const keep = others.reduce((acc, m) => acc.union(m.fields), configSet);
    prune(merged, previous.fields, keep, view);
  }

  const cmp = compare(liveView, merged, view);
  const changed = withoutUntracked(cmp.added.union(cmp.modified), ignoreStatus);
  const conflicts = others.map((m) => ({ m, fields: m.fields.intersection(changed) })).filter((c) => !c.fields.isEmpty());
  if (conflicts.length && !opts.force) throw conflictError(conflicts);
  for (const c of conflicts) c.m.fields = c.m.fields.difference(c.fields);

  const removed = withoutUntracked(cmp.removed, ignoreStatus);
  self.fields = self.fields.difference(removed);
  self.time = opts.now;
  const result = [...others, self];
  for (const m of others) m.fields = m.fields.difference(removed);
  writeManagedFields(merged, result, true);
  return merged;
}

function validateConfiguration(live: KObject | undefined, applied: KObject, opts: ApplyOptions): void {
  if (!opts.manager)
    throw errors.invalid({ group: 'meta.k8s.io', kind: 'PatchOptions' }, '', [fieldErr.required('fieldManager', 'is required for apply patch')]);
  if (!isPlainObject(applied)) throw errors.badRequest('error decoding YAML: the apply configuration must be an object');
  assertDepth(applied, 'the apply configuration');
  if (applied.apiVersion !== opts.apiVersion)
    throw errors.badRequest(
      `Incorrect version specified in apply patch. Specified patch version: ${typeof applied.apiVersion === 'string' ? applied.apiVersion : ''}, expected: ${opts.apiVersion}`,
    );
  if (typeof applied.kind !== 'string' || !applied.kind) throw errors.badRequest(`Object 'Kind' is missing in '${JSON.stringify(applied)}'`);
  if (live?.kind && applied.kind !== live.kind)
    throw errors.badRequest(`Incorrect kind specified in apply patch. Specified patch kind: ${applied.kind}, expected: ${live.kind}`);
  if (applied.metadata !== undefined && !isPlainObject(applied.metadata)) throw errors.badRequest('metadata must be an object');
  if (isPlainObject(applied.metadata) && applied.metadata.managedFields !== undefined) throw errors.badRequest('metadata.managedFields must be nil');
}

/** `"name"`, plus subresource, plus `using <version> at <time>` for Update managers (printManager). */
function describeManager(m: Manager): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === 'Update') {
    const ms = m.time ? Date.parse(m.time) : NaN;
    s += Number.isNaN(ms) ? ` using ${m.apiVersion}` : ` using ${m.apiVersion} at ${rfc3339(ms)}`;
  }
  return s;
}

function conflictError(conflicts: { m: Manager; fields: FieldSet }[]): StatusError {
  const sorted = [...conflicts].sort((a, b) => (managerIdentity(a.m) < managerIdentity(b.m) ? -1 : 1));
  const list = sorted.flatMap((c) => c.fields.paths().map((p) => ({ who: describeManager(c.m), field: pathString(p) })));
  const causes = list.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${c.who}`, field: c.field }));
  let message: string;
  if (list.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${list[0].who}: ${list[0].field}`;
  } else {
    const lines: string[] = [];
    for (const c of sorted) {
      lines.push(`conflicts with ${describeManager(c.m)}:`);
      for (const p of c.fields.paths()) lines.push(`- ${pathString(p)}`);
    }
    message = `Apply failed with ${list.length} conflicts: ${lines.join('\n')}`;
  }
  return new StatusError(409, 'Conflict', message, { causes });
}
