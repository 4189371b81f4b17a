// core/v1 Event: what `kubectl get events` and `kubectl describe` read. Tables follow upstream's
// printEvent, which (server-side tables being wide) puts NAME last with the `name` format.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asNum, asObj, asStr, dig } from '../../common/shape.js';
import { column, sinceCell } from '../../common/table.js';

const str = (o: KObject, ...path: string[]) => asStr(dig(o, ...path)) ?? '';

function firstSeen(ev: KObject, now: number): string {
  return str(ev, 'firstTimestamp') ? sinceCell(ev.firstTimestamp, now) : sinceCell(ev.eventTime, now);
}

function lastSeen(ev: KObject, now: number): string {
  if (asObj(ev.series)) return sinceCell(dig(ev, 'series', 'lastObservedTime'), now);
  return str(ev, 'lastTimestamp') ? sinceCell(ev.lastTimestamp, now) : firstSeen(ev, now);
}

function count(ev: KObject): number {
  if (asObj(ev.series)) return asNum(dig(ev, 'series', 'count')) ?? 0;
  // Singleton events from the events.k8s.io API carry no count.
  return asNum(ev.count) || 1;
}

/** `kind/name` of the involved object, kind lower-cased. */
export function eventObjectCell(ev: KObject): string {
  const kind = str(ev, 'involvedObject', 'kind').toLowerCase();
  const name = str(ev, 'involvedObject', 'name');
  return name ? `${kind}/${name}` : kind;
}

function sourceCell(ev: KObject): string {
  const component = str(ev, 'source', 'component') || str(ev, 'reportingComponent');
  const instance = str(ev, 'source', 'host') || str(ev, 'reportingInstance');
  return instance ? `${component}, ${instance}` : component;
}

function validateEvent(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const involved = obj.involvedObject;
  if (involved !== undefined && involved !== null && !asObj(involved))
    return [fieldErr.invalid('involvedObject', involved, 'must be a map')];
  const ns = asStr(dig(obj, 'involvedObject', 'namespace'));
  const own = obj.metadata?.namespace;
  // An event lives in the namespace of the object it is about (cluster objects: default).
  if (ns && typeof own === 'string' && own && ns !== own) errs.push(fieldErr.invalid('involvedObject.namespace', ns, 'does not match event.namespace'));
  if (obj.count !== undefined && obj.count !== null && (typeof obj.count !== 'number' || !Number.isInteger(obj.count)))
    errs.push(fieldErr.invalid('count', obj.count, 'must be an integer'));
  // New-style events (eventTime set) are held to the stricter events.k8s.io rules.
  if (obj.eventTime !== undefined && obj.eventTime !== null) {
    if (obj.type !== 'Normal' && obj.type !== 'Warning') errs.push(fieldErr.invalid('type', '', `has invalid value: ${String(obj.type ?? '')}`));
    if (!str(obj, 'reportingComponent')) errs.push(fieldErr.required('reportingComponent'));
    if (!str(obj, 'action')) errs.push(fieldErr.required('action'));
    if (!str(obj, 'reason')) errs.push(fieldErr.required('reason'));
  }
  for (const k of ['reason', 'message', 'type', 'action', 'reportingComponent', 'reportingInstance']) {
    const v = obj[k];
    if (v !== undefined && v !== null && typeof v !== 'string') errs.push(fieldErr.invalid(k, v, 'must be a string'));
  }
  return errs;
}

export const eventKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'Event',
  plural: 'events',
  singular: 'event',
  shortNames: ['ev'],
  namespaced: true,
  validate: validateEvent,
  table: [
    column('Last Seen', lastSeen, { description: 'The time at which the most recent occurrence of this event was recorded.' }),
    column('Type', (o) => str(o, 'type'), { description: 'Type of this event (Normal, Warning), new types could be added in the future' }),
    column('Reason', (o) => str(o, 'reason'), { description: "This should be a short, machine understandable string that gives the reason for the transition into the object's current status." }),
    column('Object', eventObjectCell, { description: 'The object that this event is about. Mapped from `involvedObject`' }),
    column('Subobject', (o) => str(o, 'involvedObject', 'fieldPath'), { wide: true, description: 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.' }),
    column('Source', sourceCell, { wide: true, description: 'The component reporting this event. Should be a short machine understandable string.' }),
    column('Message', (o) => str(o, 'message').trim(), { description: 'A human-readable description of the status of this operation.' }),
    column('First Seen', firstSeen, { wide: true, description: 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)' }),
    column('Count', count, { wide: true, type: 'integer', description: 'The number of times this event has occurred.' }),
    column('Name', (o) => str(o, 'metadata', 'name'), { wide: true, format: 'name', description: 'Name must be unique within a namespace.' }),
  ],
  fieldSelectors: {
    'involvedObject.kind': (o) => str(o, 'involvedObject', 'kind'),
    'involvedObject.namespace': (o) => str(o, 'involvedObject', 'namespace'),
    'involvedObject.name': (o) => str(o, 'involvedObject', 'name'),
    'involvedObject.uid': (o) => str(o, 'involvedObject', 'uid'),
    'involvedObject.apiVersion': (o) => str(o, 'involvedObject', 'apiVersion'),
    'involvedObject.resourceVersion': (o) => str(o, 'involvedObject', 'resourceVersion'),
    'involvedObject.fieldPath': (o) => str(o, 'involvedObject', 'fieldPath'),
    reason: (o) => str(o, 'reason'),
    reportingComponent: (o) => str(o, 'reportingComponent'),
    source: (o) => str(o, 'source', 'component'),
    type: (o) => str(o, 'type'),
  },
};
