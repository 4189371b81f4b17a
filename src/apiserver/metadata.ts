// Validation of ObjectMeta, the same for every kind (upstream's ValidateObjectMeta).
import type { KindSpec } from '../api/types.js';
import type { KObject } from '../machinery/object.js';
import { checkName, fieldErr, names, validateAnnotations, validateLabels, type FieldError } from '../machinery/validation.js';

export function validateObjectMeta(spec: KindSpec, obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const m = obj.metadata;
  if (typeof m.name !== 'string' || m.name === '') {
    errs.push(fieldErr.required('metadata.name', 'name or generateName is required'));
  } else if (!old) {
    checkName(errs, 'metadata.name', m.name, spec.nameValidator ?? names.dns1123Subdomain);
    checkName(errs, 'metadata.name', m.name, names.pathSegment);
  }
  if (spec.namespaced) {
    if (typeof m.namespace !== 'string' || !m.namespace) errs.push(fieldErr.required('metadata.namespace'));
    else if (!old) checkName(errs, 'metadata.namespace', m.namespace, names.dns1123Label);
  } else if (m.namespace) {
    errs.push(fieldErr.forbidden('metadata.namespace', 'not allowed on this type'));
  }
  errs.push(...validateLabels(m.labels, 'metadata.labels'));
  errs.push(...validateAnnotations(m.annotations, 'metadata.annotations'));
  if (m.finalizers !== undefined) {
    if (!Array.isArray(m.finalizers)) errs.push(fieldErr.invalid('metadata.finalizers', m.finalizers, 'must be a list of strings'));
    else
      m.finalizers.forEach((f, i) => {
        if (typeof f !== 'string') errs.push(fieldErr.invalid(`metadata.finalizers[${i}]`, f, 'must be a string'));
        else checkName(errs, `metadata.finalizers[${i}]`, f, names.qualifiedName);
      });
  }
  if (m.ownerReferences !== undefined) {
    if (!Array.isArray(m.ownerReferences)) errs.push(fieldErr.invalid('metadata.ownerReferences', m.ownerReferences, 'must be a list'));
    else {
      let controllers = 0;
      m.ownerReferences.forEach((r, i) => {
        const f = `metadata.ownerReferences[${i}]`;
        if (typeof r !== 'object' || r === null) return errs.push(fieldErr.invalid(f, r, 'must be an object'));
        for (const k of ['apiVersion', 'kind', 'name', 'uid'] as const)
          if (typeof r[k] !== 'string' || !r[k]) errs.push(fieldErr.required(`${f}.${k}`));
        if (r.controller === true) controllers++;
      });
      if (controllers > 1)
        errs.push(fieldErr.invalid('metadata.ownerReferences', m.ownerReferences, 'Only one reference can have Controller set to true'));
    }
  }
  if (old && old.metadata.generateName !== undefined && m.generateName !== undefined && typeof m.generateName !== 'string')
    errs.push(fieldErr.invalid('metadata.generateName', m.generateName, 'must be a string'));
  return errs;
}
