// Schema-driven checks on decoded objects: unknown fields (fieldValidation), JSON type errors for
// built-in kinds (what Go decoding would reject), and the structural-schema validation, pruning and
// defaulting of CRD-defined kinds. Walks SchemaNodes; `$ref`s are followed through the schema store.
import { isIP } from 'node:net';
import { errors, type StatusError } from '../../machinery/errors.js';
import { isPlainObject } from '../../machinery/object.js';
import type { SchemaNode } from '../../machinery/schema.js';
import { FieldError, fieldErr } from '../../machinery/validation.js';
import { REF_PREFIX, definitionFor, getDefinition, schemasEpoch } from './schemas.js';

const OBJECT_META: SchemaNode = { $ref: `${REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta` };
const MAX_DEPTH = 32;

/** A node with $ref / single-allOf wrappers followed; flags may sit on the wrapper or the target. */
interface Resolved {
  node: SchemaNode;
  defName?: string;
  preserve: boolean;
  embedded: boolean;
  intOrString: boolean;
  nullable: boolean;
}

// Every walk resolves the same nodes over and over: remember each node's resolution until CRD
// schemas change (a $ref may then point somewhere else).
let resolvedEpoch = -1;
let resolvedNodes = new WeakMap<SchemaNode, Resolved>();

function resolve(start: SchemaNode): Resolved {
  if (resolvedEpoch !== schemasEpoch()) {
    resolvedEpoch = schemasEpoch();
    resolvedNodes = new WeakMap();
  }
  let r = resolvedNodes.get(start);
  if (!r) resolvedNodes.set(start, (r = resolveUncached(start)));
  return r;
}

function resolveUncached(start: SchemaNode): Resolved {
  const r: Resolved = { node: start, preserve: false, embedded: false, intOrString: false, nullable: false };
  let cur = start;
  for (let i = 0; ; i++) {
    r.preserve ||= cur['x-kubernetes-preserve-unknown-fields'] === true;
    r.embedded ||= cur['x-kubernetes-embedded-resource'] === true;
    r.intOrString ||= cur['x-kubernetes-int-or-string'] === true;
    r.nullable ||= cur.nullable === true;
    if (i >= MAX_DEPTH) return { ...r, node: {} };
    if (typeof cur.$ref === 'string') {
      const name = cur.$ref.startsWith(REF_PREFIX) ? cur.$ref.slice(REF_PREFIX.length) : cur.$ref;
      r.defName = name;
      cur = getDefinition(name) ?? {};
    } else if (cur.allOf?.length === 1 && !cur.type && !cur.properties && !cur.items && cur.additionalProperties === undefined) {
      cur = cur.allOf[0];
    } else break;
  }
  r.node = cur;
  return r;
}

