// authorization.k8s.io/v1 access reviews: create-only questions ("may X do Y?") whose answers the
// API server computes; nothing is stored. Here only the question's shape is checked.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj } from '../../common/shape.js';

const nil = (v: unknown) => v === undefined || v === null;

function validateAttributes(errs: FieldError[], spec: Record<string, unknown>): void {
  const res = spec.resourceAttributes;
  const nonRes = spec.nonResourceAttributes;
  if (!nil(res) && !asObj(res)) errs.push(fieldErr.invalid('spec.resourceAttributes', res, 'must be an object'));
  if (!nil(nonRes) && !asObj(nonRes)) errs.push(fieldErr.invalid('spec.nonResourceAttributes', nonRes, 'must be an object'));
  if (!nil(res) && !nil(nonRes))
    errs.push(fieldErr.invalid('spec.nonResourceAttributes', nonRes, 'cannot be specified in combination with resourceAttributes'));
  if (nil(res) && nil(nonRes))
    errs.push(fieldErr.invalid('spec.resourceAttributes', nonRes ?? null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified'));
}

function specOf(errs: FieldError[], obj: KObject): Record<string, unknown> {
  const spec = asObj(obj.spec);
  if (!spec) errs.push(nil(obj.spec) ? fieldErr.required('spec') : fieldErr.invalid('spec', obj.spec, 'must be an object'));
  return spec ?? {};
}

function validateSubjectAccessReview(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = specOf(errs, obj);
  validateAttributes(errs, spec);
  const user = spec.user;
  if ((nil(user) || user === '') && asArr(spec.groups).length === 0)
    errs.push(fieldErr.invalid('spec.user', user ?? '', 'at least one of user or group must be specified'));
  return errs;
}

function validateSelfSubjectAccessReview(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  validateAttributes(errs, specOf(errs, obj));
  return errs;
}

/** A namespaced review may only ask about its own namespace, and only about resources. */
function validateLocalSubjectAccessReview(obj: KObject): FieldError[] {
  const errs = validateSubjectAccessReview(obj);
  const spec = asObj(obj.spec) ?? {};
  const res = asObj(spec.resourceAttributes);
  const ns = res?.namespace ?? '';
  if (res && ns !== (obj.metadata?.namespace ?? '')) errs.push(fieldErr.invalid('spec.resourceAttributes.namespace', ns, 'must match metadata.namespace'));
  if (!nil(spec.nonResourceAttributes)) errs.push(fieldErr.invalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'disallowed on this kind of request'));
  return errs;
}

function validateSelfSubjectRulesReview(obj: KObject): FieldError[] {
  const ns = asObj(obj.spec)?.namespace;
  return nil(ns) || typeof ns === 'string' ? [] : [fieldErr.invalid('spec.namespace', ns, 'must be a string')];
}

const review = { group: 'authorization.k8s.io', version: 'v1', virtual: true, verbs: ['create'] };

export const authorizationV1Kinds: KindSpec[] = [
  {
    ...review,
    kind: 'SelfSubjectAccessReview',
    plural: 'selfsubjectaccessreviews',
    singular: 'selfsubjectaccessreview',
    namespaced: false,
    validate: validateSelfSubjectAccessReview,
  },
  {
    ...review,
    kind: 'SubjectAccessReview',
    plural: 'subjectaccessreviews',
    singular: 'subjectaccessreview',
    namespaced: false,
    validate: validateSubjectAccessReview,
  },
  {
    ...review,
    kind: 'LocalSubjectAccessReview',
    plural: 'localsubjectaccessreviews',
    singular: 'localsubjectaccessreview',
    namespaced: true,
    validate: validateLocalSubjectAccessReview,
  },
  {
    ...review,
    kind: 'SelfSubjectRulesReview',
    plural: 'selfsubjectrulesreviews',
    singular: 'selfsubjectrulesreview',
    namespaced: false,
    validate: validateSelfSubjectRulesReview,
  },
];
