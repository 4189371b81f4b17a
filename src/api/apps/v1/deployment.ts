// apps/v1 Deployment: declarative rollouts of ReplicaSets.
import { jsonEqual, type KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asObj } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { defaultPodTemplateSpec } from '../../core/v1/podspec.js';
import {
  isBoolField,
  isInt,
  isZeroIntOrPercent,
  nonNegative,
  notMoreThan100Percent,
  optionalObject,
  validateIntOrPercent,
} from './fields.js';
import { intAt, setDefaultNumber, validateCounters, validateSelectorAndTemplate, wideContainersColumns, wideSelectorColumn } from './workload.js';

function defaults(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  setDefaultNumber(spec, 'replicas', 1);
  if (spec.strategy === undefined || spec.strategy === null) spec.strategy = {};
  const strategy = asObj(spec.strategy);
  if (strategy) {
    if (strategy.type === undefined || strategy.type === null || strategy.type === '') strategy.type = 'RollingUpdate';
    if (strategy.type === 'RollingUpdate') {
      if (strategy.rollingUpdate === undefined || strategy.rollingUpdate === null) strategy.rollingUpdate = {};
      const ru = asObj(strategy.rollingUpdate);
      if (ru) {
        if (ru.maxUnavailable === undefined || ru.maxUnavailable === null) ru.maxUnavailable = '25%';
        if (ru.maxSurge === undefined || ru.maxSurge === null) ru.maxSurge = '25%';
      }
    }
  }
  setDefaultNumber(spec, 'revisionHistoryLimit', 10);
  setDefaultNumber(spec, 'progressDeadlineSeconds', 600);
  defaultPodTemplateSpec(spec.template);
}

/** maxUnavailable/maxSurge pair shared by Deployment and DaemonSet rolling updates. */
export function validateRollingUpdate(errs: FieldError[], ru: Record<string, unknown>, field: string): void {
  validateIntOrPercent(errs, ru.maxUnavailable, `${field}.maxUnavailable`);
  validateIntOrPercent(errs, ru.maxSurge, `${field}.maxSurge`);
  notMoreThan100Percent(errs, ru.maxUnavailable, `${field}.maxUnavailable`);
  // With neither surge nor unavailability allowed a rollout could never make progress.
  if (isZeroIntOrPercent(ru.maxUnavailable) && isZeroIntOrPercent(ru.maxSurge ?? 0))
    errs.push(fieldErr.invalid(`${field}.maxUnavailable`, ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
}

function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec');
  if (!spec) return obj.spec === undefined ? [fieldErr.required('spec.selector'), fieldErr.required('spec.template')] : errs;
  nonNegative(errs, spec.replicas, 'spec.replicas');
  errs.push(...validateSelectorAndTemplate(spec, 'deployment'));
  const strategy = optionalObject(errs, spec.strategy, 'spec.strategy');
  if (strategy) {
    const ru = optionalObject(errs, strategy.rollingUpdate, 'spec.strategy.rollingUpdate');
    if (strategy.type === 'Recreate') {
      if (ru) errs.push(fieldErr.forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
    } else if (strategy.type === 'RollingUpdate') {
      if (ru) validateRollingUpdate(errs, ru, 'spec.strategy.rollingUpdate');
    } else errs.push(fieldErr.notSupported('spec.strategy.type', strategy.type, ['Recreate', 'RollingUpdate']));
  }
  nonNegative(errs, spec.minReadySeconds, 'spec.minReadySeconds');
  nonNegative(errs, spec.revisionHistoryLimit, 'spec.revisionHistoryLimit');
  nonNegative(errs, spec.progressDeadlineSeconds, 'spec.progressDeadlineSeconds');
  if (isInt(spec.progressDeadlineSeconds) && isInt(spec.minReadySeconds) && spec.progressDeadlineSeconds <= spec.minReadySeconds)
    errs.push(fieldErr.invalid('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
  isBoolField(errs, spec.paused, 'spec.paused');
  // ReplicaSets are found through the selector; changing it would orphan them.
  if (old && !jsonEqual(spec.selector, asObj(old.spec)?.selector)) errs.push(fieldErr.immutable('spec.selector', spec.selector));
  return errs;
}

const STATUS_COUNTERS = ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas', 'observedGeneration', 'terminatingReplicas'];

export const deploymentKind: KindSpec = {
  group: 'apps',
  version: 'v1',
  kind: 'Deployment',
  generation: true,
  plural: 'deployments',
  singular: 'deployment',
  shortNames: ['deploy'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true, scale: { specReplicasPath: 'spec.replicas', statusReplicasPath: 'status.replicas', labelSelectorPath: 'spec.selector' } },
  defaults,
  validate,
  validateStatus: (obj) => validateCounters(obj, STATUS_COUNTERS),
  table: [
    nameColumn,
    column('Ready', (obj) => `${intAt(obj, 'status', 'readyReplicas')}/${intAt(obj, 'spec', 'replicas')}`),
    column('Up-to-date', (obj) => intAt(obj, 'status', 'updatedReplicas'), { type: 'integer' }),
    column('Available', (obj) => intAt(obj, 'status', 'availableReplicas'), { type: 'integer' }),
    ageColumn,
    ...wideContainersColumns,
    wideSelectorColumn,
  ],
};