/** No structure to check against: any value (upstream JSON, int-or-string, schemaless nodes). */
function isFreeForm(r: Resolved): boolean {
  const n = r.node;
  return r.intOrString || (!n.type && !n.properties && n.additionalProperties === undefined && !n.items);
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Fields the decoded object's root and embedded resources always have, whatever their schema says. */
const TYPE_META = new Set(['apiVersion', 'kind']);

/**
 * Paths of fields the schema does not declare (`spec.foo`, `spec.template.spec.containers[0].imagePullPolicyy`),
 * in document order. Maps (additionalProperties) and x-kubernetes-preserve-unknown-fields accept any key;
 * the root and embedded resources accept apiVersion/kind and check metadata against ObjectMeta.
 * Duplicate keys cannot be detected here: JSON.parse keeps only the last one.
 */
export function unknownFields(obj: unknown, schema: SchemaNode): string[] {
  const out: string[] = [];
  walkUndeclared(obj, schema, '', out, true, 0, 'report');
  return out;
}

/**
 * unknownFields and pruneUnknown in one walk: drops what the schema does not declare and returns
 * every undeclared path, those under metadata included (which are reported, not dropped).
 */
export function dropUnknownFields(obj: unknown, schema: SchemaNode): string[] {
  const out: string[] = [];
  walkUndeclared(obj, schema, '', out, true, 0, 'both');
  return out;
}

/** report: list undeclared fields; prune: delete them (metadata left alone); both: delete and list. */
type UndeclaredMode = 'report' | 'prune' | 'both';

function walkUndeclared(v: unknown, schema: SchemaNode, path: string, out: string[], root: boolean, depth: number, mode: UndeclaredMode): void {
  if (depth > 256) return;
  const r = resolve(schema);
  const n = r.node;
  if (Array.isArray(v)) {
    if (n.items) for (let i = 0; i < v.length; i++) walkUndeclared(v[i], n.items, `${path}[${i}]`, out, false, depth + 1, mode);
    return;
  }
  if (!isPlainObject(v) || isFreeForm(r)) return;
  const resourceRoot = root || r.embedded;
  for (const k of Object.keys(v)) {
    const prop = n.properties?.[k];
    if (prop) walkUndeclared(v[k], prop, join(path, k), out, false, depth + 1, mode);
    else if (resourceRoot && TYPE_META.has(k)) continue;
    else if (resourceRoot && k === 'metadata') {
      if (mode !== 'prune') walkUndeclared(v[k], OBJECT_META, join(path, k), out, false, depth + 1, 'report');
    } else if (isPlainObject(n.additionalProperties)) walkUndeclared(v[k], n.additionalProperties, join(path, k), out, false, depth + 1, mode);
    else if (n.additionalProperties !== true && !r.preserve) {
      if (mode !== 'report') delete v[k];
      out.push(join(path, k));
    }
  }
}

/** The 400 a built-in write with wrong JSON types gets, as the Go decoder phrases it (first error only). */
export function decodeError(kind: string, version: string, errs: FieldError[]): StatusError {
  return errors.badRequest(`${kind} in version "${version}" cannot be handled as a ${kind}: ${errs[0]?.detail ?? 'invalid object'}`);
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** Go's name for the type a schema decodes into (`int32`, `v1.DeploymentStrategy`, `[]v1.Container`). */
function goType(r: Resolved, depth = 0): string {
  const n = r.node;
  if (r.defName === 'io.k8s.apimachinery.pkg.util.intstr.IntOrString') return 'intstr.IntOrString';
  if (r.defName === 'io.k8s.apimachinery.pkg.api.resource.Quantity') return 'resource.Quantity';
  if (r.defName?.endsWith('meta.v1.Time') || r.defName?.endsWith('meta.v1.MicroTime')) return `v1.${r.defName.split('.').pop()}`;
  if (depth > 8) return 'interface {}';
  switch (n.type) {
    case 'integer':
      return n.format === 'int32' ? 'int32' : 'int64';
    case 'number':
      return 'float64';
    case 'string':
      return n.format === 'byte' ? '[]uint8' : 'string';
    case 'boolean':
      return 'bool';
    case 'array':
      return `[]${n.items ? goType(resolve(n.items), depth + 1) : 'interface {}'}`;
    case 'object':
      if (r.defName && n.properties) return r.defName.split('.').slice(-2).join('.');
      if (isPlainObject(n.additionalProperties)) return `map[string]${goType(resolve(n.additionalProperties), depth + 1)}`;
      return 'map[string]interface {}';
  }
  return 'interface {}';
}

type JsonType = NonNullable<SchemaNode['type']>;

function matchesType(v: unknown, t: JsonType): boolean {
  switch (t) {
    case 'object':
      return isPlainObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
  }
}

/** JSON types a node accepts, or undefined when it does not say. */
function allowedTypes(r: Resolved): JsonType[] | undefined {
  if (r.intOrString) return r.node.oneOf?.every((s) => s.type) ? r.node.oneOf.map((s) => s.type!) : ['integer', 'string'];
  if (r.node.type) return [r.node.type];
  if (r.node.oneOf?.length && r.node.oneOf.every((s) => s.type)) return r.node.oneOf.map((s) => s.type!);
  return undefined;
}

/**
 * Values whose JSON type differs from what an explicit schema declares (a string where an integer is
 * expected, an object where an array is…), as the Go decoder would reject them. null is accepted
 * anywhere (Go decodes it as the zero value). Detail: `json: cannot unmarshal string into Go struct
 * field DeploymentSpec.spec.replicas of type int32`.
 */
export function typeErrors(obj: unknown, schema: SchemaNode): FieldError[] {
  const out: FieldError[] = [];
  // Callers often pass a kind's definition node itself; name it so messages can say `Deployment.spec`.
  const gvk = schema['x-kubernetes-group-version-kind']?.[0];
  const named = !schema.$ref && gvk ? definitionFor(gvk.group, gvk.version, gvk.kind) : undefined;
  if (named?.schema === schema) schema = { $ref: REF_PREFIX + named.name };
  const r = resolve(schema);
  if (!isPlainObject(obj)) {
    if (obj !== null && obj !== undefined)
      out.push(new FieldError('FieldValueTypeInvalid', '', obj, `json: cannot unmarshal ${jsonKind(obj)} into Go value of type ${goType(r)}`));
    return out;
  }
  walkTypes(obj, schema, '', '', '', out, 0);
  return out;
}

function walkTypes(v: unknown, schema: SchemaNode, path: string, goPath: string, struct: string, out: FieldError[], depth: number): void {
  if (v === null || v === undefined || depth > 256) return;
  const r = resolve(schema);
  const n = r.node;
  const allowed = allowedTypes(r);
  const fits = !allowed || allowed.some((t) => matchesType(v, t));
  const int32Overflow = fits && n.type === 'integer' && n.format === 'int32' && typeof v === 'number' && (v > 2147483647 || v < -2147483648);
  if (!fits || int32Overflow) {
    // Go names the literal only when a number does not fit a numeric target (1.5 into int32).
    const what = typeof v === 'number' && allowed?.some((t) => t === 'integer' || t === 'number') ? `number ${v}` : jsonKind(v);
    const target = struct ? `Go struct field ${struct}.${goPath}` : `Go value`;
    out.push(new FieldError('FieldValueTypeInvalid', path, v, `json: cannot unmarshal ${what} into ${target} of type ${goType(r)}`));
    return;
  }
  if (Array.isArray(v)) {
    if (n.items) v.forEach((x, i) => walkTypes(x, n.items!, `${path}[${i}]`, goPath, struct, out, depth + 1));
    return;
  }
  if (!isPlainObject(v)) return;
  const inner = r.defName && n.properties ? r.defName.split('.').pop()! : struct;
  for (const [k, val] of Object.entries(v)) {
    const prop = n.properties?.[k];
    if (prop) walkTypes(val, prop, join(path, k), join(goPath, k), inner, out, depth + 1);
    else if (isPlainObject(n.additionalProperties)) walkTypes(val, n.additionalProperties, join(path, k), goPath, inner, out, depth + 1);
  }
}

// ---------------------------------------------------------------------------------------------
// CRD structural schemas

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Canonical JSON (sorted keys) for equality and uniqueness checks. */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (isPlainObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;
const MAC = /^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$/;

/** String formats upstream validates; unknown formats are ignored, as upstream does. */
const STRING_FORMATS: Record<string, (s: string) => boolean> = {
  'date-time': (s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s.replace(' ', 'T'))),
  datetime: (s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s.replace(' ', 'T'))),
  date: (s) => DATE.test(s) && !Number.isNaN(Date.parse(s)),
  byte: (s) => BASE64.test(s),
  uuid: (s) => UUID.test(s),
  ipv4: (s) => isIP(s) === 4,
  ipv6: (s) => isIP(s) === 6,
  cidr: (s) => {
    const [ip, bits, extra] = s.split('/');
    const fam = isIP(ip ?? '');
    return extra === undefined && fam !== 0 && /^\d+$/.test(bits ?? '') && Number(bits) <= (fam === 4 ? 32 : 128);
  },
  hostname: (s) => HOSTNAME.test(s),
  mac: (s) => MAC.test(s),
};

const INT_RANGES: Record<string, [number, number]> = { int32: [-2147483648, 2147483647], int64: [Number.MIN_SAFE_INTEGER * 1024, Number.MAX_SAFE_INTEGER * 1024] };

/**
 * Validates a custom resource against its structural schema (the OpenAPI v3 subset CRDs allow),
 * with upstream's messages: `spec.replicas: Invalid value: "string": spec.replicas in body must be of
 * type integer: "string"`. The root's apiVersion/kind/metadata are checked elsewhere and skipped.
 */
export function validateCustom(obj: unknown, schema: SchemaNode): FieldError[] {
  const out: FieldError[] = [];
  walkValidate(obj, schema, '', out, true, 0);
  return out;
}

function typeError(path: string, v: unknown, expected: string): FieldError {
  const got = typeName(v);
  return new FieldError('FieldValueTypeInvalid', path, got, `${path || 'body'} in body must be of type ${expected}: ${JSON.stringify(got)}`);
}

function walkValidate(v: unknown, schema: SchemaNode, path: string, out: FieldError[], root: boolean, depth: number): void {
  if (v === undefined || depth > 256) return;
  const r = resolve(schema);
  const n = r.node;
  const at = path || 'body';
  if (v === null) {
    const declared = r.intOrString ? 'integer or string' : n.type;
    if (!r.nullable && declared) out.push(typeError(path, v, declared));
    return;
  }
  // A value of the wrong type gets that one error; its other keywords would only add noise.
  const expected = r.intOrString ? (['integer', 'string'] as const) : n.type ? [n.type] : [];
  if (expected.length && !expected.some((t) => matchesType(v, t))) {
    out.push(typeError(path, v, expected.join(' or ')));
    return;
  }

  if (n.enum && !n.enum.some((e) => canon(e) === canon(v)))
    out.push(fieldErr.notSupported(path, v, n.enum.map((e) => (typeof e === 'string' ? e : canon(e)))));

  if (typeof v === 'string') checkString(v, n, path, at, out);
  if (typeof v === 'number') checkNumber(v, n, path, at, out);
  if (Array.isArray(v)) checkArray(v, n, path, at, out, depth);
  if (isPlainObject(v)) checkObject(v, r, path, at, out, root, depth);

  for (const sub of n.allOf ?? []) walkValidate(v, sub, path, out, false, depth + 1);
  const passes = (sub: SchemaNode) => {
    const errs: FieldError[] = [];
    walkValidate(v, sub, path, errs, false, depth + 1);
    return errs.length === 0;
  };
  if (n.anyOf?.length && !n.anyOf.some(passes)) out.push(fieldErr.invalid(path, v, `${at} in body must validate at least one schema (anyOf)`));
  if (n.oneOf?.length && n.oneOf.filter(passes).length !== 1) out.push(fieldErr.invalid(path, v, `${at} in body must validate one and only one schema (oneOf)`));
  if (n.not && passes(n.not)) out.push(fieldErr.invalid(path, v, `${at} in body must not validate the schema (not)`));
}

function checkString(v: string, n: SchemaNode, path: string, at: string, out: FieldError[]): void {
  const len = [...v].length;
  if (n.maxLength !== undefined && len > n.maxLength) out.push(new FieldError('FieldValueTooLong', path, v, `may not be more than ${n.maxLength} bytes`));
  if (n.minLength !== undefined && len < n.minLength) out.push(fieldErr.invalid(path, v, `${at} in body should be at least ${n.minLength} chars long`));
  if (n.pattern !== undefined) {
    let re: RegExp | undefined;
    try {
      re = new RegExp(n.pattern, 'u');
    } catch {
      re = undefined; // CRD validation rejects bad patterns; an unusable one constrains nothing here
    }
    if (re && !re.test(v)) out.push(fieldErr.invalid(path, v, `${at} in body should match '${n.pattern}'`));
  }
  const check = n.format ? STRING_FORMATS[n.format] : undefined;
  if (check && !check(v)) out.push(fieldErr.invalid(path, v, `${at} in body must be of type ${n.format}: ${JSON.stringify(v)}`));
}

function checkNumber(v: number, n: SchemaNode, path: string, at: string, out: FieldError[]): void {
  if (n.minimum !== undefined) {
    if (n.exclusiveMinimum ? v <= n.minimum : v < n.minimum)
      out.push(fieldErr.invalid(path, v, `${at} in body should be greater than ${n.exclusiveMinimum ? '' : 'or equal to '}${n.minimum}`));
  }
  if (n.maximum !== undefined) {
    if (n.exclusiveMaximum ? v >= n.maximum : v > n.maximum)
      out.push(fieldErr.invalid(path, v, `${at} in body should be less than ${n.exclusiveMaximum ? '' : 'or equal to '}${n.maximum}`));
  }
  if (n.multipleOf !== undefined && n.multipleOf > 0) {
    const q = v / n.multipleOf;
    if (Math.abs(q - Math.round(q)) > 1e-9) out.push(fieldErr.invalid(path, v, `${at} in body should be a multiple of ${n.multipleOf}`));
  }
  const range = n.type === 'integer' && n.format ? INT_RANGES[n.format] : undefined;
  if (range && (v < range[0] || v > range[1])) out.push(fieldErr.invalid(path, v, `${at} in body must be of type ${n.format}: "${v}"`));
}

function checkArray(v: unknown[], n: SchemaNode, path: string, at: string, out: FieldError[], depth: number): void {
  if (n.maxItems !== undefined && v.length > n.maxItems) out.push(fieldErr.tooMany(path, v.length, n.maxItems));
  if (n.minItems !== undefined && v.length < n.minItems) out.push(fieldErr.invalid(path, v.length, `${at} in body should have at least ${n.minItems} items`));
  const listType = n['x-kubernetes-list-type'];
  if (n.uniqueItems || listType === 'set') {
    const seen = new Set<string>();
    v.forEach((x, i) => {
      const c = canon(x);
      if (seen.has(c)) out.push(fieldErr.duplicate(`${path}[${i}]`, x));
      seen.add(c);
    });
  }
  if (listType === 'map') {
    const keys = n['x-kubernetes-list-map-keys'] ?? [];
    const seen = new Set<string>();
    v.forEach((x, i) => {
      if (!isPlainObject(x)) return;
      const key = Object.fromEntries(keys.filter((k) => x[k] !== undefined).map((k) => [k, x[k]]));
      const c = canon(key);
      if (seen.has(c)) out.push(fieldErr.duplicate(`${path}[${i}]`, key));
      seen.add(c);
    });
  }
  if (n.items) v.forEach((x, i) => walkValidate(x, n.items!, `${path}[${i}]`, out, false, depth + 1));
}

function checkObject(v: Record<string, unknown>, r: Resolved, path: string, at: string, out: FieldError[], root: boolean, depth: number): void {
  const n = r.node;
  for (const k of n.required ?? []) if (v[k] === undefined && !(root && TYPE_META.has(k))) out.push(fieldErr.required(join(path, k)));
  const count = Object.keys(v).length;
  if (n.maxProperties !== undefined && count > n.maxProperties)
    out.push(new FieldError('FieldValueTooMany', path, count, `must have at most ${n.maxProperties} properties`));
  if (n.minProperties !== undefined && count < n.minProperties) out.push(fieldErr.invalid(path, count, `${at} in body should have at least ${n.minProperties} properties`));
  if (r.embedded) {
    for (const k of ['apiVersion', 'kind'])
      if (typeof v[k] !== 'string' || v[k] === '') out.push(fieldErr.required(join(path, k), `${k} must not be empty`));
  }
  const resourceRoot = root || r.embedded;
  for (const [k, val] of Object.entries(v)) {
    // Metadata of the root and of embedded resources is validated as ObjectMeta, not by the schema.
    if (resourceRoot && k === 'metadata') continue;
    const prop = n.properties?.[k];
    if (prop) walkValidate(val, prop, join(path, k), out, false, depth + 1);
    else if (isPlainObject(n.additionalProperties)) walkValidate(val, n.additionalProperties, join(path, k), out, false, depth + 1);
  }
}

/**
 * Drops fields the structural schema does not declare (unless x-kubernetes-preserve-unknown-fields or
 * additionalProperties allow them). apiVersion/kind/metadata of the root and of embedded resources
 * always stay. Returns the pruned paths.
 */
export function pruneUnknown(obj: unknown, schema: SchemaNode): string[] {
  const out: string[] = [];
  walkUndeclared(obj, schema, '', out, true, 0, 'prune');
  return out;
}

/**
 * Applies schema `default`s to missing fields, top-down (a defaulted value is itself defaulted).
 * As upstream, a null in a non-nullable field takes the default, or is dropped when there is none.
 * The root's metadata is left alone.
 */
export function applyDefaults(obj: unknown, schema: SchemaNode): void {
  walkDefaults(obj, schema, true, 0);
}

function walkDefaults(v: unknown, schema: SchemaNode, root: boolean, depth: number): void {
  if (depth > 256) return;
  const n = resolve(schema).node;
  if (Array.isArray(v)) {
    if (n.items) for (const x of v) walkDefaults(x, n.items, false, depth + 1);
    return;
  }
  if (!isPlainObject(v)) return;
  for (const [k, prop] of Object.entries(n.properties ?? {})) {
    if (root && k === 'metadata') continue;
    const pr = resolve(prop);
    const dflt = prop.default !== undefined ? prop.default : pr.node.default;
    if (v[k] === undefined || (v[k] === null && !pr.nullable)) {
      if (dflt !== undefined) v[k] = structuredClone(dflt);
      else if (v[k] === null) delete v[k];
    }
  }
  for (const [k, val] of Object.entries(v)) {
    if (root && k === 'metadata') continue;
    const prop = n.properties?.[k] ?? (isPlainObject(n.additionalProperties) ? n.additionalProperties : undefined);
    if (prop) walkDefaults(val, prop, false, depth + 1);
  }
}
