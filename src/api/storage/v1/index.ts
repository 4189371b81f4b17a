// storage.k8s.io/v1: StorageClass. Provisioner and parameters define what volumes a class makes,
// so upstream freezes them once set.
import { jsonEqual, type KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr, checkName, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asObj, asStr } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { isBoolField, oneOf, optionalObject, requiredString } from '../../apps/v1/fields.js';

const DEFAULT_ANNOTATIONS = ['storageclass.kubernetes.io/is-default-class', 'storageclass.beta.kubernetes.io/is-default-class'];

/** Whether a StorageClass is annotated as the cluster default (either annotation spelling). */
export function isDefaultStorageClass(obj: KObject): boolean {
  const a = asObj(obj.metadata?.annotations);
  return !!a && DEFAULT_ANNOTATIONS.some((k) => a[k] === 'true');
}

function defaults(obj: KObject): void {
  if (obj.reclaimPolicy === undefined || obj.reclaimPolicy === null) obj.reclaimPolicy = 'Delete';
  if (obj.volumeBindingMode === undefined || obj.volumeBindingMode === null) obj.volumeBindingMode = 'Immediate';
}

function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  if (requiredString(errs, obj.provisioner, 'provisioner')) checkName(errs, 'provisioner', obj.provisioner as string, names.qualifiedName);
  const params = optionalObject(errs, obj.parameters, 'parameters');
  for (const [k, v] of Object.entries(params ?? {}))
    if (typeof v !== 'string') errs.push(fieldErr.invalid(`parameters[${k}]`, v, 'must be a string'));
  oneOf(errs, obj.reclaimPolicy, 'reclaimPolicy', ['Delete', 'Retain']);
  oneOf(errs, obj.volumeBindingMode, 'volumeBindingMode', ['Immediate', 'WaitForFirstConsumer']);
  isBoolField(errs, obj.allowVolumeExpansion, 'allowVolumeExpansion');
  if (old) {
    if (!jsonEqual(obj.parameters ?? {}, old.parameters ?? {})) errs.push(fieldErr.forbidden('parameters', 'updates to parameters are forbidden.'));
    if (obj.provisioner !== old.provisioner) errs.push(fieldErr.forbidden('provisioner', 'updates to provisioner are forbidden.'));
    if (obj.reclaimPolicy !== old.reclaimPolicy) errs.push(fieldErr.forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
    if (obj.volumeBindingMode !== old.volumeBindingMode) errs.push(fieldErr.immutable('volumeBindingMode', obj.volumeBindingMode));
  }
  return errs;
}

export const storageV1Kinds: KindSpec[] = [
  {
    group: 'storage.k8s.io',
    version: 'v1',
    kind: 'StorageClass',
    plural: 'storageclasses',
    singular: 'storageclass',
    shortNames: ['sc'],
    namespaced: false,
    defaults,
    validate,
    table: [
      // Upstream appends " (default)" to the name cell of the default class.
      { ...nameColumn, cell: (obj, now) => `${nameColumn.cell(obj, now)}${isDefaultStorageClass(obj) ? ' (default)' : ''}` },
      column('Provisioner', (obj) => asStr(obj.provisioner) ?? ''),
      column('ReclaimPolicy', (obj) => asStr(obj.reclaimPolicy) ?? 'Delete'),
      column('VolumeBindingMode', (obj) => asStr(obj.volumeBindingMode) ?? 'Immediate'),
      column('AllowVolumeExpansion', (obj) => obj.allowVolumeExpansion === true),
      ageColumn,
    ],
  },
];
