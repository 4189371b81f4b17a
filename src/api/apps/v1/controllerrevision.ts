// apps/v1 ControllerRevision: an immutable snapshot of a StatefulSet/DaemonSet template.
import type { KObject } from '../../../machinery/object.js';
import { jsonEqual } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { isInt } from './fields.js';

function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  if (!isInt(obj.revision)) errs.push(obj.revision === undefined ? fieldErr.required('revision') : fieldErr.invalid('revision', obj.revision, 'must be an integer'));
  else if (obj.revision < 0) errs.push(fieldErr.invalid('revision', obj.revision, 'must be greater than or equal to 0'));
  if (old && !jsonEqual(obj.data, old.data)) errs.push(fieldErr.immutable('data', obj.data));
  return errs;
}

/** `kind.group/name` of the controlling owner, as printers.go formats it, or `<none>`. */
function controllerCell(obj: KObject): string {
  const ref = asArr(obj.metadata?.ownerReferences)
    .map(asObj)
    .find((r) => r?.controller === true);
  if (!ref) return '<none>';
  const apiVersion = asStr(ref.apiVersion) ?? '';
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  const kind = (asStr(ref.kind) ?? '').toLowerCase();
  return `${group ? `${kind}.${group}` : kind}/${asStr(ref.name) ?? ''}`;
}

export const controllerRevisionKind: KindSpec = {
  group: 'apps',
  version: 'v1',
  kind: 'ControllerRevision',
  plural: 'controllerrevisions',
  singular: 'controllerrevision',
  namespaced: true,
  validate,
  table: [
    nameColumn,
    column('Controller', controllerCell),
    column('Revision', (obj) => (isInt(obj.revision) ? obj.revision : 0), { type: 'integer' }),
    ageColumn,
  ],
};
