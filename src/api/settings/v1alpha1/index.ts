// settings.k8s.io/v1alpha1: PodPreset (removed upstream in 1.20; served here because the seed's
// slide 76 teaches it). A preset selects pods of its namespace by label and, when they are
// created, the PodPreset admission plugin injects its env, envFrom, volumes and volumeMounts.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asObj } from '../../common/shape.js';
import { ageColumn, nameColumn } from '../../common/table.js';
import { validateLabelSelector } from '../../apps/v1/fields.js';
import { validatePodSpec } from '../../core/v1/podspec.js';

const FAKE = 'spec.containers[0].';
const PRESET_FIELDS = ['env', 'envFrom', 'volumeMounts', 'volumes'] as const;

/** A PodPreset's env/envFrom/volumeMounts/volumes, checked with the pod rules (mounts must name one of its volumes). */
function validateInjected(spec: Record<string, unknown>): FieldError[] {
  const podSpec = {
    containers: [{ name: 'preset', image: 'preset', env: spec.env, envFrom: spec.envFrom, volumeMounts: spec.volumeMounts }],
    volumes: spec.volumes,
    restartPolicy: 'Always',
  };
  const out: FieldError[] = [];
  for (const e of validatePodSpec(podSpec, 'spec')) {
    let field = e.field;
    if (field.startsWith(FAKE)) field = `spec.${field.slice(FAKE.length)}`;
    if (!PRESET_FIELDS.some((f) => field === `spec.${f}` || field.startsWith(`spec.${f}[`) || field.startsWith(`spec.${f}.`))) continue;
    out.push(new FieldError(e.type, field, e.value, e.detail, e.supported));
  }
  return out;
}

export function validatePodPreset(obj: KObject): FieldError[] {
  const spec = asObj(obj.spec);
  if (obj.spec !== undefined && obj.spec !== null && !spec) return [fieldErr.invalid('spec', obj.spec, 'must be a map')];
  const s = spec ?? {};
  const errs: FieldError[] = [];
  errs.push(...validateLabelSelector(s.selector, 'spec.selector'));
  const given = (k: string) => s[k] !== undefined && s[k] !== null;
  if (!PRESET_FIELDS.some(given)) errs.push(fieldErr.required('spec.volumes.env.envFrom.volumeMounts', 'must specify at least one'));
  errs.push(...validateInjected(s));
  return errs;
}

export const podPresetKind: KindSpec = {
  group: 'settings.k8s.io',
  version: 'v1alpha1',
  kind: 'PodPreset',
  plural: 'podpresets',
  singular: 'podpreset',
  namespaced: true,
  validate: (obj) => validatePodPreset(obj),
  table: [nameColumn, ageColumn],
};

export const settingsV1alpha1Kinds: KindSpec[] = [podPresetKind];
