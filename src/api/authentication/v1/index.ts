// authentication.k8s.io/v1: TokenReview ("who is this token?") and SelfSubjectReview ("who am I?").
// Create-only and never stored; the API server fills in status.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asObj } from '../../common/shape.js';

function validateTokenReview(obj: KObject): FieldError[] {
  const spec = asObj(obj.spec);
  const token = spec?.token;
  if (token === undefined || token === null || token === '') return [fieldErr.required('spec.token')];
  const errs: FieldError[] = [];
  if (typeof token !== 'string') errs.push(fieldErr.invalid('spec.token', '<redacted>', 'must be a string'));
  const aud = spec?.audiences;
  if (aud !== undefined && aud !== null && (!Array.isArray(aud) || aud.some((a) => typeof a !== 'string')))
    errs.push(fieldErr.invalid('spec.audiences', aud, 'must be a list of strings'));
  return errs;
}

const review = { group: 'authentication.k8s.io', version: 'v1', virtual: true, verbs: ['create'], namespaced: false };

export const authenticationV1Kinds: KindSpec[] = [
  { ...review, kind: 'TokenReview', plural: 'tokenreviews', singular: 'tokenreview', validate: validateTokenReview },
  { ...review, kind: 'SelfSubjectReview', plural: 'selfsubjectreviews', singular: 'selfsubjectreview' },
];
