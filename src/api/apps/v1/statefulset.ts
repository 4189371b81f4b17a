// apps/v1 StatefulSet: pods with stable identities and per-pod volume claims.
import { jsonEqual, type KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr, checkName, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr, dig } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { defaultPodTemplateSpec } from '../../core/v1/podspec.js';
import {
  isZeroIntOrPercent,
  nonNegative,
  notMoreThan100Percent,
  oneOf,
  optionalList,
  optionalObject,
  validateIntOrPercent,
} from './fields.js';
import { intAt, setDefaultNumber, validateCounters, validateSelectorAndTemplate, wideContainersColumns } from './workload.js';

/** The spec fields an update may change; upstream forbids touching anything else. */
const MUTABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];
const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];

function defaults(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  if (spec.podManagementPolicy === undefined || spec.podManagementPolicy === null) spec.podManagementPolicy = 'OrderedReady';
  if (spec.updateStrategy === undefined || spec.updateStrategy === null) spec.updateStrategy = {};
  const us = asObj(spec.updateStrategy);
  if (us) {
    if (us.type === undefined || us.type === null || us.type === '') us.type = 'RollingUpdate';
    if (us.type === 'RollingUpdate') {
      if (us.rollingUpdate === undefined || us.rollingUpdate === null) us.rollingUpdate = {};
      const ru = asObj(us.rollingUpdate);
      if (ru) setDefaultNumber(ru, 'partition', 0);
    }
  }
  setDefaultNumber(spec, 'replicas', 1);
  setDefaultNumber(spec, 'revisionHistoryLimit', 10);
  if (spec.persistentVolumeClaimRetentionPolicy === undefined || spec.persistentVolumeClaimRetentionPolicy === null)
    spec.persistentVolumeClaimRetentionPolicy = {};
  const ret = asObj(spec.persistentVolumeClaimRetentionPolicy);
  if (ret) {
    if (ret.whenDeleted === undefined || ret.whenDeleted === null) ret.whenDeleted = 'Retain';
    if (ret.whenScaled === undefined || ret.whenScaled === null) ret.whenScaled = 'Retain';
  }
  // Claim templates get the defaults of a stored PVC, as upstream shows them.
  for (const raw of asArr(spec.volumeClaimTemplates)) {
    const pvc = asObj(raw);
    if (!pvc) continue;
    const ps = asObj(pvc.spec);
    if (ps && (ps.volumeMode === undefined || ps.volumeMode === null)) ps.volumeMode = 'Filesystem';
    if (pvc.status === undefined || pvc.status === null) pvc.status = {};
    const st = asObj(pvc.status);
    if (st && (st.phase === undefined || st.phase === null)) st.phase = 'Pending';
  }
  defaultPodTemplateSpec(spec.template);
}

function validateClaimTemplate(errs: FieldError[], raw: unknown, field: string): void {
  const pvc = asObj(raw);
  if (!pvc) return void errs.push(fieldErr.invalid(field, raw, 'must be an object'));
  const name = dig(pvc, 'metadata', 'name');
  if (name === undefined || name === null || name === '') errs.push(fieldErr.required(`${field}.metadata.name`, 'name or generateName is required'));
  else if (typeof name !== 'string') errs.push(fieldErr.invalid(`${field}.metadata.name`, name, 'must be a string'));
  else checkName(errs, `${field}.metadata.name`, name, names.dns1123Subdomain);
  const spec = optionalObject(errs, pvc.spec, `${field}.spec`) ?? {};
  const modes = optionalList(errs, spec.accessModes, `${field}.spec.accessModes`);
  if (modes.length === 0) errs.push(fieldErr.required(`${field}.spec.accessModes`, 'at least 1 access mode is required'));
  modes.forEach((m, i) => oneOf(errs, m, `${field}.spec.accessModes[${i}]`, ACCESS_MODES, true));
  const storage = dig(spec, 'resources', 'requests', 'storage');
  if (storage === undefined || storage === null) errs.push(fieldErr.required(`${field}.spec.resources[storage]`));
}

