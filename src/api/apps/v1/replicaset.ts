// apps/v1 ReplicaSet: keeps N copies of a pod template running.
import { jsonEqual, type KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asObj } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { defaultPodTemplateSpec } from '../../core/v1/podspec.js';
import { nonNegative, optionalObject } from './fields.js';
import { intAt, setDefaultNumber, validateCounters, validateSelectorAndTemplate, wideContainersColumns, wideSelectorColumn } from './workload.js';

function defaults(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  setDefaultNumber(spec, 'replicas', 1);
  defaultPodTemplateSpec(spec.template);
}

function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec');
  if (!spec) return obj.spec === undefined ? [fieldErr.required('spec.selector'), fieldErr.required('spec.template')] : errs;
  nonNegative(errs, spec.replicas, 'spec.replicas');
  nonNegative(errs, spec.minReadySeconds, 'spec.minReadySeconds');
  // Upstream reuses the Deployment wording for ReplicaSets.
  errs.push(...validateSelectorAndTemplate(spec, 'deployment'));
  if (old && !jsonEqual(spec.selector, asObj(old.spec)?.selector)) errs.push(fieldErr.immutable('spec.selector', spec.selector));
  return errs;
}

export const replicaSetKind: KindSpec = {
  group: 'apps',
  version: 'v1',
  kind: 'ReplicaSet',
  generation: true,
  plural: 'replicasets',
  singular: 'replicaset',
  shortNames: ['rs'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true, scale: { specReplicasPath: 'spec.replicas', statusReplicasPath: 'status.replicas', labelSelectorPath: 'spec.selector' } },
  defaults,
  validate,
  validateStatus: (obj) =>
    validateCounters(obj, ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration', 'terminatingReplicas']),
  table: [
    nameColumn,
    column('Desired', (obj) => intAt(obj, 'spec', 'replicas'), { type: 'integer' }),
    column('Current', (obj) => intAt(obj, 'status', 'replicas'), { type: 'integer' }),
    column('Ready', (obj) => intAt(obj, 'status', 'readyReplicas'), { type: 'integer' }),
    ageColumn,
    ...wideContainersColumns,
    wideSelectorColumn,
  ],
};
