// coordination.k8s.io/v1: Lease, the heartbeat/leader-election record (node leases live in kube-node-lease).
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asStr, dig } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { nonNegative, optionalObject, positive } from '../../apps/v1/fields.js';

function validate(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec');
  if (!spec) return errs;
  positive(errs, spec.leaseDurationSeconds, 'spec.leaseDurationSeconds');
  nonNegative(errs, spec.leaseTransitions, 'spec.leaseTransitions');
  for (const k of ['holderIdentity', 'strategy', 'preferredHolder', 'acquireTime', 'renewTime'])
    if (spec[k] !== undefined && spec[k] !== null && typeof spec[k] !== 'string')
      errs.push(fieldErr.invalid(`spec.${k}`, spec[k], 'must be a string'));
  return errs;
}

export const coordinationV1Kinds: KindSpec[] = [
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    plural: 'leases',
    singular: 'lease',
    namespaced: true,
    validate,
    table: [nameColumn, column('Holder', (obj) => asStr(dig(obj, 'spec', 'holderIdentity')) ?? ''), ageColumn],
  },
];
