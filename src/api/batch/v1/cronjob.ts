// batch/v1 CronJob: creates Jobs on a cron schedule.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr, dig } from '../../common/shape.js';
import { ageColumn, column, containersCell, imagesCell, nameColumn, selectorCell, sinceCell } from '../../common/table.js';
import { defaultPodTemplateSpec } from '../../core/v1/podspec.js';
import { isBoolField, nonNegative, oneOf, optionalObject } from '../../apps/v1/fields.js';
import { cronScheduleProblems, isValidTimeZone } from './cron.js';
import { validateJobSpec } from './job.js';

/** Job names are `<cronjob>-<unix minutes>` and must stay DNS labels, hence 52. */
const MAX_NAME = 52;
const nil = (v: unknown) => v === undefined || v === null;

function defaults(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  if (nil(spec.concurrencyPolicy)) spec.concurrencyPolicy = 'Allow';
  if (nil(spec.suspend)) spec.suspend = false;
  if (nil(spec.successfulJobsHistoryLimit)) spec.successfulJobsHistoryLimit = 3;
  if (nil(spec.failedJobsHistoryLimit)) spec.failedJobsHistoryLimit = 1;
  // Only the pod template is defaulted here; Job defaults apply when the Job itself is created.
  defaultPodTemplateSpec(dig(spec, 'jobTemplate', 'spec', 'template'));
}

function validate(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec');
  if (!spec) return obj.spec === undefined ? [fieldErr.required('spec.schedule'), fieldErr.required('spec.jobTemplate.spec.template')] : errs;
  const schedule = spec.schedule;
  const tz = spec.timeZone;
  if (nil(schedule) || schedule === '') errs.push(fieldErr.required('spec.schedule'));
  else if (typeof schedule !== 'string') errs.push(fieldErr.invalid('spec.schedule', schedule, 'must be a string'));
  else {
    for (const m of cronScheduleProblems(schedule)) errs.push(fieldErr.invalid('spec.schedule', schedule, m));
    if (schedule.includes('TZ')) {
      errs.push(
        fieldErr.invalid(
          'spec.schedule',
          schedule,
          nil(tz) ? 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead' : 'cannot use both timeZone field and TZ or CRON_TZ in schedule',
        ),
      );
    }
  }
  if (!nil(tz)) {
    if (typeof tz !== 'string' || tz === '') errs.push(fieldErr.invalid('spec.timeZone', tz, 'timeZone must be nil or non-empty string'));
    else if (tz.toLowerCase() === 'local')
      errs.push(fieldErr.invalid('spec.timeZone', tz, 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones'));
    else if (!isValidTimeZone(tz)) errs.push(fieldErr.invalid('spec.timeZone', tz, `unknown time zone ${tz}`));
  }
  oneOf(errs, spec.concurrencyPolicy, 'spec.concurrencyPolicy', ['Allow', 'Forbid', 'Replace'], true);
  isBoolField(errs, spec.suspend, 'spec.suspend');
  for (const k of ['startingDeadlineSeconds', 'successfulJobsHistoryLimit', 'failedJobsHistoryLimit']) nonNegative(errs, spec[k], `spec.${k}`);
  const jt = optionalObject(errs, spec.jobTemplate, 'spec.jobTemplate');
  const js = jt && optionalObject(errs, jt.spec, 'spec.jobTemplate.spec');
  if (!js) {
    if (!jt || nil(jt.spec)) errs.push(fieldErr.required('spec.jobTemplate.spec.template'));
  } else {
    errs.push(...validateJobSpec(js, 'spec.jobTemplate.spec', { requireSelector: false }));
    if (js.manualSelector === true) errs.push(fieldErr.notSupported('spec.jobTemplate.spec.manualSelector', true, ['nil', 'false']));
  }
  return errs;
}

const jobTemplatePodSpec = (obj: KObject) => dig(obj, 'spec', 'jobTemplate', 'spec', 'template', 'spec');

export const cronJobKind: KindSpec = {
  group: 'batch',
  version: 'v1',
  kind: 'CronJob',
  generation: true,
  plural: 'cronjobs',
  singular: 'cronjob',
  shortNames: ['cj'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  defaults,
  validate,
  nameValidator: (name) => [...names.dns1123Subdomain(name), ...(name.length > MAX_NAME ? [`must be no more than ${MAX_NAME} characters`] : [])],
  table: [
    nameColumn,
    column('Schedule', (obj) => asStr(dig(obj, 'spec', 'schedule')) ?? ''),
    column('Timezone', (obj) => asStr(dig(obj, 'spec', 'timeZone')) ?? '<none>'),
    column('Suspend', (obj) => {
      const s = dig(obj, 'spec', 'suspend');
      return typeof s === 'boolean' ? (s ? 'True' : 'False') : '<unset>';
    }),
    column('Active', (obj) => asArr(dig(obj, 'status', 'active')).length, { type: 'integer' }),
    column('Last Schedule', (obj, now) => {
      const t = dig(obj, 'status', 'lastScheduleTime');
      return nil(t) ? '<none>' : sinceCell(t, now);
    }),
    ageColumn,
    column('Containers', (obj) => containersCell(jobTemplatePodSpec(obj)), { wide: true }),
    column('Images', (obj) => imagesCell(jobTemplatePodSpec(obj)), { wide: true }),
    column('Selector', (obj) => selectorCell(dig(obj, 'spec', 'jobTemplate', 'spec', 'selector')), { wide: true }),
  ],
};
