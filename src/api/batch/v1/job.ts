// batch/v1 Job: run pods to completion. The API server generates the selector that ties a Job to
// its pods (controller-uid labels), so users normally never write one.
import { jsonEqual, type KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr, dig } from '../../common/shape.js';
import { ageColumn, column, containersCell, humanDuration, imagesCell, nameColumn, selectorCell } from '../../common/table.js';
import { defaultPodTemplateSpec, validatePodTemplateSpec } from '../../core/v1/podspec.js';
import { isBoolField, isInt, nonNegative, oneOf, optionalObject, selectorMatches, validateLabelSelector } from '../../apps/v1/fields.js';

export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const LEGACY_CONTROLLER_UID_LABEL = 'controller-uid';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const LEGACY_JOB_NAME_LABEL = 'job-name';

const nil = (v: unknown) => v === undefined || v === null;

/** Label the template with the job's name and uid and select on the uid (strategy generateSelector). */
function generateSelector(obj: KObject, spec: Record<string, unknown>, uid: string): void {
  const tpl = asObj(spec.template);
  if (!tpl) return;
  if (nil(tpl.metadata)) tpl.metadata = {};
  const meta = asObj(tpl.metadata);
  if (!meta) return;
  if (nil(meta.labels)) meta.labels = {};
  const labels = asObj(meta.labels);
  if (!labels) return;
  const name = asStr(obj.metadata?.name) ?? '';
  // Labels the user already set are kept; a conflict then fails validation.
  for (const k of [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL]) if (labels[k] === undefined) labels[k] = name;
  for (const k of [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL]) if (labels[k] === undefined) labels[k] = uid;
  if (nil(spec.selector)) spec.selector = {};
  const sel = asObj(spec.selector);
  if (!sel) return;
  if (nil(sel.matchLabels)) sel.matchLabels = {};
  const ml = asObj(sel.matchLabels);
  if (ml && ml[CONTROLLER_UID_LABEL] === undefined) ml[CONTROLLER_UID_LABEL] = uid;
}

/** Defaults of a job spec that also apply inside a CronJob's jobTemplate. */
export function defaultJobSpec(spec: Record<string, unknown>): void {
  if (nil(spec.completions) && nil(spec.parallelism)) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  if (nil(spec.parallelism)) spec.parallelism = 1;
  if (nil(spec.backoffLimit)) spec.backoffLimit = nil(spec.backoffLimitPerIndex) ? 6 : 2147483647;
  if (nil(spec.completionMode)) spec.completionMode = 'NonIndexed';
  if (nil(spec.suspend)) spec.suspend = false;
  if (nil(spec.podReplacementPolicy)) spec.podReplacementPolicy = nil(spec.podFailurePolicy) ? 'TerminatingOrFailed' : 'Failed';
  if (nil(spec.manualSelector)) delete spec.manualSelector;
  defaultPodTemplateSpec(spec.template);
}

function defaults(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  const uid = asStr(obj.metadata?.uid);
  if (spec.manualSelector !== true && uid) generateSelector(obj, spec, uid);
  defaultJobSpec(spec);
  // batch/v1 copies the template labels onto a Job that has none of its own.
  const tplLabels = asObj(dig(spec, 'template', 'metadata', 'labels'));
  const own = obj.metadata?.labels;
  if (tplLabels && obj.metadata && (own === undefined || own === null || (asObj(own) && Object.keys(own).length === 0)))
    obj.metadata.labels = { ...(tplLabels as Record<string, string>) };
}

/** Spec checks shared by Job and CronJob.spec.jobTemplate; `f` is the spec's path. */
export function validateJobSpec(spec: Record<string, unknown>, f: string, opts: { requireSelector: boolean }): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of ['parallelism', 'completions', 'activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished', 'backoffLimitPerIndex', 'maxFailedIndexes'])
    nonNegative(errs, spec[k], `${f}.${k}`);
  if (isInt(spec.activeDeadlineSeconds) && spec.activeDeadlineSeconds === 0)
    errs.push(fieldErr.invalid(`${f}.activeDeadlineSeconds`, 0, 'must be greater than 0'));
  oneOf(errs, spec.completionMode, `${f}.completionMode`, ['NonIndexed', 'Indexed']);
  if (spec.completionMode === 'Indexed' && nil(spec.completions))
    errs.push(fieldErr.required(`${f}.completions`, 'when completion mode is Indexed'));
  oneOf(errs, spec.podReplacementPolicy, `${f}.podReplacementPolicy`, ['TerminatingOrFailed', 'Failed']);
  isBoolField(errs, spec.suspend, `${f}.suspend`);
  isBoolField(errs, spec.manualSelector, `${f}.manualSelector`);
  const sel = spec.selector;
  if (nil(sel)) {
    if (opts.requireSelector) errs.push(fieldErr.required(`${f}.selector`));
  } else errs.push(...validateLabelSelector(sel, `${f}.selector`));
  errs.push(...validatePodTemplateSpec(spec.template, `${f}.template`));
  const labels = dig(spec, 'template', 'metadata', 'labels');
  if (!nil(sel) && asObj(spec.template) && !selectorMatches(sel, labels))
    errs.push(fieldErr.invalid(`${f}.template.metadata.labels`, labels, '`selector` does not match template `labels`'));
  const rp = dig(spec, 'template', 'spec', 'restartPolicy');
  // A Job's pods must end: Always would restart them forever.
  if (asObj(spec.template) && rp !== 'OnFailure' && rp !== 'Never')
    errs.push(fieldErr.notSupported(`${f}.template.spec.restartPolicy`, rp ?? '', ['OnFailure', 'Never']));
  return errs;
}

