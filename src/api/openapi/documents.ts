// The OpenAPI documents kubectl reads (kubectl-wire §4): the v3 root, one v3 document per served
// group-version, and an (empty) v2 protobuf document.
import { createHash } from 'node:crypto';
import type { Registry } from '../registry.js';
import { DEFAULT_VERBS } from '../registry.js';
import type { KindSpec } from '../types.js';
import type { SchemaNode } from '../../machinery/schema.js';
import { REF_PREFIX, definitionFor, getDefinition, isBuiltinKind, schemasEpoch } from './schemas.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const SCALE = 'io.k8s.api.autoscaling.v1.Scale';

/**
 * Content type of GET /openapi/v2. Spelled `.v1.0` because Go's MIME parser rejects `@v1.0`.
 * The body is empty: an empty byte string is a valid, empty gnostic `Document`, so kubectl 1.27/1.28
 * find no schema for any kind and skip client-side validation (the server validates with
 * fieldValidation), and 1.29+ (which prefer v3) tolerate it as their fallback.
 */
export const OPENAPI_V2_CONTENT_TYPE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

export function openapiV2Protobuf(): Buffer {
  return Buffer.alloc(0);
}

interface Cached {
  key: number;
  docs: Map<string, { doc: object; json: string; hash: string }>;
  root?: object;
}

const cache = new WeakMap<Registry, Cached>();
const registryEpoch = new WeakMap<Registry, number>();

/** Cache key: registry changes (kinds added/removed) and CRD schema changes both invalidate. */
function cacheFor(registry: Registry): Cached {
  if (!registryEpoch.has(registry)) {
    registryEpoch.set(registry, 0);
    registry.on('changed', () => registryEpoch.set(registry, registryEpoch.get(registry)! + 1));
  }
  const key = registryEpoch.get(registry)! * 1_000_003 + schemasEpoch();
  let c = cache.get(registry);
  if (!c || c.key !== key) {
    c = { key, docs: new Map() };
    cache.set(registry, c);
  }
  return c;
}

const gvPathOf = (group: string, version: string) => (group ? `apis/${group}/${version}` : `api/${version}`);

