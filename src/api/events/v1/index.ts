// events.k8s.io/v1 Event: a newer view of core/v1 Events, stored as core Events. Several fields
// were renamed; the rest are shared. The mapping is one-to-one, so conversions round-trip exactly.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr, checkName, names } from '../../../machinery/validation.js';
import { jsonEqual } from '../../../machinery/object.js';
import type { KindSpec, TableColumn } from '../../types.js';
import { asObj } from '../../common/shape.js';

/** [events.k8s.io/v1 field, core/v1 field]. */
const RENAMED: [string, string][] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['deprecatedCount', 'count'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedSource', 'source'],
  ['reportingController', 'reportingComponent'],
];
const SHARED = ['reason', 'type', 'eventTime', 'series', 'action', 'related', 'reportingInstance'];

function convert(obj: KObject, apiVersion: string, from: 0 | 1): KObject {
  const src = obj as Record<string, unknown>;
  const out: KObject = { apiVersion, kind: 'Event', metadata: structuredClone(obj.metadata ?? {}) };
  for (const k of SHARED) if (src[k] !== undefined) out[k] = structuredClone(src[k]);
  for (const pair of RENAMED) if (src[pair[from]] !== undefined) out[pair[1 - from]] = structuredClone(src[pair[from]]);
  return out;
}

/** events.k8s.io/v1 → core/v1 (storage). */
export const eventToCore = (obj: KObject): KObject => convert(obj, 'v1', 0);
/** core/v1 (storage) → events.k8s.io/v1. */
export const eventFromCore = (obj: KObject): KObject => convert(obj, 'events.k8s.io/v1', 1);

const present = (v: unknown) => v !== undefined && v !== null && v !== '';

function requiredShort(errs: FieldError[], v: unknown, f: string, max = 128): void {
  if (!present(v)) errs.push(fieldErr.required(f));
  else if (typeof v !== 'string') errs.push(fieldErr.invalid(f, v, 'must be a string'));
  else if (v.length > max) errs.push(fieldErr.tooLong(f, max));
}

/** The events.k8s.io API only accepts new-style events: the deprecated fields belong to core writers. */
function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  if (!present(obj.eventTime)) errs.push(fieldErr.required('eventTime'));
  if (obj.type !== 'Normal' && obj.type !== 'Warning') errs.push(fieldErr.invalid('type', '', `has invalid value: ${String(obj.type ?? '')}`));
  for (const k of ['deprecatedFirstTimestamp', 'deprecatedLastTimestamp', 'deprecatedCount'])
    if (present(obj[k]) && obj[k] !== 0) errs.push(fieldErr.invalid(k, '', 'needs to be unset'));
  const src = asObj(obj.deprecatedSource);
  if (src && (present(src.component) || present(src.host))) errs.push(fieldErr.invalid('deprecatedSource', '', 'needs to be unset'));
  if (!present(obj.reportingController)) errs.push(fieldErr.required('reportingController'));
  else if (typeof obj.reportingController !== 'string') errs.push(fieldErr.invalid('reportingController', obj.reportingController, 'must be a string'));
  else checkName(errs, 'reportingController', obj.reportingController, names.qualifiedName);
  requiredShort(errs, obj.reportingInstance, 'reportingInstance');
  requiredShort(errs, obj.action, 'action');
  requiredShort(errs, obj.reason, 'reason');
  if (obj.note !== undefined && obj.note !== null) {
    if (typeof obj.note !== 'string') errs.push(fieldErr.invalid('note', obj.note, 'must be a string'));
    else if (obj.note.length > 1024) errs.push(fieldErr.tooLong('note', 1024));
  }
  const series = asObj(obj.series);
  if (obj.series !== undefined && obj.series !== null) {
    if (!series) errs.push(fieldErr.invalid('series', obj.series, 'must be an object'));
    else {
      if (typeof series.count !== 'number' || series.count < 2) errs.push(fieldErr.invalid('series.count', series.count ?? '', 'should be at least 2'));
      if (!present(series.lastObservedTime)) errs.push(fieldErr.required('series.lastObservedTime'));
    }
  }
  const regNs = asObj(obj.regarding)?.namespace;
  if (present(regNs) && regNs !== obj.metadata?.namespace) errs.push(fieldErr.invalid('regarding.namespace', regNs, 'does not match event.namespace'));
  if (old)
    for (const k of ['regarding', 'related', 'reportingController', 'reportingInstance', 'action', 'reason', 'type', 'note', 'eventTime'])
      if (!jsonEqual(obj[k], old[k])) errs.push(fieldErr.immutable(k, obj[k]));
  return errs;
}

/** The core Event printer applied to events.k8s.io objects (kubectl shows both the same way). */
export function viaCoreEventColumns(coreTable: TableColumn[]): TableColumn[] {
  return coreTable.map((c) => ({ ...c, cell: (obj: KObject, now: number) => c.cell(obj.apiVersion === 'events.k8s.io/v1' ? eventToCore(obj) : obj, now) }));
}

export const eventV1Kind: KindSpec = {
  group: 'events.k8s.io',
  version: 'v1',
  kind: 'Event',
  plural: 'events',
  singular: 'event',
  shortNames: ['ev'],
  namespaced: true,
  storedAs: { group: '', version: 'v1', toStorage: eventToCore, fromStorage: eventFromCore },
  validate,
};

/** Without a table: builtin.ts attaches the core Event columns through viaCoreEventColumns. */
export const eventsV1Kinds: KindSpec[] = [eventV1Kind];
