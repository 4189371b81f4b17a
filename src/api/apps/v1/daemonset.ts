// apps/v1 DaemonSet: one pod per eligible node.
import { jsonEqual, type KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asObj, dig } from '../../common/shape.js';
import { ageColumn, column, mapSelectorCell, nameColumn } from '../../common/table.js';
import { defaultPodTemplateSpec } from '../../core/v1/podspec.js';
import { nonNegative, optionalObject } from './fields.js';
import { validateRollingUpdate } from './deployment.js';
import { intAt, setDefaultNumber, validateCounters, validateSelectorAndTemplate, wideContainersColumns, wideSelectorColumn } from './workload.js';

function defaults(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  if (spec.updateStrategy === undefined || spec.updateStrategy === null) spec.updateStrategy = {};
  const us = asObj(spec.updateStrategy);
  if (us) {
    if (us.type === undefined || us.type === null || us.type === '') us.type = 'RollingUpdate';
    if (us.type === 'RollingUpdate') {
      if (us.rollingUpdate === undefined || us.rollingUpdate === null) us.rollingUpdate = {};
      const ru = asObj(us.rollingUpdate);
      if (ru) {
        if (ru.maxUnavailable === undefined || ru.maxUnavailable === null) ru.maxUnavailable = 1;
        if (ru.maxSurge === undefined || ru.maxSurge === null) ru.maxSurge = 0;
      }
    }
  }
  setDefaultNumber(spec, 'revisionHistoryLimit', 10);
  defaultPodTemplateSpec(spec.template);
}

function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec');
  if (!spec) return obj.spec === undefined ? [fieldErr.required('spec.selector'), fieldErr.required('spec.template')] : errs;
  errs.push(...validateSelectorAndTemplate(spec, 'daemonset'));
  nonNegative(errs, spec.minReadySeconds, 'spec.minReadySeconds');
  nonNegative(errs, spec.revisionHistoryLimit, 'spec.revisionHistoryLimit');
  const us = optionalObject(errs, spec.updateStrategy, 'spec.updateStrategy');
  if (us) {
    if (us.type === 'RollingUpdate') {
      const ru = optionalObject(errs, us.rollingUpdate, 'spec.updateStrategy.rollingUpdate');
      if (!ru) errs.push(fieldErr.required('spec.updateStrategy.rollingUpdate'));
      else validateRollingUpdate(errs, ru, 'spec.updateStrategy.rollingUpdate');
    } else if (us.type !== 'OnDelete') errs.push(fieldErr.notSupported('spec.updateStrategy.type', us.type, ['OnDelete', 'RollingUpdate']));
  }
  if (old && !jsonEqual(spec.selector, asObj(old.spec)?.selector)) errs.push(fieldErr.immutable('spec.selector', spec.selector));
  return errs;
}

export const daemonSetKind: KindSpec = {
  group: 'apps',
  version: 'v1',
  kind: 'DaemonSet',
  generation: true,
  plural: 'daemonsets',
  singular: 'daemonset',
  shortNames: ['ds'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  defaults,
  validate,
  validateStatus: (obj) =>
    validateCounters(obj, [
      'currentNumberScheduled',
      'numberMisscheduled',
      'desiredNumberScheduled',
      'numberReady',
      'updatedNumberScheduled',
      'numberAvailable',
      'numberUnavailable',
      'observedGeneration',
      'collisionCount',
    ]),
  table: [
    nameColumn,
    column('Desired', (obj) => intAt(obj, 'status', 'desiredNumberScheduled'), { type: 'integer' }),
    column('Current', (obj) => intAt(obj, 'status', 'currentNumberScheduled'), { type: 'integer' }),
    column('Ready', (obj) => intAt(obj, 'status', 'numberReady'), { type: 'integer' }),
    column('Up-to-date', (obj) => intAt(obj, 'status', 'updatedNumberScheduled'), { type: 'integer' }),
    column('Available', (obj) => intAt(obj, 'status', 'numberAvailable'), { type: 'integer' }),
    column('Node Selector', (obj) => mapSelectorCell(dig(obj, 'spec', 'template', 'spec', 'nodeSelector'))),
    ageColumn,
    ...wideContainersColumns,
    wideSelectorColumn,
  ],
};