function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec');
  if (!spec) return obj.spec === undefined ? [fieldErr.required('spec.selector'), fieldErr.required('spec.template')] : errs;
  oneOf(errs, spec.podManagementPolicy, 'spec.podManagementPolicy', ['OrderedReady', 'Parallel'], true);
  const us = optionalObject(errs, spec.updateStrategy, 'spec.updateStrategy');
  if (us) {
    const ru = optionalObject(errs, us.rollingUpdate, 'spec.updateStrategy.rollingUpdate');
    if (us.type === 'OnDelete') {
      if (ru) errs.push(fieldErr.forbidden('spec.updateStrategy.rollingUpdate', "only allowed for updateStrategy 'RollingUpdate'"));
    } else if (us.type === 'RollingUpdate') {
      if (ru) {
        nonNegative(errs, ru.partition, 'spec.updateStrategy.rollingUpdate.partition');
        const mu = ru.maxUnavailable;
        validateIntOrPercent(errs, mu, 'spec.updateStrategy.rollingUpdate.maxUnavailable');
        notMoreThan100Percent(errs, mu, 'spec.updateStrategy.rollingUpdate.maxUnavailable');
        if (mu !== undefined && mu !== null && isZeroIntOrPercent(mu))
          errs.push(fieldErr.invalid('spec.updateStrategy.rollingUpdate.maxUnavailable', mu, 'must be greater than 0'));
      }
    } else errs.push(fieldErr.notSupported('spec.updateStrategy.type', us.type, ['OnDelete', 'RollingUpdate']));
  }
  const ret = optionalObject(errs, spec.persistentVolumeClaimRetentionPolicy, 'spec.persistentVolumeClaimRetentionPolicy');
  if (ret)
    for (const k of ['whenDeleted', 'whenScaled'])
      oneOf(errs, ret[k], `spec.persistentVolumeClaimRetentionPolicy.${k}`, ['Retain', 'Delete'], true);
  nonNegative(errs, spec.replicas, 'spec.replicas');
  nonNegative(errs, spec.minReadySeconds, 'spec.minReadySeconds');
  nonNegative(errs, spec.revisionHistoryLimit, 'spec.revisionHistoryLimit');
  const ordinals = optionalObject(errs, spec.ordinals, 'spec.ordinals');
  if (ordinals) nonNegative(errs, ordinals.start, 'spec.ordinals.start');
  if (spec.serviceName !== undefined && spec.serviceName !== null && typeof spec.serviceName !== 'string')
    errs.push(fieldErr.invalid('spec.serviceName', spec.serviceName, 'must be a string'));
  optionalList(errs, spec.volumeClaimTemplates, 'spec.volumeClaimTemplates').forEach((t, i) =>
    validateClaimTemplate(errs, t, `spec.volumeClaimTemplates[${i}]`),
  );
  // Each volumeClaimTemplate becomes a volume of the pods, so mounts may name it.
  const claims = asArr(spec.volumeClaimTemplates).map((t) => asStr(dig(t, 'metadata', 'name'))).filter((n): n is string => !!n);
  errs.push(...validateSelectorAndTemplate(spec, 'statefulset', claims));
  if (old) {
    // Pod identity, storage and the governing service are fixed at creation.
    const oldSpec = asObj(old.spec) ?? {};
    const strip = (s: Record<string, unknown>) => Object.fromEntries(Object.entries(s).filter(([k]) => !MUTABLE.includes(k)));
    if (!jsonEqual(strip(spec), strip(oldSpec)))
      errs.push(
        fieldErr.forbidden(
          'spec',
          "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ),
      );
  }
  return errs;
}

export const statefulSetKind: KindSpec = {
  group: 'apps',
  version: 'v1',
  kind: 'StatefulSet',
  generation: true,
  plural: 'statefulsets',
  singular: 'statefulset',
  shortNames: ['sts'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true, scale: { specReplicasPath: 'spec.replicas', statusReplicasPath: 'status.replicas', labelSelectorPath: 'spec.selector' } },
  defaults,
  validate,
  validateStatus: (obj) =>
    validateCounters(obj, ['replicas', 'readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas', 'observedGeneration', 'collisionCount']),
  table: [
    nameColumn,
    column('Ready', (obj) => `${intAt(obj, 'status', 'readyReplicas')}/${intAt(obj, 'spec', 'replicas')}`),
    ageColumn,
    ...wideContainersColumns,
  ],
};
