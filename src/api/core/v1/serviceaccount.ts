// ServiceAccount: an identity for pods; references to token and image-pull secrets by name.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, checkName, fieldErr, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';

function validateRefs(errs: FieldError[], v: unknown, field: string): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v)) return void errs.push(fieldErr.invalid(field, v, 'must be a list of references'));
  v.forEach((ref, i) => {
    const r = asObj(ref);
    if (!r) return void errs.push(fieldErr.invalid(`${field}[${i}]`, ref, 'must be a map'));
    const name = r.name;
    if (name !== undefined && name !== '') {
      if (typeof name !== 'string') errs.push(fieldErr.invalid(`${field}[${i}].name`, name, 'must be a string'));
      else checkName(errs, `${field}[${i}].name`, name, names.dns1123Subdomain);
    }
  });
}

function validateServiceAccount(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  validateRefs(errs, obj.secrets, 'secrets');
  validateRefs(errs, obj.imagePullSecrets, 'imagePullSecrets');
  if (obj.automountServiceAccountToken !== undefined && obj.automountServiceAccountToken !== null && typeof obj.automountServiceAccountToken !== 'boolean')
    errs.push(fieldErr.invalid('automountServiceAccountToken', obj.automountServiceAccountToken, 'must be a boolean'));
  return errs;
}

export const serviceAccountKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'ServiceAccount',
  plural: 'serviceaccounts',
  singular: 'serviceaccount',
  shortNames: ['sa'],
  extraSubresources: [{ name: 'token', kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1', verbs: ['create'] }],
  namespaced: true,
  validate: validateServiceAccount,
  table: [
    nameColumn,
    column('Secrets', (o) => asArr(o.secrets).length, { type: 'integer', description: 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.' }),
    ageColumn,
  ],
};

