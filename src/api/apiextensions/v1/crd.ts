// apiextensions.k8s.io/v1 CustomResourceDefinition: defines a new kind. Validation makes sure the
// registry can serve it: coherent names, one storage version, structural schemas, sane scale paths.
import type { KObject } from '../../../machinery/object.js';
import { jsonEqual } from '../../../machinery/object.js';
import { FieldError, fieldErr, checkName, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr, type Obj } from '../../common/shape.js';
import { column, nameColumn } from '../../common/table.js';
import { isBoolField, oneOf, optionalList, optionalObject } from '../../apps/v1/fields.js';

const nil = (v: unknown) => v === undefined || v === null;
const SCHEMA_TYPES = ['object', 'array', 'string', 'integer', 'number', 'boolean'];
const COLUMN_TYPES = ['integer', 'number', 'string', 'boolean', 'date'];
const SIMPLE_JSON_PATH = /^(\.[A-Za-z0-9_-]+|\[(\d+|'[^']*'|"[^"]*")\])+$/;

function defaults(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  const n = asObj(spec.names);
  const kind = asStr(n?.kind);
  if (n && kind) {
    if (nil(n.singular) || n.singular === '') n.singular = kind.toLowerCase();
    if (nil(n.listKind) || n.listKind === '') n.listKind = `${kind}List`;
  }
  if (nil(spec.conversion)) spec.conversion = { strategy: 'None' };
  const webhook = asObj(asObj(asObj(spec.conversion)?.webhook)?.clientConfig);
  const svc = asObj(webhook?.service);
  if (svc && nil(svc.port)) svc.port = 443;
}

/** Status starts out recording the storage version, so stored objects can always be read back. */
function prepareForCreate(obj: KObject): void {
  const storage = asArr(asObj(obj.spec)?.versions)
    .map(asObj)
    .find((v) => v?.storage === true);
  obj.status = { storedVersions: storage && typeof storage.name === 'string' ? [storage.name] : [] };
}

function dns1035(errs: FieldError[], v: unknown, f: string, required: boolean): void {
  if (nil(v) || v === '') {
    if (required) errs.push(fieldErr.required(f));
    return;
  }
  if (typeof v !== 'string') return void errs.push(fieldErr.invalid(f, v, 'must be a string'));
  const problems = names.dns1035Label(v);
  if (problems.length) errs.push(fieldErr.invalid(f, v, problems.join(',')));
}

function validateNames(errs: FieldError[], raw: unknown, f: string): void {
  const n = asObj(raw);
  if (!n) return void errs.push(nil(raw) ? fieldErr.required(f) : fieldErr.invalid(f, raw, 'must be an object'));
  dns1035(errs, n.plural, `${f}.plural`, true);
  dns1035(errs, n.singular, `${f}.singular`, false);
  for (const k of ['kind', 'listKind']) {
    const v = n[k];
    if (nil(v) || v === '') errs.push(fieldErr.required(`${f}.${k}`));
    else if (typeof v !== 'string') errs.push(fieldErr.invalid(`${f}.${k}`, v, 'must be a string'));
    else {
      const problems = names.dns1035Label(v.toLowerCase());
      if (problems.length) errs.push(fieldErr.invalid(`${f}.${k}`, v, `may have mixed case, but should otherwise match: ${problems.join(',')}`));
    }
  }
  if (typeof n.kind === 'string' && n.kind !== '' && n.kind === n.listKind) errs.push(fieldErr.invalid(`${f}.listKind`, n.listKind, 'kind and listKind may not be the same'));
  for (const k of ['shortNames', 'categories'])
    optionalList(errs, n[k], `${f}.${k}`).forEach((v, i) => dns1035(errs, v, `${f}.${k}[${i}]`, true));
}

/**
 * Structural schema: every node states its type unless it preserves unknown fields or is
 * int-or-string; arrays say what their items are; properties and additionalProperties exclude each other.
 */
export function structuralProblems(node: unknown, f: string, root = true): FieldError[] {
  const errs: FieldError[] = [];
  const s = asObj(node);
  if (!s) return [fieldErr.invalid(f, node, 'must be an object')];
  const type = s.type;
  const loose = s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-int-or-string'] === true;
  if (nil(type) || type === '') {
    if (!loose) errs.push(fieldErr.required(`${f}.type`, root ? 'must not be empty at the root' : 'must not be empty for specified object fields'));
  } else if (typeof type !== 'string' || !SCHEMA_TYPES.includes(type)) errs.push(fieldErr.notSupported(`${f}.type`, type, SCHEMA_TYPES));
  else if (root && type !== 'object') errs.push(fieldErr.invalid(`${f}.type`, type, 'must be object at the root'));
  if (s['x-kubernetes-int-or-string'] === true && !nil(type)) errs.push(fieldErr.forbidden(`${f}.type`, 'must be empty if x-kubernetes-int-or-string is true'));
  const props = optionalObject(errs, s.properties, `${f}.properties`);
  if (props && !nil(s.additionalProperties) && s.additionalProperties !== false)
    errs.push(fieldErr.forbidden(`${f}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
  for (const [k, v] of Object.entries(props ?? {})) errs.push(...structuralProblems(v, `${f}.properties[${k}]`, false));
  if (asObj(s.additionalProperties)) errs.push(...structuralProblems(s.additionalProperties, `${f}.additionalProperties`, false));
  if (type === 'array') {
    if (nil(s.items)) errs.push(fieldErr.required(`${f}.items`, 'must be specified'));
    else if (Array.isArray(s.items)) errs.push(fieldErr.forbidden(`${f}.items`, 'items must be a schema object and not an array'));
    else errs.push(...structuralProblems(s.items, `${f}.items`, false));
  }
  return errs;
}

function jsonPathUnder(errs: FieldError[], v: unknown, f: string, prefixes: string[], what: string, required: boolean): void {
  if (nil(v) || v === '') {
    if (required) errs.push(fieldErr.required(f));
    return;
  }
  if (typeof v !== 'string' || !SIMPLE_JSON_PATH.test(v)) errs.push(fieldErr.invalid(f, v, 'must be a simple json path starting with .'));
  else if (!prefixes.some((p) => v.startsWith(p))) errs.push(fieldErr.invalid(f, v, `should be a json path under ${what}`));
}

function validateVersion(errs: FieldError[], v: Obj, f: string): void {
  dns1035(errs, v.name, `${f}.name`, true);
  isBoolField(errs, v.served, `${f}.served`);
  isBoolField(errs, v.storage, `${f}.storage`);
  const schema = asObj(v.schema);
  const open = schema?.openAPIV3Schema;
  if (nil(open)) errs.push(fieldErr.required(`${f}.schema.openAPIV3Schema`, 'schemas are required'));
  else errs.push(...structuralProblems(open, `${f}.schema.openAPIV3Schema`));
  const sub = optionalObject(errs, v.subresources, `${f}.subresources`);
  const scale = sub && optionalObject(errs, sub.scale, `${f}.subresources.scale`);
  if (scale) {
    const sf = `${f}.subresources.scale`;
    jsonPathUnder(errs, scale.specReplicasPath, `${sf}.specReplicasPath`, ['.spec.'], '.spec', true);
    jsonPathUnder(errs, scale.statusReplicasPath, `${sf}.statusReplicasPath`, ['.status.'], '.status', true);
    jsonPathUnder(errs, scale.labelSelectorPath, `${sf}.labelSelectorPath`, ['.spec.', '.status.'], 'either .spec or .status', false);
  }
  optionalList(errs, v.additionalPrinterColumns, `${f}.additionalPrinterColumns`).forEach((raw, i) => {
    const cf = `${f}.additionalPrinterColumns[${i}]`;
    const c = asObj(raw);
    if (!c) return errs.push(fieldErr.invalid(cf, raw, 'must be an object'));
    if (nil(c.name) || c.name === '') errs.push(fieldErr.required(`${cf}.name`));
    oneOf(errs, c.type, `${cf}.type`, COLUMN_TYPES, true);
    if (nil(c.jsonPath) || c.jsonPath === '') errs.push(fieldErr.required(`${cf}.jsonPath`));
    else if (typeof c.jsonPath !== 'string' || !SIMPLE_JSON_PATH.test(c.jsonPath))
      errs.push(fieldErr.invalid(`${cf}.jsonPath`, c.jsonPath, 'must be a simple json path starting with .'));
  });
}

function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = asObj(obj.spec);
  if (!spec) return [nil(obj.spec) ? fieldErr.required('spec') : fieldErr.invalid('spec', obj.spec, 'must be an object')];
  const group = spec.group;
  if (nil(group) || group === '') errs.push(fieldErr.required('spec.group'));
  else if (typeof group !== 'string') errs.push(fieldErr.invalid('spec.group', group, 'must be a string'));
  else {
    checkName(errs, 'spec.group', group, names.dns1123Subdomain);
    if (!group.includes('.')) errs.push(fieldErr.invalid('spec.group', group, 'should be a domain with at least one dot'));
  }
  validateNames(errs, spec.names, 'spec.names');
  const plural = asStr(asObj(spec.names)?.plural);
  // The name is how the registry finds the resource; it has to agree with what it defines.
  if (obj.metadata?.name !== `${plural ?? ''}.${typeof group === 'string' ? group : ''}`)
    errs.push(fieldErr.invalid('metadata.name', obj.metadata?.name ?? '', 'must be spec.names.plural+"."+spec.group'));
  oneOf(errs, spec.scope, 'spec.scope', ['Cluster', 'Namespaced'], true);
  const versions = optionalList(errs, spec.versions, 'spec.versions');
  const seen = new Set<unknown>();
  let storage = 0;
  let served = 0;
  let unique = true;
  versions.forEach((raw, i) => {
    const v = asObj(raw);
    if (!v) return errs.push(fieldErr.invalid(`spec.versions[${i}]`, raw, 'must be an object'));
    if (v.storage === true) storage++;
    if (v.served === true) served++;
    if (seen.has(v.name)) unique = false;
    seen.add(v.name);
    validateVersion(errs, v, `spec.versions[${i}]`);
  });
  if (served === 0) errs.push(fieldErr.invalid('spec.versions', versions, 'must have at least one served version'));
  if (storage !== 1) errs.push(fieldErr.invalid('spec.versions', versions, 'must have exactly one version marked as storage version'));
  if (!unique) errs.push(fieldErr.invalid('spec.versions', versions, 'must contain unique version names'));
  const conv = optionalObject(errs, spec.conversion, 'spec.conversion');
  if (conv) {
    oneOf(errs, conv.strategy, 'spec.conversion.strategy', ['None', 'Webhook'], true);
    if (conv.strategy === 'Webhook') {
      if (!asObj(asObj(conv.webhook)?.clientConfig)) errs.push(fieldErr.required('spec.conversion.webhook.clientConfig', 'required when strategy is set to Webhook'));
      if (asArr(asObj(conv.webhook)?.conversionReviewVersions).length === 0)
        errs.push(fieldErr.required('spec.conversion.webhook.conversionReviewVersions', 'must include at least one of v1'));
    } else if (!nil(conv.webhook)) errs.push(fieldErr.forbidden('spec.conversion.webhook', 'should not be set when strategy is not set to Webhook'));
  }
  isBoolField(errs, spec.preserveUnknownFields, 'spec.preserveUnknownFields');
  if (spec.preserveUnknownFields === true) errs.push(fieldErr.invalid('spec.preserveUnknownFields', true, 'must be false in order to use defaults in the schema'));
  if (old) {
    const o = asObj(old.spec) ?? {};
    // Stored objects live under keys and namespacing derived from these; changing them would strand data.
    if (!jsonEqual(spec.scope, o.scope)) errs.push(fieldErr.immutable('spec.scope', spec.scope));
    if (!jsonEqual(spec.group, o.group)) errs.push(fieldErr.immutable('spec.group', spec.group));
    if (!jsonEqual(asObj(spec.names)?.plural, asObj(o.names)?.plural))
      errs.push(fieldErr.immutable('spec.names.plural', asObj(spec.names)?.plural));
  }
  return errs;
}

function validateStatus(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const status = optionalObject(errs, obj.status, 'status');
  if (status) {
    optionalList(errs, status.storedVersions, 'status.storedVersions').forEach((v, i) => {
      if (typeof v !== 'string') errs.push(fieldErr.invalid(`status.storedVersions[${i}]`, v, 'must be a string'));
    });
    optionalList(errs, status.conditions, 'status.conditions');
  }
  return errs;
}

export const crdKind: KindSpec = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  kind: 'CustomResourceDefinition',
  generation: true,
  plural: 'customresourcedefinitions',
  singular: 'customresourcedefinition',
  shortNames: ['crd', 'crds'],
  categories: ['api-extensions'],
  namespaced: false,
  subresources: { status: true },
  defaults,
  prepareForCreate,
  validate,
  validateStatus,
  table: [nameColumn, column('Created At', (obj) => asStr(obj.metadata?.creationTimestamp) ?? '', { type: 'date' })],
};
