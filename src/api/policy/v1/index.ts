// policy/v1: PodDisruptionBudget. (Eviction is the body of pods/eviction, not a stored kind.)
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asObj, dig } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import {
  isInt,
  nonNegative,
  notMoreThan100Percent,
  oneOf,
  optionalObject,
  validateIntOrPercent,
  validateLabelSelector,
} from '../../apps/v1/fields.js';

const present = (v: unknown) => v !== undefined && v !== null;

function validate(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec') ?? {};
  // Both would describe the same budget twice, possibly contradictorily.
  if (present(spec.minAvailable) && present(spec.maxUnavailable))
    errs.push(fieldErr.invalid('spec', spec, 'minAvailable and maxUnavailable cannot be both set'));
  for (const k of ['minAvailable', 'maxUnavailable']) {
    validateIntOrPercent(errs, spec[k], `spec.${k}`);
    notMoreThan100Percent(errs, spec[k], `spec.${k}`);
  }
  errs.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  oneOf(errs, spec.unhealthyPodEvictionPolicy, 'spec.unhealthyPodEvictionPolicy', ['IfHealthyBudget', 'AlwaysAllow']);
  return errs;
}

function validateStatus(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const status = optionalObject(errs, obj.status, 'status') ?? {};
  for (const k of ['disruptionsAllowed', 'currentHealthy', 'desiredHealthy', 'expectedPods', 'observedGeneration'])
    nonNegative(errs, status[k], `status.${k}`);
  return errs;
}

const intOrStringCell = (v: unknown) => (isInt(v) ? String(v) : typeof v === 'string' ? v : 'N/A');

export const policyV1Kinds: KindSpec[] = [
  {
    group: 'policy',
    version: 'v1',
    kind: 'PodDisruptionBudget',
  generation: true,
    plural: 'poddisruptionbudgets',
    singular: 'poddisruptionbudget',
    shortNames: ['pdb'],
    namespaced: true,
    subresources: { status: true },
    validate,
    validateStatus,
    table: [
      nameColumn,
      column('Min Available', (obj) => intOrStringCell(dig(obj, 'spec', 'minAvailable'))),
      column('Max Unavailable', (obj) => intOrStringCell(dig(obj, 'spec', 'maxUnavailable'))),
      column('Allowed Disruptions', (obj) => {
        const n = asObj(obj.status)?.disruptionsAllowed;
        return isInt(n) ? n : 0;
      }, { type: 'integer' }),
      ageColumn,
    ],
  },
];