function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec');
  if (!spec) return obj.spec === undefined ? [fieldErr.required('spec.template')] : errs;
  errs.push(...validateJobSpec(spec, 'spec', { requireSelector: true }));
  const uid = asStr(obj.metadata?.uid);
  // A generated selector must be exactly what the server generated (no adopting foreign pods).
  if (spec.manualSelector !== true && uid && !nil(spec.selector)) {
    const ml = asObj(dig(spec, 'selector', 'matchLabels'));
    const labels = asObj(dig(spec, 'template', 'metadata', 'labels'));
    if (ml?.[CONTROLLER_UID_LABEL] !== uid || labels?.[CONTROLLER_UID_LABEL] !== uid)
      errs.push(fieldErr.invalid('spec.selector', spec.selector, '`selector` not auto-generated'));
  }
  if (old) {
    const o = asObj(old.spec) ?? {};
    if (!jsonEqual(spec.selector, o.selector)) errs.push(fieldErr.immutable('spec.selector', spec.selector));
    if (!jsonEqual(spec.template, o.template)) errs.push(fieldErr.immutable('spec.template', spec.template));
    if (spec.completionMode !== o.completionMode) errs.push(fieldErr.immutable('spec.completionMode', spec.completionMode));
    // Indexed jobs may scale completions together with parallelism; others fix completions.
    const elastic = spec.completionMode === 'Indexed' && spec.completions === spec.parallelism && o.completions === o.parallelism;
    if (spec.completions !== o.completions && !elastic) errs.push(fieldErr.immutable('spec.completions', spec.completions));
  }
  return errs;
}

function hasCondition(obj: KObject, type: string): boolean {
  return asArr(dig(obj, 'status', 'conditions')).some((c) => asObj(c)?.type === type && asObj(c)?.status === 'True');
}

/** printers.go printJob STATUS column (1.28+). */
export function jobStatusCell(obj: KObject): string {
  if (hasCondition(obj, 'Complete')) return 'Complete';
  if (hasCondition(obj, 'Failed')) return 'Failed';
  if (obj.metadata?.deletionTimestamp) return 'Terminating';
  if (hasCondition(obj, 'Suspended')) return 'Suspended';
  if (hasCondition(obj, 'FailureTarget')) return 'FailureTarget';
  if (hasCondition(obj, 'SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  return 'Running';
}

function completionsCell(obj: KObject): string {
  const succeeded = isInt(dig(obj, 'status', 'succeeded')) ? (dig(obj, 'status', 'succeeded') as number) : 0;
  const completions = dig(obj, 'spec', 'completions');
  if (isInt(completions)) return `${succeeded}/${completions}`;
  const parallelism = dig(obj, 'spec', 'parallelism');
  return isInt(parallelism) && parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

function durationCell(obj: KObject, now: number): string {
  const start = Date.parse(asStr(dig(obj, 'status', 'startTime')) ?? '');
  if (Number.isNaN(start)) return '';
  const end = Date.parse(asStr(dig(obj, 'status', 'completionTime')) ?? '');
  return humanDuration((Number.isNaN(end) ? now : end) - start);
}

export const jobKind: KindSpec = {
  group: 'batch',
  version: 'v1',
  kind: 'Job',
  generation: true,
  plural: 'jobs',
  singular: 'job',
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  defaults,
  validate,
  validateStatus: (obj) => {
    const errs: FieldError[] = [];
    for (const k of ['active', 'succeeded', 'failed', 'ready', 'terminating']) nonNegative(errs, dig(obj, 'status', k), `status.${k}`);
    return errs;
  },
  table: [
    nameColumn,
    column('Status', jobStatusCell),
    column('Completions', completionsCell),
    column('Duration', durationCell),
    ageColumn,
    column('Containers', (obj) => containersCell(dig(obj, 'spec', 'template', 'spec')), { wide: true }),
    column('Images', (obj) => imagesCell(dig(obj, 'spec', 'template', 'spec')), { wide: true }),
    column('Selector', (obj) => selectorCell(dig(obj, 'spec', 'selector')), { wide: true }),
  ],
};