/** `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}, …}}`; the hash is the SHA-512 of the served document. */
export function openapiV3Root(registry: Registry): object {
  const c = cacheFor(registry);
  if (!c.root) {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [group, versions] of registry.groups())
      for (const version of versions) {
        const p = gvPathOf(group, version);
        const entry = documentEntry(registry, p);
        if (entry) paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${entry.hash}` };
      }
    c.root = { paths };
  }
  return c.root;
}

/** The document for `api/v1` or `apis/<group>/<version>` (leading slash optional), or undefined. Cached and shared: do not mutate. */
export function openapiV3Document(registry: Registry, gvPath: string): object | undefined {
  return documentEntry(registry, gvPath)?.doc;
}

/** Same as openapiV3Document, already serialized, with the hash the root advertises. */
export function openapiV3DocumentJson(registry: Registry, gvPath: string): { json: string; hash: string } | undefined {
  const e = documentEntry(registry, gvPath);
  return e && { json: e.json, hash: e.hash };
}

function documentEntry(registry: Registry, gvPath: string): { doc: object; json: string; hash: string } | undefined {
  const path = gvPath.replace(/^\/+/, '').replace(/\/+$/, '');
  const c = cacheFor(registry);
  const hit = c.docs.get(path);
  if (hit) return hit;
  const m = /^(?:api\/(v[^/]+)|apis\/([^/]+)\/([^/]+))$/.exec(path);
  if (!m) return undefined;
  const [group, version] = m[1] ? ['', m[1]] : [m[2], m[3]];
  const specs = registry
    .all()
    .filter((s) => s.group === group && s.version === version)
    .sort((a, b) => a.plural.localeCompare(b.plural));
  if (!specs.length) return undefined;
  const doc = buildDocument(`/${path}`, specs);
  const json = JSON.stringify(doc);
  const entry = { doc, json, hash: createHash('sha512').update(json).digest('hex').toUpperCase() };
  c.docs.set(path, entry);
  return entry;
}

type Param = { name: string; in: 'query' | 'path'; description: string; required?: boolean; schema: SchemaNode; uniqueItems?: boolean };

const q = (name: string, type: 'string' | 'boolean' | 'integer', description: string): Param => ({
  name,
  in: 'query',
  description,
  schema: { type },
  uniqueItems: true,
});

const P = {
  pretty: q('pretty', 'string', "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."),
  dryRun: q('dryRun', 'string', 'When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed'),
  fieldManager: q('fieldManager', 'string', 'fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.'),
  fieldValidation: q('fieldValidation', 'string', 'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors. - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present.'),
  force: q('force', 'boolean', 'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.'),
  gracePeriodSeconds: q('gracePeriodSeconds', 'integer', 'The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately.'),
  orphanDependents: q('orphanDependents', 'boolean', 'Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned.'),
  propagationPolicy: q('propagationPolicy', 'string', "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'."),
  allowWatchBookmarks: q('allowWatchBookmarks', 'boolean', 'allowWatchBookmarks requests watch events with type "BOOKMARK".'),
  continue: q('continue', 'string', 'The continue option should be set when retrieving more results from the server.'),
  fieldSelector: q('fieldSelector', 'string', 'A selector to restrict the list of returned objects by their fields. Defaults to everything.'),
  labelSelector: q('labelSelector', 'string', 'A selector to restrict the list of returned objects by their labels. Defaults to everything.'),
  limit: q('limit', 'integer', 'limit is a maximum number of responses to return for a list call.'),
  resourceVersion: q('resourceVersion', 'string', 'resourceVersion sets a constraint on what resource versions a request may be served from.'),
  resourceVersionMatch: q('resourceVersionMatch', 'string', 'resourceVersionMatch determines how resourceVersion is applied to list calls.'),
  sendInitialEvents: q('sendInitialEvents', 'boolean', '`sendInitialEvents=true` may be set together with `watch=true`.'),
  timeoutSeconds: q('timeoutSeconds', 'integer', 'Timeout for the list/watch call.'),
  watch: q('watch', 'boolean', 'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.'),
};

const LIST_PARAMS = [P.allowWatchBookmarks, P.continue, P.fieldSelector, P.labelSelector, P.limit, P.resourceVersion, P.resourceVersionMatch, P.sendInitialEvents, P.timeoutSeconds, P.watch];
const WRITE_PARAMS = [P.dryRun, P.fieldManager, P.fieldValidation];
const DELETE_PARAMS = [P.dryRun, P.gracePeriodSeconds, P.orphanDependents, P.propagationPolicy];

const ref = (name: string): SchemaNode => ({ $ref: REF_PREFIX + name });
const MEDIA = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

function content(schema: SchemaNode, types = MEDIA): Record<string, { schema: SchemaNode }> {
  return Object.fromEntries(types.map((t) => [t, { schema }]));
}

function responses(schema: SchemaNode, codes: string[]): Record<string, object> {
  const text: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted' };
  const out: Record<string, object> = {};
  for (const c of codes) out[c] = { description: text[c], content: content(schema) };
  out['401'] = { description: 'Unauthorized' };
  return out;
}

interface Target {
  kind: string;
  gvk: { group: string; version: string; kind: string };
  schema: SchemaNode; // the object's schema (a $ref, or free-form when unknown)
  builtin: boolean;
}

function operation(action: string, verbId: string, t: Target, parameters: Param[], extra: object): object {
  return {
    description: `${action} ${t.kind}`,
    operationId: `${verbId}${t.kind}`,
    parameters,
    ...extra,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': t.gvk,
  };
}

function patchBody(t: Target): object {
  const types = ['application/json-patch+json', 'application/merge-patch+json'];
  if (t.builtin) types.push('application/strategic-merge-patch+json');
  types.push('application/apply-patch+yaml');
  return { required: true, content: content(ref(`${META}.Patch`), types) };
}

function itemOps(t: Target, verbs: Set<string>, what: string): Record<string, object> {
  const ops: Record<string, object> = {};
  if (verbs.has('get')) ops.get = operation('get', `read${what}`, t, [], { responses: responses(t.schema, ['200']) });
  if (verbs.has('update'))
    ops.put = operation('put', `replace${what}`, t, WRITE_PARAMS, { requestBody: { required: true, content: { '*/*': { schema: t.schema } } }, responses: responses(t.schema, ['200', '201']) });
  if (verbs.has('patch'))
    ops.patch = operation('patch', `patch${what}`, t, [...WRITE_PARAMS, P.force], { requestBody: patchBody(t), responses: responses(t.schema, ['200', '201']) });
  return ops;
}

function buildDocument(prefix: string, specs: KindSpec[]): object {
  const paths: Record<string, object> = {};
  const roots = new Set<string>([`${META}.Status`, `${META}.DeleteOptions`, `${META}.Patch`, `${META}.WatchEvent`]);
  for (const spec of specs) {
    const verbs = new Set(spec.verbs ?? DEFAULT_VERBS);
    const def = definitionFor(spec.group, spec.version, spec.kind);
    const listKind = spec.listKind ?? `${spec.kind}List`;
    const listDef = definitionFor(spec.group, spec.version, listKind);
    const freeForm: SchemaNode = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    const t: Target = {
      kind: spec.kind,
      gvk: { group: spec.group, version: spec.version, kind: spec.kind },
      schema: def ? ref(def.name) : freeForm,
      builtin: isBuiltinKind(spec.group, spec.version, spec.kind),
    };
    if (def) roots.add(def.name);
    if (listDef) roots.add(listDef.name);
    const listSchema = listDef ? ref(listDef.name) : freeForm;
    const nsPath = spec.namespaced ? '/namespaces/{namespace}' : '';
    const collection = `${prefix}${nsPath}/${spec.plural}`;
    const pathParams: Param[] = [];
    if (spec.namespaced)
      pathParams.push({ name: 'namespace', in: 'path', required: true, description: 'object name and auth scope, such as for teams and projects', schema: { type: 'string' }, uniqueItems: true });
    const what = `${spec.namespaced ? 'Namespaced' : ''}${spec.kind}`;

    const coll: Record<string, object> = {};
    if (verbs.has('list'))
      coll.get = operation('list', `list${what}`, t, LIST_PARAMS, { responses: responses(listSchema, ['200']) });
    if (verbs.has('create'))
      coll.post = operation('post', `create${what}`, t, WRITE_PARAMS, { requestBody: { required: true, content: { '*/*': { schema: t.schema } } }, responses: responses(t.schema, ['200', '201', '202']) });
    if (verbs.has('deletecollection'))
      coll.delete = operation('deletecollection', `deleteCollection${what}`, t, [...DELETE_PARAMS, ...LIST_PARAMS.filter((p) => p.name !== 'watch' && p.name !== 'allowWatchBookmarks')], {
        requestBody: { content: { '*/*': { schema: ref(`${META}.DeleteOptions`) } } },
        responses: responses(ref(`${META}.Status`), ['200']),
      });
    if (Object.keys(coll).length) paths[collection] = { ...coll, parameters: [...pathParams, P.pretty] };
    if (spec.namespaced && verbs.has('list'))
      paths[`${prefix}/${spec.plural}`] = {
        get: operation('list', `list${spec.kind}ForAllNamespaces`, t, LIST_PARAMS, { responses: responses(listSchema, ['200']) }),
        parameters: [P.pretty],
      };

    const nameParam: Param = { name: 'name', in: 'path', required: true, description: `name of the ${spec.kind}`, schema: { type: 'string' }, uniqueItems: true };
    const itemParams = [nameParam, ...pathParams, P.pretty];
    const item = itemOps(t, verbs, what);
    if (verbs.has('delete'))
      item.delete = operation('delete', `delete${what}`, t, DELETE_PARAMS, {
        requestBody: { content: { '*/*': { schema: ref(`${META}.DeleteOptions`) } } },
        responses: responses(ref(`${META}.Status`), ['200', '202']),
      });
    if (Object.keys(item).length) paths[`${collection}/{name}`] = { ...item, parameters: itemParams };

    const sub = { get: verbs.has('get'), update: verbs.has('update'), patch: verbs.has('patch') };
    const subVerbs = new Set(Object.entries(sub).filter(([, on]) => on).map(([v]) => v));
    if (spec.subresources?.status) paths[`${collection}/{name}/status`] = { ...itemOps(t, subVerbs, `${what}Status`), parameters: itemParams };
    if (spec.subresources?.scale) {
      roots.add(SCALE);
      const scale: Target = { kind: spec.kind, gvk: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, schema: ref(SCALE), builtin: true };
      paths[`${collection}/{name}/scale`] = { ...itemOps(scale, subVerbs, `${what}Scale`), parameters: itemParams };
    }
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'unversioned' },
    paths,
    components: { schemas: closure(roots) },
  };
}

/** The named definitions and every definition they reference, transitively, sorted by name. */
function closure(roots: Set<string>): Record<string, SchemaNode> {
  const seen = new Map<string, SchemaNode>();
  const pending = [...roots];
  // Walks schema structure only: `default`/`enum` values may look like schemas but are data.
  const visitNode = (n: SchemaNode): void => {
    if (n.$ref?.startsWith(REF_PREFIX)) pending.push(n.$ref.slice(REF_PREFIX.length));
    for (const sub of [...(n.allOf ?? []), ...(n.oneOf ?? []), ...(n.anyOf ?? []), ...Object.values(n.properties ?? {})]) visitNode(sub);
    for (const sub of [n.items, n.not, n.additionalProperties]) if (sub && typeof sub === 'object') visitNode(sub);
  };
  while (pending.length) {
    const name = pending.pop()!;
    if (seen.has(name)) continue;
    const def = getDefinition(name);
    if (!def) continue;
    seen.set(name, def);
    visitNode(def);
  }
  return Object.fromEntries([...seen.entries()].sort(([a], [b]) => a.localeCompare(b)));
}
