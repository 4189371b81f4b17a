// rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding.
// Rules are checked for shape only; whether the author may grant them (escalation) is authorization's job.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr, checkName, names } from '../../../machinery/validation.js';
import type { KindSpec, TableColumn } from '../../types.js';
import { asArr, asObj, asStr } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { jsonEqual } from '../../../machinery/object.js';
import { oneOf, optionalList, optionalObject, requiredString, validateLabelSelector } from '../../apps/v1/fields.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

function validateRules(rules: unknown, field: string, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  optionalList(errs, rules, field).forEach((raw, i) => {
    const f = `${field}[${i}]`;
    const r = asObj(raw);
    if (!r) return errs.push(fieldErr.invalid(f, raw, 'must be an object'));
    const list = (k: string) => optionalList(errs, r[k], `${f}.${k}`);
    const verbs = list('verbs');
    const groups = list('apiGroups');
    const resources = list('resources');
    const urls = list('nonResourceURLs');
    list('resourceNames');
    if (verbs.length === 0) errs.push(fieldErr.required(`${f}.verbs`, 'verbs must contain at least one value'));
    if (urls.length > 0) {
      if (namespaced) errs.push(fieldErr.invalid(`${f}.nonResourceURLs`, urls, 'namespaced rules cannot apply to non-resource URLs'));
      if (groups.length > 0 || resources.length > 0)
        errs.push(fieldErr.invalid(`${f}.nonResourceURLs`, urls, 'rules cannot apply to both regular resources and non-resource URLs'));
      return;
    }
    if (groups.length === 0) errs.push(fieldErr.required(`${f}.apiGroups`, 'resource rules must supply at least one api group'));
    if (resources.length === 0) errs.push(fieldErr.required(`${f}.resources`, 'resource rules must supply at least one resource'));
  });
  return errs;
}

function validateRole(namespaced: boolean) {
  return (obj: KObject): FieldError[] => {
    const errs = validateRules(obj.rules, 'rules', namespaced);
    const agg = optionalObject(errs, obj.aggregationRule, 'aggregationRule');
    if (!namespaced && agg) {
      const sels = optionalList(errs, agg.clusterRoleSelectors, 'aggregationRule.clusterRoleSelectors');
      if (sels.length === 0)
        errs.push(fieldErr.required('aggregationRule.clusterRoleSelectors', 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
      sels.forEach((s, i) => errs.push(...validateLabelSelector(s, `aggregationRule.clusterRoleSelectors[${i}]`)));
    }
    return errs;
  };
}

/** Upstream's defaulting fills the apiGroup that each roleRef/subject kind implies. */
function defaultBinding(obj: KObject): void {
  const ref = asObj(obj.roleRef);
  if (ref && (ref.apiGroup === undefined || ref.apiGroup === '')) ref.apiGroup = RBAC_GROUP;
  for (const raw of asArr(obj.subjects)) {
    const s = asObj(raw);
    if (!s || (s.apiGroup !== undefined && s.apiGroup !== '')) continue;
    if (s.kind === 'User' || s.kind === 'Group') s.apiGroup = RBAC_GROUP;
    else if (s.kind === 'ServiceAccount') s.apiGroup = '';
  }
}

function validateBinding(namespaced: boolean) {
  const refKinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  return (obj: KObject, old?: KObject): FieldError[] => {
    const errs: FieldError[] = [];
    const ref = asObj(obj.roleRef);
    if (!ref) errs.push(fieldErr.required('roleRef'));
    else {
      if (ref.apiGroup !== RBAC_GROUP) errs.push(fieldErr.notSupported('roleRef.apiGroup', ref.apiGroup, [RBAC_GROUP]));
      oneOf(errs, ref.kind, 'roleRef.kind', refKinds, true);
      if (requiredString(errs, ref.name, 'roleRef.name')) checkName(errs, 'roleRef.name', ref.name as string, names.pathSegment);
    }
    optionalList(errs, obj.subjects, 'subjects').forEach((raw, i) => {
      const f = `subjects[${i}]`;
      const s = asObj(raw);
      if (!s) return errs.push(fieldErr.invalid(f, raw, 'must be an object'));
      const hasName = requiredString(errs, s.name, `${f}.name`);
      switch (s.kind) {
        case 'ServiceAccount':
          if (hasName) checkName(errs, `${f}.name`, s.name as string, names.dns1123Subdomain);
          if (s.apiGroup !== undefined && s.apiGroup !== '') errs.push(fieldErr.notSupported(`${f}.apiGroup`, s.apiGroup, ['']));
          if (!namespaced && (s.namespace === undefined || s.namespace === '')) errs.push(fieldErr.required(`${f}.namespace`));
          break;
        case 'User':
        case 'Group':
          if (s.apiGroup !== RBAC_GROUP) errs.push(fieldErr.notSupported(`${f}.apiGroup`, s.apiGroup, [RBAC_GROUP]));
          break;
        default:
          errs.push(fieldErr.notSupported(`${f}.kind`, s.kind, ['ServiceAccount', 'User', 'Group']));
      }
    });
    // A binding's meaning is its roleRef: changing it would silently re-target every subject.
    if (old && !jsonEqual(obj.roleRef, old.roleRef)) errs.push(fieldErr.invalid('roleRef', obj.roleRef, 'cannot change roleRef'));
    return errs;
  };
}

const createdAtColumn = column('Created At', (obj) => asStr(obj.metadata?.creationTimestamp) ?? '', { type: 'date' });

const roleTable: TableColumn[] = [nameColumn, createdAtColumn];

/** rbac.SubjectsStrings: users, groups and `namespace:name` service accounts. */
function subjectNames(obj: KObject, kind: string): string {
  return asArr(obj.subjects)
    .map(asObj)
    .filter((s) => s?.kind === kind)
    .map((s) => (kind === 'ServiceAccount' ? `${asStr(s!.namespace) ?? ''}:${asStr(s!.name) ?? ''}` : asStr(s!.name) ?? ''))
    .join(', ');
}

const bindingTable: TableColumn[] = [
  nameColumn,
  column('Role', (obj) => `${asStr(asObj(obj.roleRef)?.kind) ?? ''}/${asStr(asObj(obj.roleRef)?.name) ?? ''}`),
  ageColumn,
  column('Users', (obj) => subjectNames(obj, 'User'), { wide: true }),
  column('Groups', (obj) => subjectNames(obj, 'Group'), { wide: true }),
  column('ServiceAccounts', (obj) => subjectNames(obj, 'ServiceAccount'), { wide: true }),
];

const base = { group: RBAC_GROUP, version: 'v1', nameValidator: names.pathSegment };

export const rbacV1Kinds: KindSpec[] = [
  { ...base, kind: 'Role', plural: 'roles', singular: 'role', namespaced: true, validate: validateRole(true), table: roleTable },
  {
    ...base,
    kind: 'ClusterRole',
    plural: 'clusterroles',
    singular: 'clusterrole',
    namespaced: false,
    validate: validateRole(false),
    table: roleTable,
  },
  {
    ...base,
    kind: 'RoleBinding',
    plural: 'rolebindings',
    singular: 'rolebinding',
    namespaced: true,
    defaults: defaultBinding,
    validate: validateBinding(true),
    table: bindingTable,
  },
  {
    ...base,
    kind: 'ClusterRoleBinding',
    plural: 'clusterrolebindings',
    singular: 'clusterrolebinding',
    namespaced: false,
    defaults: defaultBinding,
    validate: validateBinding(false),
    table: bindingTable,
  },
];
