// scheduling.k8s.io/v1: PriorityClass. Pods copy the value at admission, so it can never change.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asStr } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { isBoolField, isInt, oneOf } from '../../apps/v1/fields.js';

const HIGHEST_USER_PRIORITY = 1_000_000_000;
/** The classes the system creates itself; only these may use the `system-` prefix. */
export const SYSTEM_PRIORITY_CLASSES: Record<string, number> = {
  'system-node-critical': 2_000_001_000,
  'system-cluster-critical': 2_000_000_000,
};
const INT32_MAX = 2 ** 31 - 1;

function defaults(obj: KObject): void {
  if (obj.preemptionPolicy === undefined || obj.preemptionPolicy === null) obj.preemptionPolicy = 'PreemptLowerPriority';
}

function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const name = asStr(obj.metadata?.name) ?? '';
  if (!isInt(obj.value) || obj.value > INT32_MAX || obj.value < -INT32_MAX - 1)
    errs.push(obj.value === undefined ? fieldErr.required('value') : fieldErr.invalid('value', obj.value, 'must be a 32-bit integer'));
  else if (!old) {
    if (name.startsWith('system-')) {
      if (SYSTEM_PRIORITY_CLASSES[name] !== obj.value)
        errs.push(fieldErr.forbidden('metadata.name', "priority class names with 'system-' prefix are reserved for system use only"));
    } else if (obj.value > HIGHEST_USER_PRIORITY)
      errs.push(fieldErr.forbidden('value', `maximum allowed value of a user defined priority is ${HIGHEST_USER_PRIORITY}`));
  }
  isBoolField(errs, obj.globalDefault, 'globalDefault');
  oneOf(errs, obj.preemptionPolicy, 'preemptionPolicy', ['Never', 'PreemptLowerPriority']);
  if (old) {
    if (obj.value !== old.value) errs.push(fieldErr.forbidden('value', 'may not be changed in an update.'));
    if (obj.preemptionPolicy !== old.preemptionPolicy) errs.push(fieldErr.immutable('preemptionPolicy', obj.preemptionPolicy));
  }
  return errs;
}

export const schedulingV1Kinds: KindSpec[] = [
  {
    group: 'scheduling.k8s.io',
    version: 'v1',
    kind: 'PriorityClass',
    plural: 'priorityclasses',
    singular: 'priorityclass',
    shortNames: ['pc'],
    namespaced: false,
    defaults,
    validate,
    table: [
      nameColumn,
      column('Value', (obj) => (isInt(obj.value) ? obj.value : 0), { type: 'integer' }),
      column('Global-Default', (obj) => obj.globalDefault === true, { type: 'boolean' }),
      ageColumn,
      column('PreemptionPolicy', (obj) => asStr(obj.preemptionPolicy) ?? '<unset>'),
    ],
  },
];
