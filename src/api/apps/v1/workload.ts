// What the pod-owning workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet) share: a selector
// that must select their own template, Always-restarting pods, and the common table columns.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { TableColumn } from '../../types.js';
import { asObj, dig, setDefault } from '../../common/shape.js';
import { column, containersCell, imagesCell, selectorCell } from '../../common/table.js';
import { validatePodTemplateSpec } from '../../core/v1/podspec.js';
import { isEmptySelector, isInt, nonNegative, selectorMatches, validateLabelSelector } from './fields.js';

/**
 * spec.selector and spec.template: selector required and non-empty, template valid, its labels
 * selected by the selector (else the controller would never see its own pods), restartPolicy Always.
 */
export function validateSelectorAndTemplate(spec: Record<string, unknown>, kindWord: string, claimVolumes: string[] = []): FieldError[] {
  const errs: FieldError[] = [];
  const sel = spec.selector;
  if (sel === undefined || sel === null) errs.push(fieldErr.required('spec.selector'));
  else {
    const selErrs = validateLabelSelector(sel, 'spec.selector');
    errs.push(...selErrs);
    if (selErrs.length === 0 && isEmptySelector(sel)) errs.push(fieldErr.invalid('spec.selector', sel, `empty selector is invalid for ${kindWord}`));
  }
  errs.push(...validatePodTemplateSpec(spec.template, 'spec.template', claimVolumes));
  const tpl = asObj(spec.template);
  if (!tpl) return errs;
  const labels = dig(tpl, 'metadata', 'labels');
  if (sel !== undefined && sel !== null && !isEmptySelector(sel) && !selectorMatches(sel, labels))
    errs.push(fieldErr.invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  const rp = dig(tpl, 'spec', 'restartPolicy');
  // Other values are already rejected by pod spec validation; workloads additionally need Always.
  if (rp === 'OnFailure' || rp === 'Never') errs.push(fieldErr.notSupported('spec.template.spec.restartPolicy', rp, ['Always']));
  const ads = dig(tpl, 'spec', 'activeDeadlineSeconds');
  if (ads !== undefined && ads !== null)
    errs.push(fieldErr.forbidden('spec.template.spec.activeDeadlineSeconds', `activeDeadlineSeconds in ${kindWord} is not Supported`));
  return errs;
}

/** Workload status counters are all non-negative integers. */
export function validateCounters(obj: KObject, keys: string[]): FieldError[] {
  const errs: FieldError[] = [];
  const status = asObj(obj.status);
  if (obj.status !== undefined && obj.status !== null && !status) return [fieldErr.invalid('status', obj.status, 'must be an object')];
  for (const k of keys) nonNegative(errs, status?.[k], `status.${k}`);
  return errs;
}

export function setDefaultNumber(spec: Record<string, unknown>, key: string, v: number): void {
  if (spec[key] === null) delete spec[key];
  setDefault(spec, key, v);
}

/** An integer cell from a path; absent or malformed counts show as 0, as Go's zero value would. */
export function intAt(obj: unknown, ...path: string[]): number {
  const v = dig(obj, ...path);
  return isInt(v) ? v : 0;
}

export const wideContainersColumns: TableColumn[] = [
  column('Containers', (obj) => containersCell(dig(obj, 'spec', 'template', 'spec')), { wide: true }),
  column('Images', (obj) => imagesCell(dig(obj, 'spec', 'template', 'spec')), { wide: true }),
];

export const wideSelectorColumn: TableColumn = column('Selector', (obj) => selectorCell(dig(obj, 'spec', 'selector')), { wide: true });
