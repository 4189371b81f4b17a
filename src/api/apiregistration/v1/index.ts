// apiregistration.k8s.io/v1 APIService: how aggregated API servers (metrics-server, custom
// adapters) announce themselves. Skiff stores and validates them; it does not proxy to them.
import type { KindSpec } from '../../types.js';
import type { KObject } from '../../../machinery/object.js';
import { fieldErr, type FieldError } from '../../../machinery/validation.js';
import { asArr, asNum, asObj, asStr, dig } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';

function validate(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = asObj(obj.spec);
  if (!spec) return [fieldErr.required('spec')];
  const group = asStr(spec.group) ?? '';
  const version = asStr(spec.version) ?? '';
  if (!version) errs.push(fieldErr.required('spec.version'));
  const name = obj.metadata.name ?? '';
  if (version && name !== `${version}.${group}`) errs.push(fieldErr.invalid('metadata.name', name, `must be ${version}.${group}`));
  for (const k of ['groupPriorityMinimum', 'versionPriority']) {
    const n = asNum(spec[k]);
    if (n === undefined || n <= 0 || n > 20000) errs.push(fieldErr.invalid(`spec.${k}`, spec[k], 'must be positive and less than 20000'));
  }
  const svc = asObj(spec.service);
  if (svc) {
    if (!asStr(svc.namespace)) errs.push(fieldErr.required('spec.service.namespace'));
    if (!asStr(svc.name)) errs.push(fieldErr.required('spec.service.name'));
  } else if (spec.insecureSkipTLSVerify || spec.caBundle) {
    errs.push(fieldErr.forbidden('spec.service', 'local APIServices may not have a caBundle or skip TLS verification'));
  }
  return errs;
}

export const apiServiceKind: KindSpec = {
  group: 'apiregistration.k8s.io',
  version: 'v1',
  kind: 'APIService',
  plural: 'apiservices',
  singular: 'apiservice',
  categories: ['api-extensions'],
  namespaced: false,
  subresources: { status: true },
  validate,
  table: [
    nameColumn,
    column('Service', (o) => {
      const svc = asObj(dig(o, 'spec', 'service'));
      return svc ? `${asStr(svc.namespace)}/${asStr(svc.name)}` : 'Local';
    }, { description: 'The reference to the service that hosts this API endpoint.' }),
    column('Available', (o) => {
      const c = asArr(dig(o, 'status', 'conditions')).map(asObj).find((x) => x?.type === 'Available');
      if (!c) return 'Unknown';
      return c.status === 'True' ? 'True' : `${asStr(c.status)} (${asStr(c.reason) ?? ''})`;
    }, { description: 'Whether this service is available.' }),
    ageColumn,
  ],
};

export const apiregistrationV1Kinds: KindSpec[] = [apiServiceKind];
