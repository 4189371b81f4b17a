// Namespace: cluster-scoped, DNS-1123 label names, `Active` until deletion starts, and the
// `kubernetes` finalizer that keeps it around while its contents are being removed.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, checkName, fieldErr, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr, dig } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';

/** Label upstream puts on every namespace so selectors can pick namespaces by name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

function defaultNamespace(obj: KObject): void {
  const name = obj.metadata?.name;
  if (typeof name === 'string' && name) {
    if (obj.metadata.labels === undefined || obj.metadata.labels === null) obj.metadata.labels = {};
    const labels = asObj(obj.metadata.labels);
    if (labels) labels[NAMESPACE_NAME_LABEL] = name;
  }
  if (obj.status === undefined || obj.status === null) obj.status = {};
  const status = asObj(obj.status);
  if (status && (status.phase === undefined || status.phase === '')) status.phase = 'Active';
}

function validateFinalizers(v: unknown, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (v === undefined || v === null) return errs;
  if (!Array.isArray(v)) return [fieldErr.invalid(field, v, 'must be a list of strings')];
  v.forEach((f, i) => {
    if (typeof f !== 'string') errs.push(fieldErr.invalid(`${field}[${i}]`, f, 'must be a string'));
    else checkName(errs, `${field}[${i}]`, f, names.qualifiedName);
  });
  return errs;
}

export const namespaceKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'Namespace',
  plural: 'namespaces',
  singular: 'namespace',
  shortNames: ['ns'],
  namespaced: false,
  subresources: { status: true },
  nameValidator: names.dns1123Label,
  defaults: defaultNamespace,
  prepareForCreate(obj) {
    obj.status = { phase: 'Active' };
    // The namespace controller removes this finalizer once everything inside is gone.
    const spec = asObj(obj.spec) ?? {};
    const finalizers = asArr(spec.finalizers).filter((f): f is string => typeof f === 'string');
    if (!finalizers.includes('kubernetes')) finalizers.push('kubernetes');
    spec.finalizers = finalizers;
    obj.spec = spec;
  },
  finalization: {
    // spec.finalizers ("kubernetes") keeps a deleted namespace until the namespace controller has emptied it.
    pending: (obj) => asArr(dig(obj, 'spec', 'finalizers')).length > 0,
    mark(obj) {
      obj.status = { ...(asObj(obj.status) ?? {}), phase: 'Terminating' };
    },
  },
  validate(obj) {
    const errs: FieldError[] = [];
    if (obj.spec !== undefined && obj.spec !== null && !asObj(obj.spec)) errs.push(fieldErr.invalid('spec', obj.spec, 'must be a map'));
    errs.push(...validateFinalizers(dig(obj, 'spec', 'finalizers'), 'spec.finalizers'));
    return errs;
  },
  validateStatus(obj) {
    const phase = dig(obj, 'status', 'phase');
    if (phase !== undefined && phase !== 'Active' && phase !== 'Terminating')
      return [fieldErr.notSupported('status.phase', phase, ['Active', 'Terminating'])];
    return [];
  },
  table: [
    nameColumn,
    column('Status', (o) => asStr(dig(o, 'status', 'phase')) ?? '', { description: 'The status of the namespace' }),
    ageColumn,
  ],
  fieldSelectors: {
    'status.phase': (o) => asStr(dig(o, 'status', 'phase')) ?? '',
  },
};
